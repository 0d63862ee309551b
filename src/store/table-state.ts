import type { ClickHouseClient } from '@clickhouse/client'
import { selectRows } from './clickhouse.js'
import { asWork } from './workload.js'

/**
 * One fingerprint per table of `databases`: its active parts' count, rows, names and latest modification.
 * Every insert, merge, mutation, truncate or drop changes it, whoever made the write (this process, another
 * replica's replication, a direct insert), so comparing two readings says which tables changed between them.
 * A table without parts (empty) is absent. Cheap: system.parts is metadata, no data is read.
 *
 * The statement has no bound parameters (the database names are identifiers, validated by the config), so
 * on embedded chDB it runs on the workload's second session, beside a running read, as `live` work.
 */
export function tableStates(client: ClickHouseClient, databases: readonly string[]): Promise<Map<string, string>> {
  const names = databases.filter((d) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(d))
  if (names.length === 0) return Promise.resolve(new Map())
  const query = `SELECT concat(database, '.', table) AS t,
    concat(toString(count()), ':', toString(sum(rows)), ':', toString(sum(cityHash64(name))), ':', toString(max(modification_time))) AS s
  FROM system.parts WHERE active AND database IN (${names.map((d) => `'${d}'`).join(', ')}) GROUP BY database, table`
  return asWork('live', async () => new Map((await selectRows<{ t: string; s: string }>(client, query)).map((r) => [r.t, r.s])))
}
