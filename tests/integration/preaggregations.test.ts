import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIMENSIONS } from '../../src/catalog/index.js'
import type { AnalyticsQuery } from '../../src/store/analytics.js'
import { AnalyticsRepository } from '../../src/store/area/analytics.js'
import { StoreQueries } from '../../src/store/area/queries.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { bootstrapStatements, loadMigrations } from '../../src/store/sql.js'
import { APPS, type App, type AppEventRow, type EcommEventRow } from '../../src/store/types.js'
import { APP_ACTIONS } from '../../src/store/validate.js'
import { makeAppEvent, makeEcommEvent, makeProduct, uid } from '../helpers/factories.js'
import { testStoreConfig } from '../helpers/store.js'

// The pre-aggregations of sql/0080 (sales per second, the grid's hits) and sql/0081 (app events per hour)
// on a store that already held data when they were created: the backfill, markers for batches stored
// before it, a re-run of the migration as after an interrupted start, and exact equality with the raw tables.

const SECOND = 1000
const HOUR = 3600 * SECOND
const FIRST_PREAGG = 80

describe('pre-aggregations created over existing data', () => {
  const config = testStoreConfig()
  const db = config.database
  let store: ClickHouseStore
  let raw: AnalyticsRepository
  const products = Array.from({ length: 6 }, () => makeProduct({ category: uid('cat') }))
  const workspace = uid('ws')
  const keyed = { ecomm: uid('key'), app: uid('key') }
  let ecommKeyed: EcommEventRow[]
  let appKeyed: AppEventRow[]

  /** Sales per (second, product) in ecomm_events and in the rollup: equal everywhere, not only in the last hour. */
  const salesDiff = async () =>
    store.executor.select<{ second: string; product: string; raw: string; rollup: string }>(
      `SELECT second, product, raw, rollup FROM (
         SELECT timestamp AS second, product, count() AS raw FROM ${db}.ecomm_events WHERE event = 'sale' GROUP BY second, product
       ) AS r
       FULL OUTER JOIN (
         SELECT second, product, sum(sales) AS rollup FROM ${db}.ecomm_sales_second WHERE NOT startsWith(product, '\\0') GROUP BY second, product
       ) AS p USING (second, product)
       WHERE raw != rollup`,
    )

  /** The grid's hits against the raw count, in one statement so both read the same now(). */
  const hitsDiff = async () =>
    store.executor.select<{ product: string }>(
      `SELECT product FROM (
         SELECT product, count() AS n FROM ${db}.ecomm_events WHERE event = 'sale' AND timestamp >= now() - INTERVAL 1 HOUR GROUP BY product
       ) AS r
       FULL OUTER JOIN (
         SELECT product, sum(sales) AS n FROM ${db}.ecomm_sales_second WHERE second >= now() - INTERVAL 1 HOUR AND NOT startsWith(product, '\\0') GROUP BY product
       ) AS p USING (product)
       WHERE r.n != p.n`,
    )

  /** Every app's totals, breakdowns and hourly series over a ragged range: pre-aggregated vs the per-app tables. */
  async function expectAnalyticsEqual(label: string): Promise<void> {
    const now = Date.now()
    for (const app of APPS) {
      const q: AnalyticsQuery = { app, workspaceId: workspace, from: new Date(now - 30 * HOUR - 1234), to: new Date(now + 5678), filter: {} }
      expect(await store.analyticsTotals(q), `${label} ${app} totals`).toEqual(await raw.totals(q))
      for (const { field } of DIMENSIONS.slice(0, 8)) {
        const b = { ...q, by: field as never, limit: 1000 }
        expect(await store.analyticsBreakdown(b), `${label} ${app} by ${field}`).toEqual(await raw.breakdown(b))
      }
      const t = { ...q, granularity: 'HOUR' as const, timezone: 'UTC' }
      expect(await store.analyticsTimeseries(t), `${label} ${app} series`).toEqual(await raw.timeseries(t))
    }
  }

  beforeAll(async () => {
    store = ClickHouseStore.open(config)
    // The schema as it was before the pre-aggregations (statements run, versions not recorded).
    for (const s of bootstrapStatements({ database: db })) await store.executor.command(s)
    for (const m of loadMigrations({ database: db }).filter((m) => m.version < FIRST_PREAGG)) {
      for (const s of m.statements) await store.executor.command(s)
    }
    raw = new AnalyticsRepository(new StoreQueries(store.executor, { database: db }), false)
    await store.upsertProducts(products)
    const now = Date.now()
    const sale = (product: string, ago: number): EcommEventRow => makeEcommEvent({ product, event: 'sale', timestamp: new Date(now - ago) })
    const ecomm = products.flatMap((p, i) => [
      sale(p.id, 10 * SECOND),
      sale(p.id, 10 * SECOND), // two sales in one second
      sale(p.id, HOUR - 90 * SECOND),
      sale(p.id, HOUR + 90 * SECOND), // out of the hour
      sale(p.id, (i + 2) * HOUR),
      makeEcommEvent({ product: p.id, event: 'view', timestamp: new Date(now - 5 * SECOND) }),
    ])
    expect((await store.ingestEcommEvents(ecomm)).errors).toEqual([])
    ecommKeyed = products.map((p) => sale(p.id, 20 * SECOND))
    expect((await store.ingestEcommEvents(ecommKeyed, { idempotencyKey: keyed.ecomm })).errors).toEqual([])
    const app = (i: number): AppEventRow => {
      const a: App = APPS[i % APPS.length]!
      return makeAppEvent({
        app: a,
        action: APP_ACTIONS[a][i % APP_ACTIONS[a].length]!,
        workspaceId: workspace,
        sessionId: `s${i % 7}`,
        visitorId: `v${i % 5}`,
        browser: ['Chrome', 'Safari', ''][i % 3]!,
        country: ['FR', 'US'][i % 2]!,
        referer: ['https://l.instagram.com/x', 'https://t.co/y', ''][i % 3]!,
        revenue: (i % 9) * 1.25,
        timestamp: new Date(now - ((i * 7919) % (30 * HOUR))),
      } as Partial<AppEventRow>)
    }
    expect((await store.ingestAppEvents(Array.from({ length: 300 }, (_, i) => app(i)))).errors).toEqual([])
    appKeyed = Array.from({ length: 40 }, (_, i) => app(1000 + i))
    expect((await store.ingestAppEvents(appKeyed, { idempotencyKey: keyed.app })).errors).toEqual([])
    // Now the pre-aggregations: created, and backfilled from the rows above.
    const report = await store.migrate()
    expect(report.applied.filter((n) => Number(n.slice(0, 4)) >= FIRST_PREAGG).length).toBeGreaterThanOrEqual(2)
  }, 300_000)

  afterAll(() => store.close())

  it('fills the per-second sales from the existing events: every (second, product) equal, and the grid hits too', async () => {
    expect(await salesDiff()).toEqual([])
    expect(await hitsDiff()).toEqual([])
    const grid = await store.productGrid({ category: products[0]!.category, showOutOfStock: true, ranking: 'PRICE' }, 100)
    expect(grid.map((g) => g.hits)).toEqual([4]) // 2 at -10 s, 1 at -59.5 min, 1 keyed at -20 s
  })

  it('fills the hourly app pre-aggregation from the existing events: the same answers as the per-app tables', async () => {
    const [row] = await store.executor.select<{ n: string }>(`SELECT count() AS n FROM ${db}.app_events_hourly WHERE workspace_id = {ws:String}`, { ws: workspace })
    expect(Number(row?.n)).toBeGreaterThan(0)
    await expectAnalyticsEqual('backfilled')
  })

  it('backfills the markers of batches stored before it, so their retries count nothing twice', async () => {
    expect((await store.ingestEcommEvents(ecommKeyed, { idempotencyKey: keyed.ecomm })).deduplicated).toBe(true)
    expect((await store.ingestAppEvents(appKeyed, { idempotencyKey: keyed.app })).deduplicated).toBe(true)
    expect(await salesDiff()).toEqual([])
    await expectAnalyticsEqual('after retries')
  })

  it('a second run of the migrations (as after a start interrupted before their record) ends with the same tables', async () => {
    const contents = async () => ({
      sales: await store.executor.select(`SELECT second, product, sum(sales) AS n FROM ${db}.ecomm_sales_second GROUP BY ALL ORDER BY ALL`),
      hourly: await store.executor.select(
        `SELECT event_type, workspace_id, dimension, value, bucket, action, sum(events) AS n, round(sum(revenue), 6) AS r,
                uniqExactMerge(sessions) AS s, uniqExactMerge(visitors) AS v
         FROM ${db}.app_events_hourly GROUP BY ALL ORDER BY ALL`,
      ),
    })
    const before = await contents()
    for (const m of loadMigrations({ database: db }).filter((m) => m.version >= FIRST_PREAGG)) {
      for (const s of m.statements) await store.executor.command(s)
    }
    expect(await contents()).toEqual(before)
    // And the views still feed them afterwards.
    const p = products[1]!.id
    expect((await store.ingestEcommEvents([makeEcommEvent({ product: p, event: 'sale', timestamp: new Date() })])).errors).toEqual([])
    expect(await salesDiff()).toEqual([])
    expect(await hitsDiff()).toEqual([])
  })
  it('follows rows deleted or truncated through the Data Sources API out of the tables the reads replaced', async () => {
    // Some sales of the last hour and some older ones go; the hits and every second follow.
    await store.datasources.delete('ecomm_events', 'product = {p:String} AND event = {e:String}', { p: products[2]!.id, e: 'sale' })
    expect(await salesDiff()).toEqual([])
    expect(await hitsDiff()).toEqual([])
    // Part of one app's rows, then all of another's.
    await store.datasources.delete('cart_events_mv', 'browser = {b:String}', { b: 'Chrome' })
    await store.datasources.truncate('page_events_mv')
    await expectAnalyticsEqual('after delete and truncate')
    await store.datasources.truncate('ecomm_events')
    expect(await salesDiff()).toEqual([])
    expect(await hitsDiff()).toEqual([])
    const [left] = await store.executor.select<{ n: string }>(`SELECT count() AS n FROM ${db}.ecomm_sales_second WHERE NOT startsWith(product, '\\0')`)
    expect(Number(left?.n)).toBe(0)
  })
})
