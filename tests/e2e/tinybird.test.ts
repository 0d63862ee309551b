import 'reflect-metadata'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTinybirdApi, TinybirdApiError, type TinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uid } from '../helpers/factories.js'
import { startTestServer, wsClient, type TestServer } from '../helpers/server.js'

// Tinybird's own TypeScript SDK, with only its base URL pointed at Sightline. Its createToken is typed
// for JWT scopes only; static scope strings (Tinybird's token API takes them too) are passed as they are.

const SECRET = 'a-jwt-secret-of-at-least-32-characters!'
let server: TestServer
let base: string
let admin: TinybirdApi
const dir = mkdtempSync(join(tmpdir(), 'sightline-sdk-'))

const api = (token: string) => createTinybirdApi({ baseUrl: base, token })

/** The SDK's error for a call that must fail: its status and message. */
async function failure(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await call
  } catch (err) {
    if (err instanceof TinybirdApiError) return { status: err.statusCode, message: err.message }
    throw err
  }
  throw new Error('the call succeeded')
}

beforeAll(async () => {
  server = await startTestServer({ SIGHTLINE_JWT_SECRET: SECRET })
  base = server.url.replace(/\/graphql$/, '')
  admin = api(server.adminToken)
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

type GridRow = { id: string; stock: number; stock_status: number }
const grid = async (client: TinybirdApi, category: string) =>
  ((await client.query('api_product_grid', { category, show_oos: 1 })) as unknown as { data: GridRow[] }).data

describe('the official @tinybirdco/sdk against Sightline', () => {
  const category = uid('cat')
  const products = [uid('p'), uid('p'), uid('p')]

  it('ingests with ingestBatch and reads a pipe with query', async () => {
    const upserted = await admin.ingestBatch('products', products.map((id, i) => ({ id, category, name: `Product ${i}`, photo: '', price: 10 + i })))
    expect(upserted).toEqual({ successful_rows: 3, quarantined_rows: 0 })
    const stocked = await admin.ingestBatch(
      'warehouse_stock',
      products.map((product) => ({ product, store: 'central', amount: 500, timestamp: '2026-01-01 00:00:00' })),
    )
    expect(stocked).toEqual({ successful_rows: 3, quarantined_rows: 0 })
    const sales = await admin.ingestBatch('ecomm_events', [
      { product: products[0], event: 'sale', timestamp: '2026-01-01 00:00:01' },
      { product: products[0], event: 'not-an-event', timestamp: '2026-01-01 00:00:01' },
    ])
    expect(sales).toEqual({ successful_rows: 1, quarantined_rows: 1 })
    const rows = await grid(admin, category)
    expect(rows.map((r) => [r.id, r.stock]).sort()).toEqual([[products[0], 499], [products[1], 500], [products[2], 500]].sort())
  })

  it("resets stock with truncateDatasource on the stock datasource, as the seed frontend does, and live subscribers hear it", async () => {
    // The frontend's token is a datasource-create token in Tinybird: here DATASOURCES:CREATE, created through the SDK.
    const created = (await admin.createToken({ name: uid('frontend'), scopes: ['DATASOURCES:CREATE'] as never })) as unknown as { token: string }
    expect(created.token).toMatch(/^sl_/)
    const frontend = api(created.token)
    const client = wsClient(server, server.adminToken)
    const zeroed = new Promise<unknown>((resolve, reject) =>
      client.subscribe(
        { query: 'subscription S($p: [ID!]) { stockChanged(products: $p) { product available delta } }', variables: { p: [products[1]] } },
        { next: resolve, error: reject, complete: () => {} },
      ),
    )
    try {
      await new Promise((r) => setTimeout(r, 300)) // the subscription is registered before the reset
      expect(await frontend.truncateDatasource('mv_latest_availability')).toEqual({})
      expect((await grid(admin, category)).every((r) => r.stock === 0)).toBe(true)
      expect(await zeroed).toMatchObject({ data: { stockChanged: { product: products[1], available: 0, delta: -500 } } })
    } finally {
      await client.dispose()
    }
    // Stock counts from the reset point: the frontend then appends fresh stock.
    await frontend.ingestBatch('warehouse_stock', [{ product: products[1], store: 'central', amount: 7 }])
    expect((await grid(admin, category)).find((r) => r.id === products[1])?.stock).toBe(7)
    // The raw warehouse rows were not touched: truncate acts on the named datasource only.
    const warehouse = (await admin.requestJson('/v0/datasources/warehouse_stock')) as { stats: { row_count: number } }
    expect(warehouse.stats.row_count).toBeGreaterThanOrEqual(4)
  })

  it('appends a CSV file with appendDatasource, quarantining the bad record', async () => {
    const file = join(dir, 'events.csv')
    writeFileSync(file, `timestamp,event,product\n2026-01-02 10:00:00,view,${products[2]}\n2026-01-02 10:00:01,sale,${products[2]}\n2026-01-02 10:00:02,teleport,${products[2]}\n`)
    const result = (await admin.appendDatasource('ecomm_events', { file })) as { successful_rows: number; quarantined_rows: number }
    expect(result).toMatchObject({ successful_rows: 2, quarantined_rows: 1 })
    // Headerless, in the datasource's column order, works too.
    const bare = join(dir, 'bare.csv')
    const { columns } = (await admin.requestJson('/v0/datasources/ecomm_events')) as { columns: Array<{ name: string }> }
    const cells: Record<string, string> = { timestamp: '2026-01-02 11:00:00', event: 'view', product: products[2]! }
    writeFileSync(bare, `${columns.map((c) => cells[c.name] ?? '').join(',')}\n`)
    expect(await admin.appendDatasource('ecomm_events', { file: bare })).toMatchObject({ successful_rows: 1, quarantined_rows: 0 })
    expect((await failure(admin.appendDatasource('ecomm_events', { url: 'https://example.com/events.csv' }))).status).toBe(400)
  })

  it('deletes rows with deleteDatasource (dry run first), values bound, never spliced', async () => {
    const condition = `product = '${products[2]}' AND event = 'view'`
    expect(await admin.deleteDatasource('ecomm_events', { deleteCondition: condition, dryRun: true })).toEqual({ rows_to_be_deleted: 2 })
    expect(await admin.deleteDatasource('ecomm_events', { deleteCondition: condition })).toMatchObject({ status: 'done', rows_affected: 2 })
    expect(await admin.deleteDatasource('ecomm_events', { deleteCondition: condition, dryRun: true })).toEqual({ rows_to_be_deleted: 0 })
    for (const hostile of [
      `product = '' OR 1 = 1; DROP TABLE products`,
      'sleep(3) = 0',
      `product IN (SELECT product FROM ecomm_events)`,
      `nosuchcolumn = 1`,
      `product = 'x' -- comment`,
    ]) {
      const refused = await failure(admin.deleteDatasource('ecomm_events', { deleteCondition: hostile }))
      expect(refused.status, hostile).toBe(400)
      expect(refused.message, hostile).toMatch(/delete_condition/)
    }
    // A quote inside a value stays a value.
    expect(await admin.deleteDatasource('ecomm_events', { deleteCondition: `product = 'x'' OR ''1''=''1'`, dryRun: true })).toEqual({ rows_to_be_deleted: 0 })
  })

  it('lists datasources with their columns', async () => {
    const { datasources } = (await admin.requestJson('/v0/datasources')) as { datasources: Array<{ name: string; columns: Array<{ name: string; type: string }> }> }
    expect(datasources.map((d) => d.name)).toEqual(expect.arrayContaining(['ecomm_events', 'warehouse_stock', 'products', 'app_events', 'mv_latest_availability']))
    const stock = datasources.find((d) => d.name === 'warehouse_stock')!
    expect(stock.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['timestamp', 'product', 'store', 'amount']))
    expect((await failure(admin.requestJson('/v0/datasources/nope'))).status).toBe(404)
  })

  it('needs manage:<ds> to truncate and delete, append:<ds> to append', async () => {
    const reader = (await admin.createToken({ name: uid('reader'), scopes: ['PIPES:READ:api_product_grid'] as never })) as unknown as { token: string }
    const client = api(reader.token)
    expect((await failure(client.truncateDatasource('ecomm_events'))).status).toBe(403)
    expect((await failure(client.deleteDatasource('ecomm_events', { deleteCondition: '1 = 1' }))).status).toBe(403)
    expect((await failure(client.ingestBatch('ecomm_events', [{ product: 'x', event: 'view' }]))).status).toBe(403)
    // PIPES:READ:<pipe> reads that pipe, and no other.
    expect((await grid(client, category)).length).toBe(3)
    expect((await failure(client.query('api_ui_filters', { filter: 'value' }))).status).toBe(403)
  })
})

describe('Tinybird JWTs', () => {
  const ws = { a: uid('ws'), b: uid('ws') }
  const now = () => Math.floor(Date.now() / 1000)

  beforeAll(async () => {
    const at = '2026-01-01 12:00:00'
    const events = (workspace: string, n: number, browser: string) =>
      Array.from({ length: n }, (_, i) => ({ timestamp: at, event_type: 'page', action: 'view', workspace_id: workspace, session_id: `s${i}`, visitor_id: `v${i}`, browser }))
    await admin.ingestBatch('app_events', [...events(ws.a, 3, 'Firefox'), ...events(ws.b, 5, 'Safari')])
  })

  const mint = async (fixed: Record<string, string | number | boolean>, extra: Record<string, unknown> = {}) =>
    (
      await admin.createToken(
        { name: 'tenant_reader', scopes: [{ type: 'PIPES:READ', resource: 'v2_page_browsers', fixed_params: fixed }], ...extra },
        { expirationTime: now() + 600 },
      )
    ).token

  type Row = { browser: string; visits?: number; events?: number }
  const browsers = async (token: string, params: Record<string, string>) => {
    const res = await fetch(`${base}/v0/pipes/v2_page_browsers.json?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as { data?: Row[]; error?: string } }
  }
  const range = { start: '2026-01-01 00:00:00', end: '2026-01-02 00:00:00' }

  it('are minted by POST /v0/tokens and read their pipe with fixed_params', async () => {
    const token = await mint({ workspaceId: ws.a })
    expect(token.split('.')).toHaveLength(3)
    const own = await browsers(token, { ...range })
    expect(own.status).toBe(200)
    expect(own.body.data?.map((r) => r.browser)).toEqual(['Firefox'])
  })

  it('never read another tenant, however the request is spelled', async () => {
    const token = await mint({ workspaceId: ws.a })
    const attempts: Array<Record<string, string> | string> = [
      { ...range, workspaceId: ws.b },
      `start=${range.start}&end=${range.end}&workspaceId=${ws.b}&workspaceId=${ws.b}`,
      `start=${range.start}&end=${range.end}&workspaceId=&workspaceId=${ws.b}`,
      `start=${range.start}&end=${range.end}&workspace_id=${ws.b}&workspaceid=${ws.b}&WorkspaceId=${ws.b}`,
      `start=${range.start}&end=${range.end}&workspaceId=${encodeURIComponent(ws.b)}%00`,
      { ...range, template_parameters: JSON.stringify({ workspaceId: ws.b }), pipeline: 'v2_page_browsers' },
    ]
    for (const attempt of attempts) {
      const query = typeof attempt === 'string' ? attempt : new URLSearchParams(attempt).toString()
      const res = await fetch(`${base}/v0/pipes/v2_page_browsers.json?${query}`, { headers: { authorization: `Bearer ${token}` } })
      const body = (await res.json()) as { data?: Row[] }
      if (res.status === 200) expect(body.data?.map((r) => r.browser), query).toEqual(['Firefox'])
      else expect(res.status, query).toBe(400)
    }
    // The token as ?token=, in a POST, or over GraphQL reaches nothing more.
    const viaQuery = await fetch(`${base}/v0/pipes/v2_page_browsers.json?${new URLSearchParams({ ...range, workspaceId: ws.b, token })}`)
    expect(((await viaQuery.json()) as { data: Row[] }).data.map((r) => r.browser)).toEqual(['Firefox'])
    const post = await fetch(`${base}/v0/pipes/v2_page_browsers.json`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ workspaceId: ws.b }) })
    expect([200, 405]).toContain(post.status)
    if (post.status === 200) expect(((await post.json()) as { data: Row[] }).data.every((r) => r.browser === 'Firefox')).toBe(true)
    const graphql = await fetch(server.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ analytics(app: PAGE, workspaceId: "${ws.b}") { totals { events } } }` }),
    })
    expect(((await graphql.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('FORBIDDEN')
    // Another pipe than the JWT's is refused.
    const other = await fetch(`${base}/v0/pipes/v2_page_devices.json?workspaceId=${ws.a}`, { headers: { authorization: `Bearer ${token}` } })
    expect(other.status).toBe(403)
  })

  it('answer 403 when tampered, expired or signed with another secret', async () => {
    const token = await mint({ workspaceId: ws.a })
    const [h, p, s] = token.split('.')
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { scopes: Array<{ fixed_params: Record<string, string> }> }
    payload.scopes[0]!.fixed_params.workspaceId = ws.b
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
    expect((await browsers(forged, range)).status).toBe(403)
    const expired = await failure(admin.createToken({ name: 'x', scopes: [{ type: 'PIPES:READ', resource: 'v2_page_browsers' }] }, { expirationTime: now() - 10 }))
    expect(expired.status).toBe(400)
    const reader = (await admin.createToken({ name: uid('r'), scopes: ['PIPES:READ:v2_page_browsers'] as never })) as unknown as { token: string }
    expect((await failure(api(reader.token).createToken({ name: 'x', scopes: [{ type: 'PIPES:READ', resource: 'v2_page_browsers' }] }))).status).toBe(403)
  })

  it('limits.rps limits the JWT, counted per tenant', async () => {
    const a = await mint({ workspaceId: ws.a }, { limits: { rps: 1 } })
    const b = await mint({ workspaceId: ws.b }, { limits: { rps: 1 } })
    const first = await browsers(a, range)
    expect(first.status).toBe(200)
    let limited = await fetch(`${base}/v0/pipes/v2_page_browsers.json?${new URLSearchParams(range)}`, { headers: { authorization: `Bearer ${a}` } })
    // One token a second: within a few tries the bucket is empty, whatever the machine's speed.
    for (let i = 0; i < 5 && limited.status === 200; i++) {
      limited = await fetch(`${base}/v0/pipes/v2_page_browsers.json?${new URLSearchParams(range)}`, { headers: { authorization: `Bearer ${a}` } })
    }
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/)
    expect((await browsers(b, range)).status).toBe(200) // another tenant, another bucket
  })
})

describe('the /v0 protocol', () => {
  it('quarantines the line as sent, its reason numbered from line 1', async () => {
    const product = uid('q')
    const lines = [`{"product":"${uid('ok')}","event":"view"}`, `{"product":"","event":"sale","note":"${product}"}`, `not json ${product}`]
    const res = await fetch(`${base}/v0/events?name=ecomm_events&wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: lines.join('\n'),
    })
    expect(await res.json()).toEqual({ successful_rows: 1, quarantined_rows: 2 })
    const q = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ query: '{ quarantine(table: "ecomm_events", limit: 1000) { row reason } }' }),
    })
    const rows = ((await q.json()) as { data: { quarantine: Array<{ row: string; reason: string }> } }).data.quarantine.filter((r) => r.row.includes(product))
    expect(rows.map((r) => r.row).sort()).toEqual([lines[1], lines[2]].sort())
    expect(rows.find((r) => r.row === lines[1])?.reason).toMatch(/^line 2: /)
    expect(rows.find((r) => r.row === lines[2])?.reason).toMatch(/^line 3: invalid JSON/)
  })

  it('answers CORS on every /v0 response, 404s included', async () => {
    for (const path of ['/v0/nope', '/v0/pipes/nope.json', '/v0/datasources/nope', '/v0/events']) {
      const res = await fetch(`${base}${path}`, { headers: { origin: 'http://localhost:5173' } })
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*')
      expect(res.status, path).toBeGreaterThanOrEqual(400)
    }
    const pre = await fetch(`${base}/v0/datasources/mv_latest_availability/truncate`, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST')
  })

  it('sends X-RateLimit headers when rate limits are on', async () => {
    const limited = await startTestServer({ SIGHTLINE_RATE_LIMIT: '50' })
    try {
      const res = await fetch(`${limited.url.replace(/\/graphql$/, '')}/v0/datasources?from=ts-sdk`, { headers: { authorization: `Bearer ${limited.adminToken}` } })
      expect(res.status).toBe(200)
      expect(Number(res.headers.get('x-ratelimit-limit'))).toBe(100)
      expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(100)
      expect(res.headers.get('x-ratelimit-reset')).toMatch(/^\d+$/)
    } finally {
      await limited.stop()
    }
  })
})
