import { ASSET, DIMENSIONS } from './dimensions.js'

/**
 * The datasources Sightline serves, as Tinybird's REST API names them: pure data, imported by every
 * layer and importing nothing outside the catalog. Landing datasources take rows (`/v0/events`,
 * `POST /v0/datasources`, the ingest mutations); materialized ones are written by ClickHouse
 * materialized views and can be read, truncated and deleted from, like Tinybird's materialized
 * datasources. The numbered DDL in `sql/` creates them; a test checks the live tables' columns
 * (`system.columns`) against the columns listed here.
 */

/** How a landing column's value is checked before it is stored (store/validate.ts applies them). */
export type ColumnRule =
  /** A date-time within [2000-01-01, now + 1 day]; absent means now. */
  | { readonly kind: 'timestamp' }
  /** A non-empty trimmed identifier of at most 256 characters, no NUL. */
  | { readonly kind: 'id' }
  /** Free text of at most 4096 characters; absent means ''. */
  | { readonly kind: 'text' }
  /** A finite, non-negative amount of money up to 1e12 (absent means 0 when optional). */
  | { readonly kind: 'money'; readonly optional?: boolean }
  /** A whole stock movement within ±1e9 that keeps the product's stock in Int32. */
  | { readonly kind: 'amount' }
  /** One of these values (case-insensitive in NDJSON). */
  | { readonly kind: 'choice'; readonly values: readonly string[] }
  /** An app's name (the apps catalog). */
  | { readonly kind: 'app' }
  /** One of the row's app's actions. */
  | { readonly kind: 'action' }
  /** The workspace (a bound token's rows must carry its own). */
  | { readonly kind: 'workspace' }
  /** Written by the store, not sent by clients (a product's version). */
  | { readonly kind: 'generated' }

export interface ColumnEntry {
  /** The ClickHouse column. */
  readonly name: string
  /** Its ClickHouse type, as `system.columns` reports it. */
  readonly type: string
  /** The GraphQL input field and the store's row key (landing columns that clients send). */
  readonly field?: string
  /** How the value is checked (landing columns). */
  readonly rule?: ColumnRule
  /** Further names an NDJSON or CSV record may give it (besides `name` and `field`). */
  readonly aliases?: readonly string[]
}

/**
 * Who reads a datasource through `/v0/sql` (Tinybird's Query API), and which of its rows: the scope
 * GraphQL asks for the same data; `rows` confines a reader to its workspace (`workspace`) or, for the
 * table of every app's events, to the apps it may read and its workspace (`apps`).
 */
export interface DatasourceRead {
  readonly scope: string
  readonly rows?: 'workspace' | 'apps'
  /** Read as `FINAL` (a table of upserts, read as its latest rows). */
  readonly final?: boolean
  /** The scope that reads its quarantine table (the built-in ones: admins only). */
  readonly quarantineScope?: string
}

export interface DatasourceEntry {
  /** The REST name, also the table name in its database. */
  readonly name: string
  /** A loaded project's database; absent for the built-in datasources (in the Sightline database). */
  readonly database?: string
  /** How `/v0/sql` reads it; absent: not readable there. */
  readonly read?: DatasourceRead
  readonly kind: 'landing' | 'materialized'
  readonly description: string
  readonly columns: readonly ColumnEntry[]
  /** The scope that appends rows (landing datasources). */
  readonly appendScope?: string
  /** Where rows that fail validation go (landing datasources only). */
  readonly quarantine?: string
  /** Rows written here change product stock (through materialized views). */
  readonly movesStock?: boolean
  /** True for the datasource whose rows are the current stock levels. */
  readonly holdsStock?: boolean
  /** Other names clients post to (the seed's `barely_events`). */
  readonly aliases?: readonly string[]
  /** The store keeps the insert's batch id in a hidden `_batch` column (exactly-once ingest). */
  readonly batchColumn?: boolean
  /** Aggregating views keep the hidden `marked_at` column of their batch markers. */
  readonly markerColumn?: boolean
}

/** The hidden columns the store adds: the batch id (landing tables, views) and a marker's time (aggregates). */
export const BATCH_COLUMN: ColumnEntry = { name: '_batch', type: 'String' }
export const MARKER_COLUMN: ColumnEntry = { name: 'marked_at', type: 'DateTime' }

/** The columns of every quarantine table: the row as received, why, and when. */
export const QUARANTINE_COLUMNS: readonly ColumnEntry[] = [
  { name: 'row', type: 'String' },
  { name: 'reason', type: 'String' },
  { name: 'at', type: "DateTime64(3, 'UTC')" },
]

const LC = 'LowCardinality(String)'
const READ_ECOMMERCE = 'read:ecommerce'
/** Dimensions kept as LowCardinality (few distinct values). */
const LOW_CARDINALITY = new Set(['browser', 'os', 'device', 'country', 'platform'])

/** The app-event columns, in table order: the event, the asset, the 16 dimensions, revenue. */
const APP_EVENT_COLUMNS: readonly ColumnEntry[] = [
  { name: 'timestamp', type: "DateTime64(3, 'UTC')", field: 'timestamp', rule: { kind: 'timestamp' } },
  { name: 'event_type', type: LC, field: 'app', rule: { kind: 'app' }, aliases: ['app'] },
  { name: 'action', type: LC, field: 'action', rule: { kind: 'action' } },
  { name: 'workspace_id', type: 'String', field: 'workspaceId', rule: { kind: 'workspace' } },
  { name: 'session_id', type: 'String', field: 'sessionId', rule: { kind: 'id' } },
  { name: 'visitor_id', type: 'String', field: 'visitorId', rule: { kind: 'id' } },
  { name: ASSET.column, type: 'String', field: ASSET.field, rule: { kind: 'text' } },
  ...DIMENSIONS.map((d): ColumnEntry => ({ name: d.column, type: LOW_CARDINALITY.has(d.column) ? LC : 'String', field: d.field, rule: { kind: 'text' } })),
  { name: 'revenue', type: 'Float64', field: 'revenue', rule: { kind: 'money', optional: true } },
]

const ROLLUP_COLUMNS: readonly ColumnEntry[] = [
  { name: 'bucket', type: "DateTime('UTC')" },
  { name: 'product', type: 'String' },
  { name: 'views', type: 'SimpleAggregateFunction(sum, UInt64)' },
  { name: 'carts', type: 'SimpleAggregateFunction(sum, UInt64)' },
  { name: 'sales', type: 'SimpleAggregateFunction(sum, UInt64)' },
]

/** The ecommerce event types, as rows carry them. */
export const ECOMM_EVENT_TYPES = ['view', 'cart', 'sale'] as const

export const DATASOURCES: readonly DatasourceEntry[] = [
  {
    name: 'ecomm_events',
    kind: 'landing',
    description: 'Ecommerce events: view, cart and sale of a product',
    appendScope: 'append:ecomm_events',
    quarantine: 'ecomm_events_quarantine',
    read: { scope: READ_ECOMMERCE, quarantineScope: 'admin' },
    movesStock: true,
    batchColumn: true,
    columns: [
      { name: 'timestamp', type: "DateTime('UTC')", field: 'timestamp', rule: { kind: 'timestamp' } },
      { name: 'event', type: LC, field: 'event', rule: { kind: 'choice', values: ECOMM_EVENT_TYPES } },
      { name: 'product', type: 'String', field: 'product', rule: { kind: 'id' } },
    ],
  },
  {
    name: 'warehouse_stock',
    kind: 'landing',
    description: 'Warehouse stock movements per product and store',
    appendScope: 'append:warehouse_stock',
    quarantine: 'warehouse_stock_quarantine',
    read: { scope: READ_ECOMMERCE, quarantineScope: 'admin' },
    movesStock: true,
    batchColumn: true,
    columns: [
      { name: 'timestamp', type: "DateTime('UTC')", field: 'timestamp', rule: { kind: 'timestamp' } },
      { name: 'product', type: 'String', field: 'product', rule: { kind: 'id' } },
      { name: 'store', type: 'String', field: 'store', rule: { kind: 'id' } },
      { name: 'amount', type: 'Int32', field: 'amount', rule: { kind: 'amount' } },
    ],
  },
  {
    name: 'products',
    kind: 'landing',
    description: 'The product catalog (upserted by id)',
    appendScope: 'append:products',
    quarantine: 'products_quarantine',
    read: { scope: READ_ECOMMERCE, final: true, quarantineScope: 'admin' },
    batchColumn: true,
    columns: [
      { name: 'id', type: 'String', field: 'id', rule: { kind: 'id' } },
      { name: 'category', type: 'String', field: 'category', rule: { kind: 'id' } },
      { name: 'name', type: 'String', field: 'name', rule: { kind: 'id' } },
      { name: 'photo', type: 'String', field: 'photo', rule: { kind: 'text' } },
      { name: 'price', type: 'Float64', field: 'price', rule: { kind: 'money' } },
      { name: 'version', type: 'UInt64', rule: { kind: 'generated' } },
    ],
  },
  {
    name: 'app_events',
    kind: 'landing',
    description: 'Events of the four apps of every workspace',
    appendScope: 'append:app_events',
    quarantine: 'app_events_quarantine',
    read: { scope: 'read:analytics', rows: 'apps', quarantineScope: 'admin' },
    aliases: ['barely_events'],
    batchColumn: true,
    columns: APP_EVENT_COLUMNS,
  },
  {
    name: 'mv_latest_availability',
    kind: 'materialized',
    description: 'Current stock per product: warehouse movements minus sales',
    holdsStock: true,
    markerColumn: true,
    read: { scope: READ_ECOMMERCE },
    columns: [
      { name: 'product', type: 'String' },
      { name: 'available_stock', type: 'SimpleAggregateFunction(sum, Int64)' },
    ],
  },
  { name: 'ecomm_rollup_minute', kind: 'materialized', description: 'Views, carts and sales per product and minute', markerColumn: true, read: { scope: READ_ECOMMERCE }, columns: ROLLUP_COLUMNS },
  { name: 'ecomm_rollup_hour', kind: 'materialized', description: 'Views, carts and sales per product and hour', markerColumn: true, read: { scope: READ_ECOMMERCE }, columns: ROLLUP_COLUMNS },
  { name: 'ecomm_rollup_day', kind: 'materialized', description: 'Views, carts and sales per product and day', markerColumn: true, read: { scope: READ_ECOMMERCE }, columns: ROLLUP_COLUMNS },
  { name: 'cart_events_mv', kind: 'materialized', description: 'Cart app events (routed from app_events)', batchColumn: true, read: { scope: 'read:analytics:cart', rows: 'workspace' }, columns: APP_EVENT_COLUMNS },
  { name: 'fm_events_mv', kind: 'materialized', description: 'FM app events (routed from app_events)', batchColumn: true, read: { scope: 'read:analytics:fm', rows: 'workspace' }, columns: APP_EVENT_COLUMNS },
  { name: 'link_events_mv', kind: 'materialized', description: 'Link app events (routed from app_events)', batchColumn: true, read: { scope: 'read:analytics:link', rows: 'workspace' }, columns: APP_EVENT_COLUMNS },
  { name: 'page_events_mv', kind: 'materialized', description: 'Page app events (routed from app_events)', batchColumn: true, read: { scope: 'read:analytics:page', rows: 'workspace' }, columns: APP_EVENT_COLUMNS },
]

/** The landing datasources, by name: the ones that take rows. */
export const LANDING = DATASOURCES.filter((d) => d.kind === 'landing')

/** A landing datasource's columns that clients send (those with a field), in table order. */
export function inputColumns(d: DatasourceEntry): ColumnEntry[] {
  return d.columns.filter((c) => c.field !== undefined)
}

const BY_NAME: ReadonlyMap<string, DatasourceEntry> = new Map(
  DATASOURCES.flatMap((d) => [[d.name, d] as const, ...(d.aliases ?? []).map((a) => [a, d] as const)]),
)

/** A datasource by its REST name or alias. */
export function datasource(name: string): DatasourceEntry | undefined {
  return BY_NAME.get(name)
}
