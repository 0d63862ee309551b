import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_WORKSPACES, loadDemo } from '../../src/demo.js'
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
