import { gzipSync } from 'node:zlib'
import { DateTime } from 'luxon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prng } from '../../src/random.js'
import { PIPES } from '../../src/rest/index.js'
import { CreateTokenDocument, QuarantineDocument, StockLevelsDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The contract of the REST surface, written out here rather than read from src/rest, so the test checks
 * the table instead of repeating it: per dimension its GraphQL enum, pipe slug, column and filter field.
 */
const DIMENSIONS = [
  ['BROWSER', 'browsers', 'browser', 'browser'],
  ['OS', 'os', 'os', 'os'],
  ['DEVICE', 'devices', 'device', 'device'],
  ['COUNTRY', 'countries', 'country', 'country'],
  ['REGION', 'regions', 'region', 'region'],
  ['CITY', 'cities', 'city', 'city'],
  ['REFERER', 'referers', 'referer', 'referer'],
  ['PLATFORM', 'platforms', 'platform', 'platform'],
  ['EMAIL_BROADCAST', 'emailBroadcasts', 'email_broadcast_id', 'emailBroadcastId'],
  ['EMAIL_TEMPLATE', 'emailTemplates', 'email_template_id', 'emailTemplateId'],
  ['FLOW_ACTION', 'flowActions', 'flow_action_id', 'flowActionId'],
  ['LANDING_PAGE', 'landingPages', 'landing_page_id', 'landingPageId'],
  ['META_AD', 'metaAds', 'meta_ad_id', 'metaAdId'],
  ['META_AD_SET', 'metaAdSets', 'meta_ad_set_id', 'metaAdSetId'],
  ['META_CAMPAIGN', 'metaCampaigns', 'meta_campaign_id', 'metaCampaignId'],
  ['META_PLACEMENT', 'metaPlacements', 'meta_placement_id', 'metaPlacementId'],
] as const

/** Per app: its GraphQL enum, actions, and metric columns as [column, AppMetrics field]. */
const APPS = {
  cart: {
    enum: 'CART',
    actions: ['view', 'add_to_cart', 'purchase'],
    metrics: [['views', 'views'], ['add_to_carts', 'addToCarts'], ['purchases', 'purchases'], ['revenue', 'revenue']],
  },
  fm: { enum: 'FM', actions: ['play', 'pause', 'share'], metrics: [['plays', 'plays'], ['pauses', 'pauses'], ['shares', 'shares']] },
  link: { enum: 'LINK', actions: ['click', 'redirect'], metrics: [['clicks', 'clicks'], ['redirects', 'redirects']] },
  page: { enum: 'PAGE', actions: ['view', 'interaction'], metrics: [['views', 'views'], ['interactions', 'interactions']] },
} as const
type AppName = keyof typeof APPS
const APP_NAMES = Object.keys(APPS) as AppName[]

const METRICS_FRAGMENT = `fragment M on AppMetrics { events sessions visitors
  ... on CartMetrics { views addToCarts purchases revenue } ... on FmMetrics { plays pauses shares }
  ... on LinkMetrics { clicks redirects } ... on PageMetrics { views interactions } }`

type Row = Record<string, unknown>
interface PipeJson {
  meta: Array<{ name: string; type: string }>
  data: Row[]
  rows: number
  statistics: { elapsed: number; rows_read: number; bytes_read: number }
}

function flatMetrics(app: AppName, m: Record<string, unknown>): Row {
  const out: Row = { events: m.events, sessions: m.sessions, visitors: m.visitors }
  for (const [column, field] of APPS[app].metrics) out[column] = m[field]
  return out
}

/** RFC 4180: quoted fields with doubled quotes, bare numbers, empty for null. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  return rows
}

describe('Tinybird-compatible REST', () => {
  let server: TestServer
  let base: string
  let reader: string
  let appender: string
  const workspace = uid('ws')
  const category = uid('cat')
  const from = new Date(Date.now() - 3 * 24 * 3600e3).toISOString()
  const to = new Date(Date.now() + 3600e3).toISOString()
  const productIds = Array.from({ length: 6 }, (_, i) => `${category}_${i}`)

  async function graphql(query: string, variables: Record<string, unknown>, token: string): Promise<Record<string, unknown>> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    })
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] }
    if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`)
    return body.data
  }

  const token = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, server.adminToken)).createToken.token

  const pipe = (name: string, params: Record<string, string>, auth: string | null = reader, ext = 'json') =>
    fetch(`${base}/v0/pipes/${name}.${ext}?${new URLSearchParams(params)}`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {})

  async function pipeJson(name: string, params: Record<string, string>, auth: string | null = reader): Promise<PipeJson> {
    const res = await pipe(name, params, auth)
    const body = (await res.json()) as PipeJson
    expect(res.status, `${name}: ${JSON.stringify(body)}`).toBe(200)
    return body
  }

  const events = (name: string, body: string | Buffer, opts: { auth?: string | null; query?: Record<string, string>; headers?: Record<string, string> } = {}) =>
    fetch(`${base}/v0/events?${new URLSearchParams({ name, ...opts.query })}`, {
      method: 'POST',
      headers: { ...(opts.auth === null ? {} : { authorization: `Bearer ${opts.auth ?? appender}` }), ...opts.headers },
      body,
    })

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_MAX_BODY_BYTES: String(1024 * 1024), SIGHTLINE_MAX_BATCH: '1000' })
    base = server.url.replace(/\/graphql$/, '')
    reader = await token(['read'])
    appender = await token(['append'])

    // Ecommerce: products (one name that needs CSV quoting), stock and recent sales.
    const products = productIds.map((id, i) => ({
      id,
      category,
      name: i === 0 ? 'Boot, "Deluxe"' : `Product ${i}`,
      photo: `https://img.example/${id}.jpg`,
      price: 10 + i * 7,
    }))
    const stock = productIds.map((product, i) => ({ product, store: 'main', amount: [150, 50, 0, 500, 3, 120][i] ?? 0 }))
    const sales = productIds.flatMap((product, i) => Array.from({ length: i % 3 }, () => ({ product, event: 'SALE' })))
    await graphql('mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }', { p: products }, server.adminToken)
    await graphql('mutation($s: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $s) { accepted } }', { s: stock }, server.adminToken)
    await graphql('mutation($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }', { e: sales }, server.adminToken)

    // App analytics: every app, every dimension with a few values (some empty), over the last days.
    const rand = prng(11)
    const choose = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
    for (const app of APP_NAMES) {
      const rows = Array.from({ length: 300 }, () => {
        const row: Record<string, unknown> = {
          app: APPS[app].enum,
          action: choose(APPS[app].actions),
          workspaceId: workspace,
          sessionId: `s${Math.floor(rand() * 60)}`,
          visitorId: `v${Math.floor(rand() * 40)}`,
          assetId: choose(['a1', 'a2']),
          timestamp: new Date(Date.now() - rand() * 2.5 * 24 * 3600e3).toISOString(),
          revenue: app === 'cart' ? Math.round(rand() * 1000) / 10 : null,
        }
        for (const [, , , field] of DIMENSIONS) row[field] = choose(['', `${field}_x`, `${field}_y`, `${field}_z`])
        row.referer = choose(['', 'https://l.instagram.com/x', 'https://www.instagram.com/', 'https://t.co/a'])
        return row
      })
      await graphql('mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }', { e: rows }, server.adminToken)
    }
  })
  afterAll(() => server?.stop())

  it('serves the seed pipes: 2 ecommerce, and per app one pipe per dimension plus a timeseries', async () => {
    const expected = [
      'api_product_grid',
      'api_ui_filters',
      ...APP_NAMES.flatMap((app) => [...DIMENSIONS.map(([, slug]) => `v2_${app}_${slug}`), `v2_${app}_timeseries`]),
    ]
    expect([...PIPES.keys()].sort()).toEqual(expected.sort())
    expect(expected.filter((n) => n.startsWith('v2_') && !n.endsWith('_timeseries'))).toHaveLength(64)
  })

  it('answers every v2 dimension and timeseries pipe with the rows GraphQL gives on the same data', async () => {
    for (const app of APP_NAMES) {
      const aliases = DIMENSIONS.map(([dim]) => `${dim}: breakdown(by: ${dim}, limit: 1000) { value metrics { ...M } }`).join('\n')
      const data = await graphql(
        `query($app: App!, $ws: ID!, $from: DateTime, $to: DateTime) {
          analytics(app: $app, workspaceId: $ws, from: $from, to: $to) {
            ${aliases}
            hourly: timeseries(granularity: HOUR, timezone: "Asia/Kolkata") { start metrics { ...M } }
          }
        } ${METRICS_FRAGMENT}`,
        { app: APPS[app].enum, ws: workspace, from, to },
        reader,
      )
      const analytics = data.analytics as Record<string, Array<{ value: string; start: string; metrics: Record<string, unknown> }>>
      const range = { workspaceId: workspace, start: from, end: to }

      for (const [dim, slug, column] of DIMENSIONS) {
        const name = `v2_${app}_${slug}`
        const body = await pipeJson(name, { ...range, limit: '1000' })
        const expected = (analytics[dim] ?? []).map((b) => ({ [column]: b.value, ...flatMetrics(app, b.metrics) }))
        expect(expected.length, name).toBeGreaterThan(1)
        expect(body.data, name).toEqual(expected)
        expect(body.rows, name).toBe(expected.length)
        expect(body.meta.map((c) => c.name), name).toEqual(Object.keys(expected[0] ?? {}))
        expect(body.meta[0], name).toEqual({ name: column, type: 'String' })
        expect(body.statistics.elapsed, name).toBeGreaterThan(0)
      }

      const series = await pipeJson(`v2_${app}_timeseries`, { ...range, granularity: 'hour', timezone: 'Asia/Kolkata' })
      const expected = (analytics.hourly ?? []).map((b) => ({
        start: DateTime.fromISO(b.start).setZone('Asia/Kolkata').toFormat('yyyy-MM-dd HH:mm:ss'),
        ...flatMetrics(app, b.metrics),
      }))
      expect(expected.length).toBeGreaterThan(24)
      expect(series.data).toEqual(expected)
      expect(series.meta[0]).toEqual({ name: 'start', type: "DateTime('Asia/Kolkata')" })
    }
  })

  it('applies the dimension filters under their seed, GraphQL and column names, with "all" as no filter', async () => {
    const filtered = await graphql(
      `query($ws: ID!, $from: DateTime, $to: DateTime, $f: AnalyticsFilter) {
        analytics(app: PAGE, workspaceId: $ws, from: $from, to: $to, filter: $f) { breakdown(by: BROWSER, limit: 1000) { value metrics { ...M } } }
      } ${METRICS_FRAGMENT}`,
      { ws: workspace, from, to, f: { emailBroadcastId: 'emailBroadcastId_x', country: 'country_y', assetId: 'a1' } },
      reader,
    )
    const expected = ((filtered.analytics as { breakdown: Array<{ value: string; metrics: Record<string, unknown> }> }).breakdown).map((b) => ({
      browser: b.value,
      ...flatMetrics('page', b.metrics),
    }))
    const range = { workspaceId: workspace, start: from, end: to, limit: '1000' }
    const spellings: Array<Record<string, string>> = [
      { sessionEmailBroadcastId: 'emailBroadcastId_x', country: 'country_y', assetId: 'a1', os: 'all' },
      { emailBroadcastId: 'emailBroadcastId_x', country: 'country_y', asset_id: 'a1', browser: '' },
      { email_broadcast_id: 'emailBroadcastId_x', country: 'country_y', assetId: 'a1' },
    ]
    for (const params of spellings) {
      expect((await pipeJson('v2_page_browsers', { ...range, ...params })).data).toEqual(expected)
    }
    const all = (await pipeJson('v2_page_browsers', range)).data
    const skipped = await pipeJson('v2_page_browsers', { ...range, skip: '1', limit: '2' })
    expect(skipped.data).toEqual(all.slice(1, 3))
    // Offset-free times are UTC whatever `timezone` says; an offset is honoured (edges: tests/e2e/pipes.test.ts).
    const utc = await pipeJson('v2_link_devices', { workspaceId: workspace, start: '2000-01-01 00:00:00', end: to })
    const tokyo = await pipeJson('v2_link_devices', { workspaceId: workspace, start: '2000-01-01 09:00:00+09:00', end: to, timezone: 'Asia/Tokyo' })
    expect(utc.data.length).toBeGreaterThan(1)
    expect(tokyo.data).toEqual(utc.data)
  })

  it('answers api_product_grid and api_ui_filters with the seed columns and string conventions', async () => {
    const grid = (vars: Record<string, unknown>) =>
      graphql(
        'query($c: String, $o: Boolean, $r: GridRanking) { productGrid(category: $c, showOutOfStock: $o, ranking: $r) { id name stock stockStatus hits rankStatus photo price } }',
        vars,
        reader,
      )
    const status = { IN_STOCK: 0, LOW_STOCK: 1, OUT_OF_STOCK: 2 } as Record<string, number>
    const cases: Array<[Record<string, string>, Record<string, unknown>]> = [
      [{ category }, { c: category }],
      [{ category, show_oos: '1', ranking: '1' }, { c: category, o: true, r: 'TRENDING' }],
      [{ category, show_oos: '0', ranking: '0' }, { c: category, o: false, r: 'PRICE' }],
      [{ category: 'all', show_oos: '1' }, { c: 'all', o: true }],
    ]
    for (const [params, vars] of cases) {
      const rows = (await grid(vars)).productGrid as Array<Record<string, unknown>>
      const expected = rows.map((r) => ({
        id: r.id,
        name: r.name,
        stock: r.stock,
        stock_status: status[String(r.stockStatus)],
        hits: r.hits,
        rank_status: r.rankStatus,
        photo: r.photo,
        price: r.price,
      }))
      const body = await pipeJson('api_product_grid', params)
      expect(body.data, JSON.stringify(params)).toEqual(expected)
      expect(body.meta.map((c) => `${c.name}:${c.type}`)).toEqual([
        'id:String',
        'name:String',
        'stock:Int64',
        'stock_status:UInt8',
        'hits:UInt64',
        'rank_status:Nullable(String)',
        'photo:String',
        'price:Float64',
      ])
    }
    const withOos = await pipeJson('api_product_grid', { category, show_oos: '1', ranking: '1' })
    expect(withOos.rows).toBe(productIds.length)
    expect(withOos.data.filter((r) => r.rank_status === 'Trending 🔥')).toHaveLength(3)

    const products = (await graphql('query($c: String) { uiFilters(filter: PRODUCT, category: $c) { id value } }', { c: category }, reader)).uiFilters
    const productFilter = await pipeJson('api_ui_filters', { filter: 'product', category })
    expect(productFilter.data).toEqual(products)
    expect(productFilter.meta.map((c) => c.name)).toEqual(['id', 'value'])
    const kpis = await pipeJson('api_ui_filters', { filter: 'value' })
    expect(kpis.data).toEqual([{ value: 'sales' }, { value: 'carts' }, { value: 'views' }])
    expect(kpis.meta).toEqual([{ name: 'value', type: 'String' }])
  })

  it('serves .csv (no header), .csvwithnames (a header; both RFC 4180 quoting) and .ndjson with the .json rows', async () => {
    for (const [name, params] of [
      ['api_product_grid', { category, show_oos: '1' }],
      ['v2_cart_browsers', { workspaceId: workspace, start: from, end: to }],
      ['v2_fm_timeseries', { workspaceId: workspace, start: from, end: to }],
    ] as const) {
      const json = await pipeJson(name, params)
      const csvRes = await pipe(name, params, reader, 'csvwithnames')
      expect(csvRes.headers.get('content-type')).toMatch(/^text\/csv/)
      const [header, ...lines] = parseCsv(await csvRes.text())
      expect(header).toEqual(json.meta.map((c) => c.name))
      expect(lines).toEqual(json.data.map((r) => json.meta.map((c) => (r[c.name] === null ? '' : String(r[c.name])))))
      const bare = await pipe(name, params, reader, 'csv')
      expect(bare.headers.get('content-type')).toMatch(/^text\/csv/)
      expect(parseCsv(await bare.text())).toEqual(lines)
      const ndRes = await pipe(name, params, reader, 'ndjson')
      expect(ndRes.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
      const text = await ndRes.text()
      expect(text.endsWith('\n')).toBe(true)
      expect(text.trimEnd().split('\n').map((l) => JSON.parse(l) as Row)).toEqual(json.data)
    }
    const csv = await (await pipe('api_ui_filters', { filter: 'product', category }, reader, 'csv')).text()
    expect(csv).toContain('"Boot, ""Deluxe"""')
  })

  it('takes the token as a bearer header or ?token=, with the same scopes', async () => {
    const params = { workspaceId: workspace }
    const viaHeader = await pipeJson('v2_cart_os', params)
    const viaParam = await fetch(`${base}/v0/pipes/v2_cart_os.json?${new URLSearchParams({ ...params, token: reader })}`)
    expect(viaParam.status).toBe(200)
    expect(((await viaParam.json()) as PipeJson).data).toEqual(viaHeader.data)

    for (const auth of [null, 'sl_not-a-token']) {
      const res = await pipe('v2_cart_os', params, auth)
      expect(res.status).toBe(403)
      expect(Object.keys((await res.json()) as object)).toEqual(['error'])
    }
    const badParam = await fetch(`${base}/v0/pipes/v2_cart_os.json?${new URLSearchParams({ ...params, token: 'nope' })}`)
    expect(badParam.status).toBe(403)

    const cartOnly = await token(['read:analytics:cart'])
    expect((await pipe('v2_cart_os', params, cartOnly)).status).toBe(200)
    for (const name of ['v2_fm_os', 'api_product_grid']) {
      const res = await fetch(`${base}/v0/pipes/${name}.json?${new URLSearchParams({ ...params, token: cartOnly })}`)
      expect(res.status, name).toBe(403)
      expect(((await res.json()) as { error: string }).error).toMatch(/scope/)
    }
    const bound = await token(['read:analytics'], 'ws_other')
    expect((await pipe('v2_page_os', params, bound)).status).toBe(403)
    const appendOnly = await token(['append:ecomm_events'])
    expect((await pipe('api_ui_filters', { filter: 'value' }, appendOnly)).status).toBe(403)
  })

  it('answers bad requests in Tinybird shape', async () => {
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['nope', {}, 404, 'json'],
      ['v2_cart_os', { workspaceId: workspace }, 400, 'xml'],
      ['v2_cart_os', {}, 400, 'json'],
      ['v2_cart_os', { workspaceId: workspace, granularity: 'fortnight' }, 200, 'json'], // ignored where unused
      ['v2_cart_timeseries', { workspaceId: workspace, granularity: 'fortnight' }, 400, 'json'],
      ['v2_cart_timeseries', { workspaceId: workspace, timezone: 'Mars/Base' }, 400, 'json'],
      ['v2_cart_os', { workspaceId: workspace, start: 'yesterday' }, 400, 'json'],
      ['v2_cart_os', { workspaceId: workspace, start: to, end: from }, 400, 'json'],
      ['v2_cart_os', { workspaceId: workspace, limit: '0' }, 400, 'json'],
      ['api_ui_filters', {}, 400, 'json'],
      ['api_ui_filters', { filter: 'colour' }, 400, 'json'],
    ]
    for (const [name, params, status, ext] of cases) {
      const res = await pipe(name, params, reader, ext)
      const body = (await res.json()) as { error?: string }
      expect(res.status, `${name}.${ext} ${JSON.stringify(params)}: ${JSON.stringify(body)}`).toBe(status)
      if (status !== 200) expect(typeof body.error).toBe('string')
    }
    const put = await fetch(`${base}/v0/pipes/v2_cart_os.json`, { method: 'PUT', headers: { authorization: `Bearer ${reader}` } })
    expect(put.status).toBe(405)
    const preflight = await fetch(`${base}/v0/pipes/v2_cart_os.json`, { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('ingests NDJSON, quarantining malformed lines raw with a reason and keeping the good ones', async () => {
    const product = uid('p')
    const lines = [
      JSON.stringify({ timestamp: '2024-05-01 10:00:00', event: 'view', product }),
      JSON.stringify({ timestamp: new Date().toISOString().slice(0, 19), event: 'sale', product }),
      JSON.stringify({ event: 'sale', product }),
      '{"event": "sale", "product": ', // not JSON
      JSON.stringify({ event: 'refund', product }), // no such event
      '[1, 2, 3]', // not an object
      JSON.stringify({ event: 'view', product, timestamp: 'soon' }), // unreadable time
      '',
      JSON.stringify({ event: 'view', product: '' }), // typed, refused by the store's validation
      JSON.stringify({ event: 'view', product, timestamp: '1999-12-31 23:59:59' }), // ditto
    ]
    const res = await events('ecomm_events', `${lines.join('\n')}\r\n`, { query: { wait: 'true' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ successful_rows: 3, quarantined_rows: 6 })
    const stock = await gqlOk(server, StockLevelsDocument, { products: [product] }, reader)
    expect(stock.stock[0]?.available).toBe(-2)

    const quarantined = (await gqlOk(server, QuarantineDocument, { table: 'ecomm_events', limit: 1000 }, server.adminToken)).quarantine
    const reasonOf = (row: string) => quarantined.find((q) => q.row === row)?.reason
    expect(reasonOf('{"event": "sale", "product": ')).toMatch(/invalid JSON/)
    expect(reasonOf(lines[4] ?? '')).toMatch(/unknown event "refund"/)
    expect(reasonOf('[1, 2, 3]')).toMatch(/not a JSON object/)
    expect(reasonOf(lines[6] ?? '')).toMatch(/timestamp "soon" is not a date-time/)
    expect(quarantined.some((q) => q.reason.includes('product is empty'))).toBe(true)
    expect(quarantined.some((q) => q.row.includes(product) && q.reason.includes('before 2000'))).toBe(true)

    // Without wait=true Tinybird answers 202; the rows are durable either way.
    const accepted = await events('warehouse_stock', `${JSON.stringify({ product, store: 's1', amount: '12' })}\n${JSON.stringify({ product, store: 's1', amount: 1.5 })}`)
    expect(accepted.status).toBe(202)
    expect(await accepted.json()).toEqual({ successful_rows: 1, quarantined_rows: 1 })
    expect((await gqlOk(server, StockLevelsDocument, { products: [product] }, reader)).stock[0]?.available).toBe(10)

    const priced = await events('products', [
      JSON.stringify({ id: product, category: uid('c'), name: 'N', photo: 'x', price: '9.5' }),
      JSON.stringify({ id: uid('p'), category: 'c', name: 'N', price: 'cheap' }),
      JSON.stringify({ id: uid('p'), category: 'c', name: 'N' }),
    ].join('\n'), { query: { wait: 'true' } })
    expect(await priced.json()).toEqual({ successful_rows: 1, quarantined_rows: 2 })
  })

  it('ingests the seed barely_events columns into app analytics', async () => {
    const ws = uid('ws')
    const now = Date.now()
    const lines = [
      { timestamp: new Date(now - 60_000).toISOString(), event_type: 'link', action: 'click', workspace_id: ws, session_id: 's1', visitor_id: 'v1', browser: 'Firefox', meta_ad_id: 'ad1' },
      { timestamp: Math.floor(now / 1000) - 120, event_type: 'link', action: 'redirect', workspace_id: ws, session_id: 's2', visitor_id: 'v1', browser: 'Safari' },
      { event_type: 'link', action: 'teleport', workspace_id: ws, session_id: 's3', visitor_id: 'v3' }, // the store refuses the action
      { event_type: 'blog', action: 'view', workspace_id: ws, session_id: 's4', visitor_id: 'v4' }, // no such app
    ].map((l) => JSON.stringify(l))
    const res = await events('barely_events', lines.join('\n'), { query: { wait: 'true' } })
    expect(await res.json()).toEqual({ successful_rows: 2, quarantined_rows: 2 })
    const browsers = await pipeJson('v2_link_browsers', { workspaceId: ws })
    expect(browsers.data).toEqual([
      { browser: 'Firefox', events: 1, sessions: 1, visitors: 1, clicks: 1, redirects: 0 },
      { browser: 'Safari', events: 1, sessions: 1, visitors: 1, clicks: 0, redirects: 1 },
    ])
    expect((await pipeJson('v2_link_metaAds', { workspaceId: ws })).data).toEqual([
      { meta_ad_id: 'ad1', events: 1, sessions: 1, visitors: 1, clicks: 1, redirects: 0 },
    ])
    const quarantined = (await gqlOk(server, QuarantineDocument, { table: 'app_events', limit: 1000 }, server.adminToken)).quarantine
    expect(quarantined.find((q) => q.row === lines[3])?.reason).toMatch(/unknown event_type "blog"/)
    expect(quarantined.some((q) => q.row.includes('teleport') && q.reason.includes('unknown action'))).toBe(true)
  })

  it('accepts gzip bodies, and answers 413 past the size limit, compressed or not', async () => {
    const product = uid('p')
    const body = Array.from({ length: 50 }, () => JSON.stringify({ event: 'sale', product })).join('\n')
    const gz = await events('ecomm_events', gzipSync(body), { headers: { 'content-encoding': 'gzip' }, query: { wait: 'true' } })
    expect(await gz.json()).toEqual({ successful_rows: 50, quarantined_rows: 0 })
    expect((await gqlOk(server, StockLevelsDocument, { products: [product] }, reader)).stock[0]?.available).toBe(-50)

    const limit = server.config.maxBodyBytes
    const plain = await events('ecomm_events', 'x'.repeat(limit + 1))
    expect(plain.status).toBe(413)
    expect(typeof ((await plain.json()) as { error: string }).error).toBe('string')
    const bomb = gzipSync(Buffer.alloc(limit * 8, ' '))
    expect(bomb.length).toBeLessThan(limit)
    const exploded = await events('ecomm_events', bomb, { headers: { 'content-encoding': 'gzip' } })
    expect(exploded.status).toBe(413)
    const corrupt = await events('ecomm_events', Buffer.from('definitely not gzip'), { headers: { 'content-encoding': 'gzip' } })
    expect(corrupt.status).toBe(400)
    const brotli = await events('ecomm_events', 'x', { headers: { 'content-encoding': 'br' } })
    expect(brotli.status).toBe(415)
    const tooMany = await events('ecomm_events', Array.from({ length: server.config.maxBatch + 1 }, () => JSON.stringify({ event: 'view', product })).join('\n'))
    expect(tooMany.status).toBe(400)
    expect(((await tooMany.json()) as { error: string }).error).toMatch(/at most/)
  })

  it('stores a retried batch once under the same idempotency key (header or parameter)', async () => {
    const product = uid('p')
    const body = [JSON.stringify({ event: 'sale', product }), 'oops', JSON.stringify({ event: 'sale', product })].join('\n')
    for (const send of [
      (key: string) => events('ecomm_events', body, { headers: { 'x-idempotency-key': key }, query: { wait: 'true' } }),
      (key: string) => events('ecomm_events', body, { query: { idempotency_key: key, wait: 'true' } }),
    ]) {
      const key = uid('key')
      for (let attempt = 0; attempt < 2; attempt++) {
        expect(await (await send(key)).json()).toEqual({ successful_rows: 2, quarantined_rows: 1 })
      }
    }
    expect((await gqlOk(server, StockLevelsDocument, { products: [product] }, reader)).stock[0]?.available).toBe(-4)
    const oopses = (await gqlOk(server, QuarantineDocument, { table: 'ecomm_events', limit: 1000 }, server.adminToken)).quarantine.filter(
      (q) => q.row === 'oops',
    )
    expect(oopses).toHaveLength(2)
  })

  it('refuses ingest without the append scope, to unknown datasources and with other methods', async () => {
    const line = JSON.stringify({ event: 'view', product: 'x' })
    const read = await events('ecomm_events', line, { auth: reader })
    expect(read.status).toBe(403)
    expect(((await read.json()) as { error: string }).error).toMatch(/append:ecomm_events/)
    expect((await events('ecomm_events', line, { auth: null })).status).toBe(403)
    const viaParam = await fetch(`${base}/v0/events?${new URLSearchParams({ name: 'ecomm_events', token: appender, wait: 'true' })}`, {
      method: 'POST',
      body: line,
    })
    expect(viaParam.status).toBe(200)
    const stockOnly = await token(['append:warehouse_stock'])
    expect((await events('products', line, { auth: stockOnly })).status).toBe(403)
    expect((await events('nope', line)).status).toBe(404)
    expect((await fetch(`${base}/v0/events?name=ecomm_events`, { headers: { authorization: `Bearer ${appender}` } })).status).toBe(405)
  })
})
