import { createServer as createNetServer } from 'node:net'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import {
  CreateTokenDocument,
  IngestAppEventsDocument,
  IngestEcommEventsDocument,
  IngestWarehouseStockDocument,
  QuarantineDocument,
  StockLevelsDocument,
  UpsertProductsDocument,
  type AppEventInput,
  type EcommEventInput,
  type ProductInput,
  type WarehouseStockInput,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, type TestServer } from '../helpers/server.js'
import { testStoreConfig } from '../helpers/store.js'

// Ingest as a client sees it, over HTTP against the real store: mixed batches, every kind of bad
// value, retries with and without a key, the batch and body limits, wrongly typed batches, and a
// store that fails. The store-level rules (each validation, keyed retries of the store API) are in
// ecommerce.test.ts and analytics.test.ts; this file covers what only the gateway decides.

const MAX_BATCH = 20
const MAX_BODY = 64 * 1024
const MIN = 60_000

/** Distinct recent instants, so a quarantined row whose ids are empty can still be told apart. */
let tick = 0
const recent = () => new Date(Date.now() - 10 * MIN - ++tick * 1000).toISOString()

const DAY = 24 * 60 * MIN
/** Analytics totals: any range. Trends: a few days, whole days, well under the bucket limit. */
const WIDE = { from: '2000-01-01T00:00:00Z', to: new Date(Date.now() + 2 * DAY).toISOString() }
const DAYS = { from: new Date(Date.now() - 3 * DAY).toISOString(), to: new Date(Date.now() + 2 * DAY).toISOString() }

const TOTALS = `query Totals($app: App!, $ws: ID!, $from: DateTime, $to: DateTime) {
  analytics(app: $app, workspaceId: $ws, from: $from, to: $to) {
    totals { events sessions visitors ... on CartMetrics { purchases revenue } ... on FmMetrics { plays pauses } }
  }
}`
const TREND = `query Trend($product: ID!, $from: DateTime, $to: DateTime) {
  ecommTrend(product: $product, from: $from, to: $to, granularity: DAY) { views carts sales }
}`
const PRODUCTS = `query Products($category: String) { products(category: $category, limit: 1000) { id category name price photo } }`

interface Raw {
  status: number
  data?: Record<string, unknown> | null
  errors?: Array<{ message: string; extensions?: { code?: string } }>
}

/** POSTs a raw GraphQL request (for inputs the typed documents cannot express). */
async function post(url: string, body: unknown, token: string | undefined): Promise<Raw & { text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, text, ...(JSON.parse(text) as Omit<Raw, 'status'>) }
}

async function data<T>(url: string, query: string, variables: Record<string, unknown>, token: string): Promise<T> {
  const res = await post(url, { query, variables }, token)
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`)
  return res.data as T
}

describe('ingest over GraphQL', () => {
  let server: TestServer
  let url: string
  let admin: string
  const token = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, admin)).createToken.token

  let append: { ecomm: string; stock: string; products: string; app: string }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_MAX_BATCH: String(MAX_BATCH), SIGHTLINE_MAX_BODY_BYTES: String(MAX_BODY) })
    url = server.url
    admin = server.adminToken
    append = {
      ecomm: await token(['append:ecomm_events']),
      stock: await token(['append:warehouse_stock']),
      products: await token(['append:products']),
      app: await token(['append:app_events']),
    }
  })
  afterAll(() => server?.stop())

  // ---- reads, as an admin -------------------------------------------------------------------------

  const stock = async (...products: string[]) =>
    (await gqlOk(server, StockLevelsDocument, { products }, admin)).stock.map((s) => s.available)
  const trend = async (product: string) => {
    const points = (await data<{ ecommTrend: Array<{ views: number; carts: number; sales: number }> }>(url, TREND, { product, ...DAYS }, admin))
      .ecommTrend
    return points.reduce((s, p) => ({ views: s.views + p.views, carts: s.carts + p.carts, sales: s.sales + p.sales }), { views: 0, carts: 0, sales: 0 })
  }
  const products = async (category: string) =>
    (await data<{ products: Array<{ id: string; category: string; name: string; price: number; photo: string }> }>(url, PRODUCTS, { category }, admin)).products
  const totals = async (app: string, ws: string) =>
    (await data<{ analytics: { totals: Record<string, number> } }>(url, TOTALS, { app, ws, ...WIDE }, admin)).analytics.totals
  /** The quarantined rows of a table whose raw text contains `marker`. */
  const quarantined = async (table: string, marker: string) =>
    (await gqlOk(server, QuarantineDocument, { table, limit: 10_000 }, admin)).quarantine.filter((q) => q.row.includes(marker))

  // ---- mixed batches ----------------------------------------------------------------------------------

  describe('a mixed batch stores its good rows and quarantines each bad one with a plain reason', () => {
    it('ecommerce events', async () => {
      const product = uid('p')
      const marks = [recent(), recent()]
      const events: EcommEventInput[] = [
        { event: 'SALE', product, timestamp: recent() },
        { event: 'VIEW', product: '', timestamp: marks[0] },
        { event: 'VIEW', product: `${product}_old`, timestamp: '1990-06-01T00:00:00Z' },
        { event: 'VIEW', product, timestamp: recent() },
        { event: 'CART', product: `${product}_future`, timestamp: '2999-01-01T00:00:00Z' },
        { event: 'CART', product: '   ', timestamp: marks[1] },
      ]
      const res = (await gqlOk(server, IngestEcommEventsDocument, { events }, append.ecomm)).ingestEcommEvents
      expect(res).toEqual({
        accepted: 2,
        quarantined: 4,
        deduplicated: false,
        errors: [
          { index: 1, message: 'product is empty' },
          { index: 2, message: 'timestamp 1990-06-01T00:00:00.000Z is before 2000-01-01' },
          { index: 4, message: 'timestamp 2999-01-01T00:00:00.000Z is more than a day ahead' },
          { index: 5, message: 'product is empty' },
        ],
      })
      for (const [marker, reason] of [
        [marks[0]!, 'row 1: product is empty'],
        [`${product}_old`, 'row 2: timestamp 1990-06-01T00:00:00.000Z is before 2000-01-01'],
        [`${product}_future`, 'row 4: timestamp 2999-01-01T00:00:00.000Z is more than a day ahead'],
        [marks[1]!, 'row 5: product is empty'],
      ] as const) {
        const rows = await quarantined('ecomm_events', marker)
        expect(rows.map((q) => q.reason), marker).toEqual([reason])
      }
      expect(await stock(product, `${product}_old`, `${product}_future`)).toEqual([-1, 0, 0])
      expect(await trend(product)).toEqual({ views: 1, carts: 0, sales: 1 })
      expect(await trend(`${product}_old`)).toEqual({ views: 0, carts: 0, sales: 0 })
    })

    it('warehouse stock', async () => {
      const product = uid('p')
      const updates: WarehouseStockInput[] = [
        { product, store: 'north', amount: 30, timestamp: recent() },
        { product: `${product}_nostore`, store: '', amount: 5 },
        { product: '', store: 'north', amount: 5, timestamp: recent() },
        { product: `${product}_old`, store: 'north', amount: 5, timestamp: '1990-06-01T00:00:00Z' },
        { product: `${product}_future`, store: 'north', amount: 5, timestamp: '2999-01-01T00:00:00Z' },
        { product, store: 'south', amount: -5, timestamp: recent() },
      ]
      const res = (await gqlOk(server, IngestWarehouseStockDocument, { updates }, append.stock)).ingestWarehouseStock
      expect(res).toEqual({
        accepted: 2,
        quarantined: 4,
        deduplicated: false,
        errors: [
          { index: 1, message: 'store is empty' },
          { index: 2, message: 'product is empty' },
          { index: 3, message: 'timestamp 1990-06-01T00:00:00.000Z is before 2000-01-01' },
          { index: 4, message: 'timestamp 2999-01-01T00:00:00.000Z is more than a day ahead' },
        ],
      })
      expect((await quarantined('warehouse_stock', `${product}_nostore`)).map((q) => q.reason)).toEqual(['row 1: store is empty'])
      expect((await quarantined('warehouse_stock', updates[2]!.timestamp!)).map((q) => q.reason)).toEqual(['row 2: product is empty'])
      expect(await stock(product, `${product}_nostore`, `${product}_old`, `${product}_future`)).toEqual([25, 0, 0, 0])
    })

    it('products', async () => {
      const category = uid('cat')
      const good = [
        { id: uid('p'), category, name: 'Runner', photo: 'https://img.example/r.jpg', price: 0 },
        { id: uid('p'), category, name: 'Trail', price: 19.99 },
      ]
      const batch: ProductInput[] = [
        good[0]!,
        { id: '', category, name: `${category}_noid`, price: 1 },
        { id: `${category}_neg`, category, name: 'Negative', price: -0.01 },
        { id: `${category}_noname`, category, name: ' ', price: 1 },
        { id: `${category}_nocat`, category: '', name: 'Lost', price: 1 },
        { id: `${category}_longphoto`, category, name: 'Long', photo: 'x'.repeat(4097), price: 1 },
        good[1]!,
      ]
      const res = (await gqlOk(server, UpsertProductsDocument, { products: batch }, append.products)).upsertProducts
      expect(res).toEqual({
        accepted: 2,
        quarantined: 5,
        deduplicated: false,
        errors: [
          { index: 1, message: 'id is empty' },
          { index: 2, message: 'price is negative' },
          { index: 3, message: 'name is empty' },
          { index: 4, message: 'category is empty' },
          { index: 5, message: 'photo is longer than 4096 characters' },
        ],
      })
      const rows = await quarantined('products', category)
      expect(rows.map((q) => q.reason).sort()).toEqual(
        ['row 1: id is empty', 'row 2: price is negative', 'row 3: name is empty', 'row 4: category is empty', 'row 5: photo is longer than 4096 characters'].sort(),
      )
      expect(JSON.parse(rows.find((q) => q.reason.startsWith('row 2:'))!.row)).toMatchObject({ id: `${category}_neg`, price: -0.01 })
      expect((await products(category)).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [
          { ...good[0]!, photo: 'https://img.example/r.jpg' },
          { ...good[1]!, photo: '' },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      )
    })

    it('app events', async () => {
      const ws = uid('ws')
      const t = recent()
      const row = (over: Partial<AppEventInput>): AppEventInput => ({
        app: 'CART',
        action: 'view',
        workspaceId: ws,
        sessionId: uid('s'),
        visitorId: uid('v'),
        timestamp: t,
        ...over,
      })
      const events = [
        row({ action: 'purchase', revenue: 12.5 }),
        row({ action: 'play', assetId: `${ws}_1` }),
        row({ workspaceId: '', assetId: `${ws}_2` }),
        row({ sessionId: ' ', assetId: `${ws}_3` }),
        row({ visitorId: '', assetId: `${ws}_4` }),
        row({ action: 'purchase', revenue: -1, assetId: `${ws}_5` }),
        row({ app: 'LINK', action: 'click', timestamp: '1990-06-01T00:00:00Z' }),
        row({ app: 'LINK', action: 'click', timestamp: '2999-01-01T00:00:00Z' }),
        row({ app: 'FM', action: 'play' }),
        row({ app: 'PAGE', action: 'dance', assetId: `${ws}_9` }),
      ]
      const res = (await gqlOk(server, IngestAppEventsDocument, { events }, append.app)).ingestAppEvents
      expect(res).toEqual({
        accepted: 2,
        quarantined: 8,
        deduplicated: false,
        errors: [
          { index: 1, message: 'unknown action "play" for app cart (expected one of view, add_to_cart, purchase)' },
          { index: 2, message: 'workspaceId is empty' },
          { index: 3, message: 'sessionId is empty' },
          { index: 4, message: 'visitorId is empty' },
          { index: 5, message: 'revenue is negative' },
          { index: 6, message: 'timestamp 1990-06-01T00:00:00.000Z is before 2000-01-01' },
          { index: 7, message: 'timestamp 2999-01-01T00:00:00.000Z is more than a day ahead' },
          { index: 9, message: 'unknown action "dance" for app page (expected one of view, interaction)' },
        ],
      })
      const rows = await quarantined('app_events', ws)
      expect(rows).toHaveLength(8)
      for (const q of rows) {
        const index = Number(/^row (\d+): /.exec(q.reason)?.[1])
        expect(q.reason).toBe(`row ${index}: ${res.errors.find((e) => e.index === index)?.message}`)
      }
      expect(await totals('CART', ws)).toEqual({ events: 1, sessions: 1, visitors: 1, purchases: 1, revenue: 12.5 })
      expect(await totals('FM', ws)).toEqual({ events: 1, sessions: 1, visitors: 1, plays: 1, pauses: 0 })
      expect((await totals('LINK', ws)).events).toBe(0)
      expect((await totals('PAGE', ws)).events).toBe(0)
    })

    it('app events of another workspace than a bound token\'s', async () => {
      const [mine, theirs] = [uid('ws'), uid('ws')]
      const bound = await token(['append:app_events'], mine)
      const event = (workspaceId: string): AppEventInput => ({ app: 'FM', action: 'play', workspaceId, sessionId: uid('s'), visitorId: uid('v') })
      const res = (await gqlOk(server, IngestAppEventsDocument, { events: [event(mine), event(theirs), event(mine)] }, bound)).ingestAppEvents
      expect(res).toEqual({
        accepted: 2,
        quarantined: 1,
        deduplicated: false,
        errors: [{ index: 1, message: `workspace "${theirs}" is not the token's workspace` }],
      })
      expect((await quarantined('app_events', theirs)).map((q) => q.reason)).toEqual([`row 1: workspace "${theirs}" is not the token's workspace`])
      expect((await totals('FM', mine)).events).toBe(2)
      expect((await totals('FM', theirs)).events).toBe(0)
    })
  })

  // ---- retries ------------------------------------------------------------------------------------------

  describe('retries', () => {
    it('with a key, every datasource stores the batch once and answers the retry like the first call', async () => {
      const key = uid('key')
      const [product, category, ws] = [uid('p'), uid('cat'), uid('ws')]
      const mark = recent()
      const sends = {
        ecomm: () =>
          gqlOk(server, IngestEcommEventsDocument, { key, events: [{ event: 'SALE', product }, { event: 'SALE', product }, { event: 'VIEW', product: '', timestamp: mark }] }, append.ecomm).then(
            (d) => d.ingestEcommEvents,
          ),
        stock: () =>
          gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 40 }, { product, store: '', amount: 1 }] }, append.stock).then(
            (d) => d.ingestWarehouseStock,
          ),
        products: () =>
          gqlOk(server, UpsertProductsDocument, { key, products: [{ id: `${category}_1`, category, name: 'One', price: 1 }, { id: `${category}_bad`, category, name: 'Bad', price: -1 }] }, append.products).then(
            (d) => d.upsertProducts,
          ),
        app: () =>
          gqlOk(server, IngestAppEventsDocument, { key, events: [{ app: 'PAGE', action: 'view', workspaceId: ws, sessionId: 's1', visitorId: 'v1' }, { app: 'PAGE', action: 'jump', workspaceId: ws, sessionId: 's2', visitorId: 'v2' }] }, append.app).then(
            (d) => d.ingestAppEvents,
          ),
      }
      for (const [name, send] of Object.entries(sends)) {
        const first = await send()
        expect(first.deduplicated, name).toBe(false)
        expect(first.quarantined, name).toBe(1)
        const retry = await send()
        expect(retry, name).toEqual({ ...first, deduplicated: true })
      }
      expect(await stock(product)).toEqual([40 - 2])
      expect(await trend(product)).toEqual({ views: 0, carts: 0, sales: 2 })
      expect((await products(category)).map((p) => p.id)).toEqual([`${category}_1`])
      expect((await totals('PAGE', ws)).events).toBe(1)
      expect(await quarantined('ecomm_events', mark)).toHaveLength(1)
      expect(await quarantined('warehouse_stock', product)).toHaveLength(1)
      expect(await quarantined('products', `${category}_bad`)).toHaveLength(1)
      expect(await quarantined('app_events', ws)).toHaveLength(1)
    })

    it('a key names one batch of one datasource: the same key elsewhere is another batch', async () => {
      const key = uid('key')
      const product = uid('p')
      const a = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 10 }] }, admin)
      const b = await gqlOk(server, IngestEcommEventsDocument, { key, events: [{ event: 'SALE', product }] }, admin)
      expect(a.ingestWarehouseStock.deduplicated).toBe(false)
      expect(b.ingestEcommEvents.deduplicated).toBe(false)
      expect(await stock(product)).toEqual([9])
    })

    it('a key names a batch of one caller: another token choosing the same key sends its own batch', async () => {
      const key = 'batch-1' // the kind of key two clients pick alike
      const [mine, theirs] = [uid('p'), uid('p')]
      const other = await token(['append:warehouse_stock'])
      const a = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product: mine, store: 's', amount: 10 }] }, append.stock)
      const b = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product: theirs, store: 's', amount: 20 }, { product: theirs, store: '', amount: 1 }] }, other)
      expect(a.ingestWarehouseStock).toEqual({ accepted: 1, quarantined: 0, errors: [], deduplicated: false })
      expect(b.ingestWarehouseStock).toEqual({ accepted: 1, quarantined: 1, errors: [{ index: 1, message: 'store is empty' }], deduplicated: false })
      // Each caller's own retry is still recognised, with its own result.
      const retryB = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product: theirs, store: 's', amount: 20 }] }, other)
      expect(retryB.ingestWarehouseStock).toEqual({ ...b.ingestWarehouseStock, deduplicated: true })
      const retryA = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product: mine, store: 's', amount: 10 }] }, append.stock)
      expect(retryA.ingestWarehouseStock).toEqual({ ...a.ingestWarehouseStock, deduplicated: true })
      expect(await stock(mine, theirs)).toEqual([10, 20])
    })

    it('a keyed retry whose rows changed still answers the first result and stores nothing new', async () => {
      const key = uid('key')
      const product = uid('p')
      await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 10 }] }, admin)
      const retry = await gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 99 }, { product, store: 't', amount: 1 }] }, admin)
      expect(retry.ingestWarehouseStock).toEqual({ accepted: 1, quarantined: 0, errors: [], deduplicated: true })
      expect(await stock(product)).toEqual([10])
    })

    it('without a key, a repeated batch is a new batch: stored twice, bad rows quarantined twice', async () => {
      const [product, ws] = [uid('p'), uid('ws')]
      const t = recent()
      for (let i = 0; i < 2; i++) {
        const e = await gqlOk(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product, timestamp: t }] }, admin)
        const s = await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount: 7, timestamp: t }, { product, store: '', amount: 1, timestamp: t }] }, admin)
        const a = await gqlOk(server, IngestAppEventsDocument, { events: [{ app: 'CART', action: 'view', workspaceId: ws, sessionId: 's', visitorId: 'v', timestamp: t }] }, admin)
        expect([e.ingestEcommEvents.deduplicated, s.ingestWarehouseStock.deduplicated, a.ingestAppEvents.deduplicated]).toEqual([false, false, false])
      }
      expect(await stock(product)).toEqual([2 * 7 - 2])
      expect((await trend(product)).sales).toBe(2)
      expect((await totals('CART', ws)).events).toBe(2)
      expect((await quarantined('warehouse_stock', product)).map((q) => q.reason)).toEqual(['row 1: store is empty', 'row 1: store is empty'])
    })

    it('with a key, a retry after the batch record was lost is still stored once, views included', async () => {
      // A crash between the rows and the batch record: the retry finds every part of the batch (by the
      // batch id in its rows and views) and adds nothing, in the tables and in every materialized view
      // they feed. The first attempt had fully landed, so the retry answers deduplicated.
      const raw = createConnection(server.config.store)
      try {
        const key = uid('key')
        const [product, category, ws] = [uid('p'), uid('cat'), uid('ws')]
        const t = recent()
        const send = () =>
          Promise.all([
            gqlOk(server, IngestEcommEventsDocument, { key, events: [{ event: 'SALE', product, timestamp: t }, { event: 'VIEW', product, timestamp: t }] }, admin),
            gqlOk(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 5, timestamp: t }] }, admin),
            gqlOk(server, UpsertProductsDocument, { key, products: [{ id: `${category}_1`, category, name: 'One', price: 1 }, { id: '', category, name: category, price: 1 }] }, admin),
            gqlOk(server, IngestAppEventsDocument, {
              key,
              events: [
                { app: 'CART', action: 'purchase', revenue: 3, workspaceId: ws, sessionId: 's1', visitorId: 'v1', timestamp: t },
                { app: 'FM', action: 'play', workspaceId: ws, sessionId: 's2', visitorId: 'v2', timestamp: t },
                { app: 'FM', action: 'rewind', workspaceId: ws, sessionId: 's3', visitorId: 'v3', timestamp: t },
              ],
            }, admin),
          ])
        for (let attempt = 0; attempt < 2; attempt++) {
          const answers = await send()
          expect(answers.map((a) => Object.values(a)[0]!.deduplicated)).toEqual(Array(4).fill(attempt === 1))
          await raw.command({ query: `TRUNCATE TABLE ${server.config.store.database}.ingest_batches` })
        }
        expect(await stock(product)).toEqual([4])
        expect(await trend(product)).toEqual({ views: 1, carts: 0, sales: 1 })
        expect(await totals('CART', ws)).toEqual({ events: 1, sessions: 1, visitors: 1, purchases: 1, revenue: 3 })
        expect(await totals('FM', ws)).toEqual({ events: 1, sessions: 1, visitors: 1, plays: 1, pauses: 0 })
        expect(await quarantined('products', category)).toHaveLength(1)
        expect(await quarantined('app_events', ws)).toHaveLength(1)
      } finally {
        await raw.close()
      }
    })
  })

  // ---- limits -------------------------------------------------------------------------------------------

  describe('limits: a refused batch writes nothing', () => {
    const many = <T>(n: number, make: (i: number) => T) => Array.from({ length: n }, (_, i) => make(i))

    it(`more than SIGHTLINE_MAX_BATCH (${MAX_BATCH}) rows is BAD_USER_INPUT for every mutation; exactly the limit is fine`, async () => {
      const [product, category, ws] = [uid('p'), uid('cat'), uid('ws')]
      const over = MAX_BATCH + 1
      const message = `a batch holds at most ${MAX_BATCH} rows; this one has ${over}`
      const refused = [
        await gql(server, IngestEcommEventsDocument, { events: many(over, () => ({ event: 'SALE' as const, product })) }, admin),
        await gql(server, IngestWarehouseStockDocument, { updates: many(over, (i) => ({ product, store: `s${i}`, amount: 1 })) }, admin),
        await gql(server, UpsertProductsDocument, { products: many(over, (i) => ({ id: `${category}_${i}`, category, name: 'n', price: 1 })) }, admin),
        await gql(server, IngestAppEventsDocument, { events: many(over, (i) => ({ app: 'PAGE' as const, action: 'view', workspaceId: ws, sessionId: `s${i}`, visitorId: 'v' })) }, admin),
        // Bad rows count towards the limit too.
        await gql(server, IngestWarehouseStockDocument, { updates: many(over, () => ({ product: '', store: product, amount: 1 })) }, admin),
      ]
      for (const res of refused) {
        expect(codes(res)).toEqual(['BAD_USER_INPUT'])
        expect(res.errors?.[0]?.message).toBe(message)
        expect(res.data).toBeNull()
      }
      expect(await stock(product)).toEqual([0])
      expect(await products(category)).toEqual([])
      expect((await totals('PAGE', ws)).events).toBe(0)
      expect(await quarantined('warehouse_stock', product)).toEqual([])

      const atLimit = await gqlOk(server, IngestWarehouseStockDocument, { updates: many(MAX_BATCH, (i) => ({ product, store: `s${i}`, amount: 1 })) }, admin)
      expect(atLimit.ingestWarehouseStock.accepted).toBe(MAX_BATCH)
      expect(await stock(product)).toEqual([MAX_BATCH])
    })

    it('an empty or over-long idempotencyKey is BAD_USER_INPUT', async () => {
      const product = uid('p')
      for (const key of ['', 'k'.repeat(257)]) {
        const res = await gql(server, IngestWarehouseStockDocument, { key, updates: [{ product, store: 's', amount: 1 }] }, admin)
        expect(codes(res)).toEqual(['BAD_USER_INPUT'])
        expect(res.errors?.[0]?.message).toBe('idempotencyKey must be 1 to 256 characters')
      }
      expect(await stock(product)).toEqual([0])
    })

    it(`a body over SIGHTLINE_MAX_BODY_BYTES (${MAX_BODY}) is 413 PAYLOAD_TOO_LARGE, declared or streamed`, async () => {
      const category = uid('cat')
      // Few rows (under the batch limit) but long photos: the body limit alone refuses it.
      const batch = many(MAX_BATCH, (i) => ({ id: `${category}_${i}`, category, name: 'n', photo: 'x'.repeat(4000), price: 1 }))
      const body = JSON.stringify({
        query: 'mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }',
        variables: { p: batch },
      })
      expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY)
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${admin}` }

      const declared = await fetch(url, { method: 'POST', headers, body })
      expect(declared.status).toBe(413)
      const answer = (await declared.json()) as Raw
      expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(['PAYLOAD_TOO_LARGE'])
      expect(answer.errors?.[0]?.message).toBe(`The request body exceeds ${MAX_BODY} bytes`)

      // No content-length: the server counts while it reads.
      const bytes = Buffer.from(body)
      const streamed = await fetch(url, {
        method: 'POST',
        headers,
        duplex: 'half',
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.subarray(i, i + 8192))
            controller.close()
          },
        }),
      } as RequestInit)
      expect(streamed.status).toBe(413)
      expect(((await streamed.json()) as Raw).errors?.map((e) => e.extensions?.code)).toEqual(['PAYLOAD_TOO_LARGE'])

      expect(await products(category)).toEqual([])
      // The same rows in batches under the limit go through.
      const half = await gqlOk(server, UpsertProductsDocument, { products: batch.slice(0, 5) }, admin)
      expect(half.upsertProducts.accepted).toBe(5)
    })
  })

  // ---- wrongly typed batches -------------------------------------------------------------------------------

  describe('a batch with a wrongly typed value is refused whole: no row stored, none quarantined', () => {
    /** Each case: a mutation with one good row and one wrongly typed row, all tagged with `mark`. */
    const cases = (mark: string) => [
      {
        name: 'an unknown enum value (inline)',
        expect: 'GRAPHQL_VALIDATION_FAILED',
        message: /Value "REFUND" does not exist in "EcommEventType" enum/,
        body: { query: `mutation { ingestEcommEvents(events: [{event: SALE, product: "${mark}"}, {event: REFUND, product: "${mark}"}]) { accepted } }` },
      },
      {
        name: 'an unknown enum value (variable)',
        expect: 'BAD_USER_INPUT',
        message: /Value "REFUND" does not exist in "EcommEventType" enum/,
        body: {
          query: 'mutation($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }',
          variables: { e: [{ event: 'SALE', product: mark }, { event: 'REFUND', product: mark }] },
        },
      },
      {
        name: 'a string for an Int',
        expect: 'BAD_USER_INPUT',
        message: /Int cannot represent non-integer value: "5"/,
        body: {
          query: 'mutation($u: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $u) { accepted } }',
          variables: { u: [{ product: mark, store: 's', amount: 5 }, { product: mark, store: 's', amount: '5' }] },
        },
      },
      {
        name: 'an Int beyond 32 bits',
        expect: 'BAD_USER_INPUT',
        message: /Int cannot represent non 32-bit signed integer value/,
        body: {
          query: 'mutation($u: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $u) { accepted } }',
          variables: { u: [{ product: mark, store: 's', amount: 5 }, { product: mark, store: 's', amount: 2 ** 40 }] },
        },
      },
      {
        name: 'a non-finite price (1e400 in the JSON)',
        expect: 'BAD_USER_INPUT',
        message: /Float cannot represent non numeric value/,
        raw: `{"query":"mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }","variables":{"p":[{"id":"${mark}_1","category":"${mark}","name":"n","price":1},{"id":"${mark}_2","category":"${mark}","name":"n","price":1e400}]}}`,
      },
      {
        name: 'NaN, which JSON can only send as null, for a required Float',
        expect: 'BAD_USER_INPUT',
        message: /Expected non-nullable type "Float!" not to be null/,
        body: {
          query: 'mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }',
          variables: { p: [{ id: `${mark}_1`, category: mark, name: 'n', price: 1 }, { id: `${mark}_2`, category: mark, name: 'n', price: Number.NaN }] },
        },
      },
      {
        name: 'a missing required field',
        expect: 'BAD_USER_INPUT',
        message: /Field "visitorId" of required type "String!" was not provided/,
        body: {
          query: 'mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }',
          variables: {
            e: [
              { app: 'CART', action: 'view', workspaceId: mark, sessionId: 's', visitorId: 'v' },
              { app: 'CART', action: 'view', workspaceId: mark, sessionId: 's' },
            ],
          },
        },
      },
      {
        name: 'an unknown app',
        expect: 'BAD_USER_INPUT',
        message: /Value "SHOP" does not exist in "App" enum/,
        body: {
          query: 'mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }',
          variables: {
            e: [
              { app: 'CART', action: 'view', workspaceId: mark, sessionId: 's', visitorId: 'v' },
              { app: 'SHOP', action: 'view', workspaceId: mark, sessionId: 's', visitorId: 'v' },
            ],
          },
        },
      },
      {
        name: 'a string for a Float',
        expect: 'BAD_USER_INPUT',
        message: /Float cannot represent non numeric value: "12.5"/,
        body: {
          query: 'mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }',
          variables: {
            e: [
              { app: 'CART', action: 'purchase', workspaceId: mark, sessionId: 's', visitorId: 'v', revenue: 1 },
              { app: 'CART', action: 'purchase', workspaceId: mark, sessionId: 's', visitorId: 'v', revenue: '12.5' },
            ],
          },
        },
      },
      {
        name: 'a timestamp that is not a date',
        expect: 'BAD_USER_INPUT',
        message: /DateTime/,
        body: {
          query: 'mutation($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }',
          variables: { e: [{ event: 'SALE', product: mark }, { event: 'SALE', product: mark, timestamp: 'yesterday' }] },
        },
      },
    ]

    it('for every datasource and kind of type error', async () => {
      const mark = uid('typed')
      for (const c of cases(mark)) {
        const res = await post(url, c.raw ?? c.body, admin)
        expect(res.errors?.map((e) => e.extensions?.code), c.name).toEqual([c.expect])
        expect(res.errors?.[0]?.message, c.name).toMatch(c.message)
        expect(res.data ?? undefined, c.name).toBeUndefined()
      }
      expect(await stock(mark)).toEqual([0])
      expect(await trend(mark)).toEqual({ views: 0, carts: 0, sales: 0 })
      expect(await products(mark)).toEqual([])
      expect((await totals('CART', mark)).events).toBe(0)
      for (const table of ['ecomm_events', 'warehouse_stock', 'products', 'app_events']) expect(await quarantined(table, mark), table).toEqual([])
    })
  })
})

// ---- a failing store ---------------------------------------------------------------------------------------

/** A URL where nothing listens: every request to it fails to connect, as to a ClickHouse that is down. */
async function deadUrl(): Promise<string> {
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

type Call = { method: 'query' | 'insert' | 'command' | 'exec'; table?: string; query?: string }

/**
 * The real embedded client, except that the calls `failing` picks go to a ClickHouse client whose
 * server is down: the store then meets a genuine driver failure (connection refused) on exactly those.
 */
function switchableClient(real: ClickHouseClient, dead: ClickHouseClient, failing: { pick: (call: Call) => boolean }): ClickHouseClient {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'query' || prop === 'insert' || prop === 'command' || prop === 'exec') {
        return (params: { table?: string; query?: string }) => {
          // Encoded ingest lines are inserted through exec (`INSERT INTO <table> (…) FORMAT …` and a body).
          const into = prop === 'exec' ? /^INSERT INTO (\S+)/.exec(params.query ?? '')?.[1] : undefined
          const call: Call = into ? { method: 'insert', table: into, query: params.query } : { method: prop, table: params.table, query: params.query }
          const client = failing.pick(call) ? dead : target
          return (client[prop] as (p: unknown) => Promise<unknown>).call(client, params)
        }
      }
      return Reflect.get(target, prop, receiver) as unknown
    },
  })
}

describe('when the store fails', () => {
  let server: RunningServer
  let dead: ClickHouseClient
  let db: string
  const admin = `admin_${uid('x')}_0123456789`
  const failing = { pick: (_call: Call): boolean => false }
  const healthy = () => (failing.pick = () => false)

  beforeAll(async () => {
    const storeConfig = testStoreConfig()
    db = storeConfig.database
    dead = createClient({ url: await deadUrl(), request_timeout: 10_000, log: { level: ClickHouseLogLevel.OFF } })
    const store = new ClickHouseStore(switchableClient(createConnection(storeConfig), dead, failing), storeConfig)
    const config = loadConfig({ PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: admin, SIGHTLINE_POLL_MS: '100' }, { store: storeConfig })
    server = await startServer(config, { store })
  })
  afterAll(async () => {
    healthy()
    await server?.stop()
    await dead?.close()
  })

  const UNAVAILABLE = { message: 'The data store is unavailable; try again shortly', extensions: { code: 'STORE_UNAVAILABLE' } }

  it('answers STORE_UNAVAILABLE to every mutation and query, never a result', async () => {
    const product = uid('p')
    const reader = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['read'] } }, admin)).createToken.token
    failing.pick = () => true
    try {
      const mutations = [
        await gql(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product }] }, admin),
        await gql(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount: 1 }], key: uid('key') }, admin),
        await gql(server, UpsertProductsDocument, { products: [{ id: product, category: 'c', name: 'n', price: 1 }] }, admin),
        await gql(server, IngestAppEventsDocument, { events: [{ app: 'FM', action: 'play', workspaceId: 'w', sessionId: 's', visitorId: 'v' }] }, admin),
      ]
      const queries = [
        await gql(server, StockLevelsDocument, { products: [product] }, admin),
        await post(server.url, { query: '{ productGrid { id } }' }, admin),
        await post(server.url, { query: '{ analytics(app: CART, workspaceId: "w") { totals { events } } }' }, admin),
        await post(server.url, { query: '{ quarantine(table: "products") { row } }' }, admin),
      ]
      for (const res of [...mutations, ...queries]) {
        expect(res.errors).toMatchObject([UNAVAILABLE])
        expect(res.data ?? null).toBeNull()
        expect(JSON.stringify(res)).not.toMatch(/ECONNREFUSED|INSERT|SELECT|127\.0\.0\.1/)
      }
      // A token the store must look up cannot be checked either: 503, not "invalid token".
      const asReader = await gql(server, StockLevelsDocument, { products: [product] }, reader)
      expect(asReader.status).toBe(503)
      expect(codes(asReader)).toEqual(['STORE_UNAVAILABLE'])
      expect((await fetch(server.url.replace('/graphql', '/readyz'))).status).toBe(503)
    } finally {
      healthy()
    }
    expect((await fetch(server.url.replace('/graphql', '/readyz'))).status).toBe(200)
    expect((await gqlOk(server, StockLevelsDocument, { products: [product] }, admin)).stock).toEqual([
      { product, available: 0, status: 'OUT_OF_STOCK' },
    ])
  })

  it('a read that fails half-way is an error, not a zero', async () => {
    const product = uid('p')
    await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount: 500 }] }, admin)
    await gqlOk(server, UpsertProductsDocument, { products: [{ id: product, category: product, name: 'n', price: 1 }] }, admin)
    failing.pick = (call) => call.method === 'query' && (call.query ?? '').includes('mv_latest_availability')
    try {
      const res = await post(server.url, { query: `{ products(category: "${product}") { id stock { available } } }` }, admin)
      expect(res.errors).toMatchObject([UNAVAILABLE])
      expect(res.text).not.toContain('"available"')
    } finally {
      healthy()
    }
  })

  it('a batch whose rows cannot be written is not accepted; its keyed retry stores it once', async () => {
    const product = uid('p')
    const key = uid('key')
    const updates = [
      { product, store: 'a', amount: 10 },
      { product, store: '', amount: 1 },
      { product, store: 'b', amount: 5 },
    ]
    // The quarantine write goes through, then the rows' write fails: mid-batch.
    failing.pick = (call) => call.method === 'insert' && call.table === `${db}.warehouse_stock`
    let failed
    try {
      failed = await gql(server, IngestWarehouseStockDocument, { key, updates }, admin)
    } finally {
      healthy()
    }
    expect(failed.errors).toMatchObject([UNAVAILABLE])
    expect(failed.data).toBeNull()
    expect(await gqlOk(server, StockLevelsDocument, { products: [product] }, admin).then((d) => d.stock[0]?.available)).toBe(0)
    const quarantinedRows = async () =>
      (await gqlOk(server, QuarantineDocument, { table: 'warehouse_stock', limit: 10_000 }, admin)).quarantine.filter((q) => q.row.includes(product))
    // The failed attempt got as far as the quarantine: the retry must not add it again.
    expect(await quarantinedRows()).toHaveLength(1)

    const retry = await gqlOk(server, IngestWarehouseStockDocument, { key, updates }, admin)
    expect(retry.ingestWarehouseStock).toEqual({ accepted: 2, quarantined: 1, errors: [{ index: 1, message: 'store is empty' }], deduplicated: false })
    const again = await gqlOk(server, IngestWarehouseStockDocument, { key, updates }, admin)
    expect(again.ingestWarehouseStock).toEqual({ ...retry.ingestWarehouseStock, deduplicated: true })
    expect(await gqlOk(server, StockLevelsDocument, { products: [product] }, admin).then((d) => d.stock[0]?.available)).toBe(15)
    expect((await quarantinedRows()).map((q) => q.reason)).toEqual(['row 1: store is empty'])
  })

  it('a batch whose rows were written but whose record was not is still an error; the retry does not double it', async () => {
    const product = uid('p')
    const key = uid('key')
    const events = [{ event: 'SALE' as const, product }, { event: 'SALE' as const, product }]
    failing.pick = (call) => call.method === 'insert' && call.table === `${db}.ingest_batches`
    let failed
    try {
      failed = await gql(server, IngestEcommEventsDocument, { key, events }, admin)
    } finally {
      healthy()
    }
    expect(failed.errors).toMatchObject([UNAVAILABLE])
    expect(failed.data).toBeNull()
    // Every part of the batch had landed (only its record failed): the retry finds them all, adds
    // nothing, and says so.
    const retry = await gqlOk(server, IngestEcommEventsDocument, { key, events }, admin)
    expect(retry.ingestEcommEvents).toMatchObject({ accepted: 2, deduplicated: true })
    expect((await gqlOk(server, IngestEcommEventsDocument, { key, events }, admin)).ingestEcommEvents.deduplicated).toBe(true)
    expect(await gqlOk(server, StockLevelsDocument, { products: [product] }, admin).then((d) => d.stock[0]?.available)).toBe(-2)
  })
})
