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

/**
 * One record of a CSV upload (Data Sources API): its cells by column name, empty cells left out (the
 * column's DEFAULT, NULL or zero, as a missing JSON field), or undefined when it cannot be read (more
 * cells than columns); `raw` is its text.
 */
export interface UploadRecord {
  readonly raw: string
  readonly record: Readonly<Record<string, string>> | undefined
}

/** What one append stored. */
export interface AppendResult {
  readonly successful_rows: number
  readonly quarantined_rows: number
  /** Lines or records that could not be read at all (quarantined with them); 0 for a deduplicated batch. */
  readonly invalid_lines: number
  readonly deduplicated: boolean
}

/**
 * Appends to a project datasource (the caller has checked `append:<ds>`) NDJSON, each line mapped by the
 * columns' `json:` paths, or CSV records, by column name; rows that fit are inserted, the others go to
 * `<ds>_quarantine` with Tinybird's columns. A batch with a key is stored once.
 */
export class ProjectIngest {
  private readonly mappings = new Map<string, JsonMapping>()
  private readonly byName = new Map<string, JsonMapping>()
  /** Keyed Events API batches in flight, by datasource and key. */
  private readonly keyed = new Map<string, Promise<AppendResult>>()

  constructor(
    private readonly repo: ProjectRepository,
    private readonly observer: ProjectObserver | undefined,
  ) {}

  async append(principal: Principal, ds: Datasource, batch: string | readonly UploadRecord[], key?: string): Promise<AppendResult> {
    if (key === undefined) return { ...(await this.store(principal, ds, batch)), deduplicated: false }
    // A retried batch with the same key is stored once: batches with one key run one after another here,
    // and one that was recorded answers what it stored. (A crash between its rows and its record stores
    // it again on retry: unlike the built-in datasources, a project's tables keep no batch markers.)
    const slot = `${ds.name}\0${key}`
    const previous = this.keyed.get(slot) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(async () => {
      const known = await this.repo.importOf(ds.name, key)
      if (known) return { successful_rows: known.successful, quarantined_rows: known.quarantined, invalid_lines: 0, deduplicated: true }
      const stored = await this.store(principal, ds, batch)
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

  private async store(principal: Principal, ds: Datasource, batch: string | readonly UploadRecord[]): Promise<Omit<AppendResult, 'deduplicated'>> {
    const started = performance.now()
    const csv = typeof batch !== 'string'
    const mapping = csv ? this.byNameOf(ds) : this.mappingOf(ds)
    const good: Array<Record<string, unknown>> = []
    const bad: Array<Record<string, unknown>> = []
    const importId = randomUUID()
    const now = new Date()
    const records = csv ? batch : lines(batch)
    let invalid = 0
    for (const { raw, record } of records) {
      const value: unknown = record
      let errors: readonly RowMisfit[] | undefined
      if (record === undefined) {
        invalid++
        errors = [{ column: '', message: csv ? 'the record has more cells than the datasource has columns' : 'the line is not valid JSON' }]
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
    return { successful_rows: good.length, quarantined_rows: bad.length, invalid_lines: invalid }
  }

  /** A CSV record's cells are the columns by name (`json:` paths are NDJSON's). */
  private byNameOf(ds: Datasource): JsonMapping {
    let mapping = this.byName.get(ds.name)
    if (!mapping) this.byName.set(ds.name, (mapping = jsonMapping({ ...ds, columns: ds.columns.map(({ jsonPath: _, ...column }) => column) })))
    return mapping
  }

  private mappingOf(ds: Datasource): JsonMapping {
    let mapping = this.mappings.get(ds.name)
    if (!mapping) this.mappings.set(ds.name, (mapping = jsonMapping(ds)))
    return mapping
  }
}

/** The non-empty lines of NDJSON, each parsed (undefined when it is not JSON). */
function* lines(ndjson: string): Generator<{ readonly raw: string; readonly record: unknown }> {
  for (const line of ndjson.split('\n')) {
    const raw = line.trim()
    if (raw === '') continue
    let record: unknown
    try {
      record = JSON.parse(raw)
    } catch {
      record = undefined
    }
    yield { raw, record }
  }
}
