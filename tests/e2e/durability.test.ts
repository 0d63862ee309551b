import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreateTokenDocument,
  IngestAppEventsDocument,
  IngestEcommEventsDocument,
  IngestWarehouseStockDocument,
  QuarantineDocument,
  StockLevelsDocument,
  UpsertProductsDocument,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { runNode, startServerProcess, type ServerProcess } from '../helpers/process.js'
import { gqlOk } from '../helpers/server.js'

// The real server in a child process, killed with SIGKILL (no drain, no close) right after it
// acknowledged batches, then started again on the same data directory: every acknowledged row must
// be there exactly once, and keyed retries must not add anything, whatever was lost with the process.

const MIN = 60_000
const DAY = 24 * 60 * MIN
const STEP_TIMEOUT = 180_000

/** Runs a one-off script against the data directory while no server holds it. */
async function withStoreScript(script: string, env: Record<string, string>): Promise<void> {
  const run = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], { ...process.env, NODE_ENV: 'production', CLICKHOUSE_URL: '', ...env })
  if (run.code !== 0) throw new Error(`store script failed (${run.code}):\n${run.out}`)
}

const startProcess = startServerProcess

// ---- batches of every datasource, each one's effect readable on its own ------------------------------

type Kind = 'ecomm' | 'stock' | 'products' | 'app'
const KINDS: readonly Kind[] = ['ecomm', 'stock', 'products', 'app']

interface Batch {
  readonly kind: Kind
  readonly n: number
  /** What the batch's own rows are named by: a product, a category or a workspace. */
  readonly id: string
  /** In the raw text of the batch's one bad row, and nowhere else. */
  readonly badMark: string
  readonly key: string | undefined
  readonly accepted: number
}

const AT = new Date(Date.now() - 5 * MIN).toISOString()

function makeBatch(prefix: string, kind: Kind, n: number, keyed: boolean): Batch {
  const id = `${prefix}_${kind}${n}`
  const accepted = { ecomm: 3 + n + 3, stock: 3, products: 3, app: 5 }[kind]
  return { kind, n, id, badMark: `${id}_bad`, key: keyed ? `${id}:key` : undefined, accepted }
}

/** Sends a batch (one bad row included) and returns its answer. */
async function send(url: string, token: string, b: Batch) {
  const server = { url }
  const key = b.key
  switch (b.kind) {
    case 'ecomm': {
      const product = b.id
      const events = [
        ...Array.from({ length: 3 + b.n }, () => ({ event: 'SALE' as const, product, timestamp: AT })),
        { event: 'VIEW' as const, product, timestamp: AT },
        { event: 'VIEW' as const, product, timestamp: AT },
        { event: 'CART' as const, product, timestamp: AT },
        { event: 'VIEW' as const, product: b.badMark, timestamp: '1990-06-01T00:00:00Z' },
      ]
      return (await gqlOk(server, IngestEcommEventsDocument, { events, key }, token)).ingestEcommEvents
    }
    case 'stock': {
      const product = b.id
      const updates = [
        { product, store: 'north', amount: 100, timestamp: AT },
        { product, store: 'south', amount: -30, timestamp: AT },
        { product, store: 'east', amount: b.n + 1, timestamp: AT },
        { product: b.badMark, store: '', amount: 1, timestamp: AT },
      ]
      return (await gqlOk(server, IngestWarehouseStockDocument, { updates, key }, token)).ingestWarehouseStock
    }
    case 'products': {
      const category = b.id
      const products = [
        ...[0, 1, 2].map((i) => ({ id: `${category}_${i}`, category, name: `n${i}`, price: i + 1 })),
        { id: b.badMark, category, name: 'bad', price: -1 },
      ]
      return (await gqlOk(server, UpsertProductsDocument, { products, key }, token)).upsertProducts
    }
    case 'app': {
      const workspaceId = b.id
      const event = (action: string, s: string) => ({ app: 'FM' as const, action, workspaceId, sessionId: s, visitorId: `${s}_v`, timestamp: AT })
      const events = [...[0, 1, 2, 3].map((s) => event('play', `s${s}`)), event('pause', 's4'), event('dance', b.badMark)]
      return (await gqlOk(server, IngestAppEventsDocument, { events, key }, token)).ingestAppEvents
    }
  }
}

/** How many times each batch's rows are in the store, per read that can tell (NaN: unreadable). */
async function copies(url: string, token: string, batches: readonly Batch[]): Promise<Map<Batch, number[]>> {
  const server = { url }
  const out = new Map<Batch, number[]>()
  const products = batches.filter((b) => b.kind === 'ecomm' || b.kind === 'stock').map((b) => b.id)
  const stock = new Map((await gqlOk(server, StockLevelsDocument, { products }, token)).stock.map((s) => [s.product, s.available]))
  const quarantine = new Map<string, string[]>()
  for (const table of ['ecomm_events', 'warehouse_stock', 'products', 'app_events']) {
    quarantine.set(table, (await gqlOk(server, QuarantineDocument, { table, limit: 10_000 }, token)).quarantine.map((q) => q.row))
  }
  const bad = (table: string, b: Batch) => quarantine.get(table)!.filter((row) => row.includes(b.badMark)).length
  const from = new Date(Date.now() - 2 * DAY).toISOString()
  const to = new Date(Date.now() + DAY).toISOString()
  for (const b of batches) {
    switch (b.kind) {
      case 'ecomm': {
        const sales = 3 + b.n
        const res = await fetchData<{ ecommTrend: Array<{ views: number; carts: number; sales: number }> }>(
          url,
          token,
          `query($p: ID!, $from: DateTime, $to: DateTime) { ecommTrend(product: $p, from: $from, to: $to, granularity: DAY) { views carts sales } }`,
          { p: b.id, from, to },
        )
        const sum = (f: 'views' | 'carts' | 'sales') => res.ecommTrend.reduce((s, p) => s + p[f], 0)
        out.set(b, [-(stock.get(b.id) ?? 0) / sales, sum('sales') / sales, sum('views') / 2, sum('carts'), bad('ecomm_events', b)])
        break
      }
      case 'stock':
        out.set(b, [(stock.get(b.id) ?? 0) / (71 + b.n), bad('warehouse_stock', b)])
        break
      case 'products': {
        const res = await fetchData<{ products: Array<{ id: string }> }>(url, token, `query($c: String) { products(category: $c) { id } }`, { c: b.id })
        // Upserts collapse repeats of an id, so only the quarantine can show a doubled batch.
        out.set(b, [res.products.length / 3, bad('products', b)])
        break
      }
      case 'app': {
        const res = await fetchData<{ analytics: { totals: { events: number; sessions: number; plays: number; pauses: number } } }>(
          url,
          token,
          `query($ws: ID!, $from: DateTime, $to: DateTime) { analytics(app: FM, workspaceId: $ws, from: $from, to: $to) { totals { events sessions ... on FmMetrics { plays pauses } } } }`,
          { ws: b.id, from, to },
        )
        const t = res.analytics.totals
        // Sessions are distinct, so they cannot show a double: events can.
        out.set(b, [t.events / 5, t.plays / 4, t.pauses, t.sessions / 5, bad('app_events', b)])
        break
      }
    }
  }
  return out
}

async function fetchData<T>(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: T; errors?: unknown[] }
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`)
  return body.data
}

/** Every read of every batch says "once" (sessions aside, a double shows as 2, a loss as 0). */
async function expectOnce(url: string, token: string, batches: readonly Batch[]): Promise<void> {
  const found = await copies(url, token, batches)
  const wrong = batches.filter((b) => found.get(b)!.some((c) => c !== 1)).map((b) => `${b.id}: ${found.get(b)!.join(', ')}`)
  expect(wrong, 'batches not stored exactly once (reads per batch)').toEqual([])
}

describe('durability: SIGKILL after acknowledged writes, restart on the same data directory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-durability-'))
  const admin = `admin_${randomBytes(16).toString('hex')}`
  const env = { SIGHTLINE_DATA_DIR: dataDir, SIGHTLINE_ADMIN_TOKEN: admin }
  const run = uid('dur')
  // Four batches of each datasource, every other one with an idempotency key.
  const batches = KINDS.flatMap((kind) => [0, 1, 2, 3].map((n) => makeBatch(run, kind, n, n % 2 === 0)))
  const keyed = batches.filter((b) => b.key !== undefined)
  const firstAnswers = new Map<Batch, Awaited<ReturnType<typeof send>>>()
  let server: ServerProcess | undefined
  let boundToken = ''

  beforeAll(async () => {
    server = await startProcess(env)
  }, STEP_TIMEOUT)
  afterAll(async () => {
    await server?.kill()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('acknowledges batches of every datasource, then dies by SIGKILL at once', async () => {
    const s = server!
    boundToken = (
      await gqlOk(s, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['append:app_events'], workspaceId: `${run}_app1` } }, admin)
    ).createToken.token
    // One sequence of batches per datasource, the four concurrently, as independent clients would.
    await Promise.all(
      KINDS.map(async (kind) => {
        for (const b of batches.filter((x) => x.kind === kind)) {
          const answer = await send(s.url, b.id === `${run}_app1` ? boundToken : admin, b)
          expect(answer, b.id).toEqual({
            accepted: b.accepted,
            quarantined: 1,
            errors: [expect.objectContaining({ index: b.accepted })],
            deduplicated: false,
          })
          firstAnswers.set(b, answer)
        }
      }),
    )
    await s.kill()
    expect(s.process.signalCode).toBe('SIGKILL')
  }, STEP_TIMEOUT)

  it('after a restart, every acknowledged row is there exactly once', async () => {
    server = await startProcess(env)
    await expectOnce(server.url, admin, batches)
    // A token created before the crash still works.
    expect((await gqlOk(server, IngestAppEventsDocument, { events: [] }, boundToken)).ingestAppEvents.accepted).toBe(0)
  }, STEP_TIMEOUT)

  it('a keyed batch retried after the restart answers deduplicated and adds nothing', async () => {
    const s = server!
    for (const b of keyed) expect(await send(s.url, admin, b), b.id).toEqual({ ...firstAnswers.get(b), deduplicated: true })
    await expectOnce(s.url, admin, batches)
    await s.kill()
  }, STEP_TIMEOUT)

  it('with the batch records lost as well, keyed retries are still stored once', async () => {
    // As if every process had died between a batch's rows and its record: the batch ids carried in
    // the rows (and the markers in the aggregating views) show every part landed, so the retries add
    // nothing and answer deduplicated, as the first attempts had fully landed.
    await withStoreScript(
      `import { loadConfig } from './src/config.ts'
       import { createConnection } from './src/store/connection.ts'
       const { store } = loadConfig()
       const client = createConnection(store)
       await client.command({ query: 'TRUNCATE TABLE ' + store.database + '.ingest_batches' })
       await client.close()`,
      env,
    )
    server = await startProcess(env)
    for (const b of keyed) expect(await send(server.url, admin, b), b.id).toEqual({ ...firstAnswers.get(b), deduplicated: true })
    await expectOnce(server.url, admin, batches)
  }, STEP_TIMEOUT)

  // Once a flake (an in-flight keyed products batch lost its quarantined row across the kill and retry):
  // ClickHouse recorded the quarantine part's deduplication token before renaming the part into place,
  // and the retry was skipped as a duplicate. Retries no longer rely on that log (issue 17); the
  // deterministic version of this test, a kill before each table's and view's part, is `npm run test:crash`.
  it('killed with batches in flight: acknowledged ones are there once, and so is every keyed one once retried', { timeout: STEP_TIMEOUT }, async () => {
    const attempt = uid('storm')
    const storm = KINDS.flatMap((kind) => Array.from({ length: 12 }, (_, n) => makeBatch(`${run}_${attempt}`, kind, n, true)))
    const acked = new Set<Batch>()
    const s = server!
    let killed: Promise<unknown> | undefined
    await Promise.all(
      KINDS.map(async (kind) => {
        for (const b of storm.filter((x) => x.kind === kind)) {
          if (killed) return
          try {
            await send(s.url, admin, b)
          } catch {
            return // the process died under this request: not acknowledged
          }
          acked.add(b)
          if (acked.size === 10) killed = s.kill()
        }
      }),
    )
    await killed
    expect(acked.size).toBeGreaterThanOrEqual(10)
    expect(acked.size).toBeLessThan(storm.length)

    server = await startProcess(env)
    // What was acknowledged survived, once.
    await expectOnce(server.url, admin, [...acked])
    // Every batch retried with its key: the acknowledged ones are recognised, the others (written in
    // part, in full, or not at all when the process died) end up complete and single.
    for (const b of storm) {
      const answer = await send(server.url, admin, b)
      expect(answer.accepted, b.id).toBe(b.accepted)
      if (acked.has(b)) expect(answer.deduplicated, b.id).toBe(true)
    }
    await expectOnce(server.url, admin, storm)
    await expectOnce(server.url, admin, batches)
  })
})
