import { describe, expect, it } from 'vitest'
import { bucketCounts, buckets, isEndpoint, parseRoute, parseScopes, pipeParams, pipeUrl, routeTo, statsQuery } from '../../web/src/console/logic.js'

describe('the console routes', () => {
  it('reads the tab and a name (decoded), the first tab for anything else', () => {
    expect(parseRoute('#console')).toEqual({ tab: 'datasources', arg: undefined })
    expect(parseRoute('#console/pipes')).toEqual({ tab: 'pipes', arg: undefined })
    expect(parseRoute('#console/pipes/top%20pages')).toEqual({ tab: 'pipes', arg: 'top pages' })
    expect(parseRoute('#console/nope/x')).toEqual({ tab: 'datasources', arg: 'x' })
    expect(parseRoute('#console/pipes/%E0%A4%A')).toEqual({ tab: 'pipes', arg: undefined })
    expect(routeTo('datasources', 'a/b')).toBe('#console/datasources/a%2Fb')
    expect(parseRoute(routeTo('datasources', 'a/b'))).toEqual({ tab: 'datasources', arg: 'a/b' })
  })
})

describe('pipe metadata', () => {
  it("takes the list's parameters, else the union of its nodes'", () => {
    expect(pipeParams({ name: 'p', parameters: [{ name: 'a' }] })).toEqual([{ name: 'a' }])
    const nodes = [{ params: [{ name: 'a', type: 'Int32' }] }, { params: [{ name: 'a', type: 'String' }, { name: 'b' }] }]
    expect(pipeParams({ name: 'p', nodes })).toEqual([{ name: 'a', type: 'Int32' }, { name: 'b' }])
  })

  it('tells endpoints from copy, materialized and plain pipes', () => {
    expect(isEndpoint({ name: 'p', type: 'endpoint' })).toBe(true)
    for (const type of ['copy', 'materialized', 'default']) expect(isEndpoint({ name: 'p', type })).toBe(false)
    expect(isEndpoint({ name: 'p', nodes: [{ node_type: 'endpoint' }] })).toBe(true)
    expect(isEndpoint({ name: 'p', endpoint: 't_1' })).toBe(true)
    expect(isEndpoint({ name: 'p' })).toBe(false)
  })

  it('builds the REST URL: empty values left out, the token last, masked unless revealed', () => {
    const token = 'sl_abcdefghijklmnop'
    const values: Array<[string, string]> = [['category', 'shoes & hats'], ['limit', ''], ['show_oos', '1']]
    expect(pipeUrl('http://h', 'api_product_grid', values, token, true)).toBe(`http://h/v0/pipes/api_product_grid.json?category=shoes+%26+hats&show_oos=1&token=${token}`)
    expect(pipeUrl('http://h', 'api_product_grid', values, token, false)).toBe('http://h/v0/pipes/api_product_grid.json?category=shoes+%26+hats&show_oos=1&token=sl_abc…')
    expect(pipeUrl('http://h', 'x', [], token, true)).toBe(`http://h/v0/pipes/x.json?token=${token}`)
    expect(pipeUrl('http://h', 'x', [['a', '1']], '', true)).toBe('http://h/v0/pipes/x.json?a=1')
    expect(pipeUrl('http://h', 'x', [], '', true)).toBe('http://h/v0/pipes/x.json')
  })
})

describe('token scopes', () => {
  it('splits on commas and spaces, once each', () => {
    expect(parseScopes(' read:ecommerce, sql  read:pipe:x,,sql ')).toEqual(['read:ecommerce', 'sql', 'read:pipe:x'])
    expect(parseScopes('')).toEqual([])
  })
})

describe('stats over time', () => {
  it('cuts a range into equal buckets ending at the next boundary', () => {
    const hour = 3600e3
    const now = Date.UTC(2026, 0, 1, 10, 7)
    const b = buckets(now, hour, 12)
    expect(b.width).toBe(5 * 60e3)
    expect(b.to.toISOString()).toBe('2026-01-01T10:10:00.000Z')
    expect(b.from.toISOString()).toBe('2026-01-01T09:10:00.000Z')
    expect(b.starts).toHaveLength(12)
    expect(b.starts[11]!.toISOString()).toBe('2026-01-01T10:05:00.000Z')
  })

  it('counts entries per bucket, leaving out those outside the range', () => {
    const b = buckets(Date.UTC(2026, 0, 1, 10, 0), 3600e3, 4) // 09:00, 09:15, 09:30, 09:45
    const at = (hh: number, mm: number) => ({ at: new Date(Date.UTC(2026, 0, 1, hh, mm)).toISOString() })
    expect(bucketCounts([at(9, 0), at(9, 14), at(9, 15), at(9, 59), at(10, 0), at(8, 59)], b)).toEqual([2, 1, 0, 1])
  })

  it('asks for every bucket in one document, one alias each', () => {
    const q = statsQuery(3, 1000, 'fragment ConsoleStat on OperationStat { calls }')
    expect(q).toContain('query ConsoleStats($from: DateTime, $to: DateTime, $f0: DateTime, $t0: DateTime, $f1: DateTime, $t1: DateTime, $f2: DateTime, $t2: DateTime)')
    expect(q.match(/operationStats\(/g)).toHaveLength(4)
    expect(q).toContain('b2: operationStats(from: $f2, to: $t2) { ...ConsoleStat }')
    expect(q).toContain('errors: errorLog(limit: 1000)')
    expect(q.endsWith('fragment ConsoleStat on OperationStat { calls }')).toBe(true)
  })
})
