import type { ClickHouseClient } from '@clickhouse/client'
import { randomUUID } from 'node:crypto'
import { insertRows, selectRows, toChDateTime64, type QueryParams } from './clickhouse.js'
import { storeCall } from './errors.js'
import { RollupMaintenance } from './rollups.js'
import type { StockChange } from './types.js'

/** A column as a client sees it: hidden (MATERIALIZED, ALIAS) columns are left out, as `SELECT *` does. */
export interface ColumnInfo {
  readonly name: string
  readonly type: string
}

export interface TableInfo {
  readonly name: string
  readonly engine: string
  readonly columns: readonly ColumnInfo[]
  readonly rows: number
  readonly bytes: number
  /** The MergeTree that holds the rows (on a cluster, the shards' `<name>_local`): its engine and keys. */
  readonly storage: TableStorage
}

export interface TableStorage {
  /** The engine without `Replicated` (`MergeTree`, `ReplacingMergeTree`, …), as a datafile names it. */
  readonly engine: string
  /** The engine's own arguments (a replicated engine's path and replica left out). */
  readonly args: readonly string[]
  readonly sortingKey: string
  readonly partitionKey: string
  readonly primaryKey: string
}

/**
 * Datasource administration (Tinybird's Data Sources API) over whole tables: their schema, truncation,
 * deletion by a condition the caller has already turned into SQL with bound values. Table names come
 * from the catalog, never from requests.
 */
export class DatasourceRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly cluster: string | undefined,
    /** On a sharded cluster, rows live in `<name>_local` on each shard (see cluster.ts). */
    private readonly sharded = false,
  ) {
    this.rollups = new RollupMaintenance(client, database, (name) => this.table(sharded ? `${name}_local` : name), this.onCluster)
  }

  /** Rebuilds the pre-aggregations derived from a table rows leave (sql/0080, sql/0081). */
  private readonly rollups: RollupMaintenance

  private table(name: string): string {
    return `${this.database}.${name}`
  }

  private get onCluster(): string {
    return this.cluster ? ` ON CLUSTER ${this.cluster}` : ''
  }

  /** Schema and size of the named tables that exist, in the order asked. */
  async describe(names: readonly string[]): Promise<TableInfo[]> {
    const [columns, tables] = await Promise.all([
      selectRows<{ table: string; name: string; type: string }>(
        this.client,
        `SELECT table, name, type FROM system.columns
         WHERE database = {db:String} AND table IN {names:Array(String)} AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')
         ORDER BY table, position`,
        { db: this.database, names },
      ),
      selectRows<{ name: string; engine: string; engine_full: string; sorting_key: string; partition_key: string; primary_key: string; rows: string | number | null; bytes: string | number | null }>(
        this.client,
        `SELECT name, engine, engine_full, sorting_key, partition_key, primary_key, total_rows AS rows, total_bytes AS bytes FROM system.tables
         WHERE database = {db:String} AND name IN {names:Array(String)}`,
        { db: this.database, names: [...names, ...names.map((n) => `${n}_local`)] },
      ),
    ])
    const byTable = new Map<string, ColumnInfo[]>()
    for (const c of columns) byTable.set(c.table, [...(byTable.get(c.table) ?? []), { name: c.name, type: c.type }])
    const info = new Map(tables.map((t) => [t.name, t]))
    return names.flatMap((name) => {
      const t = info.get(name)
      if (!t) return []
      const held = t.engine === 'Distributed' ? (info.get(`${name}_local`) ?? t) : t
      const replicated = held.engine.startsWith('Replicated')
      const storage = {
        engine: replicated ? held.engine.slice('Replicated'.length) : held.engine,
        args: engineArgs(held.engine_full).slice(replicated ? 2 : 0),
        sortingKey: held.sorting_key,
        partitionKey: held.partition_key,
        primaryKey: held.primary_key,
      }
      return [{ name, engine: t.engine, columns: byTable.get(name) ?? [], rows: Number(t.rows ?? 0), bytes: Number(t.bytes ?? 0), storage }]
    })
  }

  async truncate(name: string): Promise<void> {
    const table = this.table(this.sharded ? `${name}_local` : name)
    await storeCall('truncate', () => this.client.command({ query: `TRUNCATE TABLE IF EXISTS ${table}${this.onCluster}` }))
    await this.rollups.rebuild(name, 'all')
  }

  /** Rows matching `where` (SQL over the table's columns with `{name:Type}` placeholders for `params`). */
  async count(name: string, where: string, params: QueryParams): Promise<number> {
    const [row] = await selectRows<{ n: string | number }>(this.client, `SELECT count() AS n FROM ${this.table(name)} WHERE ${where}`, params)
    return Number(row?.n ?? 0)
  }

  /** Deletes the rows matching `where` (a mutation that completes before this resolves). */
  async delete(name: string, where: string, params: QueryParams): Promise<void> {
    const affected = await this.rollups.affected(name, where, params)
    await storeCall('delete', () =>
      this.client.command({
        query: `ALTER TABLE ${this.table(this.sharded ? `${name}_local` : name)}${this.onCluster} DELETE WHERE ${where}`,
        query_params: params,
        clickhouse_settings: { mutations_sync: '2' },
      }),
    )
    await this.rollups.rebuild(name, affected)
  }

  /**
   * Every product whose stock level is not 0. The live feed reads this once a minute: compiling its
   * expressions (the engine JIT-compiles a statement's expressions from its fourth run) saves nothing at
   * that rate, and would bring the compiler's code, ~30 MB that the library trim had dropped, back into
   * the process for seconds, minutes after the start (the soak's RSS peak).
   */
  async stockLevels(): Promise<StockChange[]> {
    const rows = await selectRows<{ product: string; available: string | number }>(
      this.client,
      `SELECT product, toInt64(sum(available_stock)) AS available FROM ${this.table('mv_latest_availability')}
       GROUP BY product HAVING available != 0
       SETTINGS compile_expressions = 0, compile_aggregate_expressions = 0`,
    )
    return rows.map((r) => ({ product: r.product, delta: Number(r.available) }))
  }

  /** Writes stock movements to the live change log, as the materialized views do for inserts. */
  async logStockChanges(changes: readonly StockChange[]): Promise<void> {
    const now = toChDateTime64(new Date())
    await insertRows(
      this.client,
      this.table('stock_changes'),
      changes.map((c) => ({ change_id: randomUUID(), product: c.product, delta: c.delta, inserted_at: now })),
    )
  }
}

/** The arguments of `Engine(a, b, …)` at the start of system.tables' `engine_full`, split at top-level commas. */
export function engineArgs(engineFull: string): string[] {
  const open = engineFull.indexOf('(')
  if (open < 0 || !/^\w+$/.test(engineFull.slice(0, open))) return []
  const args: string[] = []
  let depth = 0
  let quote: string | null = null
  let start = open + 1
  for (let i = start; i < engineFull.length; i++) {
    const c = engineFull[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = null
    } else if (c === "'" || c === '"' || c === '`') quote = c
    else if (c === '(') depth++
    else if (c === ')' && depth > 0) depth--
    else if ((c === ',' || c === ')') && depth === 0) {
      const arg = engineFull.slice(start, i).trim()
      if (arg) args.push(arg)
      if (c === ')') return args
      start = i + 1
    }
  }
  return args
}
