import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPS, appMetricColumns, DIMENSIONS, PIPES, STOCK_STATUSES, type AppEntry, type PipeEntry } from '../../src/catalog/index.js'
import { uid } from '../helpers/factories.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Every built-in pipe answers over REST what GraphQL answers for the same data: the REST pipes call the
 * domain's use cases directly, GraphQL goes through its resolvers, and both must agree row for row.
 */

type Row = Record<string, unknown>

const WEEK = { start: '2025-05-01 00:00:00', end: '2025-05-07T23:59:59.999Z', from: '2025-05-01T00:00:00.000Z', to: '2025-05-08T00:00:00.000Z' }

describe('REST pipes agree with GraphQL', () => {
  let server: TestServer
  let base: string
  const ws = uid('ws')
  const category = uid('cat')

  async function graphql(query: string, variables: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ query, variables }),
    })
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] }
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined()
    return body.data ?? {}
  }

  async function rest(name: string, params: Record<string, string>): Promise<{ meta: Array<{ name: string; type: string }>; data: Row[] }> {
    const res = await fetch(`${base}/v0/pipes/${name}.json?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${server.adminToken}` } })
    const body = (await res.json()) as { meta: Array<{ name: string; type: string }>; data: Row[] }
    expect(res.status, `${name}: ${JSON.stringify(body)}`).toBe(200)
    return body
  }

  beforeAll(async () => {
    server = await startTestServer()
    base = server.url.replace(/\/graphql$/, '')
    // App events of every app over the week, each dimension drawn from a few values (some empty).
    const events: Row[] = []
    let n = 0
    for (const app of APPS) {
      for (let i = 0; i < 40; i++) {
        n++
        const value = (column: string, k: number) => (column === 'referer' ? `https://www.site${k}.example/` : `${column}_${k}`)
        const dims = Object.fromEntries(DIMENSIONS.map((d, j) => [d.field, (n + j) % 5 === 0 ? '' : value(d.column, (n * (j + 1)) % 3)]))
        events.push({
          ...dims,
          app: app.key,
          action: app.actions[n % app.actions.length]!.action,
          workspaceId: ws,
          sessionId: `s${n % 17}`,
          visitorId: `v${n % 11}`,
          timestamp: new Date(Date.parse(WEEK.from) + ((n * 7_919_000) % (7 * 86_400_000))).toISOString(),
          revenue: (n % 9) * 1.25,
        })
      }
    }
    await graphql('mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }', { e: events })
    // Products of one category at every stock status, some selling in the last hour.
    const products = [0, 5, 80, 500].map((stock, i) => ({ id: uid('p'), category, name: `item ${i}`, photo: '', price: 10 + i, stock }))
    await graphql('mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }', { p: products.map(({ stock: _s, ...p }) => p) })
    await graphql('mutation($u: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $u) { accepted } }', {
      u: products.map((p) => ({ product: p.id, store: 'main', amount: p.stock })),
    })
    const recent = new Date(Date.now() - 10 * 60_000).toISOString()
    await graphql('mutation($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }', {
      e: products.slice(1).flatMap((p, i) => Array.from({ length: i + 1 }, () => ({ event: 'SALE', product: p.id, timestamp: recent }))),
    })
  }, 180_000)

  afterAll(async () => {
    await server?.stop()
  })

  const metricsSelection = `events sessions visitors ${APPS.map((a) => `... on ${a.metricsType} { ${appMetricColumns(a).slice(3).map((c) => c.field).join(' ')} }`).join(' ')}`
  const metricRow = (app: AppEntry, m: Row): Row => Object.fromEntries(appMetricColumns(app).map((c) => [c.name, m[c.field]]))
  const analyticsArgs = (app: AppEntry) => `app: ${app.key}, workspaceId: "${ws}", from: "${WEEK.from}", to: "${WEEK.to}"`

  async function compare(pipe: PipeEntry): Promise<void> {
    const { source } = pipe
    switch (source.kind) {
      case 'productGrid': {
        const answer = await rest(pipe.name, { category, show_oos: '1', ranking: '1' })
        const data = await graphql(`{ productGrid(category: "${category}", showOutOfStock: true, ranking: TRENDING) { id name stockExact stockStatus hits rankStatus photo price } }`)
        const expected = (data.productGrid as Row[]).map((r) => ({
          id: r.id,
          name: r.name,
          stock: Number(r.stockExact),
          stock_status: STOCK_STATUSES.indexOf(r.stockStatus as (typeof STOCK_STATUSES)[number]),
          hits: r.hits,
          rank_status: r.rankStatus,
          photo: r.photo,
          price: r.price,
        }))
        expect(expected).toHaveLength(4)
        expect(answer.data).toEqual(expected)
        expect(answer.meta).toEqual(pipe.output)
        return
      }
      case 'uiFilters': {
        for (const kind of ['PRODUCT', 'VALUE'] as const) {
          const answer = await rest(pipe.name, { filter: kind.toLowerCase(), category })
          const data = await graphql(`{ uiFilters(filter: ${kind}, category: "${category}") { id value } }`)
          const expected = (data.uiFilters as Row[]).map((r) => (kind === 'PRODUCT' ? { id: r.id, value: r.value } : { value: r.value }))
          expect(expected.length).toBeGreaterThan(1)
          expect(answer.data).toEqual(expected)
        }
        return
      }
      case 'breakdown': {
        const app = APPS.find((a) => a.name === source.app)!
        const dimension = DIMENSIONS.find((d) => d.field === source.dimension)!
        const answer = await rest(pipe.name, { workspaceId: ws, start: WEEK.start, end: WEEK.end })
        const data = await graphql(`{ analytics(${analyticsArgs(app)}) { breakdown(by: ${dimension.key}, limit: 1000) { value metrics { ${metricsSelection} } } } }`)
        const expected = ((data.analytics as Row).breakdown as Row[]).map((r) => ({ [dimension.column]: r.value, ...metricRow(app, r.metrics as Row) }))
        expect(expected.length).toBeGreaterThan(0)
        expect(answer.data).toEqual(expected)
        expect(answer.meta).toEqual(pipe.output)
        return
      }
      case 'timeseries': {
        const app = APPS.find((a) => a.name === source.app)!
        const answer = await rest(pipe.name, { workspaceId: ws, start: WEEK.start, end: WEEK.end, granularity: 'day', timezone: 'UTC' })
        const data = await graphql(`{ analytics(${analyticsArgs(app)}) { timeseries(granularity: DAY, timezone: "UTC") { start metrics { ${metricsSelection} } } } }`)
        const expected = ((data.analytics as Row).timeseries as Row[]).map((r) => ({
          start: String(r.start).slice(0, 19).replace('T', ' '),
          ...metricRow(app, r.metrics as Row),
        }))
        expect(expected.length).toBe(7)
        expect(answer.data).toEqual(expected)
        return
      }
      case 'project':
        throw new Error('a built-in pipe has no project source')
    }
  }

  it.each(PIPES.map((p) => [p.name, p] as const))('%s', async (_name, pipe) => {
    await compare(pipe)
  })
})
