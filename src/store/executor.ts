/**
 * The one way statements reach ClickHouse (see `Executor`). Over 300 lines because admission, cancellation,
 * statistics and the three answer shapes (rows, compact rows, raw text) share one statement lifecycle;
 * split apart, each piece would need the others' private state.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client'
import { limitErrorOf, QueryLimitError, StoreUnavailableError } from './errors.js'
import { inlineValues } from './literals.js'
import type { QueryListener, QueryScope } from './query-stats.js'

export type { QueryScope } from './query-stats.js'
import { currentWork, limitSettings, type Workload } from './workload.js'

export type QueryParams = Record<string, unknown>

/** ClickHouse's whole `FORMAT JSON` answer: columns, rows and what the query read. */
export interface JsonDocument<T> {
  readonly meta: ReadonlyArray<{ name: string; type: string }>
  readonly data: T[]
  readonly rows: number
  readonly rows_before_limit_at_least?: number
  readonly statistics?: { elapsed?: number; rows_read?: number; bytes_read?: number }
}

/**
 * ClickHouse's `FORMAT JSONCompact` answer: the columns once, then each row as an array of values in
 * their order. Half the text of `FORMAT JSON` for a wide answer (no key per value), so less for chDB to
 * write and copy and for the gateway to decode; a hot path builds its objects straight from the arrays.
 */
export type CompactDocument = Omit<JsonDocument<never>, 'data'> & { readonly data: unknown[][] }

/**
 * Extra settings for one insert. Keyed batches set `insert_allow_materialized_columns` (to write the hidden
 * `_batch` column) and pin one block per insert, so that each table and view gets one part per partition.
 */
export type InsertSettings = Readonly<Record<string, string | number>>

interface ActiveScope extends QueryScope {
  /** Statements issued under this request id so far (shared with nested scopes of the same request). */
  readonly issued: { n: number }
}

/** The store was asked to stop a statement: its request was cancelled. */
export class QueryCancelledError extends StoreUnavailableError {
  override name = 'QueryCancelledError'
}

/** What the executor needs besides its client. */
export interface ExecutorOptions {
  /** Limits and queues (absent: every statement runs at once, unlimited). */
  readonly workload?: Workload | undefined
  /** Hears of every finished statement (latency metrics). */
  readonly onQuery?: QueryListener | undefined
  /** Whether a running statement can be cancelled (see `Executor.cancelsRunning`). */
  readonly cancelsRunning?: boolean | undefined
}

/**
 * Every statement Sightline sends to ClickHouse goes through one Executor per connection: it admits it
 * (the workload's scheduler and limits), tags it with the request's `query_id`, cancels it with the
 * request's signal, turns driver errors into store errors and records what it read on the request's
 * statistics. Repositories hold an Executor, never a bare client.
 */
/**
 * The `statistics` object at the end of a `FORMAT JSON` answer (`tail`: its last few hundred characters).
 * Throws when the answer does not end with it: an exception cut the answer (a limit hit after the first rows).
 */
export function jsonAnswerStatistics(tail: string): { rows_read: number; bytes_read: number } {
  const statistics = /"statistics":\s*(\{[^{}]*\})\s*\}\s*$/.exec(tail)?.[1]
  if (statistics === undefined) throw new Error('the answer ends without its statistics')
  const read = JSON.parse(statistics) as { rows_read?: number; bytes_read?: number }
  return { ...read, rows_read: Number(read.rows_read ?? 0), bytes_read: Number(read.bytes_read ?? 0) }
}

export class Executor {
  private readonly scopes = new AsyncLocalStorage<ActiveScope>()
  workload: Workload | undefined
  onQuery: QueryListener | undefined
  /**
   * A ClickHouse server stops a statement whose HTTP request is aborted, so a cancelled request's
   * running statements are aborted there. Embedded chDB cannot interrupt one (its abort only stops
   * waiting, while the session goes on computing, and one session runs one statement at a time): there a
   * cancelled request's statements are dropped while they wait for their turn, and a running one ends.
   */
  cancelsRunning: boolean
  /** Embedded chDB: statements run with their values inlined where they can be (see `bound`). */
  inlinesValues = false

  constructor(
    readonly client: ClickHouseClient,
    options: ExecutorOptions = {},
  ) {
    this.workload = options.workload
    this.onQuery = options.onQuery
    this.cancelsRunning = options.cancelsRunning ?? false
  }

  /**
   * Runs `fn` so that every statement it causes, however deep, is done for `scope`. Inside another
   * scope, what `scope` leaves out (the id, the signal, the statistics) is the outer one's.
   */
  within<T>(scope: QueryScope, fn: () => T): T {
    const outer = this.scopes.getStore()
    const requestId = scope.requestId ?? outer?.requestId
    return this.scopes.run(
      {
        requestId,
        signal: scope.signal ?? outer?.signal,
        stats: scope.stats ?? outer?.stats,
        tables: scope.tables ?? outer?.tables,
        issued: outer && outer.requestId === requestId ? outer.issued : { n: 0 },
      },
      fn,
    )
  }

  /**
   * Runs a query and returns its rows; a driver error becomes QueryLimitError (over its limits) or
   * StoreUnavailableError. The JSON format carries ClickHouse's read statistics (chDB sends no summary
   * header), which go to the request's statistics.
   */
  async select<T>(query: string, params: QueryParams = {}): Promise<T[]> {
    const unavailable = (err: unknown) => new StoreUnavailableError('store query failed', { cause: err })
    const unbound = Object.keys(params).length === 0
    return (await this.json<T>(query, params, { orElse: unavailable, parse: JSON.parse, unbound, flushAlways: false })).data
  }

  /**
   * Like select, as `FORMAT JSONCompact`: the column names (`meta`) and one array of values per row,
   * for callers that build their own objects (see CompactDocument).
   */
  selectCompact(query: string, params: QueryParams = {}): Promise<CompactDocument> {
    const unavailable = (err: unknown) => new StoreUnavailableError('store query failed', { cause: err })
    const unbound = Object.keys(params).length === 0
    return this.json<never, CompactDocument>(query, params, { orElse: unavailable, parse: JSON.parse, unbound, flushAlways: false }, 'JSONCompact')
  }

  /**
   * Like select, with the whole JSON document, and `orElse` deciding what a failure that is not a limit
   * becomes (a caller's own SQL fails with its own message, not as an unavailable store). Always bound
   * (`params` must not be empty), so it runs in the main queue.
   */
  document<T>(query: string, params: QueryParams, orElse: (err: unknown) => Error, parse: (text: string) => unknown = JSON.parse): Promise<JsonDocument<T>> {
    return this.json<T>(query, params, { orElse, parse, unbound: false, flushAlways: true })
  }

  /** Runs a statement without rows (DDL, ALTER) under the current kind's limits and queue. */
  async command(query: string): Promise<void> {
    await this.admitted(
      (settings, target, call) => target.command({ query, clickhouse_settings: settings, ...driverParams(call) }),
      (err) => new StoreUnavailableError('store command failed', { cause: err }),
    )
  }

  /**
   * Inserts rows and resolves once ClickHouse has written them to parts.
   *
   * Rows are objects sent as JSONEachRow, or, when `columns` is given, arrays of values in that order
   * sent as JSONCompactEachRow: the large ingest batches then carry no key per value, which roughly
   * halves the text to build and parse. Those are serialised in one `JSON.stringify` of the whole batch
   * (ClickHouse reads JSONCompactEachRow rows separated by commas), not one call per row and a join.
   *
   * Every insert carries an explicit deduplication token: the caller's idempotency token, or a fresh
   * one. Without it, tables with a deduplication window drop a legitimately repeated identical block,
   * and chDB's connection keeps settings for the session, so a previous insert's token would leak
   * into this one. The other settings are pinned rather than left to a server profile: the answer
   * must mean "written" (no asynchronous insert), a token must deduplicate, and a retried token must
   * still reach the materialized views, each checking its own blocks, so that a view whose write was
   * lost (a crash between the table and its views) is refilled instead of skipped or doubled.
   */
  async insert(
    table: string,
    rows: readonly object[],
    dedupToken?: string,
    columns?: readonly [string, ...string[]],
    settings: InsertSettings = {},
  ): Promise<void> {
    if (rows.length === 0) return
    await this.admitted(
      async (limits, target, call) => {
        const started = performance.now()
        const clickhouse_settings: ClickHouseSettings = {
          ...limits,
          insert_deduplication_token: dedupToken ?? randomUUID(),
          insert_deduplicate: 1,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          async_insert: 0,
          insert_allow_materialized_columns: 0,
          input_format_parallel_parsing: 1,
          // The views of a table (change log, stock, rollups) written side by side rather than one after
          // another: under fsync each writes and syncs its own part, and a one-row sale waited for them in turn.
          parallel_view_processing: 1,
          ...settings,
        }
        if (columns) {
          // `[[…],[…]]` without its brackets: the rows, comma-separated, as one chunk.
          const json = JSON.stringify(rows)
          const result = await target.exec({
            query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT JSONCompactEachRow`,
            values: Readable.from([json.slice(1, -1)]),
            clickhouse_settings,
            ...driverParams(call),
          })
          // Drained, not destroyed: over HTTP a destroyed answer closes the keep-alive socket.
          await finished(result.stream.resume())
        } else {
          await target.insert({
            table,
            values: rows as object[],
            format: 'JSONEachRow',
            clickhouse_settings,
            ...driverParams(call),
          })
        }
        this.record(call.scope, 'insert', performance.now() - started)
      },
      (err) => new StoreUnavailableError(`insert into ${table} failed`, { cause: err }),
      true,
    )
  }

  /**
   * A query's answer as bytes, in the FORMAT its SQL ends with (Parquet, say: binary, never read as text
   * or split into rows), under the current kind's limits and queue. What the statement read goes to the
   * request's statistics and is returned: the driver's summary, or, when the answer writes it itself (FORMAT
   * JSON's statistics, a template's trailer), what `split` reads there; `split` also returns the part to
   * keep, and throws when the answer is not whole (the session is then flushed, as after a limit).
   * Always bound (`params` must not be empty).
   */
  bytes(
    query: string,
    params: QueryParams,
    orElse: (err: unknown) => Error,
    split?: (bytes: Buffer) => { readonly body: Buffer; readonly read: { readonly rows_read: number; readonly bytes_read: number } },
  ): Promise<{ bytes: Buffer; rowsRead: number; bytesRead: number }> {
    return this.admitted(
      async (settings, target, call) => {
        const started = performance.now()
        const result = await target.exec({ ...this.bound(query, params), clickhouse_settings: settings, ...driverParams(call) })
        const chunks: Buffer[] = []
        for await (const chunk of result.stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array))
        // chDB hands over its whole answer as one chunk: kept as it is rather than copied once more.
        const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
        // chDB's summary counts the answer's rows and bytes, not what was read: only a split knows that.
        const summary = (result as { summary?: { read_rows?: string; read_bytes?: string } }).summary
        const { body, read } = split?.(whole) ?? { body: whole, read: { rows_read: Number(summary?.read_rows ?? 0), bytes_read: Number(summary?.read_bytes ?? 0) } }
        this.record(call.scope, 'select', performance.now() - started, read)
        noteTables(call.scope, query)
        return { bytes: body, rowsRead: read.rows_read, bytesRead: read.bytes_read }
      },
      orElse,
      false,
      true,
    )
  }

  /**
   * One `FORMAT JSON` (or `JSONCompact`) query under the current kind's limits and queue (see `admitted`).
   *
   * The queue's slot is held until the answer's text is read; a complete answer of the default parser is
   * parsed after the slot is given back, so the next statement runs in the store while this one's rows are
   * decoded (embedded chDB runs one statement at a time: a parse inside the slot leaves it idle meanwhile).
   * A text that does not end like a whole document (a limit hit mid-answer leaves ClickHouse's exception
   * text there, which must be flushed before the next statement) and custom parsers stay inside the slot.
   */
  private async json<T, D extends Omit<JsonDocument<T>, 'data'> = JsonDocument<T>>(
    query: string,
    params: QueryParams,
    how: { orElse: (err: unknown) => Error; parse: (text: string) => unknown; unbound: boolean; flushAlways: boolean },
    format: 'JSON' | 'JSONCompact' = 'JSON',
  ): Promise<D> {
    const parse = (text: string): D => {
      try {
        return how.parse(text) as D
      } catch (err) {
        // A limit hit after the first rows were written ends the output with ClickHouse's exception text.
        throw limitErrorOf(new Error(text.slice(-1000))) ?? err
      }
    }
    const answer = await this.admitted(
      async (settings, target, call) => {
        const started = performance.now()
        const rs = await target.query({ ...this.bound(query, params), format, clickhouse_settings: settings, ...driverParams(call) })
        const text = await rs.text()
        const later = how.parse === JSON.parse && !how.flushAlways && WHOLE_DOCUMENT.test(text.slice(-400))
        return { text, call, started, body: later ? undefined : parse(text) }
      },
      how.orElse,
      how.unbound,
      how.flushAlways,
    )
    let body = answer.body
    if (body === undefined) {
      try {
        body = parse(answer.text)
      } catch (err) {
        throw err instanceof QueryLimitError ? err : how.orElse(err)
      }
    }
    this.record(answer.call.scope, 'select', performance.now() - answer.started, body.statistics)
    noteTables(answer.call.scope, query)
    return body
  }

  /**
   * Runs `fn` as the current kind of work: admitted by the workload's scheduler (which may refuse it with
   * StoreBusyError) and given that kind's time and memory limits as settings for its one statement, with
   * the request's query id and abort signal. A driver error that reports a limit becomes QueryLimitError;
   * a cancelled request's, QueryCancelledError; any other becomes `orElse`. Only reads are cancelled:
   * ingest and service writes run to the end once admitted, whatever their client does.
   *
   * `fn` gets the client to run on: an `unbound` statement (no query parameters: inserts, `SELECT 1`)
   * goes to the workload's lane when it has one — a second chDB session, which runs such statements
   * beside a running read, in its own priority queue (ingest before service logs). Bound statements are
   * serialised process-wide by chdb-node whatever the session, so they stay in the main queue.
   */
  private admitted<T>(
    fn: (settings: ClickHouseSettings, target: ClickHouseClient, call: StatementCall) => Promise<T>,
    orElse: (err: unknown) => Error,
    unbound = false,
    /** Flush after any failure, not only a limit: a caller's SQL can fail mid-answer in many ways (throwIf). */
    flushAlways = false,
  ): Promise<T> {
    const workload = this.workload
    const kind = currentWork()
    const settings = workload ? limitSettings(workload.limitOf(kind)) : {}
    const lane = unbound ? workload?.lane : undefined
    const scope = this.scopes.getStore()
    // Writes are never cut short by their client going away: a batch that started is stored whole.
    const signal = kind === 'ingest' || kind === 'service' ? undefined : scope?.signal
    const guarded = async (target: ClickHouseClient) => {
      if (signal?.aborted) throw new QueryCancelledError('the request was cancelled before its query ran')
      const call: StatementCall = {
        ...(scope?.requestId !== undefined && { query_id: `${scope.requestId}.${++scope.issued.n}` }),
        ...(signal && this.cancelsRunning && { abort_signal: signal }),
        scope,
      }
      try {
        return await fn(settings, target, call)
      } catch (err) {
        if (signal?.aborted) throw new QueryCancelledError('the request was cancelled while its query ran', { cause: err })
        const limited = limitErrorOf(err)
        if (!limited && !flushAlways) throw orElse(err)
        // chDB 3.4 keeps what a query that failed on a limit had written and prepends it to the next
        // answer (two JSON documents, unparseable): a throwaway query takes it, inside this slot.
        await target.query({ query: 'SELECT {flush:UInt8} AS flush', query_params: { flush: 1 }, format: 'JSON' }).then((rs) => rs.text(), () => '')
        throw limited ?? orElse(err)
      }
    }
    if (!workload) return guarded(this.client)
    if (lane) return lane.scheduler.run(kind, () => guarded(lane.client))
    const pool = workload.pool
    return workload.scheduler.run(kind, pool ? () => pool.use(guarded) : () => guarded(this.client))
  }

  /**
   * A statement and its parameters as sent: on embedded chDB (`inlinesValues`) the values inlined as typed
   * literals where `inlineValues` renders them all, so the statement runs beside others on its own session
   * instead of waiting in chdb-node's one chain of bound statements.
   */
  private bound(query: string, params: QueryParams): { query: string; query_params: QueryParams } {
    if (!this.inlinesValues) return { query, query_params: params }
    const inlined = inlineValues(query, params)
    return inlined === undefined ? { query, query_params: params } : { query: inlined, query_params: {} }
  }

  /** Counts a statement on the request it was admitted for (a queued one runs in whichever call freed its slot). */
  private record(scope: QueryScope | undefined, kind: 'select' | 'insert', ms: number, read: { rows_read?: number; bytes_read?: number } = {}): void {
    this.onQuery?.({ kind, ms })
    const stats = scope?.stats
    if (!stats) return
    stats.queries += 1
    stats.ms += ms
    stats.rowsRead += Number(read.rows_read ?? 0)
    stats.bytesRead += Number(read.bytes_read ?? 0)
  }
}

/** What one statement is sent with, and the request it is counted on. */
interface StatementCall {
  readonly query_id?: string
  readonly abort_signal?: AbortSignal
  readonly scope: QueryScope | undefined
}

function driverParams({ query_id, abort_signal }: StatementCall): { query_id?: string; abort_signal?: AbortSignal } {
  return { ...(query_id !== undefined && { query_id }), ...(abort_signal && { abort_signal }) }
}

/**
 * The position of each of `names` in a compact answer's columns, in that order; a missing column is a
 * store error (the query file and its reader disagree), never a row of undefined values.
 */
export function columnsOf<const N extends readonly string[]>(doc: CompactDocument, names: N): { readonly [K in keyof N]: number } {
  return names.map((name) => {
    const at = doc.meta.findIndex((m) => m.name === name)
    if (at < 0) throw new StoreUnavailableError(`the store's answer has no column ${name}`)
    return at
  }) as unknown as { readonly [K in keyof N]: number }
}

/** How a whole `FORMAT JSON`/`JSONCompact` answer ends: its statistics object, then the document's brace. */
const WHOLE_DOCUMENT = /"statistics":\s*\{[^{}]*\}\s*\}\s*$/

/** A qualified name in SQL text: `db.table`, either part possibly back-quoted. */
const QUALIFIED = /(?:`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*))\s*\.\s*(?:`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*)\b)/g
/** The qualified names of recent statement texts (the query files render a few texts, reused). */
const namedTables = new Map<string, readonly string[]>()

/**
 * Adds the tables a statement names to its request's `stats.tables`, when the request collects them (the
 * read cache). Every table of Sightline's SQL is written `{{db}}.name` (the query files, rendered for one
 * database), so the qualified names of the text are the tables it reads; names that are not tables
 * (`alias.column`) never change, so they cost nothing. The cache treats an answer that named none of its
 * databases' tables as reading every table.
 */
function noteTables(scope: QueryScope | undefined, query: string): void {
  const into = scope?.stats?.tables ?? scope?.tables
  if (!into) return
  let names = namedTables.get(query)
  if (!names) {
    const found = new Set<string>()
    for (const m of query.matchAll(QUALIFIED)) found.add(`${m[1] ?? m[2]}.${m[3] ?? m[4]}`)
    names = [...found]
    if (namedTables.size >= 1000) namedTables.delete(namedTables.keys().next().value as string)
    namedTables.set(query, names)
  }
  for (const name of names) into.add(name)
}

const executors = new WeakMap<ClickHouseClient, Executor>()

/**
 * The executor of `client`: the one a store opened on it, or a bare one (no limits, no listener) made
 * the first time a client without a store is used (migrations before a store, tools, tests).
 */
export function executorOf(client: ClickHouseClient): Executor {
  let executor = executors.get(client)
  if (!executor) executors.set(client, (executor = new Executor(client)))
  return executor
}

/** Routes every statement run on `client` through `workload` (its executor's limits and queues). */
export function attachWorkload(client: ClickHouseClient, workload: Workload): Executor {
  const executor = executorOf(client)
  executor.workload = workload
  return executor
}
