import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import { Catalog, type DatasourceEntry } from '../catalog/index.js'
import { forbidden } from './errors.js'
import type { TableInfo } from '../store/datasources.js'
import type { Store } from '../store/store.js'
import { bindCondition, ConditionError } from './condition.js'

/** A datasource as Tinybird's `GET /v0/datasources` describes one (the fields clients read). */
export interface DatasourceView {
  readonly id: string
  readonly name: string
  readonly description: string
  readonly type: 'landing' | 'materialized'
  readonly columns: ReadonlyArray<{ name: string; type: string; nullable: boolean; normalized_name: string }>
  readonly engine: DatasourceEngineView
  readonly stats: { readonly row_count: number; readonly bytes: number }
  readonly quarantine: string | null
}

/** The engine as Tinybird describes it: the MergeTree's name, keys and arguments (by the official SDK's names). */
export interface DatasourceEngineView {
  readonly engine: string
  readonly sorting_key: string | null
  readonly partition_key: string | null
  readonly primary_key: string | null
  readonly engine_ver?: string
  readonly engine_is_deleted?: string
  readonly engine_sign?: string
  readonly engine_version?: string
  readonly engine_summing_columns?: string
}

export class UnknownDatasourceError extends Error {
  override name = 'UnknownDatasourceError'
}

export { ConditionError }

/**
 * Tinybird's Data Sources API as use cases: describe, truncate and delete by condition. Truncating and
 * deleting act on the named datasource only, as in Tinybird: materialized datasources derived from it
 * keep their rows. Truncating the stock datasource (`mv_latest_availability`) zeroes every product's
 * stock, so stock counts from that reset point (the seed frontend's "reset stock"); each product whose
 * level changed is written to the live change log, and `onStockChanged` asks the feed to deliver it —
 * without waiting for that delivery, as ingest does: the feed reads and fans out on its own. A
 * delete from the stock datasource moves levels without logging a change: `onStockChanged` then has the
 * feed read the levels again.
 */
export class DatasourceService {
  constructor(
    private readonly store: Store,
    private readonly onStockChanged: () => void,
    private readonly catalog: Catalog = new Catalog(),
  ) {}

  /** The built-in datasources, from the catalog (a loaded project's are the project service's). */
  private get builtin(): DatasourceEntry[] {
    return this.catalog.listed({ builtin: true }).datasources
  }

  /** The built-in catalog entry a name (or alias) denotes; UnknownDatasourceError otherwise. */
  entry(name: string): DatasourceEntry {
    const found = this.catalog.datasource(name, { builtin: true })
    if (!found) throw new UnknownDatasourceError(`The datasource '${name}' does not exist; the datasources are ${this.builtin.map((d) => d.name).join(', ')}`)
    return found
  }

  async list(): Promise<DatasourceView[]> {
    const entries = this.builtin
    const tables = await this.store.datasources.describe(entries.map((d) => d.name))
    const byName = new Map(tables.map((t) => [t.name, t]))
    return entries.flatMap((d) => {
      const table = byName.get(d.name)
      return table ? [view(d, table)] : []
    })
  }

  async get(name: string): Promise<DatasourceView> {
    const entry = this.entry(name)
    const [table] = await this.store.datasources.describe([entry.name])
    if (!table) throw new UnknownDatasourceError(`The datasource '${name}' does not exist`)
    return view(entry, table)
  }

  /** Column names of a datasource in table order (what a headerless CSV's cells are). */
  async columns(name: string): Promise<string[]> {
    return (await this.get(name)).columns.map((c) => c.name)
  }

  /** Empties a datasource (and its quarantine). Needs `manage:<ds>`. */
  async truncate(principal: Principal, name: string): Promise<void> {
    const entry = this.entry(name)
    requireManage(principal, entry)
    const stock = entry.holdsStock ? await this.store.datasources.stockLevels() : []
    await this.store.datasources.truncate(entry.name)
    if (entry.quarantine) await this.store.datasources.truncate(entry.quarantine)
    if (stock.length > 0) {
      await this.store.datasources.logStockChanges(stock.map((s) => ({ product: s.product, delta: -s.delta })))
      this.onStockChanged()
    }
  }

  /**
   * Deletes the rows matching a Tinybird `delete_condition` (parsed, every value bound); with `dryRun`,
   * only counts them. Needs `manage:<ds>`. Throws ConditionError for a condition that does not parse.
   */
  async delete(principal: Principal, name: string, condition: string, dryRun: boolean): Promise<{ rows: number }> {
    const entry = this.entry(name)
    requireManage(principal, entry)
    const { columns } = await this.get(entry.name)
    const where = bindCondition(condition, new Map(columns.map((c) => [c.name, c.type])))
    const rows = await this.store.datasources.count(entry.name, where.sql, where.params)
    if (!dryRun && rows > 0) {
      await this.store.datasources.delete(entry.name, where.sql, where.params)
      // Stock levels that moved without a logged change: the feed reads them again.
      if (entry.holdsStock) this.onStockChanged()
    }
    return { rows }
  }
}

function requireManage(principal: Principal, entry: DatasourceEntry): void {
  const scope = scopeFor.manage(entry.name)
  if (!grants(principal.scopes, scope)) throw forbidden(`This operation needs the scope "${scope}"`)
}

function view(entry: DatasourceEntry, table: TableInfo): DatasourceView {
  return {
    id: entry.name,
    name: entry.name,
    description: entry.description,
    type: entry.kind,
    columns: table.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.type.startsWith('Nullable('), normalized_name: c.name })),
    engine: engineView(table),
    stats: { row_count: table.rows, bytes: table.bytes },
    quarantine: entry.quarantine ?? null,
  }
}

/** A table's storage engine, its arguments named as a datafile's `ENGINE_*` settings name them. */
function engineView({ storage }: TableInfo): DatasourceEngineView {
  const [a, b] = storage.args
  const args: Partial<Record<keyof DatasourceEngineView, string>> =
    storage.engine === 'ReplacingMergeTree'
      ? { engine_ver: a, engine_is_deleted: b }
      : storage.engine === 'CollapsingMergeTree'
        ? { engine_sign: a }
        : storage.engine === 'VersionedCollapsingMergeTree'
          ? { engine_sign: a, engine_version: b }
          : storage.engine === 'SummingMergeTree'
            ? { engine_summing_columns: a?.replace(/^\((.*)\)$/, '$1') }
            : {}
  return {
    engine: storage.engine,
    sorting_key: storage.sortingKey || null,
    partition_key: storage.partitionKey || null,
    // ClickHouse reports the sorting key as the primary key when none is set apart.
    primary_key: storage.primaryKey && storage.primaryKey !== storage.sortingKey ? storage.primaryKey : null,
    ...Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)),
  }
}
