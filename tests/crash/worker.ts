// A store in its own process, for the crash tests: `ingest` sends one keyed batch of a datasource
// (the process may be killed in the middle of it), `counts` reads back what every table and view
// holds, `project [ingest]` applies a loaded project (and appends one keyed batch to it). Run with tsx; configuration from the environment (SIGHTLINE_DATA_DIR, CLICKHOUSE_DATABASE,
// SIGHTLINE_DURABILITY). The batches are fixed by CRASH_AT (an ISO instant), so a retry sends the
// same rows as the attempt it repeats.
import { renameSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config.js'
import { ProjectService } from '../../src/domain/project.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { selectRows } from '../../src/store/clickhouse.js'
import type { IngestOutcome } from '../../src/store/store.js'

export type Kind = 'ecomm_events' | 'warehouse_stock' | 'products' | 'app_events'

const DAY = 86_400_000

async function ingest(store: ClickHouseStore, kind: Kind, bad: boolean, key: string, at: Date): Promise<IngestOutcome> {
  const earlier = new Date(at.getTime() - 40 * DAY) // another month: a second part in each table and view
  const options = { idempotencyKey: key, tokenName: 'crash' }
  switch (kind) {
    case 'ecomm_events': {
      const e = (event: string, product: string, timestamp = at) => ({ event, product, timestamp })
      const rows = [e('sale', 'p1'), e('sale', 'p1'), e('sale', 'p1'), e('sale', 'p2'), e('view', 'p1'), e('view', 'p1'), e('cart', 'p2')]
      rows.push(e('sale', 'p1', earlier), e('view', 'p3', earlier))
      if (bad) rows.push(e('view', 'p1', new Date('1990-06-01T00:00:00Z')))
      return store.ingestEcommEvents(rows as never, options)
    }
    case 'warehouse_stock': {
      const rows = [
        { timestamp: at, product: 'p1', store: 'north', amount: 100 },
        { timestamp: at, product: 'p1', store: 'south', amount: -30 },
        { timestamp: at, product: 'p2', store: 'east', amount: 7 },
      ]
      if (bad) rows.push({ timestamp: at, product: '', store: 'x', amount: 1 })
      return store.ingestWarehouseStock(rows, options)
    }
    case 'products': {
      const rows = [0, 1, 2].map((i) => ({ id: `p${i}`, category: 'c', name: `n${i}`, photo: '', price: i + 1 }))
      if (bad) rows.push({ id: 'p9', category: 'c', name: 'bad', photo: '', price: -1 })
      return store.upsertProducts(rows, options)
    }
    case 'app_events': {
      const e = (app: string, action: string, s: string, timestamp = at) => ({ timestamp, app, action, workspaceId: 'w', sessionId: s, visitorId: `${s}v` })
      const rows = [e('cart', 'view', 's1'), e('fm', 'play', 's2'), e('fm', 'play', 's3'), e('link', 'click', 's4'), e('page', 'view', 's5'), e('fm', 'pause', 's6', earlier)]
      if (bad) rows.push(e('fm', 'dance', 's7'))
      return store.ingestAppEvents(rows as never, options)
    }
  }
}

/** Every table and view a batch of `kind` reaches, as numbers a double or a loss changes. */
async function counts(store: ClickHouseStore, db: string): Promise<Record<string, unknown>> {
  const client = (store as unknown as { client: Parameters<typeof selectRows>[0] }).client
  const one = async (sql: string) => (await selectRows<Record<string, unknown>>(client, sql))[0] ?? {}
  const real = "NOT startsWith(product, '\\0')"
  const out: Record<string, unknown> = {}
  for (const t of ['ecomm_events', 'warehouse_stock', 'products', 'app_events']) {
    out[t] = Number((await one(`SELECT count() AS n FROM ${db}.${t}`)).n)
    out[`${t}_quarantine`] = Number((await one(`SELECT count() AS n FROM ${db}.${t}_quarantine`)).n)
  }
  out.products_final = Number((await one(`SELECT count() AS n FROM ${db}.products FINAL`)).n)
  out.stock = await selectRows(client, `SELECT product, toInt64(sum(available_stock)) AS s FROM ${db}.mv_latest_availability WHERE ${real} GROUP BY product ORDER BY product`)
  out.stock_markers = Number((await one(`SELECT count() AS n FROM ${db}.mv_latest_availability WHERE NOT ${real}`)).n)
  for (const r of ['minute', 'hour', 'day']) {
    out[`rollup_${r}`] = await one(
      `SELECT toInt64(sum(views)) AS v, toInt64(sum(carts)) AS c, toInt64(sum(sales)) AS s, countIf(NOT ${real}) AS markers FROM ${db}.ecomm_rollup_${r}`,
    )
  }
  out.stock_changes = await selectRows(client, `SELECT product, count() AS n, toInt64(sum(delta)) AS d FROM ${db}.stock_changes GROUP BY product ORDER BY product`)
  for (const app of ['cart', 'fm', 'link', 'page']) out[`${app}_events_mv`] = Number((await one(`SELECT count() AS n FROM ${db}.${app}_events_mv`)).n)
  out.ingest_batches = Number((await one(`SELECT count() AS n FROM ${db}.ingest_batches FINAL`)).n)
  return out
}

/** The Classic fixture (`events` feeding `user_daily` through a materialized view), as a loaded project. */
const PROJECT_DIR = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

/** Applies the project in `<database>_project`; with `ingest`, appends one keyed NDJSON batch (one line quarantined) to `events`. */
async function project(store: ClickHouseStore, db: string, action: string | undefined, key: string): Promise<unknown> {
  const database = `${db}_project`
  const service = new ProjectService(ProjectService.parse(PROJECT_DIR, database), store.project(database), { builtinPipes: new Set(), builtinDatasources: new Set() })
  await service.apply()
  if (action !== 'ingest') return undefined
  const at = new Date(process.env.CRASH_AT ?? Date.now()).toISOString().slice(0, 19).replace('T', ' ')
  const lines = [1, 2, 3].map((user) => JSON.stringify({ timestamp: at, user_id: user, event: 'buy', amount: user * 10 }))
  lines.push(JSON.stringify({ timestamp: 'not a time', user_id: 4, event: 'buy' }))
  return service.append({ name: 'crash', scopes: ['admin'], workspaceId: null }, 'events', lines.join('\n'), key)
}

/** A rename the strace check can see: everything before it happened before the answer. */
function markAnswered(): void {
  if (process.env.CRASH_ANSWER_MARK) {
    writeFileSync(`${process.env.CRASH_ANSWER_MARK}.tmp`, '')
    renameSync(`${process.env.CRASH_ANSWER_MARK}.tmp`, process.env.CRASH_ANSWER_MARK)
  }
}

const [mode, kind, bad, key] = process.argv.slice(2)
const config = loadConfig()
const store = ClickHouseStore.open(config.store)
await store.migrate()
if (mode === 'ingest') {
  const outcome = await ingest(store, kind as Kind, bad === '1', key ?? 'k', new Date(process.env.CRASH_AT ?? Date.now()))
  markAnswered()
  // What the caller is answered: the stock changes and the write id are for the live feed.
  process.stdout.write(`${JSON.stringify({ outcome: { ...outcome, stockChanges: undefined, writeId: undefined } })}\n`)
} else if (mode === 'project') {
  const outcome = await project(store, config.store.database, kind, key ?? 'k')
  markAnswered()
  process.stdout.write(`${JSON.stringify({ outcome })}\n`)
} else if (mode === 'counts') {
  process.stdout.write(`${JSON.stringify({ counts: await counts(store, config.store.database) })}\n`)
} else {
  throw new Error(`unknown mode ${mode}`)
}
await store.close()
