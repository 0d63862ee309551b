import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPS, BATCH_COLUMN, DATASOURCES, MARKER_COLUMN, QUARANTINE_COLUMNS, ROLLUPS, SERVICE_VIEWS, stockStatus, type ColumnEntry } from '../../src/catalog/index.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import { makeProduct, uid } from '../helpers/factories.js'
import { testStoreConfig } from '../helpers/store.js'

// The catalog against the live database the numbered DDL builds: every table and view's columns
// (system.columns), and the SQL stock-status rule (api_product_grid.sql's multiIf) against the
// catalog's TypeScript rule.

/**
 * Tables that are no datasource, each with what it is: the store's own bookkeeping, the service logs,
 * and the materialized views' plumbing (their targets are the catalog's datasources). A new table must
 * join the catalog or this list.
 */
const INTERNAL = /^(schema_migrations|tokens|ingest_batches|operation_log|ingest_log|error_log|stock_changes|mat_.*|(cart|fm|link|page)_events_pipe)$/

describe('the catalog', () => {
  let store: ClickHouseStore
  let client: ClickHouseClient
  let database: string
  let live: Map<string, Array<{ name: string; type: string }>>

  beforeAll(async () => {
    const config = testStoreConfig()
    database = config.database
    store = ClickHouseStore.open(config)
    await store.migrate()
    client = createConnection(config)
    const rows = await (
      await client.query({
        query: 'SELECT table, name, type FROM system.columns WHERE database = {db:String} ORDER BY table, position',
        query_params: { db: database },
        format: 'JSONEachRow',
      })
    ).json<{ table: string; name: string; type: string }>()
    live = new Map()
    for (const r of rows) live.set(r.table, [...(live.get(r.table) ?? []), { name: r.name, type: r.type }])
  }, 120_000)

  afterAll(async () => {
    await client?.close()
    await store?.close()
  })

  const asMap = (columns: ReadonlyArray<Pick<ColumnEntry, 'name' | 'type'>>) => Object.fromEntries(columns.map((c) => [c.name, c.type]))

  it("describes every datasource's live columns and types", () => {
    for (const d of DATASOURCES) {
      const expected = [...d.columns, ...(d.batchColumn ? [BATCH_COLUMN] : []), ...(d.markerColumn ? [MARKER_COLUMN] : [])]
      expect(asMap(live.get(d.name) ?? []), d.name).toEqual(asMap(expected))
    }
  })

  it("describes every pre-aggregation's live columns and types, each fed by a view from its landing datasource", async () => {
    for (const r of ROLLUPS) {
      expect(asMap(live.get(r.name) ?? []), r.name).toEqual(asMap(r.columns))
      expect(DATASOURCES.find((d) => d.name === r.source)?.kind, r.source).toBe('landing')
    }
    const views = await (
      await client.query({
        query: `SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView'`,
        query_params: { db: database },
        format: 'JSONEachRow',
      })
    ).json<{ name: string; create_table_query: string }>()
    for (const r of ROLLUPS) {
      const feeding = views.filter((v) => new RegExp(`\\bTO ${database}\\.${r.name}\\b`).test(v.create_table_query))
      expect(feeding.map((v) => new RegExp(`\\bFROM ${database}\\.${r.source}\\b`).test(v.create_table_query)), r.name).toEqual([true])
      // The fields a pre-aggregation says it keeps are exactly the ones its view names: a read by any
      // other field must not find it empty.
      if (r.keeps) {
        const named = [...(feeding[0]?.create_table_query ?? '').matchAll(/\('(\w+)', /g)].map((m) => m[1])
        expect([...new Set(named)].sort(), r.name).toEqual([...r.keeps].sort())
      }
    }
  })

  it('gives every landing datasource a quarantine table of the shared shape', () => {
    for (const d of DATASOURCES.filter((x) => x.kind === 'landing')) {
      expect(d.quarantine, d.name).toBeDefined()
      expect(asMap(live.get(d.quarantine ?? '') ?? []), d.quarantine).toEqual(asMap([...QUARANTINE_COLUMNS, BATCH_COLUMN]))
    }
  })

  it("routes each app to a view with app_events' columns", () => {
    const appEvents = asMap(live.get('app_events') ?? [])
    for (const app of APPS) expect(asMap(live.get(app.table) ?? []), app.table).toEqual(appEvents)
  })

  it('leaves no table or view out: each is a datasource, a quarantine, or named internal', () => {
    const known = new Set([
      ...DATASOURCES.flatMap((d) => [d.name, ...(d.quarantine ? [d.quarantine] : [])]),
      ...ROLLUPS.map((r) => r.name),
      // Tinybird's service datasources, as views of the logs.
      ...SERVICE_VIEWS,
    ])
    const unknown = [...live.keys()].filter((t) => !known.has(t) && !INTERNAL.test(t))
    expect(unknown).toEqual([])
  })

  it("states the stock-status rule in SQL as the catalog does, around the threshold and at 0 and below", async () => {
    const threshold = 7
    const levels = [threshold - 1, threshold, threshold + 1, 0, -3]
    const category = uid('cat')
    const products = levels.map(() => makeProduct({ category }))
    await store.upsertProducts(products)
    await store.ingestWarehouseStock(products.map((p, i) => ({ product: p.id, store: 'main', amount: levels[i]!, timestamp: new Date() })))
    const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'PRICE' }, threshold)
    const byId = new Map(grid.map((g) => [g.id, g]))
    for (const [i, p] of products.entries()) {
      const row = byId.get(p.id)
      expect(row?.stock, `stock ${levels[i]}`).toBe(levels[i])
      expect(row?.stockStatus, `stock ${levels[i]}`).toBe(stockStatus(levels[i]!, threshold))
    }
    // The rule itself, so a change to either side shows here.
    expect(levels.map((l) => stockStatus(l, threshold))).toEqual(['LOW_STOCK', 'LOW_STOCK', 'IN_STOCK', 'OUT_OF_STOCK', 'OUT_OF_STOCK'])
  })
})
