import type { ClickHouseClient } from '@clickhouse/client'
import { insertRows, selectRows } from './clickhouse.js'
import { loadMigrations, renderSql, type RenderOptions } from './sql.js'

export interface MigrationReport {
  readonly applied: string[]
  readonly skipped: number
}

/**
 * Applies every `sql/NNNN_*.sql` not yet recorded in `schema_migrations`, in order.
 * Files are idempotent, so a crash between a file and its record is repaired by the next run.
 */
export async function migrate(client: ClickHouseClient, options: RenderOptions): Promise<MigrationReport> {
  const run = (query: string) => client.command({ query })
  await run(renderSql('CREATE DATABASE IF NOT EXISTS {{db}}', options))
  await run(
    renderSql(
      `CREATE TABLE IF NOT EXISTS {{db}}.schema_migrations
       (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
       ENGINE = ReplacingMergeTree ORDER BY version`,
      options,
    ),
  )
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
