import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_WORKSPACES, DemoTrickle, demoProducts, loadDemo, refreshDemo } from '../../src/demo.js'
import type { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { APPS } from '../../src/store/types.js'
import { openTestStore } from '../helpers/store.js'

describe('the demo dataset', () => {
  let store: ClickHouseStore
  beforeAll(async () => {
    store = await openTestStore()
    expect(await loadDemo(store, () => {}, { ecommEvents: 20_000, appEvents: 8_000 })).toBe(true)
  })
  afterAll(() => store.close())

  it('loads only into an empty store', async () => {
    expect(await loadDemo(store, () => {})).toBe(false)
  })

  it('gives a grid with in-stock, low-stock and out-of-stock products and three trending ones', async () => {
    const grid = await store.productGrid({ category: 'all', showOutOfStock: true, ranking: 'TRENDING' }, 100)
    const statuses = new Set(grid.map((r) => r.stockStatus))
    expect(statuses).toEqual(new Set(['IN_STOCK', 'LOW_STOCK', 'OUT_OF_STOCK']))
    expect(grid.filter((r) => r.trending)).toHaveLength(3)
    expect(grid.slice(0, 3).every((r) => r.trending && r.hits > 0)).toBe(true)
  })

  it('gives a non-empty dashboard for every app of both workspaces', async () => {
    const to = new Date(Date.now() + 1000)
    const from = new Date(to.getTime() - 8 * 24 * 3600e3)
    for (const workspaceId of DEMO_WORKSPACES) {
      for (const app of APPS) {
        const q = { app, workspaceId, from, to, filter: {} }
        const totals = await store.analyticsTotals(q)
        expect(totals.events, `${workspaceId} ${app}`).toBeGreaterThan(0)
        expect(Object.values(totals.actions).every((n) => n > 0), `${workspaceId} ${app}`).toBe(true)
        expect((await store.analyticsBreakdown({ ...q, by: 'country', limit: 10 })).length).toBeGreaterThan(1)
        const series = await store.analyticsTimeseries({ ...q, granularity: 'DAY', timezone: 'UTC' })
        expect(series.filter((b) => b.metrics.events > 0).length).toBeGreaterThanOrEqual(7)
      }
    }
  })
})

describe('a demo that stays alive', () => {
  let store: ClickHouseStore
  const ids = demoProducts().map((p) => p.id)
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  beforeAll(async () => {
    store = await openTestStore()
    await loadDemo(store, () => {}, { ecommEvents: 5_000, appEvents: 2_000 })
  })
  afterAll(() => store.close())

  it('the trickle writes sales, views and app events on its own, and stops cleanly', async () => {
    const appEvents = async () => {
      const to = new Date(Date.now() + 60_000)
      const from = new Date(to.getTime() - 3600e3)
      let n = 0
      for (const workspaceId of DEMO_WORKSPACES) for (const app of APPS) n += (await store.analyticsTotals({ app, workspaceId, from, to, filter: {} })).events
      return n
    }
    const sales = sum(await store.recentSales(ids))
    const events = await appEvents()
    const errors: unknown[] = []
    const trickle = new DemoTrickle(store, 20, (err) => errors.push(err))
    trickle.start()
    await expect.poll(() => trickle.count, { timeout: 120_000, interval: 50 }).toBeGreaterThanOrEqual(10)
    await trickle.stop()
    const after = trickle.count
    expect(errors).toEqual([])
    expect(sum(await store.recentSales(ids))).toBeGreaterThan(sales)
    expect(await appEvents()).toBeGreaterThanOrEqual(events + 2 * 10)
    // Stopped means stopped: no tick after stop() resolved.
    await new Promise((r) => setTimeout(r, 100))
    expect(trickle.count).toBe(after)
  })

  it('never sells a product out of stock, and never restocks those meant to stay out', async () => {
    const levels = await store.stock(ids)
    // Every 11th product (from the 4th) is never restocked: still at 0 or below after the trickle.
    const never = ids.filter((_, i) => i % 11 === 3)
    for (const id of never) expect(levels[ids.indexOf(id)]!.available, id).toBeLessThanOrEqual(0)
  })

  it('refreshes the last hour of an older demo store, once', async () => {
    await store.resetData()
    await store.upsertProducts(demoProducts())
    expect(sum(await store.recentSales(ids))).toBe(0)
    expect(await refreshDemo(store, () => {})).toBeGreaterThan(0)
    expect(sum(await store.recentSales(ids))).toBeGreaterThan(0)
    expect(await refreshDemo(store, () => {})).toBe(0)
  })

  it('resetData empties the data tables and keeps tokens and migrations', async () => {
    await store.insertToken({ name: 'keep_me', hash: 'h'.repeat(64), scopes: ['read'], workspaceId: null, createdAt: new Date(), expiresAt: null })
    const emptied = await store.resetData()
    expect(emptied).toEqual(expect.arrayContaining(['ecomm_events', 'products', 'warehouse_stock', 'mv_latest_availability', 'stock_changes', 'ingest_batches', 'app_events', 'cart_events_mv']))
    expect(emptied).not.toContain('tokens')
    expect(await store.products(undefined, 10, 0)).toEqual([])
    expect((await store.stock(ids.slice(0, 3))).map((s) => s.available)).toEqual([0, 0, 0])
    expect((await store.listTokens()).map((t) => t.name)).toContain('keep_me')
    expect(await loadDemo(store, () => {}, { ecommEvents: 1_000, appEvents: 500 })).toBe(true)
  })
})
