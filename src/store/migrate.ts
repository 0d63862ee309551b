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
