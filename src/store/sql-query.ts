import { randomBytes } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { selectBytes, selectDocument, type JsonDocument, type QueryParams } from './clickhouse.js'
import { limitErrorOf, StoreBusyError, StoreUnavailableError } from './errors.js'
import { asWork } from './workload.js'

/** ClickHouse refused a caller's SQL (syntax, unknown column, type): its message, safe to show. */
export class SqlQueryError extends Error {
  override name = 'SqlQueryError'
}

/**
 * What a caller's SQL may read in place of a table: the rows of `table` (a Sightline table, from a closed
 * catalog) that satisfy `where`, a condition written by Sightline with bound parameters only.
 */
export interface SqlSource {
  readonly name: string
  /** A catalog table, read as `db.table`. */
  readonly table?: string
  /** Or rows Sightline computed (a pipe's answer): a FROM expression over bound parameters only. */
  readonly from?: string
  /** Read with FINAL (a table of upserts, as its latest rows). */
  readonly final?: boolean
  readonly where?: string
  /** `LIMIT 0`: the source's columns without rows. */
  readonly empty?: boolean
}

/**
 * Read-only SQL written by a caller (Tinybird's `/v0/sql`), over `SqlSource`s only. This repository
 * only runs what the domain has checked: EXPLAIN of the text, then the text under a WITH clause that
 * binds each source name to its rows. Every statement is dashboard work (limits, queue).
 */
export class SqlRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** `db.table` for a catalog table. */
  qualified(table: string): string {
    return `${this.database}.${table}`
  }

  /**
   * The statement as ClickHouse's formatter writes it back from its syntax tree (`formatQuery`, over a
   * bound parameter: nothing of the caller's text is spliced into SQL here). Every later step splices this
   * canonical text only: complete, balanced, without comments, every literal re-escaped, so it cannot
   * close the brackets it is wrapped in.
   */
  async canonical(statement: string): Promise<string> {
    const doc = await this.run<{ q: string }>('SELECT formatQuery({sightline_sql_text:String}) AS q', { sightline_sql_text: statement })
    return doc.data[0]?.q ?? ''
  }

  /**
   * ClickHouse's own syntax tree of a single statement (EXPLAIN AST parses; it runs nothing). As a
   * subquery, so the driver's FORMAT goes to the outer SELECT; ClickHouse then explains SELECTs only.
   */
  async syntaxTree(statement: string): Promise<string[]> {
    const doc = await this.run<{ explain: string }>(`SELECT explain FROM (EXPLAIN AST\n${statement}\n)`, { sightline_sql: 1 })
    return doc.data.map((r) => r.explain)
  }

  /** The analyser's query tree of the wrapped statement: which tables and table functions it resolves to. */
  async queryTree(statement: string, sources: readonly SqlSource[], params: QueryParams): Promise<string[]> {
    const doc = await this.run<{ explain: string }>(`SELECT explain FROM (EXPLAIN QUERY TREE\n${this.wrap(statement, sources)}\n)`, {
      sightline_sql: 1,
      ...params,
    })
    return doc.data.map((r) => r.explain)
  }

  /**
   * The statement's answer, as ClickHouse's JSON document (integers past 2^53 as bigints), at most
   * `maxRows` rows: past that the answer is cut short (`result_overflow_mode = 'break'`, in the query's own
   * SETTINGS so it holds for this statement only) and has more than `maxRows` rows, which the caller refuses.
   */
  select(statement: string, sources: readonly SqlSource[], params: QueryParams, maxRows: number): Promise<JsonDocument<Record<string, unknown>>> {
    const limits = `\nSETTINGS max_result_rows = ${Math.floor(maxRows) + 1}, result_overflow_mode = 'break'`
    return this.run(`${this.wrap(statement, sources)}${limits}`, { sightline_sql: 1, ...params })
  }

  /**
   * The statement's answer in one of ClickHouse's own output formats (Parquet, Prometheus), as its bytes.
   * For statements Sightline writes over rows already read (a built-in pipe's answer), not a caller's SQL.
   */
  async selectFormat(statement: string, sources: readonly SqlSource[], params: QueryParams, format: 'Parquet' | 'Prometheus'): Promise<Buffer> {
    const { bytes } = await asWork('dashboard', () => selectBytes(this.client, `${this.wrap(statement, sources)}\nFORMAT ${format}`, { sightline_sql: 1, ...params }, (err) => this.failure(err)))
    return bytes
  }

  /**
   * The names a caller's SQL must not use: every database, and the tables of the current database
   * (where unqualified names resolve when no source shadows them).
   */
  async reservedNames(): Promise<{ databases: string[]; tables: string[] }> {
    const doc = await this.run<{ kind: string; name: string }>(
      `SELECT 'database' AS kind, name FROM system.databases WHERE {sightline_sql:UInt8} = 1
       UNION ALL SELECT 'table' AS kind, name FROM system.tables WHERE database = currentDatabase()`,
      { sightline_sql: 1 },
    )
    return {
      databases: doc.data.filter((r) => r.kind === 'database').map((r) => r.name),
      tables: doc.data.filter((r) => r.kind === 'table').map((r) => r.name),
    }
  }

  /**
   * `WITH <source> AS (SELECT * FROM db.table WHERE …), … SELECT * FROM (<statement>)`: a source name
   * shadows any table of that name, in the statement, its subqueries and every branch of a UNION.
   * The statement sits on lines of its own, so a trailing `--` comment cannot swallow the bracket.
   */
  private wrap(statement: string, sources: readonly SqlSource[]): string {
    const ctes = sources.map((s) => {
      const from = s.table === undefined ? (s.from ?? 'system.one') : this.qualified(s.table)
      return `${s.name} AS (SELECT * FROM ${from}${s.final ? ' FINAL' : ''}${s.where ? ` WHERE ${s.where}` : ''}${s.empty ? ' LIMIT 0' : ''})`
    })
    return `${ctes.length > 0 ? `WITH ${ctes.join(',\n')}\n` : ''}SELECT * FROM (\n${statement}\n)`
  }

  private run<T>(query: string, params: QueryParams): Promise<JsonDocument<T>> {
    return asWork('dashboard', () =>
      selectDocument<T>(
        this.client,
        query,
        params,
        (err) => this.failure(err),
        parseExact,
      ),
    )
  }

  /** A failed statement: busy, over a limit, ClickHouse's refusal (SqlQueryError), or the store down. */
  private failure(err: unknown): Error {
    if (err instanceof StoreBusyError) return err
    const limited = limitErrorOf(err)
    if (limited) return limited
    const message = clickhouseMessage(err)
    return message === undefined ? new StoreUnavailableError('store query failed', { cause: err }) : new SqlQueryError(this.scrub(message))
  }

  /** Messages name tables as `db.table`; the caller knows them by their names (and wrote its own text). */
  private scrub(message: string): string {
    // ClickHouse's hints ("Maybe you meant db.tokens?") would name tables the caller may not read.
    return message
      .replaceAll(`${this.database}.`, '')
      .replace(/:? In scope SELECT formatQuery\([\s\S]*$/, '')
      .replace(/\.? ?Maybe you meant [^?]*\?/g, '')
  }
}

/**
 * The message of a ClickHouse exception about the statement (the driver's error carries ClickHouse's
 * `code` and `type`), its first line and at most 500 characters; undefined for any other failure (the
 * store is down).
 */
function clickhouseMessage(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined
  const { code, type } = err as Error & { code?: unknown; type?: unknown }
  if (code === undefined || type === undefined) return undefined
  const text = (err.message.split('\n')[0] ?? '').replace(/^Code: \d+\. DB::Exception: /, '').replace(/ \(version [^)]*\)\.?$/, '').trim()
  return `${text.slice(0, 500)}${typeof type === 'string' && type !== '' ? ` (${type})` : ''}`
}

/**
 * JSON.parse that keeps integers past 2^53 exact, as bigints (ClickHouse writes 64-bit integers as bare
 * numbers unless told otherwise, and chDB would keep such a setting for its whole session). Number
 * tokens of 16 digits or more, outside strings, are marked before parsing and restored after.
 */
export function parseExact(text: string): unknown {
  const mark = `\u2063big${randomBytes(8).toString('hex')}:`
  let out = ''
  let last = 0
  let inString = false
  let before = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if ((c === '-' || (c >= '0' && c <= '9')) && (before === ':' || before === '[' || before === ',')) {
      let end = i + 1
      while (end < text.length && /[0-9.eE+-]/.test(text[end] as string)) end++
      const token = text.slice(i, end)
      if (/^-?\d{16,}$/.test(token)) {
        out += `${text.slice(last, i)}"${mark}${token}"`
        last = end
      }
      i = end - 1
      before = '0'
      continue
    }
    if (c !== ' ' && c !== '\n' && c !== '\t' && c !== '\r') before = c
  }
  const marked = last === 0 ? text : out + text.slice(last)
  return JSON.parse(marked, (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(mark)) return value
    const digits = value.slice(mark.length)
    return Number.isSafeInteger(Number(digits)) ? Number(digits) : BigInt(digits)
  })
}
