import type { ClickHouseClient } from '@clickhouse/client'
import { APPS } from '../catalog/index.js'
import { selectRows, type QueryParams } from './clickhouse.js'
import { storeCall } from './errors.js'

/**
 * Keeps the pre-aggregations (sql/0080, sql/0081) equal to the tables the reads they replace used to scan,
 * when rows leave those tables through the Data Sources API: the grid's hits counted `ecomm_events`,
 * analytics read the per-app tables. Truncating or deleting from one of them rebuilds the pre-aggregation
 * over the affected time range from what is left (its batch markers stay). The pre-aggregations
 * themselves are no datasources. A write that lands in the rebuilt range while it runs may be counted
 * twice (its view and the rebuild): these are administrative operations, run while the source is quiet.
 */
interface Derived {
  /** The pre-aggregation and its bucket column. */
  readonly table: string
  readonly bucket: string
  /** Start of the bucket holding a `timestamp` expression, and the bucket after `x`. */
  readonly floor: (x: string) => string
  readonly next: (x: string) => string
  /** Its rows derived from the source (batch markers excluded). */
  readonly scope: string
  /** The view whose query rebuilds it, and the table that query reads in place of the source. */
  readonly view: string
  readonly reads: string
}

const APP_DERIVED: ReadonlyArray<readonly [string, Derived]> = APPS.map((a) => [
  a.table,
  {
    table: 'app_events_hourly',
    bucket: 'bucket',
    floor: (x) => `toStartOfHour(${x})`,
    next: (x) => `toStartOfHour(${x}) + INTERVAL 1 HOUR`,
    scope: `event_type = '${a.name}'`,
    view: 'mat_app_events_hourly',
    reads: 'app_events',
  },
])

const DERIVED: ReadonlyMap<string, Derived> = new Map([
  [
    'ecomm_events',
    {
      table: 'ecomm_sales_second',
      bucket: 'second',
      floor: (x) => x,
      next: (x) => `${x} + INTERVAL 1 SECOND`,
      scope: "NOT startsWith(product, '\\0')",
      view: 'mat_ecomm_sales_second',
      reads: 'ecomm_events',
    },
  ],
  ...APP_DERIVED,
])

/** A time range of source rows, as ClickHouse DateTime64 text, or everything. */
export type AffectedRange = { readonly from: string; readonly to: string } | 'all' | undefined

export class RollupMaintenance {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    /** Where rows live and how DDL reaches every host (see DatasourceRepository). */
    private readonly local: (name: string) => string,
    private readonly onCluster: string,
  ) {}

  /** The timestamps the rows matching `where` span, read before they are deleted (undefined: nothing derives from `source`). */
  async affected(source: string, where: string, params: QueryParams): Promise<AffectedRange> {
    if (!DERIVED.has(source)) return undefined
    const [row] = await selectRows<{ n: string | number; from: string; to: string }>(
      this.client,
      `SELECT count() AS n, toString(min(timestamp)) AS from, toString(max(timestamp)) AS to FROM ${this.database}.${source} WHERE ${where}`,
      params,
    )
    return Number(row?.n ?? 0) === 0 || !row ? undefined : { from: row.from, to: row.to }
  }

  /** Rebuilds what derives from `source` over `range` from the rows `source` now holds. */
  async rebuild(source: string, range: AffectedRange): Promise<void> {
    const d = DERIVED.get(source)
    if (!d || range === undefined) return
    const db = this.database
    const inRange = (column: string, floor: (x: string) => string) =>
      range === 'all' ? '1' : `${column} >= ${floor(`toDateTime64({from:String}, 3, 'UTC')`)} AND ${column} < ${d.next(`toDateTime64({to:String}, 3, 'UTC')`)}`
    const params = range === 'all' ? {} : { from: range.from, to: range.to }
    const [view] = await selectRows<{ as_select: string }>(
      this.client,
      'SELECT as_select FROM system.tables WHERE database = {db:String} AND name = {view:String}',
      { db, view: d.view },
    )
    if (!view) return
    const from = new RegExp(`\\bFROM\\s+${db}\\.${d.reads}(_local)?\\b`)
    if (!from.test(view.as_select)) throw new Error(`cannot rebuild ${d.table}: its view does not read ${d.reads}`)
    const rows = `(SELECT *, _batch FROM ${db}.${source} WHERE ${inRange('timestamp', d.floor)})`
    const select = view.as_select.replace(from, `FROM ${rows}`)
    const columns = await selectRows<{ name: string }>(
      this.client,
      'SELECT name FROM system.columns WHERE database = {db:String} AND table = {view:String} ORDER BY position',
      { db, view: d.view },
    )
    await storeCall('rebuild', async () => {
      await this.client.command({
        query: `ALTER TABLE ${this.local(d.table)}${this.onCluster} DELETE WHERE ${d.scope} AND ${inRange(d.bucket, (x) => d.floor(x))}`,
        query_params: params,
        clickhouse_settings: { mutations_sync: '2' },
      })
      await this.client.command({
        query: `INSERT INTO ${db}.${d.table} (${columns.map((c) => c.name).join(', ')}) SELECT * FROM (${select}) WHERE ${d.scope}`,
        query_params: params,
        clickhouse_settings: { insert_deduplicate: 0, max_partitions_per_insert_block: '0', async_insert: 0 },
      })
    })
  }
}
