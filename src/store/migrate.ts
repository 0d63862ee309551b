import type { ClickHouseClient } from '@clickhouse/client'
import { insertRows, selectRows } from './clickhouse.js'
import { CLUSTER_DDL_SETTINGS, STUCK_DDL_QUERY, stuckDdlMessage } from './cluster.js'
import { bootstrapStatements, loadMigrations, renderSql, type RenderOptions } from './sql.js'

export interface MigrationReport {
  readonly applied: string[]
  readonly skipped: number
}

/**
 * Applies every `sql/NNNN_*.sql` not yet recorded in `schema_migrations`, in order.
 * Files are idempotent, so a crash between a file and its record is repaired by the next run.
 */
export async function migrate(client: ClickHouseClient, options: RenderOptions): Promise<MigrationReport> {
  // On a cluster, a slow host does not fail the run (its task finishes later), and a queue that has
  // been stuck for a while is reported before anything new is queued behind it.
  const settings = options.cluster ? CLUSTER_DDL_SETTINGS : {}
  const run = (query: string) => client.command({ query, clickhouse_settings: settings })
  if (options.cluster) await checkDdlQueue(client, options.cluster)
  for (const statement of bootstrapStatements(options)) await run(statement)
  const done = new Set(await appliedVersions(client, options))
  const report = { applied: [] as string[], skipped: 0 }
  for (const m of loadMigrations(options)) {
    if (done.has(m.version)) {
      report.skipped++
      continue
    }
    for (const statement of m.statements) await run(statement)
    await insertRows(client, `${options.database}.schema_migrations`, [{ version: m.version, name: m.name }])
    report.applied.push(m.name)
  }
  return report
}

/** Throws MigrationError when the cluster's distributed DDL queue has tasks stuck for minutes. */
async function checkDdlQueue(client: ClickHouseClient, cluster: string): Promise<void> {
  let rows: Array<{ tasks: number | string; oldest: string; hosts: string[] }>
  try {
    rows = await selectRows(client, STUCK_DDL_QUERY, { cluster })
  } catch {
    return // a server without the queue table (no Keeper yet) has nothing stuck in it
  }
  const message = stuckDdlMessage(cluster, rows[0])
  if (message) throw new MigrationError(message)
}

/** Migrations cannot run: the message says why and what to do. */
export class MigrationError extends Error {
  override name = 'MigrationError'
}

export async function appliedVersions(client: ClickHouseClient, options: RenderOptions): Promise<number[]> {
  const rows = await selectRows<{ version: number }>(
    client,
    renderSql('SELECT DISTINCT version FROM {{db}}.schema_migrations ORDER BY version', options),
  )
  return rows.map((r) => Number(r.version))
}

/** True when every migration file has been applied. */
export async function isMigrated(client: ClickHouseClient, options: RenderOptions): Promise<boolean> {
  const done = new Set(await appliedVersions(client, options))
  return loadMigrations(options).every((m) => done.has(m.version))
}

/** Service records: telemetry, flushed in the background; power loss may cost the last seconds of them. */
const NOT_FSYNCED = new Set(['operation_log', 'ingest_log', 'error_log'])

/**
 * Sets `fsync_after_insert` and `fsync_part_directory` on every MergeTree table of the database that
 * holds ingested data (datasources, quarantines, view targets, the change log, batch records, tokens,
 * migrations) to match `durability`, changing only tables whose setting differs. They are table
 * settings (ClickHouse takes no per-insert override), so they are applied once per start, after the
 * migrations; `undefined` leaves every table as it is. Returns the tables changed.
 */
export async function applyDurability(
  client: ClickHouseClient,
  options: RenderOptions,
  durability: 'fsync' | 'none' | undefined,
): Promise<string[]> {
  if (durability === undefined) return []
  const want = durability === 'fsync' ? 1 : 0
  const tables = await selectRows<{ name: string; create_table_query: string }>(
    client,
    `SELECT name, create_table_query FROM system.tables
     WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name`,
    { db: options.database },
  )
  const onCluster = options.cluster ? ` ON CLUSTER ${options.cluster}` : ''
  const changed: string[] = []
  for (const t of tables) {
    if (NOT_FSYNCED.has(t.name)) continue
    const has = (setting: string) => new RegExp(`\\b${setting} = ${want}\\b`).test(t.create_table_query) || (want === 0 && !t.create_table_query.includes(setting))
    if (has('fsync_after_insert') && has('fsync_part_directory')) continue
    await client.command({
      query: `ALTER TABLE ${options.database}.${t.name}${onCluster} MODIFY SETTING fsync_after_insert = ${want}, fsync_part_directory = ${want}`,
    })
    changed.push(t.name)
  }
  return changed
}
