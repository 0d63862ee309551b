import { randomUUID } from 'node:crypto'
import type { Principal } from '../auth/scopes.js'
import { jsonMapping, mapJsonRow, quarantineRow, type Datasource, type JsonMapping, type RowMisfit } from '../project/datafile.js'
import type { ProjectRepository } from '../store/project.js'

/** A loaded project's Events API: NDJSON lines mapped by the `json:` paths into a datasource or its quarantine. */

/** What a project request did, for the service logs (`operation_log` ≈ pipe_stats_rt, `ingest_log`, `error_log`). */
export interface ProjectObserver {
  operation(facts: OperationRecord): void
  ingested(entry: { readonly table: string; readonly rows: number; readonly quarantined: number; readonly durationMs: number; readonly token: string }): void
}

export interface OperationRecord {
  readonly requestId: string
  readonly principal: Principal | null
  /** The pipe (as scopes name it), or `copy:<pipe>`. */
  readonly name: string
  readonly durationMs: number
  readonly rowsRead: number
  readonly bytesRead: number
  readonly error?: { readonly code: string; readonly message: string }
}

/** What one append stored. */
export interface AppendResult {
  readonly successful_rows: number
  readonly quarantined_rows: number
  readonly deduplicated: boolean
}

/**
 * Appends NDJSON to a project datasource (the caller has checked `append:<ds>`): each line is mapped by
 * the columns' `json:` paths; rows that fit are inserted, the others go to `<ds>_quarantine` with
 * Tinybird's columns. A batch with a key is stored once.
 */
export class ProjectIngest {
  private readonly mappings = new Map<string, JsonMapping>()
  /** Keyed Events API batches in flight, by datasource and key. */
  private readonly keyed = new Map<string, Promise<AppendResult>>()

  constructor(
    private readonly repo: ProjectRepository,
    private readonly observer: ProjectObserver | undefined,
  ) {}

  async append(principal: Principal, ds: Datasource, ndjson: string, key?: string): Promise<AppendResult> {
    if (key === undefined) return { ...(await this.store(principal, ds, ndjson)), deduplicated: false }
    // A retried batch with the same key is stored once: batches with one key run one after another here,
    // and one that was recorded answers what it stored. (A crash between its rows and its record stores
    // it again on retry: unlike the built-in datasources, a project's tables keep no batch markers.)
    const slot = `${ds.name}\0${key}`
    const previous = this.keyed.get(slot) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(async () => {
      const known = await this.repo.importOf(ds.name, key)
      if (known) return { successful_rows: known.successful, quarantined_rows: known.quarantined, deduplicated: true }
      const stored = await this.store(principal, ds, ndjson)
      await this.repo.recordImport(ds.name, key, stored.successful_rows, stored.quarantined_rows)
      return { ...stored, deduplicated: false }
    })
    this.keyed.set(slot, run)
    try {
      return await run
    } finally {
      if (this.keyed.get(slot) === run) this.keyed.delete(slot)
    }
  }

  private async store(principal: Principal, ds: Datasource, ndjson: string): Promise<{ successful_rows: number; quarantined_rows: number }> {
    const started = performance.now()
    const mapping = this.mappingOf(ds)
    const good: Array<Record<string, unknown>> = []
    const bad: Array<Record<string, unknown>> = []
    const importId = randomUUID()
    const now = new Date()
    for (const line of ndjson.split('\n')) {
      const raw = line.trim()
      if (raw === '') continue
      let value: unknown
      let errors: readonly RowMisfit[] | undefined
      try {
        value = JSON.parse(raw)
      } catch {
        errors = [{ column: '', message: 'the line is not valid JSON' }]
      }
      if (!errors) {
        const mapped = mapJsonRow(mapping, value, raw)
        if (mapped.ok) {
          good.push(mapped.row)
          continue
        }
        errors = mapped.errors
      }
      bad.push(quarantineRow(mapping, value, errors, importId, now, raw))
    }
    await this.repo.insert(ds.name, good)
    await this.repo.insert(`${ds.name}_quarantine`, bad)
    this.observer?.ingested({
      table: `${this.repo.database}.${ds.name}`,
      rows: good.length,
      quarantined: bad.length,
      durationMs: performance.now() - started,
      token: principal.name,
    })
    return { successful_rows: good.length, quarantined_rows: bad.length }
  }

  private mappingOf(ds: Datasource): JsonMapping {
    let mapping = this.mappings.get(ds.name)
    if (!mapping) this.mappings.set(ds.name, (mapping = jsonMapping(ds)))
    return mapping
  }
}
