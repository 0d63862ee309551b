/** Domain types of the store. No GraphQL here: resolvers map these to schema types. */
import { APPS as APP_ENTRIES, DIMENSIONS, ECOMM_EVENT_TYPES, LANDING, type AppName, type DimensionField, type Granularity, type StockStatus } from '../catalog/index.js'

export type { DimensionField, Granularity, StockStatus }
export type GridRanking = 'TRENDING' | 'PRICE'
export type EcommEventType = (typeof ECOMM_EVENT_TYPES)[number]
/** An app's row name (the apps catalog). */
export type App = AppName

export const APPS: readonly App[] = APP_ENTRIES.map((a) => a.name)

/** The datasources that take writes, by their table name (the catalog's landing datasources). */
export type IngestTable = 'ecomm_events' | 'warehouse_stock' | 'products' | 'app_events'
export const INGEST_TABLES: readonly IngestTable[] = LANDING.map((d) => d.name as IngestTable)

export interface Product {
  readonly id: string
  readonly category: string
  readonly name: string
  readonly photo: string
  readonly price: number
}

export interface StockLevel {
  readonly product: string
  readonly available: number
}

export interface GridItem extends Product {
  readonly stock: number
  /** The stock exactly, as ClickHouse's Int64 in decimal (for values outside Int's 32 bits). */
  readonly stockExact: string
  readonly stockStatus: StockStatus
  readonly hits: number
  readonly trending: boolean
  /** "Trending 🔥" for trending products, else null (the seed's rank_status). */
  readonly rankStatus: string | null
}

export interface GridQuery {
  readonly category: string
  readonly showOutOfStock: boolean
  readonly ranking: GridRanking
}

export interface UiFilterOption {
  readonly id: string | null
  readonly value: string
}

export interface TrendQuery {
  readonly product: string | undefined
  readonly category: string
  readonly from: Date
  readonly to: Date
  readonly granularity: Granularity
  readonly timezone: string
}

export interface TrendPoint {
  readonly start: Date
  readonly views: number
  readonly carts: number
  readonly sales: number
  readonly revenue: number
}

/** A stored API token. The secret itself is never kept, only its SHA-256. */
export interface TokenRecord {
  readonly name: string
  readonly hash: string
  readonly scopes: readonly string[]
  readonly workspaceId: string | null
  readonly createdAt: Date
  readonly expiresAt: Date | null
}

// ---- ingest ----------------------------------------------------------------------------------

export interface EcommEventRow {
  readonly timestamp?: Date | null | undefined
  readonly event: EcommEventType
  readonly product: string
}

export interface WarehouseStockRow {
  readonly timestamp?: Date | null | undefined
  readonly product: string
  readonly store: string
  readonly amount: number
}

export interface ProductRow {
  readonly id: string
  readonly category: string
  readonly name: string
  readonly photo?: string | null | undefined
  readonly price: number
}

/** The dimensions of an app event, by their GraphQL field names (the dimensions catalog). */
export const DIMENSION_FIELDS: readonly DimensionField[] = DIMENSIONS.map((d) => d.field)

export type AppEventRow = {
  readonly timestamp?: Date | null | undefined
  readonly app: App
  readonly action: string
  readonly workspaceId: string
  readonly sessionId: string
  readonly visitorId: string
  readonly assetId?: string | null | undefined
  readonly revenue?: number | null | undefined
} & { readonly [K in DimensionField]?: string | null | undefined }

export interface RowError {
  readonly index: number
  readonly message: string
}

export interface IngestResult {
  readonly accepted: number
  readonly quarantined: number
  readonly errors: readonly RowError[]
  readonly deduplicated: boolean
}

export interface IngestOptions {
  /** A retried batch with the same key is stored once. */
  readonly idempotencyKey?: string | undefined
  /** When set, app events of any other workspace are quarantined. */
  readonly workspaceId?: string | undefined
  /** The token name, for the ingest log. */
  readonly tokenName?: string | undefined
  /**
   * Give an unkeyed write that moves stock an id in the change log (`IngestOutcome.writeId`), for the
   * live feed to send its changes without reading the log. It is one more column on every row (~7% of
   * the insert's time in `bench:ingest`), so it is asked for only while someone is subscribed. A keyed
   * write always has one (its batch id).
   */
  readonly withWriteId?: boolean | undefined
  /**
   * Records a transport refused before they could be read as rows (an NDJSON line that is not JSON, a
   * value no input field can hold). They are quarantined as received, with their reason, in the same
   * idempotent write, and reported as if they followed the batch's rows (index `rows.length + i`).
   */
  readonly rejected?: readonly RejectedRecord[] | undefined
  /**
   * Where each input came from (the rows, then the rejected records), for its quarantine entry: the raw
   * text a client sent (an NDJSON line, a CSV record) and a label for the reason (`line 3`). Without it
   * a bad row is quarantined as JSON of the row, its reason labelled `row <index>`.
   */
  readonly sources?: ReadonlyArray<RowSource | undefined> | undefined
}

/** The raw text of one input row as a client sent it, and its label in quarantine reasons. */
export interface RowSource {
  readonly row: string
  readonly label: string
}

/** A record refused before it became a row: its raw text and why. */
export interface RejectedRecord {
  readonly row: string
  readonly reason: string
}

export interface QuarantinedRow {
  readonly table: IngestTable
  readonly row: string
  readonly reason: string
  readonly at: Date
}

/** Per-product stock change, as published to live subscribers. */
export interface StockChange {
  readonly product: string
  readonly delta: number
}

/** A change as the change log holds it: its id (for de-duplication), when it was logged, and the write it came from. */
export interface LoggedStockChange extends StockChange {
  readonly id: string
  readonly at: Date
  /** The id of the gateway write it came from (`IngestOutcome.writeId`), or '' (a write that bypassed the gateway). */
  readonly write: string
}

// ---- service data (Tinybird's pipe_stats_rt, datasources_ops_log, endpoint_errors)

/** One GraphQL operation as the operation log keeps it. */
export interface OperationLogEntry {
  readonly at: Date
  readonly requestId: string
  readonly operation: string
  /** The token's name (never its secret); empty when anonymous. */
  readonly token: string
  readonly durationMs: number
  readonly rowsRead: number
  readonly bytesRead: number
  /** The first error's code; empty on success. */
  readonly errorCode: string
}

/** One ingest batch as the ingest log keeps it. */
export interface IngestLogEntry {
  readonly at: Date
  readonly table: IngestTable
  readonly rows: number
  readonly quarantined: number
  readonly durationMs: number
  readonly token: string
  readonly deduplicated: boolean
}

/** One error answered to a client, as the error log keeps it (messages are the masked ones). */
export interface ErrorLogEntry {
  readonly at: Date
  readonly requestId: string
  readonly operation: string
  readonly code: string
  readonly message: string
}

export interface ServiceLogBatch {
  readonly operations: readonly OperationLogEntry[]
  readonly ingests: readonly IngestLogEntry[]
  readonly errors: readonly ErrorLogEntry[]
}

/** Per-operation statistics over a time range. */
export interface OperationStat {
  readonly operation: string
  readonly calls: number
  readonly errors: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly rowsRead: number
}

// Analytics queries and answers (the SQL behind them is in ./analytics.ts).

/** Filter keys: every dimension plus the asset. */
export type FilterField = DimensionField | 'assetId'

/**
 * Equality filters: the filter keys and `sessionReferer`. Each event carries its session's attribution
 * (SPEC §2), so the session referer is the event's `referer` column, matched like `referer`.
 */
export type EqualityFilterField = FilterField | 'sessionReferer'

/** List filters: a row matches when its column holds one of the values (an empty list matches nothing). */
export type ListFilterField = 'platforms' | 'actions'

export type AnalyticsFilter = Partial<Record<EqualityFilterField, string>> & Partial<Record<ListFilterField, readonly string[]>>

export interface AnalyticsQuery {
  readonly app: App
  readonly workspaceId: string
  readonly from: Date
  readonly to: Date
  readonly filter: AnalyticsFilter
}

export interface BreakdownQuery extends AnalyticsQuery {
  readonly by: DimensionField
  readonly limit: number
}

/** A breakdown without its limit: how many rows it has. */
export type BreakdownCountQuery = Omit<BreakdownQuery, 'limit'>

export interface TimeseriesQuery extends AnalyticsQuery {
  readonly granularity: Granularity
  readonly timezone: string
}

/** Exact counts for an app: `actions` maps each of the app's actions to its distinct sessions. */
export interface AppMetricsRow {
  readonly events: number
  readonly sessions: number
  readonly visitors: number
  readonly actions: Readonly<Record<string, number>>
  readonly revenue: number
}
