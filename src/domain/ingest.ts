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
  StockChange,
  WarehouseStockRow,
} from '../store/types.js'
import type { ProjectRepository, QuarantineEntry } from '../store/project.js'
import { INGEST_TABLES } from '../store/types.js'
import { badInput, withScope } from './errors.js'
import { datasourceReader, ndjsonSource } from './records.js'

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

/** What ingest reports beyond the store: the ingest log and metrics, and the live feed's stock changes. */
export interface IngestPorts {
  /** Most rows (and rejected records) one append takes. */
  readonly maxBatch: number
  ingested(entry: IngestLogEntry): void
  /**
   * Tells the live feed a stored batch moved stock, for it to deliver the changes at once: `writeId` is
   * the id the change log carries them under (absent: the feed reads the log for them). The append does
   * not wait for that delivery: the feed fans out on its own. `storedAt`: when the store acknowledged it.
   */
  stockMoved(writeId: string | undefined, changes: readonly StockChange[], storedAt: Date): void
  /** Whether the live feed sends stock changes now (someone is subscribed): only then is a write id worth its cost. */
  sendsStock(): boolean
  /** The loaded Tinybird project's database (`SIGHTLINE_PROJECT_DATABASE`), whose quarantine tables `quarantine` reads too. */
  readonly projectDatabase?: string | undefined
}

/** A store that holds a loaded project's database (the ClickHouse store). */
interface ProjectStore {
  project(database: string): Pick<ProjectRepository, 'quarantinedDatasources' | 'quarantine'>
}

function hasProjects(store: Store): store is Store & ProjectStore {
  return typeof (store as Partial<ProjectStore>).project === 'function'
}

/**
 * The one append path of every transport (GraphQL mutations, `/v0/events`, `POST /v0/datasources`):
 * scope and limits -> validation and storage (the store, against the catalog's rules) -> ingest log ->
 * live stock.
 */
export class IngestService {
  constructor(
    private readonly store: Store,
    private readonly ports: IngestPorts,
  ) {}

  async append<T extends IngestTable>(who: Principal | null, table: T, rows: IngestRows[T], options: AppendOptions = {}): Promise<AppendResult> {
    const size = rows.length + (options.rejected?.length ?? 0)
    return this.run(who, table, size, options.idempotencyKey, (storeOptions) =>
      this.write(table, rows, {
        ...storeOptions,
        rejected: options.rejected?.map((r) => ({ row: r.row, reason: r.reason })),
        sources: options.sources,
      }),
    )
  }

  /**
   * An NDJSON text into `table`, each line read as `POST /v0/events` reads it (the catalog's field names
   * and aliases, lenient numbers, any date-time form); lines that cannot become rows are quarantined raw
   * with their reason, like invalid rows. `/v0/events` and the GraphQL `…Ndjson` mutations use it (one
   * String variable instead of one input object per row, so no per-object variable coercion): the store
   * reads, checks and encodes each line in one pass. Each error's `index` is its line's (from 0, blank
   * lines counted).
   */
  async appendNdjson(who: Principal | null, table: IngestTable, text: string, options: Pick<AppendOptions, 'idempotencyKey'> = {}): Promise<AppendResult> {
    withScope(who, datasource(table)?.appendScope ?? `append:${table}`)
    const reader = datasourceReader(table)
    if (!reader) throw badInput(`${table} takes no NDJSON`)
    const source = ndjsonSource(text, reader)
    return this.run(who, table, source.size, options.idempotencyKey, (storeOptions) => this.store.ingestRecords(table, source, storeOptions))
  }

  /** Scope and limits -> `write` (validation and storage) -> ingest log -> live stock: what every append goes through. */
  private async run(
    who: Principal | null,
    table: IngestTable,
    size: number,
    key: string | null | undefined,
    write: (options: { idempotencyKey: string | undefined; workspaceId: string | undefined; tokenName: string; withWriteId: boolean }) => Promise<IngestOutcome>,
  ): Promise<AppendResult> {
    const entry = datasource(table)
    const principal = withScope(who, entry?.appendScope ?? `append:${table}`)
    if (size > this.ports.maxBatch) throw badInput(`a batch holds at most ${this.ports.maxBatch} rows; this one has ${size}`)
    if (key !== null && key !== undefined && (key.length === 0 || key.length > MAX_KEY)) {
      throw badInput(`idempotencyKey must be 1 to ${MAX_KEY} characters`)
    }
    const started = performance.now()
    const outcome = await write({
      idempotencyKey: key ?? undefined,
      workspaceId: principal.workspaceId ?? undefined,
      tokenName: principal.name,
      withWriteId: this.ports.sendsStock(),
    })
    const storedAt = new Date()
    this.ports.ingested({
      at: storedAt,
      table,
      rows: outcome.accepted,
      quarantined: outcome.quarantined,
      durationMs: performance.now() - started,
      token: principal.name,
      deduplicated: outcome.deduplicated,
    })
    if (outcome.stockChanges.length > 0) this.ports.stockMoved(outcome.writeId, outcome.stockChanges, storedAt)
    return { accepted: outcome.accepted, quarantined: outcome.quarantined, errors: [...outcome.errors], deduplicated: outcome.deduplicated }
  }

  /**
   * Newest quarantined rows of a datasource (admin): a built-in one's, or a loaded project's
   * (`<ds>_quarantine`, Tinybird's columns) mapped onto the same shape: the reason is its `c__error`
   * messages, the row its columns as a JSON object. A project datasource is named bare, or as
   * `<database>.<ds>` (needed, and answered, when a built-in datasource has its name).
   */
  async quarantine(who: Principal | null, table: string, limit = 100): Promise<Array<Omit<QuarantinedRow, 'table'> & { readonly table: string }>> {
    withScope(who, 'admin')
    if (limit < 1 || limit > 10_000) throw badInput('limit must be between 1 and 10000')
    if (INGEST_TABLES.includes(table as IngestTable)) return this.store.quarantine(table as IngestTable, limit)
    const database = this.ports.projectDatabase
    const project = database !== undefined && hasProjects(this.store) ? this.store.project(database) : undefined
    const names = project ? await project.quarantinedDatasources() : []
    const named = (ds: string) => (INGEST_TABLES.includes(ds as IngestTable) ? `${database}.${ds}` : ds)
    const ds = names.find((n) => table === `${database}.${n}` || table === named(n))
    if (!project || ds === undefined) throw badInput(`table must be one of ${[...INGEST_TABLES, ...names.map(named)].join(', ')}`)
    const rows = await project.quarantine(ds, limit)
    return rows.map((r: QuarantineEntry) => ({ table: named(ds), row: r.row, reason: reasonOf(r), at: r.at }))
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

/** A project quarantine row's reason: its `c__error` messages (which name their columns), one per misfit. */
function reasonOf(entry: QuarantineEntry): string {
  if (entry.errors.length > 0) return entry.errors.join('; ')
  return entry.errorColumns.length > 0 ? `columns ${entry.errorColumns.join(', ')} do not fit` : 'quarantined'
}
