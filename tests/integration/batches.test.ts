import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchId, quarantineId } from '../../src/store/batches.js'
import { selectRows } from '../../src/store/clickhouse.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import type { IngestJournal } from '../../src/store/journal.js'
import { makeAppEvent, makeEcommEvent, makeStock, minutesAgo, uid } from '../helpers/factories.js'
import { testStoreConfig } from '../helpers/store.js'

// Exactly-once keyed ingest without a kill (the kills are in tests/crash, `npm run test:crash`): one
// part of a stored batch is taken away by hand, as a crash before its rename would have left it, the
// batch record with it, and the retry must put back exactly that part and nothing else. Also: the
// hidden columns stay hidden.

describe('keyed batches: what a retry finds missing, it adds, and nothing else', () => {
  const config = testStoreConfig()
  let store: ClickHouseStore
  let client: ClickHouseClient
  const db = config.database
  const one = async (sql: string, params: Record<string, unknown> = {}) => Number((await selectRows<{ n: string }>(client, sql, params))[0]?.n ?? 0)
  /** Loses a part by hand: the rows of the batch (`_batch` prefix, or a marker) in one table, and the batch record. */
  const lose = async (table: string, where: string, id: string) => {
    await client.command({ query: `ALTER TABLE ${db}.${table} DELETE WHERE ${where}`, query_params: { id }, clickhouse_settings: { mutations_sync: '2' } })
    await client.command({ query: `TRUNCATE TABLE ${db}.ingest_batches` })
  }
  const idOf = (table: string, key: string) => batchId(table, JSON.stringify(['', key]))

  beforeAll(async () => {
    store = ClickHouseStore.open(config)
    await store.migrate()
    client = (store as unknown as { client: ClickHouseClient }).client
  })
  afterAll(() => store.close())

  it('hides _batch and marked_at from SELECT * of every datasource, quarantine and view', async () => {
    const tables = ['ecomm_events', 'warehouse_stock', 'products', 'app_events', 'stock_changes', 'mv_latest_availability', 'ecomm_rollup_minute', 'cart_events_mv']
    for (const t of [...tables, ...tables.slice(0, 4).map((x) => `${x}_quarantine`)]) {
      const rs = await client.query({ query: `SELECT * FROM ${db}.${t} LIMIT 0`, format: 'JSON' })
      const names = (await rs.json<unknown>()).meta!.map((m) => m.name)
      expect(names, t).not.toContain('_batch')
      expect(names, t).not.toContain('marked_at')
    }
  })

  it('a lost per-app view part is rebuilt from the stored rows; the other views are untouched', async () => {
    const [ws, key] = [uid('ws'), uid('key')]
    const events = [makeAppEvent({ app: 'cart', action: 'view', workspaceId: ws }), makeAppEvent({ app: 'fm', action: 'play', workspaceId: ws })]
    await store.ingestAppEvents(events, { idempotencyKey: key })
    await lose('cart_events_mv', 'startsWith(_batch, {id:String})', idOf('app_events', key))
    expect(await one(`SELECT count() AS n FROM ${db}.cart_events_mv WHERE workspace_id = {ws:String}`, { ws })).toBe(0)

    expect(await store.ingestAppEvents(events, { idempotencyKey: key })).toMatchObject({ accepted: 2, deduplicated: false })
    for (const t of ['cart_events_mv', 'fm_events_mv', 'app_events']) {
      expect(await one(`SELECT count() AS n FROM ${db}.${t} WHERE workspace_id = {ws:String}`, { ws }), t).toBe(t === 'app_events' ? 2 : 1)
    }
    expect(await store.ingestAppEvents(events, { idempotencyKey: key })).toMatchObject({ deduplicated: true })
  })

  it('a lost datasource part comes back without firing its views again (they had landed)', async () => {
    const [product, key] = [uid('p'), uid('key')]
    const rows = [makeStock({ product, amount: 5, timestamp: minutesAgo(3) }), makeStock({ product, amount: 2, timestamp: minutesAgo(3) })]
    await store.ingestWarehouseStock(rows, { idempotencyKey: key })
    await lose('warehouse_stock', 'startsWith(_batch, {id:String})', idOf('warehouse_stock', key))

    expect(await store.ingestWarehouseStock(rows, { idempotencyKey: key })).toMatchObject({ accepted: 2, deduplicated: false })
    expect(await one(`SELECT count() AS n FROM ${db}.warehouse_stock WHERE product = {product:String}`, { product })).toBe(2)
    expect(await store.stock([product])).toEqual([{ product, available: 7 }])
    expect(await one(`SELECT count() AS n FROM ${db}.stock_changes WHERE product = {product:String}`, { product })).toBe(1)
  })

  it('a lost aggregating-view part (stock and its marker) is added once', async () => {
    const [product, key] = [uid('p'), uid('key')]
    const sales = [makeEcommEvent({ product, event: 'sale', timestamp: minutesAgo(2) }), makeEcommEvent({ product, event: 'sale', timestamp: minutesAgo(2) })]
    await store.ingestEcommEvents(sales, { idempotencyKey: key })
    const id = idOf('ecomm_events', key)
    // The part held the product's row (no other batch touched it) and the batch's marker.
    await client.command({ query: `ALTER TABLE ${db}.mv_latest_availability DELETE WHERE product = {p:String}`, query_params: { p: product }, clickhouse_settings: { mutations_sync: '2' } })
    await lose('mv_latest_availability', "startsWith(product, concat('\\0', {id:String}))", id)
    expect(await store.stock([product])).toEqual([{ product, available: 0 }])

    expect(await store.ingestEcommEvents(sales, { idempotencyKey: key })).toMatchObject({ accepted: 2, deduplicated: false })
    expect(await store.stock([product])).toEqual([{ product, available: -2 }])
    expect(await one(`SELECT toInt64(sum(sales)) AS n FROM ${db}.ecomm_rollup_minute WHERE product = {product:String}`, { product })).toBe(2)
    expect(await one(`SELECT count() AS n FROM ${db}.ecomm_events WHERE product = {product:String}`, { product })).toBe(2)
  })

  // The journal is the embedded store's (a remote store has no local disk to trust): not on test:remote.
  it.skipIf(Boolean(process.env.CLICKHOUSE_URL))('start-up completes a batch left in the journal; its next retry answers deduplicated:false, once', async () => {
    const journal = (store as unknown as { journal: IngestJournal }).journal
    const [ws, key] = [uid('ws'), uid('key')]
    const events = [makeAppEvent({ app: 'fm', action: 'play', workspaceId: ws }), makeAppEvent({ app: 'fm', action: 'share', workspaceId: ws })]
    // The process "dies" after the batch's parts but before its journal entry is removed...
    const end = journal.end.bind(journal)
    journal.end = async () => {}
    try {
      await store.ingestAppEvents(events, { idempotencyKey: key })
    } finally {
      journal.end = end
    }
    // ...and the fm view's part and the record were lost with it.
    await lose('fm_events_mv', 'startsWith(_batch, {id:String})', idOf('app_events', key))
    const count = () => one(`SELECT count() AS n FROM ${db}.fm_events_mv WHERE workspace_id = {ws:String}`, { ws })
    expect(await count()).toBe(0)

    expect((await store.migrate()).recovered).toBe(1)
    expect(await count()).toBe(2)
    expect(await journal.pending()).toEqual([])
    expect(await store.ingestAppEvents(events, { idempotencyKey: key })).toMatchObject({ accepted: 2, deduplicated: false })
    expect(await store.ingestAppEvents(events, { idempotencyKey: key })).toMatchObject({ accepted: 2, deduplicated: true })
    expect(await count()).toBe(2)
  })

  it('with only the record lost, the retry finds every part, adds nothing and answers deduplicated', async () => {
    const [product, key] = [uid('p'), uid('key')]
    const rows = [makeStock({ product, amount: 4 }), makeStock({ product: '' })]
    const first = await store.ingestWarehouseStock(rows, { idempotencyKey: key })
    await client.command({ query: `TRUNCATE TABLE ${db}.ingest_batches` })
    // The first attempt's write id (its changes, for the live feed) is not the retry's: it stored nothing.
    expect(first.writeId).toBe(idOf('warehouse_stock', key))
    expect(await store.ingestWarehouseStock(rows, { idempotencyKey: key })).toEqual({ ...first, deduplicated: true, stockChanges: [], writeId: undefined })
    expect(await store.stock([product])).toEqual([{ product, available: 4 }])
    const id = idOf('warehouse_stock', key)
    expect(await one(`SELECT count() AS n FROM ${db}.warehouse_stock_quarantine WHERE _batch = {q:String}`, { q: quarantineId(id) })).toBe(1)
    expect(await one(`SELECT count() AS n FROM ${db}.stock_changes WHERE product = {product:String}`, { product })).toBe(1)
  })
})
