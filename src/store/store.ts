import type { DatasourceRepository } from './datasources.js'
import type { QueryScope } from './query-stats.js'
import type { SqlRepository } from './sql-query.js'
import type {
  AppEventRow,
  EcommEventRow,
  ErrorLogEntry,
  IngestLogEntry,
  OperationStat,
  ServiceLogBatch,
  GridItem,
  GridQuery,
  IngestOptions,
  IngestResult,
  IngestTable,
  Product,
  ProductRow,
  QuarantinedRow,
  StockChange,
  LoggedStockChange,
  StockLevel,
  TokenRecord,
  TrendPoint,
  TrendQuery,
  UiFilterOption,
  WarehouseStockRow,
} from './types.js'
import type { AnalyticsQuery, AppMetricsRow, BreakdownCountQuery, BreakdownQuery, TimeseriesQuery } from './types.js'

/**
 * Everything Sightline asks of ClickHouse, in domain terms. One instance per process; it never
 * reveals whether it runs on embedded chDB or a server. Methods throw StoreUnavailableError when
 * the store fails and StoreInputError for requests it cannot serve.
 */
export interface Store {
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<{ applied: string[] }>
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>
  /**
   * The engine's memory now, in bytes, from its `system.metrics`: `tracked` (MemoryTracking: everything it
   * accounts for, queries, merges and caches) and each cache's size by name (`mark_cache`, …; empty caches left out).
   */
  engineMemory(): Promise<ReadonlyMap<string, number>>
  close(): Promise<void>
  /**
   * Runs `fn` so that every statement it causes is done for `scope`: tagged with the request's id as its
   * ClickHouse `query_id`, cancelled by its signal, and counted in its statistics.
   */
  forRequest<T>(scope: QueryScope, fn: () => T): T
  /**
   * Empties every data table (datasources, quarantine, views' targets, the stock change log and the
   * idempotency records); tokens, service logs and migrations stay. Returns the tables emptied.
   */
  resetData(): Promise<string[]>

  // ---- tokens
  insertToken(token: TokenRecord): Promise<void>
  /** The live (not revoked) token with this hash, if any; expiry is the caller's to check. */
  findTokenByHash(hash: string): Promise<TokenRecord | null>
  /** Revokes by name; false when no live token has it. */
  revokeToken(name: string): Promise<boolean>
  tokenNameExists(name: string): Promise<boolean>
  /** Every live (not revoked) token, expired ones included, by name; never a hash. */
  listTokens(): Promise<Array<Omit<TokenRecord, 'hash'>>>

  // ---- ecommerce reads
  products(category: string | undefined, limit: number, offset: number): Promise<Product[]>
  /** One entry per id, in order; null where the product does not exist. */
  productsByIds(ids: readonly string[]): Promise<Array<Product | null>>
  /** One entry per id, in order; products never stocked have 0. */
  stock(ids: readonly string[]): Promise<StockLevel[]>
  /** Sale events in the last hour, one count per id, in order. */
  recentSales(ids: readonly string[]): Promise<number[]>
  productGrid(query: GridQuery, lowStockThreshold: number): Promise<GridItem[]>
  /** The grid as REST's `api_product_grid` answers it: FORMAT JSON's envelope as ClickHouse writes it (unindented), passed through. */
  productGridJson(query: GridQuery, lowStockThreshold: number, quote64BitIntegers: boolean): Promise<Buffer>
  /**
   * The grid's items as one JSON array (ClickHouse's bytes, never decoded): each object has `fields`, as
   * `[key, GridItem field]`, with the values productGrid gives them. Fails when a value would not fit (a
   * non-finite price, stock or hits outside 32 bits): productGrid then reports it.
   */
  productGridRows(query: GridQuery, lowStockThreshold: number, fields: ReadonlyArray<readonly [key: string, field: keyof GridItem]>): Promise<Buffer>
  productFilterOptions(category: string): Promise<UiFilterOption[]>
  ecommTrend(query: TrendQuery): Promise<TrendPoint[]>

  // ---- app analytics
  analyticsTotals(query: AnalyticsQuery): Promise<AppMetricsRow>
  analyticsBreakdown(query: BreakdownQuery): Promise<Array<{ value: string; metrics: AppMetricsRow }>>
  /** How many rows `analyticsBreakdown` would return without a limit. */
  analyticsBreakdownCount(query: BreakdownCountQuery): Promise<number>
  analyticsTimeseries(query: TimeseriesQuery): Promise<Array<{ start: Date; metrics: AppMetricsRow }>>

  // ---- ingest: validates each row, quarantines the bad ones, stores the good ones durably
  ingestEcommEvents(rows: readonly EcommEventRow[], options?: IngestOptions): Promise<IngestOutcome>
  ingestWarehouseStock(rows: readonly WarehouseStockRow[], options?: IngestOptions): Promise<IngestOutcome>
  upsertProducts(rows: readonly ProductRow[], options?: IngestOptions): Promise<IngestOutcome>
  ingestAppEvents(rows: readonly AppEventRow[], options?: IngestOptions): Promise<IngestOutcome>
  /**
   * Records a transport read (an NDJSON body's lines) into `table` in one pass: each read by the source,
   * checked by the same rules as the typed rows and written straight to the insert. Rows that break a
   * rule, then records the source cannot read, are quarantined raw (`line N: reason`); errors are
   * indexed by line (from 0). `rejected` and `sources` of the options are not used.
   */
  ingestRecords(table: IngestTable, source: RecordSource, options?: IngestOptions): Promise<IngestOutcome>
  quarantine(table: IngestTable, limit: number): Promise<QuarantinedRow[]>

  // ---- service data
  /** Appends one batch of operation, ingest and error records. */
  writeServiceLog(batch: ServiceLogBatch): Promise<void>
  /** Keeps service records for `days` days; changes only tables whose TTL differs and names them. */
  setServiceLogTtl(days: number): Promise<string[]>
  operationStats(from: Date, to: Date): Promise<OperationStat[]>
  /** Newest first. */
  ingestLog(limit: number): Promise<IngestLogEntry[]>
  /** Newest first. */
  errorLog(limit: number): Promise<ErrorLogEntry[]>

  // ---- live stock
  /** Stock changes logged after `since`, oldest first; each has an id for de-duplication. */
  stockChangesSince(since: Date): Promise<LoggedStockChange[]>
  /**
   * Runs reads that must see whole writes (the change log and the stock levels it is read with): no
   * ingest of this process is half-way through while `read` runs.
   */
  betweenWrites<T>(read: () => Promise<T>): Promise<T>

  /** Whole-table administration of datasources (schema, truncate, delete). */
  readonly datasources: DatasourceRepository

  /** Callers' read-only SQL (`/v0/sql`), over what the domain allows. */
  readonly sqlApi: SqlRepository
}

/**
 * Records of a body a transport read (NDJSON lines), for the store to check and write in one pass: the
 * transport (the domain's reading of Tinybird records) knows where the values are, the store the rules.
 */
export interface RecordSource {
  /** How many records `each` visits (what the batch limit counts). */
  readonly size: number
  /** The row fields `read` fills (the datasource's columns that clients send). */
  readonly fields: readonly string[]
  /** Visits each record in order: its raw text, its line (from 1), and its object (undefined when unreadable, with why). */
  each(visit: (raw: string, line: number, record: Record<string, unknown> | undefined, reason?: string) => void): void
  /** Fills `row` (by field name; timestamps as epoch milliseconds or null) from `record`; returns why it cannot, else undefined. */
  read(record: Record<string, unknown>, row: Record<string, unknown>): string | undefined
}

/** An ingest result plus the stock changes it caused, for the live feed. */
export interface IngestOutcome extends IngestResult {
  readonly stockChanges: readonly StockChange[]
  /**
   * The id the change log carries for this write's changes (`LoggedStockChange.write`): set when the write
   * stored them all itself just now (not a retry completing an earlier attempt), so the live feed can send
   * them at once and skip them in the log.
   */
  readonly writeId?: string | undefined
}
