/**
 * The datasources Sightline serves, as Tinybird's REST API names them: pure data, imported by every
 * layer and importing nothing. Landing datasources take rows (`/v0/events`, `POST /v0/datasources`,
 * the ingest mutations); materialized ones are written by ClickHouse materialized views and can be
 * read, truncated and deleted from, like Tinybird's materialized datasources. Column lists come from
 * the live tables (`system.columns`), which the numbered DDL in `sql/` defines.
 */
export interface DatasourceEntry {
  /** The REST name, also the table name in the Sightline database. */
  readonly name: string
  readonly kind: 'landing' | 'materialized'
  readonly description: string
  /** Where rows that fail validation go (landing datasources only). */
  readonly quarantine?: string
  /** Rows written here change product stock (through materialized views). */
  readonly movesStock?: boolean
  /** True for the datasource whose rows are the current stock levels. */
  readonly holdsStock?: boolean
  /** Other names clients post to (the seed's `barely_events`). */
  readonly aliases?: readonly string[]
}

export const DATASOURCES: readonly DatasourceEntry[] = [
  { name: 'ecomm_events', kind: 'landing', description: 'Ecommerce events: view, cart and sale of a product', quarantine: 'ecomm_events_quarantine', movesStock: true },
  { name: 'warehouse_stock', kind: 'landing', description: 'Warehouse stock movements per product and store', quarantine: 'warehouse_stock_quarantine', movesStock: true },
  { name: 'products', kind: 'landing', description: 'The product catalog (upserted by id)', quarantine: 'products_quarantine' },
  { name: 'app_events', kind: 'landing', description: 'Events of the four apps of every workspace', quarantine: 'app_events_quarantine', aliases: ['barely_events'] },
  { name: 'mv_latest_availability', kind: 'materialized', description: 'Current stock per product: warehouse movements minus sales', holdsStock: true },
  { name: 'ecomm_rollup_minute', kind: 'materialized', description: 'Views, carts and sales per product and minute' },
  { name: 'ecomm_rollup_hour', kind: 'materialized', description: 'Views, carts and sales per product and hour' },
  { name: 'ecomm_rollup_day', kind: 'materialized', description: 'Views, carts and sales per product and day' },
  { name: 'cart_events_mv', kind: 'materialized', description: 'Cart app events (routed from app_events)' },
  { name: 'fm_events_mv', kind: 'materialized', description: 'FM app events (routed from app_events)' },
  { name: 'link_events_mv', kind: 'materialized', description: 'Link app events (routed from app_events)' },
  { name: 'page_events_mv', kind: 'materialized', description: 'Page app events (routed from app_events)' },
]

const BY_NAME: ReadonlyMap<string, DatasourceEntry> = new Map(
  DATASOURCES.flatMap((d) => [[d.name, d] as const, ...(d.aliases ?? []).map((a) => [a, d] as const)]),
)

/** A datasource by its REST name or alias. */
export function datasource(name: string): DatasourceEntry | undefined {
  return BY_NAME.get(name)
}
