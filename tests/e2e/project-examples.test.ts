import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The example projects under examples/ are the seed systems written as Tinybird datafiles. Each is loaded
 * on a fresh store with its fixtures, the same rows go to the built-in datasources (`?builtin=true`), and
 * every endpoint must answer what the built-in pipe of the same name answers, parameters included.
 *
 * Differences the comparison allows (the built-in API keeps them on purpose, SPEC.md "(differs)"):
 * - api_product_grid: a product with no stock rows at all is listed by the built-in pipe (stock 0, out of
 *   stock, with show_oos=1); the seed's pipe joins products to the stock view and drops it. The example
 *   follows the seed, so such products are removed from the built-in answer before comparing, and the test
 *   checks that they are exactly the products without stock rows.
 * - `meta` types: a built-in pipe declares its columns (`String` for a LowCardinality(String) column); a
 *   loaded pipe reports ClickHouse's own type, as Tinybird does. Types are compared without LowCardinality.
 * Nothing else differs: column names and types, rows and their order are compared as given.
 */
const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url))

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }

/** Column names and types, LowCardinality unwrapped (see the allowed differences). */
const columns = (doc: Envelope) => doc.meta.map((c) => ({ name: c.name, type: c.type.replace(/^LowCardinality\((.*)\)$/, '$1') }))

async function startExample(name: string): Promise<{ server: TestServer; base: string; startMs: number; loadMs: number; fixtures: Map<string, string> }> {
  const dir = join(EXAMPLES, name)
  const started = performance.now()
  const server = await startTestServer({ SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: `ex_${randomBytes(5).toString('hex')}` })
  const startMs = performance.now() - started
  const base = server.url.replace(/\/graphql$/, '')
  const fixtures = new Map<string, string>()
  const loading = performance.now()
  for (const file of readdirSync(join(dir, 'fixtures')).filter((f) => f.endsWith('.ndjson'))) {
    const body = readFileSync(join(dir, 'fixtures', file), 'utf8')
    const ds = file.replace(/\.ndjson$/, '')
    fixtures.set(ds, body)
    const res = await fetch(`${base}/v0/events?name=${ds}&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body })
    expect(res.status, ds).toBe(200)
    expect(await res.json(), ds).toEqual({ successful_rows: body.trim().split('\n').length, quarantined_rows: 0 })
  }
  const loadMs = performance.now() - loading
  // The same rows, in the built-in datasources of the same names.
  for (const [ds, body] of fixtures) {
    const res = await fetch(`${base}/v0/events?name=${ds}&wait=true&builtin=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body })
    expect(res.status, `builtin ${ds}`).toBe(200)
    expect(((await res.json()) as { quarantined_rows: number }).quarantined_rows, `builtin ${ds}`).toBe(0)
  }
  return { server, base, startMs, loadMs, fixtures }
}

describe('example projects answer like the built-in API for the same data', () => {
  describe('examples/ecommerce', () => {
    let ex: Awaited<ReturnType<typeof startExample>>
    const both = async (path: string) => {
      const sep = path.includes('?') ? '&' : '?'
      const [mine, builtin] = await Promise.all(
        [path, `${path}${sep}builtin=true`].map(async (p) => {
          const res = await fetch(`${ex.base}${p}`, { headers: { authorization: `Bearer ${ex.server.adminToken}` } })
          expect(res.status, p).toBe(200)
          return (await res.json()) as Envelope
        }),
      )
      return { mine: mine!, builtin: builtin! }
    }

    beforeAll(async () => {
      ex = await startExample('ecommerce')
      console.log(`examples/ecommerce: started with the project in ${ex.startMs.toFixed(0)} ms, fixtures loaded in ${ex.loadMs.toFixed(0)} ms`)
      // Sales in the last hour, for the hits and the trending order.
      const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
      const sales = ['p01', 'p01', 'p03', 'p07', 'p07', 'p07'].map((product) => JSON.stringify({ timestamp: now, event: 'sale', product })).join('\n')
      for (const suffix of ['', '&builtin=true']) {
        const res = await fetch(`${ex.base}/v0/events?name=ecomm_events&wait=true${suffix}`, { method: 'POST', headers: { authorization: `Bearer ${ex.server.adminToken}` }, body: sales })
        expect(res.status).toBe(200)
      }
    })
    afterAll(async () => {
      await ex?.server.stop()
    })

    it('api_product_grid: every category, with and without out-of-stock products, both rankings', async () => {
      // Products with rows in the stock view: a warehouse movement or a sale.
      const rowsOf = (ds: string) => ex.fixtures.get(ds)!.trim().split('\n').map((l) => JSON.parse(l) as { product: string; event?: string })
      const stocked = new Set([...rowsOf('warehouse_stock'), ...rowsOf('ecomm_events').filter((e) => e.event === 'sale')].map((r) => r.product))
      for (const category of ['', 'all', 'shoes', 'bags', 'hats', 'none']) {
        for (const showOos of ['', '0', '1']) {
          for (const ranking of ['', '0', '1']) {
            const params = new URLSearchParams({ ...(category && { category }), ...(showOos && { show_oos: showOos }), ...(ranking && { ranking }) })
            const { mine, builtin } = await both(`/v0/pipes/api_product_grid.json?${params}`)
            const label = params.toString()
            expect(columns(mine), label).toEqual(columns(builtin))
            // The one allowed difference: products without any stock row.
            const dropped = builtin.data.filter((r) => !stocked.has(String(r.id)))
            for (const row of dropped) expect(row, label).toMatchObject({ stock: 0, stock_status: 2 })
            if (showOos === '1' && ['', 'all', 'hats'].includes(category)) expect(dropped.map((r) => r.id), label).toEqual(['p10'])
            expect(mine.data, label).toEqual(builtin.data.filter((r) => stocked.has(String(r.id))))
          }
        }
      }
      const trending = (await both('/v0/pipes/api_product_grid.json?ranking=1')).mine.data.filter((r) => r.rank_status !== null)
      expect(trending.map((r) => r.id)).toEqual(['p01', 'p02', 'p05']) // in stock first, then last-hour sales, then id
      expect(trending.map((r) => r.hits)).toEqual([2, 0, 0])
    })

    it('api_ui_filters: products of each category and the KPI names', async () => {
      for (const query of ['filter=product', 'filter=product&category=all', 'filter=product&category=bags', 'filter=value', 'filter=value&category=hats']) {
        const { mine, builtin } = await both(`/v0/pipes/api_ui_filters.json?${query}`)
        expect(columns(mine), query).toEqual(columns(builtin))
        expect(mine.data, query).toEqual(builtin.data)
      }
      for (const query of ['', 'filter=other']) {
        const res = await fetch(`${ex.base}/v0/pipes/api_ui_filters.json?${query}`, { headers: { authorization: `Bearer ${ex.server.adminToken}` } })
        expect(res.status).toBe(400)
        expect(((await res.json()) as { error: string }).error).toContain('filter (String) query param is required and must be product or value')
      }
    })
  })

  describe('examples/app-analytics', () => {
    let ex: Awaited<ReturnType<typeof startExample>>
    beforeAll(async () => {
      ex = await startExample('app-analytics')
      console.log(`examples/app-analytics: started with the project in ${ex.startMs.toFixed(0)} ms, fixtures loaded in ${ex.loadMs.toFixed(0)} ms`)
    })
    afterAll(async () => {
      await ex?.server.stop()
    })

    it('v2 dimension pipes: per workspace, range and filters', async () => {
      const pipes = readdirSync(join(EXAMPLES, 'app-analytics', 'endpoints')).map((f) => f.replace(/\.pipe$/, ''))
      expect(pipes.length).toBeGreaterThanOrEqual(6)
      const range = 'start=2026-11-19%2000:00:00&end=2026-11-28%2000:00:00'
      const queries = [
        `workspaceId=ws_a&${range}`,
        `workspaceId=ws_b&${range}`,
        'workspaceId=ws_a&start=2026-11-22%2000:00:00&end=2026-11-24%2012:00:00',
        `workspaceId=ws_a&${range}&browser=Chrome`,
        `workspaceId=ws_a&${range}&platforms=web,ios`,
        `workspaceId=ws_a&${range}&platforms=android&platforms=web`,
        `workspaceId=ws_a&${range}&country=ES&device=mobile`,
        `workspaceId=ws_a&${range}&limit=2`,
        `workspaceId=nobody&${range}`,
      ]
      let rows = 0
      for (const pipe of pipes) {
        for (const query of queries) {
          const [mine, builtin] = await Promise.all(
            [`/v0/pipes/${pipe}.json?${query}`, `/v0/pipes/${pipe}.json?${query}&builtin=true`].map(async (p) => {
              const res = await fetch(`${ex.base}${p}`, { headers: { authorization: `Bearer ${ex.server.adminToken}` } })
              expect(res.status, p).toBe(200)
              return (await res.json()) as Envelope
            }),
          )
          expect(columns(mine!), `${pipe}?${query}`).toEqual(columns(builtin!))
          expect(mine!.data, `${pipe}?${query}`).toEqual(builtin!.data)
          rows += mine!.data.length
        }
      }
      expect(rows).toBeGreaterThan(100) // the comparisons compared rows, not empty answers
    })
  })
})
