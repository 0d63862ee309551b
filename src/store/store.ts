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
  /** The grid as REST's `api_product_grid` answers it: ClickHouse's FORMAT JSON text, passed through. */
  productGridJson(query: GridQuery, lowStockThreshold: number, quote64BitIntegers: boolean): Promise<string>
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
  /**
   * Stock changes logged after `since`, oldest first; each has an id for de-duplication and its product's
   * stock at the time of the read (with `levels: false`, none: the log alone, a cheaper read).
   */
  stockChangesSince(since: Date, options?: { levels?: boolean }): Promise<LoggedStockChange[]>
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

/** An ingest result plus the stock changes it caused, for the live feed. */
export interface IngestOutcome extends IngestResult {
  readonly stockChanges: readonly StockChange[]
}
