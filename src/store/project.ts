import { randomBytes } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { insertRows, runCommand, selectBytes, selectDocument, selectRows, type JsonDocument, type QueryParams } from './clickhouse.js'
import { limitErrorOf, storeCall, StoreBusyError, StoreUnavailableError } from './errors.js'
import { jsonAnswerStatistics } from './executor.js'
import { applyDurability } from './migrate.js'
import { parseExact } from './sql-query.js'
import { asWork } from './workload.js'

/** ClickHouse refused a loaded project's SQL (a pipe that does not run on the data): its message. */
export class ProjectQueryError extends Error {
  override name = 'ProjectQueryError'
}

/**
 * One datafile as it was last applied to the project database: a datasource's text (for the migration
 * planner) or a materialized view's CREATE statement.
 */
export interface AppliedDatafile {
  readonly kind: 'datasource' | 'view'
  readonly name: string
  readonly text: string
}

/** The columns Tinybird adds to a quarantine table (beside the datasource's, as text). */
const TINYBIRD_QUARANTINE_COLUMNS = ['c__error_column', 'c__error', 'c__import_id', 'insertion_date']

/** One row of a project datasource's quarantine table. */
export interface QuarantineEntry {
  /** The datasource's columns as received (text, or null when missing), as a JSON object. */
  readonly row: string
  readonly errors: readonly string[]
  readonly errorColumns: readonly string[]
  readonly importId: string | null
  readonly at: Date
}

/** The table in the project database that keeps the text of every applied datafile. */
const DATAFILES = '_sightline_datafiles'
/** Events API batches sent with an idempotency key, and what they stored (kept a day). */
const IMPORTS = '_sightline_imports'

/**
 * A loaded Tinybird project's database: its DDL (written by `src/project/`, run here as given), the
 * datafiles applied last time, inserts into its datasources and quarantine tables, and pipe queries.
 * Table names come from the loaded project (parsed datafiles), never from requests.
 */
export class ProjectRepository {
  constructor(
    private readonly client: ClickHouseClient,
    readonly database: string,
    /** SIGHTLINE_DURABILITY, for the project's tables as for the built-in ones (undefined: left as they are). */
    private readonly durability?: 'fsync' | 'none',
  ) {}

  /**
   * Sets the store's durability on every MergeTree table of the project database (its datasources,
   * quarantines, view targets and Sightline's records), as the built-in tables get it at start-up: with
   * `fsync`, an append is on disk before it is answered. Returns the tables changed.
   */
  ensureDurability(): Promise<string[]> {
    return applyDurability(this.client, { database: this.database }, this.durability)
  }

  /** `` `db`.`name` `` */
  table(name: string): string {
    return `${quote(this.database)}.${quote(name)}`
  }

  /** The project database and the record of applied datafiles, if missing. */
  async ensureDatabase(): Promise<void> {
    await this.command(`CREATE DATABASE IF NOT EXISTS ${quote(this.database)}`)
    await this.command(
      `CREATE TABLE IF NOT EXISTS ${this.table(DATAFILES)} (kind LowCardinality(String), name String, text String, applied_at DateTime64(3))
       ENGINE = ReplacingMergeTree(applied_at) ORDER BY (kind, name)`,
    )
    await this.command(
      `CREATE TABLE IF NOT EXISTS ${this.table(IMPORTS)} (datasource String, key String, successful UInt64, quarantined UInt64, at DateTime64(3))
       ENGINE = ReplacingMergeTree(at) ORDER BY (datasource, key) TTL toDateTime(at) + INTERVAL 1 DAY`,
    )
  }

  /** What a keyed Events API batch stored, if one with that key was stored already. */
  async importOf(datasource: string, key: string): Promise<{ successful: number; quarantined: number } | undefined> {
    const [row] = await asWork('ingest', () =>
      selectRows<{ successful: string | number; quarantined: string | number }>(
        this.client,
        `SELECT successful, quarantined FROM ${this.table(IMPORTS)} FINAL WHERE datasource = {ds:String} AND key = {key:String} LIMIT 1`,
        { ds: datasource, key },
      ),
    )
    return row && { successful: Number(row.successful), quarantined: Number(row.quarantined) }
  }

  /** Records a keyed batch as stored. */
  async recordImport(datasource: string, key: string, successful: number, quarantined: number): Promise<void> {
    const at = new Date().toISOString().replace('T', ' ').replace('Z', '')
    await asWork('ingest', () => insertRows(this.client, this.table(IMPORTS), [{ datasource, key, successful, quarantined, at }]))
  }

  /**
   * The datasources that have a quarantine table of Tinybird's shape (`<ds>_quarantine` with `c__error`),
   * by name; none while the project is not applied.
   */
  async quarantinedDatasources(): Promise<string[]> {
    const rows = await asWork('read', () =>
      selectRows<{ table: string }>(
        this.client,
        `SELECT table FROM system.columns WHERE database = {db:String} AND name = 'c__error' AND endsWith(table, '_quarantine') ORDER BY table`,
        { db: this.database },
      ),
    )
    return rows.map((r) => r.table.slice(0, -'_quarantine'.length))
  }

  /**
   * The newest rows of `<datasource>_quarantine` (a name from `quarantinedDatasources`): each row's
   * datasource columns (text or null) as a JSON object, Tinybird's `c__error` messages, misfit columns and
   * import id, and `insertion_date`.
   */
  async quarantine(datasource: string, limit: number): Promise<QuarantineEntry[]> {
    const table = `${datasource}_quarantine`
    return asWork('read', async () => {
      const columns = await selectRows<{ name: string }>(
        this.client,
        'SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String} ORDER BY position',
        { db: this.database, table },
      )
      const data = columns.map((c) => c.name).filter((n) => !TINYBIRD_QUARANTINE_COLUMNS.includes(n))
      const rows = await selectRows<Record<string, unknown>>(
        this.client,
        `SELECT *, toUnixTimestamp(insertion_date) AS _at_s FROM ${this.table(table)} ORDER BY insertion_date DESC LIMIT {limit:UInt32}`,
        { limit },
      )
      return rows.map((r) => ({
        row: JSON.stringify(Object.fromEntries(data.map((n) => [n, r[n] ?? null]))),
        errors: (r.c__error as string[] | undefined) ?? [],
        errorColumns: (r.c__error_column as string[] | undefined) ?? [],
        importId: (r.c__import_id as string | null | undefined) ?? null,
        at: new Date(Number(r._at_s) * 1000),
      }))
    })
  }

  /** Runs one statement from the project's DDL (CREATE … IF NOT EXISTS, ALTER, EXCHANGE …). */
  async command(statement: string): Promise<void> {
    await asWork('service', () => runCommand(this.client, statement))
  }

  /** The datafiles applied last time, latest text per kind and name. */
  async appliedDatafiles(): Promise<AppliedDatafile[]> {
    const rows = await asWork('service', () =>
      selectRows<{ kind: string; name: string; text: string }>(
        this.client,
        `SELECT kind, name, argMax(text, applied_at) AS text FROM ${this.table(DATAFILES)} WHERE kind != {none:String} GROUP BY kind, name`,
        { none: '' },
      ),
    )
    return rows.map((r) => ({ kind: r.kind === 'view' ? 'view' : 'datasource', name: r.name, text: r.text }))
  }

  /** Records the text of datafiles as applied. */
  async recordDatafiles(files: readonly AppliedDatafile[]): Promise<void> {
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '')
    await asWork('service', () => insertRows(this.client, this.table(DATAFILES), files.map((f) => ({ kind: f.kind, name: f.name, text: f.text, applied_at: now }))))
  }

  /** Rows in a project table (0 when it does not exist). */
  async rowCount(name: string): Promise<number> {
    const [row] = await asWork('service', () =>
      selectRows<{ n: string | number | null }>(this.client, 'SELECT total_rows AS n FROM system.tables WHERE database = {db:String} AND name = {name:String}', {
        db: this.database,
        name,
      }),
    )
    return Number(row?.n ?? 0)
  }

  /** Empties a project table (the Data Sources API's truncate and replace). */
  async truncate(name: string): Promise<void> {
    await asWork('ingest', () => runCommand(this.client, `TRUNCATE TABLE IF EXISTS ${this.table(name)}`))
  }

  /** Rows of a project table matching `where` (SQL over its columns with `{name:Type}` placeholders for `params`). */
  async count(name: string, where: string, params: QueryParams): Promise<number> {
    const [row] = await asWork('service', () => selectRows<{ n: string | number }>(this.client, `SELECT count() AS n FROM ${this.table(name)} WHERE ${where}`, params))
    return Number(row?.n ?? 0)
  }

  /** Deletes the rows of a project table matching `where` (a mutation that completes before this resolves). */
  async delete(name: string, where: string, params: QueryParams): Promise<void> {
    await asWork('ingest', () =>
      storeCall('delete', () =>
        this.client.command({ query: `ALTER TABLE ${this.table(name)} DELETE WHERE ${where}`, query_params: params, clickhouse_settings: { mutations_sync: '2' } }),
      ),
    )
  }

  /** Appends rows (JSONEachRow objects) to a project table. */
  async insert(name: string, rows: readonly object[]): Promise<void> {
    await asWork('ingest', () => insertRows(this.client, this.table(name), rows))
  }

  /**
   * A copy pipe's run: `select` (rendered by the project's template engine, values escaped as Tinybird
   * does) into a staging table shaped like `target`, then into `target` (emptied first in `replace` mode).
   * A query that fails leaves the target untouched; replace is not atomic for readers (between the
   * TRUNCATE and the INSERT they see it empty). Returns the rows written. Insert settings are pinned on
   * each statement (chDB keeps the last ones set for the session).
   */
  async copy(target: string, select: string, mode: 'append' | 'replace'): Promise<number> {
    const staging = `_sightline_copy_${target}_${randomBytes(4).toString('hex')}`
    const noDedup = 'SETTINGS insert_deduplicate = 0, deduplicate_blocks_in_dependent_materialized_views = 0'
    await this.command(`CREATE TABLE ${this.table(staging)} AS ${this.table(target)}`)
    try {
      await asWork('service', () => runCommand(this.client, `INSERT INTO ${this.table(staging)} ${noDedup}\n${select}`))
      const rows = await this.rowCount(staging)
      if (mode === 'replace') await this.command(`TRUNCATE TABLE ${this.table(target)}`)
      await asWork('service', () => runCommand(this.client, `INSERT INTO ${this.table(target)} ${noDedup}\nSELECT * FROM ${this.table(staging)}`))
      return rows
    } catch (err) {
      // runCommand wraps ClickHouse's refusal; its message is the pipe author's to read.
      const message = clickhouseMessage(err instanceof StoreUnavailableError ? err.cause : err)
      throw message === undefined ? err : new ProjectQueryError(message)
    } finally {
      await this.command(`DROP TABLE IF EXISTS ${this.table(staging)}`).catch(() => undefined)
    }
  }

  /**
   * A pipe's query with its bound parameters, as ClickHouse's `FORMAT JSON` document (Tinybird's
   * envelope: meta, data, rows, rows_before_limit_at_least, statistics). 64-bit integers past 2^53
   * come back as bigints. ClickHouse's refusals of the SQL become ProjectQueryError.
   */
  /**
   * A pipe's query answered as ClickHouse's own `FORMAT JSON` text, which is Tinybird's envelope (meta,
   * data, rows, rows_before_limit_at_least, statistics): `sql` must pin the output settings it needs in its
   * SETTINGS clause (64-bit integers quoted or not).
   */
  selectText(sql: string, params: QueryParams): Promise<string> {
    const bound = Object.keys(params).length > 0 ? params : { sightline_pipe: 1 }
    return asWork('read', async () => {
      // Kept as text; only its statistics are read (for the request's counts).
      const doc = await selectDocument<never>(this.client, sql, bound, projectError, (text) => ({ text, statistics: jsonAnswerStatistics(text.slice(-400)) }))
      return (doc as unknown as { text: string }).text
    })
  }

  /**
   * A pipe's query answered in one of ClickHouse's own output formats (`Parquet`; `Prometheus`, the text
   * exposition format, whose rules are Tinybird's `.prometheus`), with what it read. `sql` pins its output
   * settings in its SETTINGS clause; ClickHouse's refusals become ProjectQueryError.
   */
  selectFormat(sql: string, params: QueryParams, format: 'Parquet' | 'Prometheus'): Promise<{ bytes: Buffer; rowsRead: number; bytesRead: number }> {
    const bound = Object.keys(params).length > 0 ? params : { sightline_pipe: 1 }
    return asWork('read', () => selectBytes(this.client, `${sql.replace(/[\s;]+$/, '')}\nFORMAT ${format}`, bound, projectError))
  }

  select(sql: string, params: QueryParams): Promise<JsonDocument<Record<string, unknown>>> {
    // selectDocument runs bound statements only; a pipe without parameters gets an unused one.
    const bound = Object.keys(params).length > 0 ? params : { sightline_pipe: 1 }
    return asWork('read', () =>
      selectDocument<Record<string, unknown>>(
        this.client,
        sql,
        bound,
        (err) => {
          if (err instanceof StoreBusyError) return err
          const limited = limitErrorOf(err)
          if (limited) return limited
          const message = clickhouseMessage(err)
          return message === undefined ? new StoreUnavailableError('store query failed', { cause: err }) : new ProjectQueryError(message)
        },
        parseExact,
      ),
    )
  }
}

/** What ClickHouse's refusals of a project's SQL become (the store's own failures stay as they are). */
function projectError(err: unknown): Error {
  if (err instanceof StoreBusyError) return err
  const limited = limitErrorOf(err)
  if (limited) return limited
  const message = clickhouseMessage(err)
  return message === undefined ? new StoreUnavailableError('store query failed', { cause: err }) : new ProjectQueryError(message)
}

function quote(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``
}

/** The first line of a ClickHouse exception (the driver's error carries `code` and `type`); undefined otherwise. */
function clickhouseMessage(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined
  const { code, type } = err as Error & { code?: unknown; type?: unknown }
  if (code === undefined || type === undefined) return undefined
  const text = (err.message.split('\n')[0] ?? '').replace(/^Code: \d+\. DB::Exception: /, '').replace(/ \(version [^)]*\)\.?$/, '').trim()
  return text.slice(0, 500)
}
