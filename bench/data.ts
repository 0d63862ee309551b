import { spawn } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { APPS, DIMENSIONS, type DimensionEntry } from '../src/catalog/index.js'
import { DEMO_CATEGORIES, DEMO_WORKSPACES, PLACES } from '../src/demo.js'
import { prng } from '../src/random.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { createConnection } from '../src/store/connection.js'
import type { Store } from '../src/store/store.js'
import type { ProductRow, WarehouseStockRow } from '../src/store/types.js'

export interface Scale {
  readonly events: number
  readonly products: number
  readonly appEvents: number
}

export interface Dataset {
  /** The instant the generated history ends at (events reach back a week from it). */
  readonly now: Date
  readonly productIds: readonly string[]
  readonly categories: readonly string[]
  readonly workspace: string
}

const WEEK_S = 7 * 24 * 3600
/**
 * Rows per generating statement. Large blocks (squashed to one part each, see GENERATE) keep the parts
 * few and the materialized views called rarely: 10M events in 5 statements instead of 50.
 */
const CHUNK = 2_000_000

const productId = (i: number) => `p_${String(i).padStart(5, '0')}`

/**
 * Ecommerce events, spread over the last week, as pure SQL over numbers(): each row's product,
 * event and age come from hashes of its row number, so a given scale always yields the same data
 * (relative to `now`). Every ~9th product is "hot" and sells within the last hour, like the demo.
 */
const EVENTS_SQL = (db: string, part: 'history' | 'recent') => `
INSERT INTO ${db}.ecomm_events (timestamp, event, product)
WITH
    cityHash64(number, 1) AS r1,
    cityHash64(number, 2) AS r2,
    cityHash64(number, 3) AS r3,
    cityHash64(number, 4) AS r4,
    r1 % {products:UInt32} AS idx,
    idx % 9 = 1 AND r2 % 100 < 8 AS recent
SELECT
    toDateTime({now:UInt32} - if(recent, r3 % 3240, 3600 + r3 % ${WEEK_S - 7200}), 'UTC'),
    if(recent, if(r4 % 2 = 0, 'sale', 'view'), multiIf(r4 % 100 < 75, 'view', r4 % 100 < 93, 'cart', 'sale')),
    concat('p_', leftPad(toString(idx), 5, '0'))
FROM numbers({offset:UInt64}, {count:UInt64})
WHERE ${part === 'recent' ? 'recent' : 'NOT recent'}`

/**
 * One dimension's generating SQL expression and its bound pools, from its catalog demo rule (the
 * demo draws the same values in TypeScript). `i` spreads the hash seeds. Values are the session's (a
 * visit has one browser, device, referer, campaign…), the place the visitor's: hashes of `visitor` and
 * `session`, columns of APP_EVENTS_SQL.
 */
function dimensionSql(d: DimensionEntry, i: number): { sql: string; params: Record<string, readonly string[]> } {
  const rule = d.demo
  const p = `d_${d.column}`
  const h = (k: number) => `cityHash64(visitor, session, ${600 + i * 8 + k})`
  const from = (name: string, n: number, k = 0) => `{${name}:Array(String)}[1 + ${h(k)} % ${n}]`
  if ('pool' in rule) {
    const plain = from(p, rule.pool.length)
    if (!rule.metaPool) return { sql: plain, params: { [p]: rule.pool } }
    return { sql: `if(from_meta, ${from(`${p}_meta`, rule.metaPool.length, 1)}, ${plain})`, params: { [p]: rule.pool, [`${p}_meta`]: rule.metaPool } }
  }
  if ('place' in rule) return { sql: `{${p}:Array(String)}[place]`, params: { [p]: PLACES.map((place) => place[rule.place]) } }
  if ('metaChoice' in rule) return { sql: `if(from_meta, ${from(p, rule.metaChoice.length)}, '')`, params: { [p]: rule.metaChoice } }
  const value = `concat('${rule.prefix}', toString(${h(1)} % ${rule.count}))`
  const { only, share } = rule
  const when = only === undefined ? (share === undefined ? 'true' : `${h(0)} % 100 < ${Math.round(share * 100)}`) : only === 'meta' ? 'from_meta' : `app = '${only.app}'`
  return { sql: `if(${when}, ${value}, '')`, params: {} }
}

const DIMENSION_SQL = DIMENSIONS.map((d, i) => dimensionSql(d, i))

/** How long a session lasts at most: its events fall within this window from its start. */
const SESSION_MS = 30 * 60 * 1000

/**
 * App events for two workspaces and all four apps; actions and dimension values come from the catalog.
 * A visitor belongs to one workspace (65% to the first) and returns over the week: each has 3 sessions, each starting at its own instant of the week (a
 * hash of visitor and session), and a session's events fall within 30 minutes of its start, as real
 * web/app sessions do; its browser, device, referer, campaign… are the session's, its place the
 * visitor's (README, Benchmarks: "The data"). The app, action and asset vary per event.
 */
const APP_EVENTS_SQL = (db: string) => `
INSERT INTO ${db}.app_events (timestamp, event_type, action, workspace_id, session_id, visitor_id, asset_id,
    ${DIMENSIONS.map((d) => d.column).join(', ')}, revenue)
WITH
    cityHash64(number, 11) AS h0,
    cityHash64(number, 12) AS h1,
    cityHash64(number, 13) AS h2,
    cityHash64(number, 15) AS h4,
    cityHash64(number, 17) AS h6,
    cityHash64(number, 18) AS h7,
    {apps:Array(String)}[1 + h0 % ${APPS.length}] AS app,
    {actions:Array(Array(String))}[indexOf({apps:Array(String)}, app)] AS actions,
    actions[1 + h1 % length(actions)] AS act,
    h2 % {visitors:UInt32} AS visitor,
    h6 % 3 AS session,
    cityHash64(visitor, session, 20) % ${(WEEK_S * 1000) - SESSION_MS} AS session_start,
    1 + (cityHash64(visitor, 14) % ${PLACES.length}) AS place,
    cityHash64(visitor, session, 19) % 100 < 30 AS from_meta
SELECT
    fromUnixTimestamp64Milli(toInt64({nowMs:Int64} - ${WEEK_S * 1000} + session_start + h4 % ${SESSION_MS}), 'UTC'),
    app,
    act,
    if(cityHash64(visitor, 21) % 100 < 65, {ws0:String}, {ws1:String}),
    concat('s_', toString(visitor), '_', toString(session)),
    concat('v_', toString(visitor)),
    concat('asset_', toString(h7 % 12)),
    ${DIMENSION_SQL.map((d) => d.sql).join(',\n    ')},
    if(has({revenueActions:Array(String)}, concat(app, '/', act)), (cityHash64(number, 724) % 20000) / 100, 0)
FROM numbers({offset:UInt64}, {count:UInt64})`

const APP_PARAMS = {
  apps: APPS.map((a) => a.name),
  actions: APPS.map((a) => a.actions.map((x) => x.action)),
  revenueActions: APPS.flatMap((a) => ('revenueAction' in a ? [`${a.name}/${a.revenueAction}`] : [])),
  ws0: DEMO_WORKSPACES[0],
  ws1: DEMO_WORKSPACES[1],
  ...Object.assign({}, ...DIMENSION_SQL.map((d) => d.params)),
}

export function benchProducts(n: number): ProductRow[] {
  const rand = prng(1)
  return Array.from({ length: n }, (_, i) => {
    const category = DEMO_CATEGORIES[i % DEMO_CATEGORIES.length]!
    const id = productId(i)
    return { id, category, name: `${category} item ${i}`, photo: `/photos/${id}.svg`, price: Math.round((10 + rand() * 190) * 100) / 100 }
  })
}

/**
 * Fills a migrated, empty store: the history (`generateHistory`), then the last hour (`addRecent`).
 */
export async function generate(
  client: ClickHouseClient,
  store: Store,
  database: string,
  scale: Scale,
  progress: (line: string) => void,
): Promise<Dataset> {
  const data = await generateHistory(client, store, database, scale, progress)
  await addRecent(client, database, scale, new Date(), progress)
  return data
}

/**
 * Everything but the last hour, relative to `now` (the dataset's end, which the dashboards read up to):
 * products through the store's upsert, stock through its ingest, and the event tables with INSERT … SELECT
 * FROM numbers() (the materialized views fire as for any insert). Stock is topped up so the grid shows
 * every status, as in the demo. It does not depend on the time it is used at, so it can be cached.
 */
export async function generateHistory(
  client: ClickHouseClient,
  store: Store,
  database: string,
  scale: Scale,
  progress: (line: string) => void,
  now: Date = new Date(),
): Promise<Dataset> {
  now = new Date(Math.floor(now.getTime() / 1000) * 1000)
  const nowS = now.getTime() / 1000
  const products = benchProducts(scale.products)
  await store.upsertProducts(products)
  progress(`products: ${products.length}`)

  const week = new Date(now.getTime() - WEEK_S * 1000)
  const rand = prng(2)
  // Never-restocked products (every 11th) start at 0 and end out of stock; the rest start well stocked.
  const initial: WarehouseStockRow[] = products.map((p, i) => ({
    product: p.id,
    store: 'central',
    amount: i % 11 === 3 ? 0 : 300 + Math.floor(rand() * 700),
    timestamp: week,
  }))
  await store.ingestWarehouseStock(initial)

  const t0 = performance.now()
  for (let offset = 0; offset < scale.events; offset += CHUNK) {
    const count = Math.min(CHUNK, scale.events - offset)
    await client.command({
      query: EVENTS_SQL(database, 'history'),
      query_params: { products: scale.products, now: nowS, offset, count },
      clickhouse_settings: GENERATE(),
    })
    progress(`ecomm_events (history): ${fmt(offset + count)}/${fmt(scale.events)} (${secs(t0)})`)
  }

  const levels = await store.stock(products.map((p) => p.id))
  const restock = levels
    .map((l, i) => ({ l, i }))
    .filter(({ i }) => i % 11 !== 3)
    .map(({ l, i }) => ({
      product: l.product,
      store: 'central',
      amount: (i % 7 === 2 ? 60 : 500) - l.available,
      timestamp: new Date(now.getTime() - 2 * 3600e3),
    }))
  await store.ingestWarehouseStock(restock)
  progress(`warehouse_stock: ${initial.length + restock.length} rows`)

  const t1 = performance.now()
  const visitors = Math.max(1000, Math.floor(scale.appEvents / 20))
  for (let offset = 0; offset < scale.appEvents; offset += CHUNK) {
    const count = Math.min(CHUNK, scale.appEvents - offset)
    await client.command({
      query: APP_EVENTS_SQL(database),
      query_params: { ...APP_PARAMS, visitors, nowMs: now.getTime(), offset, count },
      clickhouse_settings: GENERATE(),
    })
    progress(`app_events: ${fmt(offset + count)}/${fmt(scale.appEvents)} (${secs(t1)})`)
  }
  // The data is what it says it is: a chunk dropped as a duplicate would silently shrink the bench.
  await expectRows(client, database, 'app_events', scale.appEvents)
  return { now, productIds: products.map((p) => p.id), categories: DEMO_CATEGORIES, workspace: DEMO_WORKSPACES[0]! }
}

/**
 * The last hour of ecommerce events (the hot products' recent views and sales, which the grid's hits
 * and trending read), relative to `now`, the time the bench runs: a cached history gets a fresh last
 * hour. Recent sales lower the stock the history left, as live sales would. Completes `scale.events`.
 */
export async function addRecent(client: ClickHouseClient, database: string, scale: Scale, now: Date, progress: (line: string) => void): Promise<void> {
  const nowS = Math.floor(now.getTime() / 1000)
  for (let offset = 0; offset < scale.events; offset += CHUNK) {
    const count = Math.min(CHUNK, scale.events - offset)
    await client.command({
      query: EVENTS_SQL(database, 'recent'),
      query_params: { products: scale.products, now: nowS, offset, count },
      clickhouse_settings: GENERATE(),
    })
  }
  await expectRows(client, database, 'ecomm_events', scale.events)
  progress(`ecomm_events: last hour added, ${fmt(scale.events)} in all`)
}

async function expectRows(client: ClickHouseClient, database: string, table: string, expected: number): Promise<void> {
  const rs = await client.query({ query: `SELECT count() AS n FROM ${database}.${table}`, format: 'JSONEachRow' })
  const [row] = await rs.json<{ n: string | number }>()
  if (Number(row?.n) !== expected) throw new Error(`${table} holds ${row?.n} rows, not the ${expected} generated`)
}

/**
 * Settings for each generating INSERT … SELECT. chDB keeps settings for the whole session, so a chunk
 * would otherwise inherit the last insert's deduplication token and, being the same size, be dropped
 * as a duplicate (the bench once held 200,000 of its "1,000,000" events): every chunk gets its own.
 */
const GENERATE = () => ({
  insert_deduplication_token: randomUUID(),
  insert_deduplicate: 1 as const,
  deduplicate_blocks_in_dependent_materialized_views: 1 as const,
  async_insert: 0 as const,
  // One part per statement (and per partition): the SELECT's small blocks are squashed before the insert.
  min_insert_block_size_rows: String(CHUNK),
  min_insert_block_size_bytes: String(2 ** 30),
  max_insert_threads: '2',
  max_threads: 2,
  parallel_view_processing: 1 as const,
  max_execution_time: 0,
  max_memory_usage: '0',
})

/**
 * Merges every MergeTree table of the database to one part per partition, so both copies of the data
 * start from the same, settled layout instead of whatever background merges had reached.
 */
export async function settle(client: ClickHouseClient, database: string, progress: (line: string) => void): Promise<void> {
  const t0 = performance.now()
  const rs = await client.query({
    query: `SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name`,
    query_params: { db: database },
    format: 'JSONEachRow',
  })
  const tables = (await rs.json<{ name: string }>()).map((r) => r.name)
  for (const t of tables) await client.command({ query: `OPTIMIZE TABLE ${database}.\`${t}\` FINAL` })
  progress(`merged ${tables.length} tables (${secs(t0)})`)
}

export const fmt = (n: number) => n.toLocaleString('en-US')
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`

// ---- The cache of generated histories

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** Bump when the generated data changes in a way the sources hashed below would not show. */
const GENERATOR_VERSION = 2
export const DATABASE = 'sightline'

/** A generated history in a chDB data directory that is only ever copied, never opened again. */
export interface CachedHistory {
  readonly dir: string
  readonly dataset: Dataset
  readonly generatedSeconds: number
  readonly reused: boolean
}

/** `SIGHTLINE_BENCH_CACHE`, else node_modules/.cache/sightline-bench (ignored by git, per checkout). */
export function cacheRoot(): string {
  return resolve(process.env.SIGHTLINE_BENCH_CACHE || join(REPO, 'node_modules', '.cache', 'sightline-bench'))
}

/**
 * What determines a history: the generator version and source, the migrations (a new table or view
 * changes what the history holds) and the scale. Any change is a new key, so a stale copy is never used.
 */
export function historyKey(scale: Scale): string {
  const h = createHash('sha256')
  h.update(`v${GENERATOR_VERSION}\n${JSON.stringify(scale)}\n`)
  h.update(readFileSync(fileURLToPath(import.meta.url)))
  const sql = join(REPO, 'sql')
  for (const f of readdirSync(sql).filter((f) => f.endsWith('.sql')).sort()) h.update(`${f}\n`).update(readFileSync(join(sql, f)))
  return `${scale.events}e-${scale.products}p-${scale.appEvents}a-${h.digest('hex').slice(0, 12)}`
}

/**
 * The history for `scale`, generated (in a child process: chDB binds one data directory per process) the
 * first time and reused after. Callers copy `dir`; nothing opens it in place.
 */
export async function cachedHistory(scale: Scale, progress: (line: string) => void): Promise<CachedHistory> {
  const dir = join(cacheRoot(), historyKey(scale))
  const metaFile = join(dir, 'dataset.json')
  const reused = existsSync(metaFile)
  if (!reused) {
    const building = `${dir}.building-${process.pid}`
    rmSync(building, { recursive: true, force: true })
    mkdirSync(dirname(dir), { recursive: true })
    await new Promise<void>((done, fail) => {
      const child = spawn(process.execPath, [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'bench', 'run.ts'), '--internal-generate', building, '--internal-scale', JSON.stringify(scale)], {
        cwd: REPO,
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      child.once('error', fail)
      child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`generating the ${fmt(scale.events)}-event history failed (exit ${code})`))))
    })
    rmSync(dir, { recursive: true, force: true })
    renameSync(building, dir)
  } else progress(`reusing the history in ${dir}`)
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { dataset: Omit<Dataset, 'now'> & { now: string }; generatedSeconds: number }
  return { dir: join(dir, 'chdb'), dataset: { ...meta.dataset, now: new Date(meta.dataset.now) }, generatedSeconds: meta.generatedSeconds, reused }
}

/** The child's side of cachedHistory: migrate, generate the history, merge it, record what it holds. */
export async function buildHistory(into: string, scale: Scale, progress: (line: string) => void): Promise<void> {
  const t0 = performance.now()
  const client = openBenchClient(join(into, 'chdb'))
  try {
    const store = new ClickHouseStore(client, { database: DATABASE, cluster: undefined })
    await store.migrate()
    progress(`generating ${fmt(scale.events)} ecommerce events (all but the last hour), ${fmt(scale.products)} products, ${fmt(scale.appEvents)} app events`)
    const dataset = await generateHistory(client, store, DATABASE, scale, progress)
    await settle(client, DATABASE, progress)
    const generatedSeconds = Math.round((performance.now() - t0) / 100) / 10
    writeFileSync(join(into, 'dataset.json'), `${JSON.stringify({ scale, dataset, generatedSeconds }, null, 2)}\n`)
    progress(`history generated in ${generatedSeconds} s`)
  } finally {
    await client.close()
  }
}

/** This process's client on a data directory: the same connection the gateway's embedded store uses. */
export function openBenchClient(dataDir: string): ClickHouseClient {
  return createConnection({ url: undefined, user: 'default', password: '', database: 'default', cluster: undefined, dataDir })
}
