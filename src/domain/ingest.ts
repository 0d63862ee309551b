import type { Principal } from '../auth/scopes.js'
import { datasource } from '../catalog/index.js'
import type { IngestOutcome, Store } from '../store/store.js'
import type {
  AppEventRow,
  EcommEventRow,
  IngestLogEntry,
  IngestTable,
  ProductRow,
  QuarantinedRow,
  RejectedRecord,
  RowError,
  RowSource,
  WarehouseStockRow,
} from '../store/types.js'
import { INGEST_TABLES } from '../store/types.js'
import { badInput, withScope } from './errors.js'

const MAX_KEY = 256

/** A batch's outcome: rows stored, rows quarantined (each with its index and reason), and whether it was a retry. */
export interface AppendResult {
  accepted: number
  quarantined: number
  errors: RowError[]
  deduplicated: boolean
}

/** The rows each landing datasource takes, by its name. */
export interface IngestRows {
  readonly ecomm_events: readonly EcommEventRow[]
  readonly warehouse_stock: readonly WarehouseStockRow[]
  readonly products: readonly ProductRow[]
  readonly app_events: readonly AppEventRow[]
}

export interface AppendOptions {
  /** A retried batch with the same key (per token) is stored once. */
  readonly idempotencyKey?: string | null | undefined
  /** Records a transport refused before they became rows; quarantined as received, reported after the rows. */
  readonly rejected?: readonly RejectedRecord[] | null | undefined
  /** Each input's raw text and label (the rows, then the rejected records), for the quarantine. */
  readonly sources?: ReadonlyArray<RowSource | undefined> | undefined
}

/** What ingest reports beyond the store: the ingest log and metrics, and the live feed's nudge. */
export interface IngestPorts {
  /** Most rows (and rejected records) one append takes. */
  readonly maxBatch: number
  ingested(entry: IngestLogEntry): void
  /** Asks the live feed to deliver the stock the batch moved. */
  nudge(): Promise<void>
}

/**
 * The one append path of every transport (GraphQL mutations, `/v0/events`, `POST /v0/datasources`):
 * scope and limits -> validation and storage (the store, against the catalog's rules) -> ingest log ->
 * live nudge.
 */
export class IngestService {
  constructor(
    private readonly store: Store,
    private readonly ports: IngestPorts,
  ) {}

  async append<T extends IngestTable>(who: Principal | null, table: T, rows: IngestRows[T], options: AppendOptions = {}): Promise<AppendResult> {
    const entry = datasource(table)
    const principal = withScope(who, entry?.appendScope ?? `append:${table}`)
    const size = rows.length + (options.rejected?.length ?? 0)
    if (size > this.ports.maxBatch) throw badInput(`a batch holds at most ${this.ports.maxBatch} rows; this one has ${size}`)
    const key = options.idempotencyKey
    if (key !== null && key !== undefined && (key.length === 0 || key.length > MAX_KEY)) {
      throw badInput(`idempotencyKey must be 1 to ${MAX_KEY} characters`)
    }
    const storeOptions = {
      idempotencyKey: key ?? undefined,
      workspaceId: principal.workspaceId ?? undefined,
      tokenName: principal.name,
      rejected: options.rejected?.map((r) => ({ row: r.row, reason: r.reason })),
      sources: options.sources,
    }
    const started = performance.now()
    const outcome = await this.write(table, rows, storeOptions)
    this.ports.ingested({
      at: new Date(),
      table,
      rows: outcome.accepted,
      quarantined: outcome.quarantined,
      durationMs: performance.now() - started,
      token: principal.name,
      deduplicated: outcome.deduplicated,
    })
    if (outcome.stockChanges.length > 0) await this.ports.nudge()
    return { accepted: outcome.accepted, quarantined: outcome.quarantined, errors: [...outcome.errors], deduplicated: outcome.deduplicated }
  }

  /** Newest quarantined rows of a datasource (admin). */
  quarantine(who: Principal | null, table: string, limit = 100): Promise<QuarantinedRow[]> {
    withScope(who, 'admin')
    if (!INGEST_TABLES.includes(table as IngestTable)) throw badInput(`table must be one of ${INGEST_TABLES.join(', ')}`)
    if (limit < 1 || limit > 10_000) throw badInput('limit must be between 1 and 10000')
    return this.store.quarantine(table as IngestTable, limit)
  }

  private write(table: IngestTable, rows: IngestRows[IngestTable], options: Parameters<Store['ingestAppEvents']>[1]): Promise<IngestOutcome> {
    switch (table) {
      case 'ecomm_events':
        return this.store.ingestEcommEvents(rows as IngestRows['ecomm_events'], options)
      case 'warehouse_stock':
        return this.store.ingestWarehouseStock(rows as IngestRows['warehouse_stock'], options)
      case 'products':
        return this.store.upsertProducts(rows as IngestRows['products'], options)
      case 'app_events':
        return this.store.ingestAppEvents(rows as IngestRows['app_events'], options)
    }
  }
}
