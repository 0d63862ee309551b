/**
 * Keyed batches: their settings, ids, slices and the ledger that finds what an interrupted attempt left.
 * Just over 300 lines because the ledger and the encoding it checks must agree on every column and id.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { insertRows, selectRows, type InsertSettings } from './clickhouse.js'
import { StoreUnavailableError, storeCall } from './errors.js'
import type { RowError } from './types.js'

/**
 * Settings of every insert of a keyed batch: the hidden `_batch` column is writable, and the rows are
 * read as one block (no parallel parsing, no split below the batch limit), so each table and view gets
 * exactly one part per partition. A part is renamed into place atomically, so "the batch's rows are in
 * this table" is then all or nothing, which is what a retry checks.
 */
export const KEYED_INSERT: InsertSettings = {
  insert_allow_materialized_columns: 1,
  input_format_parallel_parsing: 0,
  max_insert_block_size: 1_048_576,
}

/** `KEYED_INSERT` for `rows` rows: the block limit never below the insert's size (SIGHTLINE_MAX_BATCH may exceed 1 Mi). */
export function keyedInsert(rows: number): InsertSettings {
  return rows > 1_048_576 ? { ...KEYED_INSERT, max_insert_block_size: rows } : KEYED_INSERT
}

/** The id a keyed batch's rows carry in `_batch`: a digest of its table and (caller-scoped) key. */
export function batchId(table: string, key: string): string {
  return createHash('sha256').update(`${table}\n${key}`).digest('hex').slice(0, 32)
}

/**
 * One insert of a keyed batch: its rows of one month. Every partition key of the datasources and their
 * views (year, month, day of insertion, none) is constant within a month, so one slice is one part in
 * each table and view it reaches.
 */
export interface Slice {
  readonly id: string
  readonly rows: unknown[][]
}

/** Splits encoded rows into slices by `monthOf` (one slice when it is absent), each row ending in its slice id. */
export function slices(id: string, rows: readonly unknown[][], monthOf: ((row: unknown[]) => string) | undefined): Slice[] {
  const out = new Map<string, unknown[][]>()
  for (const row of rows) {
    const sliceId = monthOf ? `${id}.${monthOf(row)}` : id
    let list = out.get(sliceId)
    if (!list) out.set(sliceId, (list = []))
    list.push([...row, sliceId])
  }
  return [...out].map(([sliceId, list]) => ({ id: sliceId, rows: list }))
}

/** The columns of a keyed batch's quarantine rows, in order (the hidden one is only written when named). */
export const QUARANTINE_COLUMNS = ['row', 'reason', 'at', '_batch'] as const

/** The quarantine rows of a batch carry this id. */
export const quarantineId = (id: string): string => `${id}.q`

/** A materialized view of a datasource: where it writes, its query, and how a batch is found in its target. */
interface View {
  readonly name: string
  readonly target: string
  readonly select: string
  readonly columns: readonly string[]
  /** Aggregating targets (rows merge) hold one marker row per batch (`product = '\0' || id`) instead of `_batch`. */
  readonly marker: boolean
}

const MARKER = '\0'

/**
 * What a keyed batch left in the store, and the repair of what it did not. A crash can stop a batch
 * between any two of its parts (table, quarantine, each view, the change log, the batch record); each
 * part is whole or absent. A retry counts what landed by the batch's id, and fills in only the parts
 * that are missing: the quarantine and an upsert directly, a datasource's own rows through a staging
 * table and `ATTACH PARTITION … FROM` (which fires no view), and each missing view by running the
 * view's own query over the staged rows. ClickHouse's deduplication log is never consulted.
 */
export class BatchLedger {
  private readonly views = new Map<string, Promise<View[]>>()

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  private name(table: string): string {
    return `${this.database}.${table}`
  }

  /**
   * Rows of the batch in the datasource, its quarantine and every view target: by the ids of its slices
   * and its quarantine (a retry sends the same rows, so the same slices), and the slices' markers.
   */
  async traces(table: string, ids: readonly string[]): Promise<number> {
    const rows = await selectRows<{ n: string }>(this.client, await this.tracesQuery(table), { ids, markers: ids.map((id) => MARKER + id) })
    return rows.reduce((sum, r) => sum + Number(r.n), 0)
  }

  /**
   * In one statement: the recorded result of the keyed batch `key` of `table` if it is stored, and else
   * its `traces` (what an earlier attempt left of it; 0 with a record, where they do not matter).
   */
  async lookup(
    table: string,
    key: string,
    ids: readonly string[],
  ): Promise<{ record: { accepted: number; quarantined: number; errors: RowError[]; recovered: boolean } | null; traces: number }> {
    const query = `SELECT 1 AS found, accepted, quarantined, errors, recovered, toUInt64(0) AS n
FROM ${this.name('ingest_batches')} FINAL WHERE table = {table:String} AND key = {key:String}
LIMIT 1
UNION ALL
SELECT 0 AS found, toUInt32(0) AS accepted, toUInt32(0) AS quarantined, '' AS errors, toUInt8(0) AS recovered, toUInt64(sum(n)) AS n
FROM (${await this.tracesQuery(table)})`
    const rows = await selectRows<{ found: number; accepted: number; quarantined: number; errors: string; recovered: number; n: string }>(this.client, query, {
      table,
      key,
      ids,
      markers: ids.map((id) => MARKER + id),
    })
    const found = rows.find((r) => Number(r.found) === 1)
    const record = found
      ? { accepted: Number(found.accepted), quarantined: Number(found.quarantined), errors: JSON.parse(found.errors) as RowError[], recovered: Number(found.recovered) === 1 }
      : null
    return { record, traces: record ? 0 : rows.reduce((sum, r) => sum + Number(r.n), 0) }
  }

  /** One row (`n`) per table the batch reaches: its rows in the datasource, its quarantine and each view target. */
  private async tracesQuery(table: string): Promise<string> {
    const views = await this.viewsOf(table)
    return [
      `SELECT count() AS n FROM ${this.name(table)} WHERE _batch IN {ids:Array(String)}`,
      `SELECT count() AS n FROM ${this.name(`${table}_quarantine`)} WHERE _batch IN {ids:Array(String)}`,
      ...views.map((v) => `SELECT count() AS n FROM ${v.target} WHERE ${v.marker ? 'product IN {markers:Array(String)}' : '_batch IN {ids:Array(String)}'}`),
    ].join('\nUNION ALL\n')
  }

  /**
   * Completes a batch some of whose parts are already stored. Returns true when anything was missing
   * (so the first attempt had not fully landed). Callers serialize repairs of one datasource.
   */
  async repair(
    table: string,
    columns: readonly [string, ...string[]],
    parts: readonly Slice[],
    quarantine: { id: string; rows: readonly unknown[][] },
  ): Promise<boolean> {
    let repaired = false
    if (quarantine.rows.length > 0) {
      const n = await this.count(this.name(`${table}_quarantine`), '_batch = {id:String}', quarantine.id)
      if (n === 0) {
        await insertRows(this.client, this.name(`${table}_quarantine`), quarantine.rows, undefined, QUARANTINE_COLUMNS, keyedInsert(quarantine.rows.length))
        repaired = true
      } else if (n !== quarantine.rows.length) {
        throw new StoreUnavailableError(`batch ${quarantine.id} is partly in ${table}_quarantine (${n} of ${quarantine.rows.length} rows)`)
      }
    }
    const views = await this.viewsOf(table)
    for (const part of parts) {
      const stored = await this.count(this.name(table), '_batch = {id:String}', part.id)
      // Upserts (ReplacingMergeTree) may have merged some of the batch's rows away: any row means landed.
      if (views.length === 0) {
        if (stored === 0) {
          await insertRows(this.client, this.name(table), part.rows, undefined, columns, keyedInsert(part.rows.length))
          repaired = true
        }
        continue
      }
      if (stored !== 0 && stored !== part.rows.length) {
        throw new StoreUnavailableError(`batch ${part.id} is partly in ${table} (${stored} of ${part.rows.length} rows)`)
      }
      const missing: View[] = []
      for (const v of views) if ((await this.count(v.target, identity(v), part.id)) === 0) missing.push(v)
      if (stored !== 0 && missing.length === 0) continue
      repaired = (await this.repairThroughStage(table, columns, part, stored === 0, missing)) || repaired
    }
    return repaired
  }

  private async repairThroughStage(
    table: string,
    columns: readonly [string, ...string[]],
    part: Slice,
    attach: boolean,
    views: readonly View[],
  ): Promise<boolean> {
    const stage = this.name(`${table}_repair`)
    const run = (query: string, settings: InsertSettings = {}, params: Record<string, unknown> = {}) =>
      storeCall(`repair of ${table}`, () => this.client.command({ query, query_params: params, clickhouse_settings: { ...settings } }))
    const [shape] = await selectRows<{ partition_key: string; sorting_key: string }>(
      this.client,
      'SELECT partition_key, sorting_key FROM system.tables WHERE database = {db:String} AND name = {name:String}',
      { db: this.database, name: table },
    )
    if (!shape) throw new StoreUnavailableError(`no table ${table}`)
    let repaired = false
    await run(`DROP TABLE IF EXISTS ${stage} SYNC`)
    // A plain MergeTree of the same columns and partitioning: no views, no deduplication window. Its
    // parts become the datasource's by hard links, so they are fsynced here whatever the durability.
    await run(
      `CREATE TABLE ${stage} AS ${this.name(table)} ENGINE = MergeTree ` +
        `PARTITION BY ${shape.partition_key} ORDER BY (${shape.sorting_key}) ` +
        'SETTINGS fsync_after_insert = 1, fsync_part_directory = 1',
    )
    try {
      if (attach) {
        await insertRows(this.client, stage, part.rows, undefined, columns, keyedInsert(part.rows.length))
      } else {
        // The datasource has the slice: rebuild views from the rows stored, not from the retry's copy
        // (rows without a timestamp are stamped when checked, so a retry's may differ).
        const list = columns.join(', ')
        await run(
          `INSERT INTO ${stage} (${list}) SELECT ${list} FROM ${this.name(table)} WHERE _batch = {id:String}`,
          { insert_deduplication_token: randomUUID(), insert_allow_materialized_columns: 1, async_insert: 0 },
          { id: part.id },
        )
      }
      if (attach) {
        const partitions = await selectRows<{ id: string }>(this.client, `SELECT DISTINCT _partition_id AS id FROM ${stage}`)
        for (const { id } of partitions) {
          if (!/^\w+$/.test(id)) throw new StoreUnavailableError(`unexpected partition id ${JSON.stringify(id)}`)
          await run(`ALTER TABLE ${this.name(table)} ATTACH PARTITION ID '${id}' FROM ${stage}`)
        }
        repaired = true
      }
      for (const v of views) {
        const select = overStage(v, this.name(table), stage)
        const [row] = await selectRows<{ n: string }>(this.client, `SELECT count() AS n FROM (${select})`)
        if (Number(row?.n ?? 0) === 0) continue
        await run(`INSERT INTO ${v.target} (${v.columns.join(', ')}) ${select}`, {
          insert_deduplication_token: randomUUID(),
          insert_deduplicate: 1,
          insert_allow_materialized_columns: 1,
          async_insert: 0,
        })
        repaired = true
      }
    } finally {
      await run(`DROP TABLE IF EXISTS ${stage} SYNC`)
    }
    return repaired
  }

  private async count(table: string, where: string, id: string): Promise<number> {
    const [row] = await selectRows<{ n: string }>(this.client, `SELECT count() AS n FROM ${table} WHERE ${where}`, {
      id,
      marker: MARKER + id,
    })
    return Number(row?.n ?? 0)
  }

  /** The materialized views reading `table`, from the catalog (cached: views change only by migration). */
  private viewsOf(table: string): Promise<View[]> {
    let views = this.views.get(table)
    if (!views) {
      views = this.loadViews(table)
      views.catch(() => this.views.delete(table))
      this.views.set(table, views)
    }
    return views
  }

  private async loadViews(table: string): Promise<View[]> {
    const rows = await selectRows<{ name: string; as_select: string; create_table_query: string }>(
      this.client,
      `SELECT name, as_select, create_table_query FROM system.tables
       WHERE database = {db:String} AND engine = 'MaterializedView'
         AND name IN (SELECT arrayJoin(dependencies_table) FROM system.tables WHERE database = {db:String} AND name = {table:String})
       ORDER BY name`,
      { db: this.database, table },
    )
    const views: View[] = []
    for (const r of rows) {
      const target = /\bTO\s+([\w.`]+)/.exec(r.create_table_query)?.[1]?.replaceAll('`', '')
      if (!target) throw new StoreUnavailableError(`materialized view ${r.name} has no TO table`)
      const columns = await this.columnsOf(r.name)
      const targetColumns = await this.columnsOf(target.slice(target.indexOf('.') + 1))
      const marker = !targetColumns.includes('_batch')
      if (marker && !targetColumns.includes('product')) throw new StoreUnavailableError(`view target ${target} has neither _batch nor product`)
      views.push({ name: r.name, target, select: r.as_select, columns, marker })
    }
    return views
  }

  private async columnsOf(table: string): Promise<string[]> {
    const rows = await selectRows<{ name: string }>(
      this.client,
      'SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String} ORDER BY position',
      { db: this.database, table },
    )
    return rows.map((r) => r.name)
  }
}

/** How a slice's rows are found in a view's target: by `_batch`, or by its marker row. */
function identity(v: View): string {
  return v.marker ? 'product = {marker:String}' : '_batch = {id:String}'
}

/** The view's own query reading the staged rows instead of the datasource. */
function overStage(v: View, source: string, stage: string): string {
  const from = new RegExp(`\\bFROM\\s+${source.replace('.', '\\.')}\\b`, 'g')
  const matches = v.select.match(from)?.length ?? 0
  if (matches !== 1) throw new StoreUnavailableError(`cannot re-run view ${v.name} over staged rows (${matches} reads of ${source})`)
  return v.select.replace(from, `FROM ${stage}`)
}
