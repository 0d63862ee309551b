import { describe, expect, it } from 'vitest'
import { bodyParams, ParamError, parseInstant, PipeParams } from '../../src/rest/params.js'
import { PIPES } from '../../src/rest/pipes.js'
import { FixedPipeParams } from '../../src/rest/tenancy.js'

const params = (query: string) => new PipeParams(new URLSearchParams(query))

describe("Tinybird's parameter conventions", () => {
  it('reads lists from comma lists and repeated keys, trimmed, without empties or repeats', () => {
    expect(params('platforms=web,ios&platforms=android').list(['platforms'])).toEqual(['web', 'ios', 'android'])
    expect(params('platforms= web , ,ios&platforms=web').list(['platforms'])).toEqual(['web', 'ios'])
    expect(params('platforms=&platforms=,').list(['platforms'])).toBeUndefined()
    expect(params('').list(['platforms'])).toBeUndefined()
  })

  it('never lets a reserved name reach a pipe', () => {
    for (const name of ['token', 'from', 'q', 'format', 'pipeline', 'template_parameters', 'output_format_json_quote_64bit_integers']) {
      expect(params(`${name}=x`).text([name]), name).toBeUndefined()
      expect(params(`${name}=x`).list([name]), name).toBeUndefined()
    }
  })

  it('takes the first non-empty value of a repeated key and treats empty as absent', () => {
    expect(params('browser=&browser=Firefox').text(['browser'])).toBe('Firefox')
    expect(params('browser=').has(['browser'])).toBe(false)
    expect(params('browser=all').filter(['browser'])).toBeUndefined()
  })

  it('reads DateTime64 text as UTC unless an offset is given', () => {
    expect(parseInstant('2025-03-10 00:00:00', 'UTC')).toBe('2025-03-10T00:00:00.000Z')
    expect(parseInstant('2025-03-10 00:00:00.123', 'UTC')).toBe('2025-03-10T00:00:00.123Z')
    expect(parseInstant('2025-03-10T05:00:00+05:00', 'UTC')).toBe('2025-03-10T00:00:00.000Z')
    expect(parseInstant('2025-03-10', 'UTC')).toBe('2025-03-10T00:00:00.000Z')
    expect(params('start=2025-03-10 00:00:00&timezone=Asia/Tokyo').instant(['start'])).toBe('2025-03-10T00:00:00.000Z')
    expect(() => params('start=soon').instant(['start'])).toThrow(ParamError)
  })

  it('reads POST bodies as forms or JSON objects', () => {
    expect([...bodyParams('application/x-www-form-urlencoded', 'a=1&b=x')]).toEqual([
      ['a', '1'],
      ['b', 'x'],
    ])
    expect([...bodyParams('application/json; charset=utf-8', '{"types":["click","view"],"limit":5,"flag":true,"none":null}')]).toEqual([
      ['types', 'click'],
      ['types', 'view'],
      ['limit', '5'],
      ['flag', 'true'],
    ])
    expect([...bodyParams(undefined, '')]).toEqual([])
    for (const bad of ['[1]', '"x"', '{"a":{"b":1}}', '{oops']) expect(() => bodyParams('application/json', bad), bad).toThrow(ParamError)
    expect(() => bodyParams('application/xml', '<a/>')).toThrow(ParamError)
  })

  it("lets a JWT's fixed lists replace the request's, under every spelling", () => {
    const pipe = PIPES.get('v2_cart_timeseries')
    if (!pipe) throw new Error('no v2_cart_timeseries')
    const sent = new URLSearchParams('workspaceId=ws_b&platforms=ios&platforms=android&types=purchase&asset_id=evil')
    const fixed = new FixedPipeParams(sent, { workspaceId: 'ws_a', platforms: ['web', ' tv,web'], types: 'cart/view', assetId: 'a1' })
    const variables = pipe.variables(fixed) as { workspaceId: string; filter: Record<string, unknown> }
    expect(variables.workspaceId).toBe('ws_a')
    expect(variables.filter).toEqual({ assetId: 'a1', platforms: ['web', 'tv'], actions: ['view'] })
    const none = pipe.variables(new FixedPipeParams(sent, { workspaceId: 'ws_a', platforms: [] })) as { filter: Record<string, unknown> }
    expect(none.filter.platforms).toEqual([]) // a fixed empty list matches nothing, never everything
  })
})
