import SwaggerParser from '@apidevtools/swagger-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The pipes half of Tinybird parity (issue 19): every parameter the original v2 analytics pipes accept,
 * the JSON envelope and formats of TINYBIRD.md §6.1, the pipe list and the OpenAPI document. A real
 * server over HTTP on real chDB; the data is written at exact instants so every edge is counted.
 */

type Row = Record<string, unknown>
interface PipeJson {
  meta: Array<{ name: string; type: string }>
  data: Row[]
  rows: number
  rows_before_limit_at_least?: number
  statistics: { elapsed: number; rows_read: number; bytes_read: number }
}
interface ListedParameter {
  name: string
  type: string
  default: string | null
  required: boolean
  description: string
  aliases?: string[]
}
interface ListedPipe {
  id: string
  name: string
  description: string
  endpoint: string
  nodes: Array<{ id: string; name: string; params: ListedParameter[]; dependencies: string[] }>
  parameters: ListedParameter[]
  columns: Array<{ name: string; type: string }>
}

/** The original v2 pipes' filter parameters and the event field each reads (SPEC's column, GraphQL's name). */
const FILTERS: ReadonlyArray<readonly [param: string, field: string]> = [
  ['assetId', 'assetId'],
  ['browser', 'browser'],
  ['os', 'os'],
  ['device', 'device'],
  ['country', 'country'],
  ['region', 'region'],
  ['city', 'city'],
  ['sessionEmailBroadcastId', 'emailBroadcastId'],
  ['sessionEmailTemplateId', 'emailTemplateId'],
  ['sessionFlowActionId', 'flowActionId'],
  ['sessionLandingPageId', 'landingPageId'],
  ['sessionMetaAdId', 'metaAdId'],
  ['sessionMetaAdSetId', 'metaAdSetId'],
  ['sessionMetaCampaignId', 'metaCampaignId'],
  ['sessionMetaPlacement', 'metaPlacementId'],
]

const APPS = ['cart', 'fm', 'link', 'page'] as const
const DIMENSION_SLUGS = [
  'browsers',
  'os',
  'devices',
  'countries',
  'regions',
  'cities',
  'referers',
  'platforms',
  'emailBroadcasts',
  'emailTemplates',
  'flowActions',
  'landingPages',
  'metaAds',
  'metaAdSets',
  'metaCampaigns',
  'metaPlacements',
]
const ALL_PIPES = ['api_product_grid', 'api_ui_filters', ...APPS.flatMap((app) => [...DIMENSION_SLUGS.map((d) => `v2_${app}_${d}`), `v2_${app}_timeseries`])]

describe('Tinybird pipes: parameters, envelope, list and OpenAPI', () => {
  let server: TestServer
  let base: string
  let reader: string
  const ws = uid('ws')
  /** Events per field value: value `${field}_<n>` is on n events (n = 1, 2), so each filter's count is known. */
  const perValue = 3

  const token = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, server.adminToken)).createToken.token

  const get = (name: string, params: Array<[string, string]> | Record<string, string>, auth: string | null = reader) =>
    fetch(`${base}/v0/pipes/${name}?${new URLSearchParams(params)}`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {})

  async function json(name: string, params: Array<[string, string]> | Record<string, string>, auth: string | null = reader): Promise<PipeJson> {
    const res = await get(`${name}.json`, params, auth)
    const body = (await res.json()) as PipeJson
    expect(res.status, `${name}: ${JSON.stringify(body)}`).toBe(200)
    return body
  }

  /** Sum of `events` over the rows: how many events the pipe counted. */
  const events = (body: PipeJson) => body.data.reduce((n, r) => n + Number(r.events), 0)

  async function ingest(rows: Row[]): Promise<void> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ query: 'mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted quarantined } }', variables: { e: rows } }),
    })
    const body = (await res.json()) as { data?: { ingestAppEvents: { accepted: number; quarantined: number } } }
    expect(body.data?.ingestAppEvents).toEqual({ accepted: rows.length, quarantined: 0 })
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters!' })
    base = server.url.replace(/\/graphql$/, '')
    reader = await token(['read'])

    // Time edges (link app): instants around UTC midnight and New York's, after the US clock change of
    // 2025-03-09 (New York is UTC-4 from then on).
    const edge = (timestamp: string, action: string, session: string) => ({
      app: 'LINK',
      action,
      workspaceId: ws,
      sessionId: session,
      visitorId: `v_${session}`,
      timestamp,
      browser: 'Edge',
    })
    await ingest([
      edge('2025-03-09T23:59:59.999Z', 'click', 'e0'),
      edge('2025-03-10T00:00:00.000Z', 'click', 'e1'),
      edge('2025-03-10T04:00:00.000Z', 'redirect', 'e2'),
      edge('2025-03-10T12:00:00.000Z', 'click', 'e3'),
      edge('2025-03-10T23:59:59.999Z', 'redirect', 'e4'),
      edge('2025-03-11T00:00:00.000Z', 'redirect', 'e5'),
    ])

    // Filters (page app, 2025-04-01): for every field, value `<field>_1` on 1 event and `<field>_2` on 2;
    // platforms web (1), ios (2), android (3); referers on two subdomains of one site.
    const rows: Row[] = []
    let n = 0
    const row = (over: Row) => {
      n += 1
      rows.push({
        app: 'PAGE',
        action: n % 2 ? 'view' : 'interaction',
        workspaceId: ws,
        sessionId: `s${n}`,
        visitorId: `v${n}`,
        timestamp: `2025-04-01T10:${String(n % 60).padStart(2, '0')}:00Z`,
        ...over,
      })
    }
    for (const [, field] of FILTERS) for (const count of [1, 2]) for (let i = 0; i < count; i++) row({ [field]: `${field}_${count}` })
    for (const [platform, count] of [['web', 1], ['ios', 2], ['android', 3]] as const) for (let i = 0; i < count; i++) row({ platform })
    for (let i = 0; i < perValue; i++) row({ referer: 'https://l.example.com/a' })
    row({ referer: 'https://www.example.com/' })
    await ingest(rows)
  })
  afterAll(() => server?.stop())

  const linkDay = { workspaceId: ws, start: '2025-03-10 00:00:00', end: '2025-03-10 23:59:59.999' }

  it('reads start and end as UTC unless they carry an offset, end inclusive, whatever the timezone', async () => {
    // Without an offset: UTC, e1..e4 (2 clicks, 2 redirects). Read in New York it would be e2..e5 (1 click),
    // in Kolkata e0..e3 (3 clicks).
    for (const timezone of [undefined, 'America/New_York', 'Asia/Kolkata']) {
      const body = await json('v2_link_browsers', { ...linkDay, ...(timezone ? { timezone } : {}) })
      expect(body.data.map((r) => [r.events, r.clicks, r.redirects]), timezone).toEqual([[4, 2, 2]])
    }
    // ISO-8601 with Z, and with an offset naming the same instants.
    expect(events(await json('v2_link_browsers', { workspaceId: ws, start: '2025-03-10T00:00:00Z', end: '2025-03-10T23:59:59.999Z' }))).toBe(4)
    expect(events(await json('v2_link_browsers', { workspaceId: ws, start: '2025-03-09T20:00:00-04:00', end: '2025-03-10T19:59:59.999-04:00' }))).toBe(4)
    // `end` is inclusive, as the original pipes' `timestamp <= end`: an event exactly at end counts.
    expect(events(await json('v2_link_browsers', { workspaceId: ws, start: '2025-03-10 00:00:00', end: '2025-03-11 00:00:00' }))).toBe(5)
    expect(events(await json('v2_link_browsers', { workspaceId: ws, start: '2025-03-10 00:00:00.001', end: '2025-03-10 23:59:59.998' }))).toBe(2)
    // A bare date is midnight UTC.
    expect(events(await json('v2_link_browsers', { workspaceId: ws, start: '2025-03-10', end: '2025-03-10 23:59:59.999' }))).toBe(4)
  })

  it('uses timezone only for the timeseries buckets, at hour, day and month granularity', async () => {
    const day = await json('v2_link_timeseries', { ...linkDay, timezone: 'America/New_York', granularity: 'day' })
    // The UTC window [03-10 00:00Z, 03-11 00:00Z) starts on New York's 03-09 (20:00 EDT) and ends on its 03-10.
    expect(day.data.map((r) => [r.start, r.events, r.clicks, r.redirects])).toEqual([
      ['2025-03-09 00:00:00', 1, 1, 0],
      ['2025-03-10 00:00:00', 3, 1, 2],
    ])
    expect(day.meta[0]).toEqual({ name: 'start', type: "DateTime('America/New_York')" })
    const utcDay = await json('v2_link_timeseries', { ...linkDay, granularity: 'day' })
    expect(utcDay.data.map((r) => [r.start, r.events])).toEqual([['2025-03-10 00:00:00', 4]])
    const hours = await json('v2_link_timeseries', { ...linkDay, timezone: 'Asia/Kolkata', granularity: 'hour' })
    expect(hours.rows).toBe(25) // 05:00 IST on 03-10 to 05:00 IST on 03-11: the half-hour offset spans 25 hours
    expect(hours.data[0]).toMatchObject({ start: '2025-03-10 05:00:00', events: 1 }) // 00:00Z is 05:30 IST, in the 05:00 bucket
    expect(events(hours)).toBe(4)
    const month = await json('v2_link_timeseries', { workspaceId: ws, start: '2025-03-01 00:00:00', end: '2025-04-30 23:59:59', granularity: 'month' })
    expect(month.data.map((r) => [r.start, r.events])).toEqual([
      ['2025-03-01 00:00:00', 6],
      ['2025-04-01 00:00:00', 0],
    ])
    // The default is day.
    expect((await json('v2_link_timeseries', linkDay)).data).toEqual(utcDay.data)
  })

  it('filters timeseries by types: bare actions or <app>/<action>, comma lists or repeated keys', async () => {
    const clicks: Array<Array<[string, string]>> = [
      [['types', 'click']],
      [['types', 'link/click']],
      [['types', 'click,teleport']],
      [
        ['types', 'click'],
        ['types', 'fm/play'],
      ],
    ]
    for (const types of clicks) {
      const body = await json('v2_link_timeseries', [...Object.entries(linkDay), ...types])
      expect(body.data.map((r) => [r.events, r.clicks, r.redirects]), JSON.stringify(types)).toEqual([[2, 2, 0]])
    }
    const both = await json('v2_link_timeseries', [...Object.entries(linkDay), ['types', 'link/click, redirect']])
    expect(events(both)).toBe(4)
    const none = await json('v2_link_timeseries', [...Object.entries(linkDay), ['types', 'fm/play']])
    expect(none.data.map((r) => r.events)).toEqual([0])
  })

  it('filters by platforms as a comma list or repeated keys, on every pipe', async () => {
    const day = { workspaceId: ws, start: '2025-04-01 00:00:00', end: '2025-04-01 23:59:59' }
    const cases: Array<[Array<[string, string]>, number]> = [
      [[['platforms', 'web']], 1],
      [[['platforms', 'ios,android']], 5],
      [[['platforms', 'ios, web']], 3],
      [
        [
          ['platforms', 'ios'],
          ['platforms', 'android'],
        ],
        5,
      ],
      [
        [
          ['platforms', 'web,ios'],
          ['platforms', 'android'],
        ],
        6,
      ],
      [[['platforms', 'tv']], 0],
    ]
    for (const [platforms, expected] of cases) {
      const params = [...Object.entries(day), ...platforms]
      expect(events(await json('v2_page_browsers', [...params, ['limit', '1000']])), JSON.stringify(platforms)).toBe(0) // no browser on those rows
      expect(events(await json('v2_page_platforms', params)), JSON.stringify(platforms)).toBe(expected)
      expect(events(await json('v2_page_timeseries', params)), JSON.stringify(platforms)).toBe(expected)
    }
    // An empty value is absent (Tinybird's convention): no filter.
    const all = await json('v2_page_platforms', { ...day, platforms: '' })
    expect(all.data.map((r) => [r.platform, r.events])).toEqual([
      ['android', 3],
      ['ios', 2],
      ['web', 1],
    ])
  })

  it('applies every original filter, session attribution included, onto SPEC columns', async () => {
    const day = { workspaceId: ws, start: '2025-04-01 00:00:00', end: '2025-04-01 23:59:59' }
    const total = events(await json('v2_page_timeseries', day))
    for (const [param, field] of FILTERS) {
      for (const count of [1, 2]) {
        const series = await json('v2_page_timeseries', { ...day, [param]: `${field}_${count}` })
        expect(events(series), `${param}=${field}_${count}`).toBe(count)
        const dims = await json('v2_page_devices', { ...day, [param]: `${field}_${count}` })
        expect(dims.data, param).toEqual(field === 'device' ? [expect.objectContaining({ device: `device_${count}`, events: count })] : [])
      }
      expect(events(await json('v2_page_timeseries', { ...day, [param]: 'nothing' })), param).toBe(0)
      expect(events(await json('v2_page_timeseries', { ...day, [param]: 'all' })), param).toBe(total)
    }
    // referer and sessionReferer both match the registrable domain of SPEC's referer column.
    for (const param of ['referer', 'sessionReferer']) {
      expect(events(await json('v2_page_timeseries', { ...day, [param]: 'example.com' })), param).toBe(perValue + 1)
      expect(events(await json('v2_page_timeseries', { ...day, [param]: 'other.org' })), param).toBe(0)
    }
    const referers = await json('v2_page_referers', { ...day, sessionReferer: 'example.com' })
    expect(referers.data).toEqual([expect.objectContaining({ referer: 'example.com', events: perValue + 1 })])
    // Both together are both applied.
    expect(events(await json('v2_page_timeseries', { ...day, referer: 'example.com', sessionReferer: 'other.org' }))).toBe(0)
  })

  it('gives GraphQL the same filters: platforms, actions, sessionReferer and breakdownCount', async () => {
    const query = `query($ws: ID!, $from: DateTime, $to: DateTime, $f: AnalyticsFilter) {
      analytics(app: PAGE, workspaceId: $ws, from: $from, to: $to, filter: $f) {
        totals { events }
        breakdown(by: PLATFORM, limit: 1) { value }
        breakdownCount(by: PLATFORM)
      }
    }`
    const run = async (f: Record<string, unknown>) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${reader}` },
        body: JSON.stringify({ query, variables: { ws, from: '2025-04-01T00:00:00Z', to: '2025-04-02T00:00:00Z', f } }),
      })
      const body = (await res.json()) as { data?: { analytics: { totals: { events: number }; breakdown: Array<{ value: string }>; breakdownCount: number } } }
      return body.data?.analytics
    }
    expect(await run({ platforms: ['ios', 'android'] })).toEqual({ totals: { events: 5 }, breakdown: [{ value: 'android' }], breakdownCount: 2 })
    expect(await run({ platforms: [] })).toEqual({ totals: { events: 0 }, breakdown: [], breakdownCount: 0 })
    expect((await run({ platforms: ['web', 'ios', 'android'], actions: ['view'] }))?.totals.events).toBe(3)
    expect((await run({ sessionReferer: 'example.com' }))?.totals.events).toBe(perValue + 1)
    expect((await run({ sessionReferer: 'example.com', referer: 'other.org' }))?.totals.events).toBe(0)
    expect((await run({}))?.breakdownCount).toBe(3)
  })

  it('links the OpenAPI document from the web page', async () => {
    const page = await (await fetch(`${base}/`)).text()
    expect(page).toContain('href="/v0/pipes/openapi.json"')
  })

  it('accepts and ignores the SDK from= and the other reserved names', async () => {
    const plain = await json('v2_link_browsers', linkDay)
    const extras: Array<Record<string, string>> = [{ from: 'ts-sdk' }, { from: '2025-03-10 12:00:00' }, { pipeline: 'x', debug: 'query', tag: 't', query_id: 'q1' }]
    for (const extra of extras) {
      const body = await json('v2_link_browsers', { ...linkDay, ...extra })
      expect(body.data, JSON.stringify(extra)).toEqual(plain.data)
    }
  })

  it('answers rows_before_limit_at_least when a limit applies, with skip and limit', async () => {
    const day = { workspaceId: ws, start: '2025-04-01 00:00:00', end: '2025-04-01 23:59:59' }
    const all = await json('v2_page_browsers', day)
    expect(all.rows).toBe(2)
    expect(all).not.toHaveProperty('rows_before_limit_at_least')
    const first = await json('v2_page_browsers', { ...day, limit: '1' })
    expect(first.data).toEqual(all.data.slice(0, 1))
    expect(first.rows).toBe(1)
    expect(first.rows_before_limit_at_least).toBe(2)
    const second = await json('v2_page_browsers', { ...day, skip: '1', limit: '5' })
    expect(second.data).toEqual(all.data.slice(1))
    expect(second.rows_before_limit_at_least).toBe(2)
    const keys = Object.keys(second)
    expect(keys).toEqual(['meta', 'data', 'rows', 'rows_before_limit_at_least', 'statistics'])

    const hours = await json('v2_link_timeseries', { ...linkDay, granularity: 'hour' })
    expect(hours).not.toHaveProperty('rows_before_limit_at_least')
    const paged = await json('v2_link_timeseries', { ...linkDay, granularity: 'hour', skip: '10', limit: '3' })
    expect(paged.data).toEqual(hours.data.slice(10, 13))
    expect(paged.rows_before_limit_at_least).toBe(24)
    expect((await get('v2_link_timeseries.json', { ...linkDay, limit: '0' })).status).toBe(400)
  })

  it('writes 64-bit integers as numbers unless output_format_json_quote_64bit_integers=1', async () => {
    const plain = await json('v2_link_browsers', linkDay)
    expect(plain.data[0]?.events).toBe(4)
    const quoted = await json('v2_link_browsers', { ...linkDay, output_format_json_quote_64bit_integers: '1' })
    expect(quoted.data[0]).toMatchObject({ browser: 'Edge', events: '4', sessions: '4', clicks: '2' })
    expect(quoted.meta).toEqual(plain.meta)
    const nd = await (await get('v2_link_browsers.ndjson', { ...linkDay, output_format_json_quote_64bit_integers: '1' })).text()
    expect(JSON.parse(nd.trim())).toMatchObject({ events: '4' })
    expect((await json('v2_link_browsers', { ...linkDay, output_format_json_quote_64bit_integers: '0' })).data).toEqual(plain.data)
    expect((await get('v2_link_browsers.json', { ...linkDay, output_format_json_quote_64bit_integers: 'yes' })).status).toBe(400)
  })

  it('answers .csv without a header and .csvwithnames with one', async () => {
    const csv = await (await get('v2_link_browsers.csv', linkDay)).text()
    expect(csv).toBe('"Edge",4,4,4,2,2\n')
    const named = await (await get('v2_link_browsers.csvwithnames', linkDay)).text()
    expect(named).toBe('"browser","events","sessions","visitors","clicks","redirects"\n"Edge",4,4,4,2,2\n')
    expect(await (await get('v2_link_browsers.csv', { workspaceId: uid('empty') })).text()).toBe('')
  })

  it('takes parameters from a POST body (form or JSON) as from the query string', async () => {
    const expected = (await json('v2_link_timeseries', [...Object.entries(linkDay), ['types', 'click']])).data
    const post = (body: string, type: string) =>
      fetch(`${base}/v0/pipes/v2_link_timeseries.json?workspaceId=${ws}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reader}`, 'content-type': type },
        body,
      })
    const form = await post(new URLSearchParams({ start: linkDay.start, end: linkDay.end, types: 'click' }).toString(), 'application/x-www-form-urlencoded')
    expect(form.status).toBe(200)
    expect(((await form.json()) as PipeJson).data).toEqual(expected)
    const asJson = await post(JSON.stringify({ start: linkDay.start, end: linkDay.end, types: ['click'] }), 'application/json')
    expect(asJson.status).toBe(200)
    expect(((await asJson.json()) as PipeJson).data).toEqual(expected)
    expect((await post('{not json', 'application/json')).status).toBe(400)
    expect((await post('[1]', 'application/json')).status).toBe(400)
  })

  it('lists the pipes a token may read, with their parameters, in Tinybird shape', async () => {
    const list = async (auth: string | null) => {
      const res = await fetch(`${base}/v0/pipes`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {})
      return { status: res.status, body: (await res.json()) as { pipes?: ListedPipe[]; error?: string }, cors: res.headers.get('access-control-allow-origin') }
    }
    const anonymous = await list(null)
    expect(anonymous.status).toBe(403)
    expect(anonymous.cors).toBe('*')
    const admin = await list(server.adminToken)
    expect(admin.status).toBe(200)
    const pipes = admin.body.pipes ?? []
    expect(pipes.map((p) => p.name).sort()).toEqual([...ALL_PIPES].sort())
    const browsers = pipes.find((p) => p.name === 'v2_cart_browsers')
    expect(browsers).toMatchObject({ endpoint: browsers?.nodes[0]?.id, description: expect.any(String) })
    expect(browsers?.id).toMatch(/^t_[0-9a-f]{32}$/)
    expect(browsers?.nodes[0]?.dependencies).toEqual(['cart_events_mv'])
    const params = browsers?.parameters.map((p) => p.name) ?? []
    for (const name of ['workspaceId', 'assetId', 'start', 'end', 'platforms', 'browser', 'referer', 'sessionReferer', 'skip', 'limit', ...FILTERS.map(([p]) => p)]) {
      expect(params, name).toContain(name)
    }
    expect(browsers?.parameters.find((p) => p.name === 'workspaceId')).toMatchObject({ required: true, type: 'String' })
    expect(browsers?.parameters.find((p) => p.name === 'platforms')).toMatchObject({ required: false, type: 'Array(String)' })
    expect(browsers?.nodes[0]?.params).toEqual(browsers?.parameters)
    const series = pipes.find((p) => p.name === 'v2_fm_timeseries')
    expect(series?.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['timezone', 'granularity', 'types']))
    expect(series?.parameters.find((p) => p.name === 'granularity')).toMatchObject({ default: 'day' })
    expect(browsers?.parameters.map((p) => p.name)).not.toContain('types')

    const cartOnly = await list(await token(['read:analytics:cart']))
    expect(cartOnly.body.pipes?.map((p) => p.name).sort()).toEqual(ALL_PIPES.filter((n) => n.startsWith('v2_cart_')).sort())
  })

  it("lets a Tinybird JWT list, describe and read only its pipes, its fixed lists winning over the request's", async () => {
    const minted = await fetch(`${base}/v0/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'tenant',
        scopes: ['v2_page_platforms', 'v2_page_timeseries'].map((resource) => ({
          type: 'PIPES:READ',
          resource,
          fixed_params: { workspaceId: ws, platforms: 'web' },
        })),
      }),
    })
    expect(minted.status).toBe(200)
    const jwt = ((await minted.json()) as { token: string }).token
    const listed = (await (await fetch(`${base}/v0/pipes?token=${jwt}`)).json()) as { pipes: ListedPipe[] }
    expect(listed.pipes.map((p) => p.name).sort()).toEqual(['v2_page_platforms', 'v2_page_timeseries'])
    const described = (await (await fetch(`${base}/v0/pipes/openapi.json`, { headers: { authorization: `Bearer ${jwt}` } })).json()) as { paths: object }
    expect(Object.keys(described.paths).sort()).toEqual(['/v0/pipes/v2_page_platforms.{format}', '/v0/pipes/v2_page_timeseries.{format}'])

    const day = { start: '2025-04-01 00:00:00', end: '2025-04-01 23:59:59' }
    const spellings: Array<Array<[string, string]>> = [
      [['platforms', 'ios,android']],
      [
        ['platforms', 'ios'],
        ['platforms', 'android'],
      ],
      [['workspaceId', uid('other')]],
      [],
    ]
    for (const extra of spellings) {
      const body = await json('v2_page_platforms', [...Object.entries(day), ...extra], jwt)
      expect(body.data.map((r) => [r.platform, r.events]), JSON.stringify(extra)).toEqual([['web', 1]])
    }
    const viaPost = await fetch(`${base}/v0/pipes/v2_page_timeseries.json?token=${jwt}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...day, platforms: ['ios', 'android'], workspaceId: uid('other') }),
    })
    expect(events((await viaPost.json()) as PipeJson)).toBe(1)
    expect((await get('v2_page_browsers.json', { workspaceId: ws }, jwt)).status).toBe(403)
  })

  it('serves a valid OpenAPI 3.0 document of every pipe, matching what the pipes answer', async () => {
    const res = await fetch(`${base}/v0/pipes/openapi.json`)
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const doc = (await res.json()) as {
      openapi: string
      paths: Record<string, { get: { operationId: string; parameters: Array<{ $ref: string }> } }>
      components: { parameters: Record<string, { name: string; required: boolean; schema: Record<string, unknown> }>; schemas: Record<string, { properties: Record<string, { type: string; nullable?: boolean }> }>; securitySchemes: Record<string, unknown> }
    }
    expect(doc.openapi).toMatch(/^3\.0\./)
    // The validator resolves and dereferences in place: hand it a copy.
    await SwaggerParser.validate(structuredClone(doc) as never)
    expect(Object.values(doc.paths).map((p) => p.get.operationId).sort()).toEqual([...ALL_PIPES].sort())
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      tokenQuery: expect.objectContaining({ type: 'apiKey', in: 'query', name: 'token' }),
    })

    const op = doc.paths['/v0/pipes/v2_page_timeseries.{format}']?.get
    const params = (op?.parameters ?? []).map((p) => doc.components.parameters[p.$ref.split('/').pop() ?? ''])
    const byName = new Map(params.map((p) => [p?.name, p]))
    expect(byName.get('workspaceId')).toMatchObject({ required: true, schema: { type: 'string' } })
    expect(byName.get('granularity')?.schema).toMatchObject({ default: 'day', enum: expect.arrayContaining(['hour', 'day', 'month']) })
    expect(byName.get('types')?.schema).toEqual({ type: 'array', items: { type: 'string' } })
    expect(byName.get('limit')?.schema).toMatchObject({ type: 'integer', minimum: 1 })
    for (const [param] of FILTERS) expect(byName.has(param), param).toBe(true)

    // Every pipe's documented row is what its JSON answers: the same columns, values of the documented types.
    const answers: Array<[string, Record<string, string>]> = [
      ['v2_page_timeseries', { workspaceId: ws, start: '2025-04-01 00:00:00', end: '2025-04-01 23:59:59' }],
      ['v2_link_browsers', linkDay],
      ['v2_cart_browsers', { workspaceId: ws }],
      ['api_product_grid', { show_oos: '1' }],
      ['api_ui_filters', { filter: 'product' }],
      ['api_ui_filters', { filter: 'value' }],
    ]
    for (const [name, query] of answers) {
      const schema = doc.components.schemas[`${name}_row`]
      const body = await json(name, query, server.adminToken)
      for (const column of body.meta) expect(Object.keys(schema?.properties ?? {}), name).toContain(column.name)
      for (const row of body.data) {
        for (const [column, value] of Object.entries(row)) {
          const prop = schema?.properties[column]
          if (value === null) expect(prop?.nullable, `${name}.${column}`).toBe(true)
          else if (prop?.type === 'integer') expect(Number.isInteger(value), `${name}.${column}`).toBe(true)
          else expect(typeof value, `${name}.${column}`).toBe(prop?.type)
        }
      }
    }

    // With a token, the pipes it may read; a bad token is refused.
    const cartOnly = await token(['read:analytics:cart'])
    const mine = (await (await fetch(`${base}/v0/pipes/openapi.json?token=${cartOnly}`)).json()) as typeof doc
    expect(Object.values(mine.paths).map((p) => p.get.operationId).sort()).toEqual(ALL_PIPES.filter((n) => n.startsWith('v2_cart_')).sort())
    await SwaggerParser.validate(structuredClone(mine) as never)
    expect((await fetch(`${base}/v0/pipes/openapi.json?token=nope`)).status).toBe(403)
  })
})
