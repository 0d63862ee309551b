/**
 * DDL for a sharded, replicated ClickHouse cluster (`CLICKHOUSE_CLUSTER_MODE=sharded`).
 *
 * Every table of the schema becomes two: `<name>_local`, a Replicated*MergeTree on every host
 * (replicas of a shard share it, each shard holds its slice), and `<name>`, a `Distributed` table over
 * them. Queries and inserts keep using `<name>`, so nothing above the store changes: reads fan out to
 * one replica per shard and merge partial aggregates (stock sums, exact distinct counts stay exact),
 * inserts are routed by the sharding key and forwarded synchronously (`distributed_foreground_insert`).
 * Materialized views sit on the local tables and write local targets, so each shard derives its own
 * rows; quarantine clones are cloned locally. Keys keep a product's or a session's rows on one shard.
 *
 * Why not the Replicated database engine: it replicates DDL within a shard, but sharding still needs
 * Distributed tables and per-shard views; `ON CLUSTER` with idempotent statements does both with one
 * mechanism, and `schema_migrations` records what ran.
 */

/** The sharding key of each table's Distributed table; tables not listed spread with `rand()`. */
export const SHARDING_KEYS: Readonly<Record<string, string>> = {
  ecomm_events: 'cityHash64(product)',
  warehouse_stock: 'cityHash64(product)',
  mv_latest_availability: 'cityHash64(product)',
  ecomm_rollup_minute: 'cityHash64(product)',
  ecomm_rollup_hour: 'cityHash64(product)',
  ecomm_rollup_day: 'cityHash64(product)',
  stock_changes: 'cityHash64(product)',
  app_events: 'cityHash64(workspace_id, session_id)',
  cart_events_mv: 'cityHash64(workspace_id, session_id)',
  fm_events_mv: 'cityHash64(workspace_id, session_id)',
  link_events_mv: 'cityHash64(workspace_id, session_id)',
  page_events_mv: 'cityHash64(workspace_id, session_id)',
  products: 'cityHash64(id)',
  tokens: 'cityHash64(name)',
  ingest_batches: 'cityHash64(table, key)',
  schema_migrations: 'version',
}

/** Settings every query needs on a sharded cluster (the client sends them with each request). */
export const SHARDED_SETTINGS = {
  // An insert answers once every shard has its rows, so "acknowledged" still means "written".
  distributed_foreground_insert: 1,
  // IN and JOIN over another Distributed table (the grid's products) run as GLOBAL IN/JOIN.
  distributed_product_mode: 'global',
} as const

/** Settings for migrations on any cluster: a slow host does not fail the run, it finishes the task later. */
export const CLUSTER_DDL_SETTINGS = {
  distributed_ddl_task_timeout: 300,
  distributed_ddl_output_mode: 'null_status_on_timeout',
} as const

const CREATE_TABLE = /^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\.(\w+)\s*/i
const CREATE_VIEW = /^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s+/i
const ALTER = /^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+/i
const ENGINE = /\bENGINE\s*=\s*(\w*)MergeTree\b/

/** The tables a list of statements creates (views excluded). */
export function tablesOf(statements: readonly string[]): Set<string> {
  const tables = new Set<string>()
  for (const s of statements) {
    const m = CREATE_TABLE.exec(s)
    if (m) tables.add(m[2]!)
  }
  return tables
}

/** `db.name` → `db.name_local` for every table of the schema, in a view's or an ALTER's text. */
function toLocal(text: string, database: string, tables: ReadonlySet<string>): string {
  return text.replace(new RegExp(`\\b${database}\\.(\\w+)\\b`, 'g'), (m, name: string) => (tables.has(name) ? `${database}.${name}_local` : m))
}

/**
 * One statement of a migration (with `{{db}}` filled) as the statements a sharded cluster runs.
 * `tables` holds every table name of the schema (all migrations), so views find their local sources.
 */
export function shardStatement(statement: string, database: string, cluster: string, tables: ReadonlySet<string>): string[] {
  const on = `ON CLUSTER ${cluster}`
  const dedup = (s: string) => s.replaceAll('non_replicated_deduplication_window', 'replicated_deduplication_window')
  const table = CREATE_TABLE.exec(statement)
  if (table) {
    const [head, db, name] = table as unknown as [string, string, string]
    const rest = statement.slice(head.length)
    const local = `${db}.${name}_local`
    const distributed = `CREATE TABLE IF NOT EXISTS ${db}.${name} ${on} AS ${local}\nENGINE = Distributed(${cluster}, ${db}, ${name}_local, ${SHARDING_KEYS[name] ?? 'rand()'})`
    const clone = /^AS\s+(\w+)\.(\w+)\s*$/i.exec(rest)
    if (clone) return [`CREATE TABLE IF NOT EXISTS ${local} ${on} AS ${clone[1]}.${clone[2]}_local`, distributed]
    const body = dedup(rest.replace(ENGINE, (_m, flavour: string) => `ENGINE = Replicated${flavour}MergeTree`))
    return [`CREATE TABLE IF NOT EXISTS ${local} ${on} ${body}`, distributed]
  }
  const view = CREATE_VIEW.exec(statement)
  if (view) {
    const [head, db, name, targetDb, target] = view as unknown as [string, string, string, string, string]
    const select = toLocal(statement.slice(head.length), database, tables)
    return [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${name} ${on} TO ${targetDb}.${target}_local ${select}`]
  }
  const alter = ALTER.exec(statement)
  if (alter) {
    const [head, db, name] = alter as unknown as [string, string, string]
    const action = statement.slice(head.length)
    if (!tables.has(name)) return [`ALTER TABLE ${db}.${name} ${on} ${toLocal(action, database, tables)}`] // a view: MODIFY QUERY
    const out = [`ALTER TABLE ${db}.${name}_local ${on} ${dedup(action)}`]
    // A Distributed table mirrors the columns (not indexes, TTLs or settings) of its local table.
    if (/^ADD\s+COLUMN\b/i.test(action)) out.push(`ALTER TABLE ${db}.${name} ${on} ${action}`)
    return out
  }
  // A plain view reads the Distributed tables, so every node answers it for the whole cluster.
  if (/^CREATE\s+VIEW\b/i.test(statement)) return [statement.replace(/^(CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+[\w.]+)/i, `$1 ${on}`)]
  if (/^CREATE\s+DATABASE\b/i.test(statement)) return [statement.replace(/IF NOT EXISTS\s+(\w+)/i, `IF NOT EXISTS $1 ${on}`)]
  return [statement]
}

/** A stuck distributed DDL queue: tasks unfinished for longer than this are reported. */
export const STUCK_DDL_MINUTES = 10

/** The query that finds stuck tasks (bound: `{cluster:String}`). */
export const STUCK_DDL_QUERY = `SELECT count() AS tasks, toString(min(query_create_time)) AS oldest, groupUniqArray(10)(host) AS hosts
FROM system.distributed_ddl_queue
WHERE cluster = {cluster:String} AND status != 'Finished' AND query_create_time < now() - INTERVAL ${STUCK_DDL_MINUTES} MINUTE`

/** A clear message for a stuck queue, or undefined when nothing is stuck. */
export function stuckDdlMessage(cluster: string, row: { tasks: number | string; oldest: string; hosts: readonly string[] } | undefined): string | undefined {
  const tasks = Number(row?.tasks ?? 0)
  if (!row || tasks === 0) return undefined
  return (
    `The distributed DDL queue of cluster ${cluster} has ${tasks} task(s) unfinished for over ${STUCK_DDL_MINUTES} minutes ` +
    `(oldest queued ${row.oldest}; hosts ${row.hosts.join(', ') || 'unknown'}). A host is down or stuck: check ` +
    `system.distributed_ddl_queue and system.clusters, bring the host back or remove it from the cluster, then start again. ` +
    `Migrations are idempotent and resume where they stopped.`
  )
}
