/**
 * The read cache (`SIGHTLINE_READ_CACHE`): serialised answers kept by what determines them, dropped by the
 * tables they read. Over 300 lines because keys, dependencies, table-state polling and the shared misses
 * are one consistency argument: an answer is served only while nothing it read can have changed.
 */
import { getOperationAST, Kind, type ExecutionArgs, type ExecutionResult, type SelectionNode } from 'graphql'
import type { Principal } from '../auth/scopes.js'
import type { QueryStats } from '../store/query-stats.js'

/** Root fields whose answers depend only on their arguments, the caller's grants and the data tables. */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set(['productGrid', 'uiFilters', 'products', 'product', 'stock', 'ecommTrend', 'analytics'])

/**
 * Tables no cacheable answer reads and that change on every request or token check (service logs, tokens,
 * idempotency records, migrations, quarantine): their writes must not empty the cache.
 */
const UNWATCHED = /\.(operation_log|ingest_log|error_log|tokens|schema_migrations|ingest_batches|stock_changes|[a-z_]+_quarantine)$/

export interface ReadCacheOptions {
  /** Serialised size (JSON, UTF-8 bytes) of all kept answers; the least recently used go first. */
  readonly maxBytes: number
  /** The longest an answer is kept even when nothing is written: answers relative to the clock (last-hour hits) age. */
  readonly ttlMs: number
  /**
   * Whether every read is kept (SIGHTLINE_READ_CACHE: GraphQL queries and REST pipes), or only the REST
   * answers of pipes that ask for it with `CACHE`. @default true
   */
  readonly everyRead?: boolean
  /** How often the tables' state is read to catch writes that bypass this gateway. */
  readonly pollMs: number
  /** Each table's fingerprint (`db.table` -> state); a change drops the answers that read that table. */
  readonly probe: () => Promise<ReadonlyMap<string, string>>
  /**
   * The databases whose tables answers depend on (the store's, a loaded project's). An answer whose
   * statements named no table of these is taken to read every table.
   */
  readonly databases?: readonly string[]
  readonly onError?: (err: unknown) => void
  readonly now?: () => number
}

type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult

/** What an answer reads: some tables (`db.table`), or, when that is unknown, every table. */
type Dependencies = ReadonlySet<string> | 'all'

interface Entry {
  readonly at: number
  /** How long it may be served from `at` (the cache's TTL, or a pipe's `CACHE`). */
  readonly ttlMs: number
  /** What a hit answers: a GraphQL ExecutionResult, a REST pipe's PipeAnswer. */
  readonly value: unknown
  readonly bytes: number
  readonly reads: Dependencies
}

/** What a miss computed: its value and, when it may be kept, how to keep it (returns its size in bytes, what the cache's bound counts). */
interface Computed<V> {
  readonly value: V
  readonly keep?: (() => number) | undefined
}

/**
 * One cacheable read: runs it with `named` collecting the qualified tables its statements name. `tracked`
 * says whether they were collected at all (an answer whose reads are unknown depends on every table).
 */
type Miss<V> = (named: Set<string>) => Promise<Computed<V> & { readonly tracked: boolean }>

/** A REST pipe's answer as it is written: its content type and body. */
export interface PipeAnswer {
  readonly contentType: string
  readonly body: string | Buffer
}

/**
 * Response bodies known as bytes, by the answer's `data`: answers the store wrote (src/execution/pass-through.ts)
 * and answers the cache keeps. Such an answer is written as those bytes, never serialised or encoded again.
 */
const written = new WeakMap<object, AnswerBytes>()

/** A response body as the parts it is written from, in order (a store-written answer is not copied into one). */
export type AnswerBytes = readonly Buffer[]

/**
 * `data`'s response body is `parts` (`{"data":…}` and a newline): written as those bytes, never serialised
 * from `data`, and kept as them by the cache.
 */
export function answeredWith(data: object, parts: AnswerBytes): void {
  written.set(data, parts)
}

/**
 * The response body of `value` as bytes when they are known and it has nothing but `data` (`{"data":…}` and
 * a newline, exactly what Apollo's default serialiser writes for it), else undefined.
 */
export function answerBytes(value: { readonly data?: unknown; readonly errors?: unknown; readonly extensions?: unknown }): AnswerBytes | undefined {
  if (value.errors !== undefined || value.extensions !== undefined || !isObject(value.data)) return undefined
  return written.get(value.data)
}

/** Why answers left the cache (the `reason` label of the evictions metric). */
export type EvictionReason = 'write' | 'size' | 'expired'

/** The cache's counters since start, and its size now (read by `/metrics`). */
export interface ReadCacheStats {
  hits: number
  misses: number
  /** Misses that waited for the same answer another request was computing instead of computing it again. */
  shared: number
  /** Cacheable reads that ran without the cache (the poll late or failing, a write being checked). */
  bypassed: number
  /** Writes seen (through this gateway or by the poll) that dropped answers or could have. */
  invalidations: number
  readonly evictions: Record<EvictionReason, number>
}

/** Where a response's headers can be set (Apollo's, through the gateway executor). */
export interface ResponseHeaders {
  set(name: string, value: string): void
}

/** How many table changes are remembered to decide whether an answer computed across them may be kept. */
const CHANGE_LOG = 256

/**
 * Answers of read-only queries, kept by what determines them: the document and operation, the variables,
 * and the caller's effective grants (scopes, workspace binding, a Tinybird JWT's fixed parameters) — two
 * callers with different grants never share an answer.
 *
 * Each answer carries its dependencies: the tables its store statements named (collected on the request's
 * query statistics while it runs; an answer that named none is taken to read everything). A change of a
 * table drops exactly the answers that read it: a write to `warehouse_stock` drops the product grid (which
 * reads the stock view its materialized view feeds), not an analytics answer. Changes are seen by reading
 * the tables' state (their parts: every insert, merge, mutation or truncate changes it, whoever wrote):
 * once right after each write through this gateway (a mutation, a Data Sources call), which answers only
 * once that reading is done, and every `pollMs` for writes that bypass it (a direct insert, another
 * replica). Promise: a write through this gateway is never hidden by the cache; any other write is visible
 * at most 2 × `pollMs` after it lands (an answer is served only while the last completed poll was started
 * less than 2 × `pollMs` ago, so a slow or failing poll turns the cache off, never stale); no answer is older
 * than `ttlMs`. Errors are never kept. Token checks, rate limits and query limits run before the executor,
 * so a hit still pays them.
 */
export class ReadCache {
  private states: ReadonlyMap<string, string> | undefined
  /** When the last successful poll was started (its snapshot is at least that recent). */
  private polledFrom = Number.NEGATIVE_INFINITY
  private readonly entries = new Map<string, Entry>()
  /** Answers being computed, by key, with the change sequence they started at. */
  private readonly running = new Map<string, { readonly seq: number; readonly result: Promise<Computed<unknown>> }>()
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  /** Whether the poll was started (by the server, or by `wake`) or the cache closed. */
  private phase: 'idle' | 'started' | 'closed' = 'idle'
  private polling: Promise<boolean> | undefined
  /** Writes through this gateway whose changes are still being read: nothing is served meanwhile. */
  private checking = 0
  /** Sequence number of the last change, and the last changes (to judge answers computed across them). */
  private seq = 0
  private readonly changes: Array<{ readonly seq: number; readonly tables: Dependencies }> = []
  private readonly databases: ReadonlySet<string> | undefined
  private readonly now: () => number
  readonly stats: ReadCacheStats = { hits: 0, misses: 0, shared: 0, bypassed: 0, invalidations: 0, evictions: { write: 0, size: 0, expired: 0 } }

  constructor(private readonly options: ReadCacheOptions) {
    this.now = options.now ?? (() => performance.now())
    this.databases = options.databases && new Set(options.databases)
  }

  /** Answers kept now, and their serialised size. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  /** Reads the tables' state once, then every `pollMs` (once: later calls wait for nothing). */
  async start(): Promise<void> {
    if (this.phase !== 'idle') return
    this.phase = 'started'
    await this.poll()
    if (this.isClosed()) return
    this.timer = setInterval(() => void this.poll(), this.options.pollMs)
    this.timer.unref()
  }

  /**
   * Starts the poll on first use when the server did not (the read cache off, a project pipe with `CACHE`):
   * reads bypass the cache until its first reading is done.
   */
  wake(): void {
    if (this.phase === 'idle') void this.start()
  }

  private isClosed(): boolean {
    return this.phase === 'closed'
  }

  close(): void {
    this.phase = 'closed'
    clearInterval(this.timer)
    this.timer = undefined
    this.entries.clear()
    this.bytes = 0
  }

  /**
   * A write went through this gateway: resolves once the answers that read a table it changed are
   * dropped (the tables' state is read again; when that fails, every answer is dropped). Nothing is
   * served from the cache until then.
   */
  async written(): Promise<void> {
    if (this.states === undefined && !this.polling) return // the tables never read: nothing was kept
    this.checking++
    try {
      // A poll already running may have read the tables before the write landed: read them again after it.
      await this.polling
      if (!(await this.poll())) this.invalidate('all')
    } finally {
      this.checking--
    }
  }

  /** One poll now (also what the timer runs); a poll already running is awaited instead. True when it succeeded. */
  poll(): Promise<boolean> {
    this.polling ??= this.readStates().finally(() => {
      this.polling = undefined
    })
    return this.polling
  }

  /**
   * `execute` with the cache in front of it; mutations drop what they changed before they answer. When
   * not `everyRead`, queries run as they are (only pipes' REST answers are kept) and mutations still drop them.
   */
  wrap(execute: Execute): (args: ExecutionArgs, headers?: ResponseHeaders) => Promise<ExecutionResult> | ExecutionResult {
    return (args, headers) => this.execute(args, execute, headers)
  }

  /**
   * How long a REST pipe's answer may be kept, in ms; undefined when it is not kept. `cacheSeconds` is a
   * project pipe's `CACHE` (0: never kept); without one, the cache's TTL when it keeps every read.
   */
  ttlFor(cacheSeconds: number | undefined): number | undefined {
    if (cacheSeconds !== undefined) return cacheSeconds > 0 ? cacheSeconds * 1000 : undefined
    return this.options.everyRead === false ? undefined : this.options.ttlMs
  }

  private async execute(args: ExecutionArgs, execute: Execute, headers: ResponseHeaders | undefined): Promise<ExecutionResult> {
    const operation = getOperationAST(args.document, args.operationName)
    if (operation?.operation === 'mutation') {
      try {
        return await execute(args)
      } finally {
        // A write the store did not account for (no request statistics) may have changed anything.
        if (statsOf(args)) await this.written()
        else this.invalidate('all')
      }
    }
    const key = this.options.everyRead !== false && operation?.operation === 'query' ? this.keyOf(args, operation.selectionSet.selections) : undefined
    if (key === undefined) return execute(args)
    return this.lookup<ExecutionResult>(key, this.options.ttlMs, headers, async (named) => {
      const stats = statsOf(args)
      const outer = stats?.tables
      if (stats) stats.tables = named
      let result: ExecutionResult
      try {
        result = await execute(args)
      } finally {
        if (stats) {
          if (outer) for (const t of named) outer.add(t)
          stats.tables = outer
        }
      }
      const data = result.data
      const keep = !result.errors?.length && isObject(data) && result.extensions === undefined
      return {
        value: result,
        tracked: stats !== undefined,
        keep: keep
          ? () => {
              const body = written.get(data) ?? [Buffer.from(`${JSON.stringify({ data })}\n`, 'utf8')]
              written.set(data, body)
              return lengthOf(body)
            }
          : undefined,
      }
    })
  }

  /**
   * A REST pipe's answer under `key` (what determines it: the pipe, its parameters and format, the caller's
   * grants), kept for `ttlMs` at most: from the cache when it holds it, else from `miss`, which runs the
   * pipe with `named` collecting the tables it reads. Errors (thrown) are never kept.
   */
  answer(key: string, ttlMs: number, headers: ResponseHeaders | undefined, miss: (named: Set<string>) => Promise<PipeAnswer>): Promise<PipeAnswer> {
    return this.lookup<PipeAnswer>(`rest:${key}`, ttlMs, headers, async (named) => {
      const value = await miss(named)
      return { value, tracked: true, keep: () => (typeof value.body === 'string' ? Buffer.byteLength(value.body, 'utf8') : value.body.length) }
    })
  }

  /**
   * The answer under `key`: kept and fresh, or computed by `miss` (once for requests that miss it together)
   * and kept for `ttlMs` unless a table it read changed meanwhile.
   */
  private async lookup<V>(key: string, ttlMs: number, headers: ResponseHeaders | undefined, miss: Miss<V>): Promise<V> {
    if (!this.fresh()) {
      this.stats.bypassed++
      return (await miss(new Set())).value
    }
    const entry = this.entries.get(key)
    if (entry && this.now() - entry.at <= entry.ttlMs) {
      this.stats.hits++
      this.entries.delete(key)
      this.entries.set(key, entry)
      headers?.set('x-sightline-cache', 'hit')
      return entry.value as V
    }
    if (entry) this.drop(key, entry, 'expired')
    headers?.set('x-sightline-cache', 'miss')
    // The same answer being computed since no table changed: wait for it rather than compute it again
    // (many clients asking at once after a write or an expiry). A write through this gateway that
    // finished before this request changed the sequence first (the cache is bypassed until then).
    const running = this.running.get(key)
    if (running && running.seq === this.seq) {
      this.stats.shared++
      const shared = await running.result.catch(() => undefined)
      if (shared?.keep) return shared.value as V
      return (await miss(new Set())).value
    }
    this.stats.misses++
    const seq = this.seq
    const result = this.compute(key, ttlMs, miss)
    this.running.set(key, { seq, result })
    try {
      return (await result).value
    } finally {
      if (this.running.get(key)?.result === result) this.running.delete(key)
    }
  }

  /** Runs a missed read, noting the tables it reads, and keeps its answer unless one of them changed meanwhile. */
  private async compute<V>(key: string, ttlMs: number, miss: Miss<V>): Promise<Computed<V>> {
    const seq = this.seq
    const at = this.now()
    const named = new Set<string>()
    const { value, keep, tracked } = await miss(named)
    if (keep) {
      const reads = tracked ? this.dependencies(named) : 'all'
      if (this.fresh() && !this.changedSince(seq, reads)) {
        this.keep(key, { at, ttlMs, value, bytes: keep(), reads })
      }
    }
    return { value, keep }
  }

  /** The tables of this cache's databases among `named`; every table when there are none. */
  private dependencies(named: ReadonlySet<string>): Dependencies {
    const reads = new Set<string>()
    for (const name of named) if (!this.databases || this.databases.has(name.slice(0, name.indexOf('.')))) reads.add(name)
    return reads.size > 0 ? reads : 'all'
  }

  /** Whether a change after `seq` touched `reads` (true when the changes since then are no longer remembered). */
  private changedSince(seq: number, reads: Dependencies): boolean {
    if (seq === this.seq) return false
    const oldest = this.changes[0]
    if (!oldest || oldest.seq > seq + 1) return true
    for (const c of this.changes) if (c.seq > seq && overlaps(c.tables, reads)) return true
    return false
  }

  /** Tables changed: the answers that read any of them go. */
  private invalidate(tables: Dependencies): void {
    this.stats.invalidations++
    this.changes.push({ seq: ++this.seq, tables })
    if (this.changes.length > CHANGE_LOG) this.changes.shift()
    for (const [key, entry] of this.entries) if (overlaps(tables, entry.reads)) this.drop(key, entry, 'write')
  }

  /** The key of a cacheable query, else undefined (unknown caller, other root fields, no source text). */
  private keyOf(args: ExecutionArgs, selections: readonly SelectionNode[]): string | undefined {
    const principal = (args.contextValue as { principal?: Principal | null } | undefined)?.principal
    const source = args.document.loc?.source.body
    if (!principal || source === undefined || selections.length === 0) return undefined
    for (const s of selections) if (s.kind !== Kind.FIELD || !CACHEABLE_ROOT_FIELDS.has(s.name.value)) return undefined
    return JSON.stringify([source, args.operationName ?? null, args.variableValues ?? null, grantsOf(principal)])
  }

  private fresh(): boolean {
    return this.checking === 0 && this.now() - this.polledFrom <= 2 * this.options.pollMs
  }

  private keep(key: string, entry: Entry): void {
    if (entry.bytes > this.options.maxBytes) return
    const old = this.entries.get(key)
    if (old) this.drop(key, old, 'write')
    this.entries.set(key, entry)
    this.bytes += entry.bytes
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.options.maxBytes) break
      this.drop(k, e, 'size')
    }
  }

  private drop(key: string, entry: Entry, reason: EvictionReason): void {
    this.entries.delete(key)
    this.bytes -= entry.bytes
    this.stats.evictions[reason]++
  }

  private async readStates(): Promise<boolean> {
    const started = this.now()
    try {
      const all = await this.options.probe()
      const states = new Map([...all].filter(([table]) => !UNWATCHED.test(table)))
      if (this.states) {
        const changed = changedTables(this.states, states)
        if (changed.size > 0) this.invalidate(changed)
      }
      this.states = states
      this.polledFrom = started
      return true
    } catch (err) {
      this.options.onError?.(err)
      return false
    }
  }
}

/**
 * What of a caller an answer may depend on, as part of a cache key: its sorted scopes, workspace binding and
 * a Tinybird JWT's fixed parameters and row filters (two callers with different grants never share an answer).
 */
export function grantsOf(principal: Principal): unknown[] {
  const byName = <T>(map: ReadonlyMap<string, T> | undefined) => (map ? [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null)
  return [[...principal.scopes].sort(), principal.workspaceId, byName(principal.fixedParams), byName(principal.rowFilters)]
}

/** The request's query statistics (the context's `reads`), where the store notes the tables it reads. */
function statsOf(args: ExecutionArgs): QueryStats | undefined {
  return (args.contextValue as { reads?: QueryStats } | undefined)?.reads
}

/** The length in bytes of a response body. */
export function lengthOf(body: AnswerBytes): number {
  let n = 0
  for (const part of body) n += part.length
  return n
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

function overlaps(a: Dependencies, b: Dependencies): boolean {
  if (a === 'all' || b === 'all') return true
  const [small, large] = a.size <= b.size ? [a, b] : [b, a]
  for (const t of small) if (large.has(t)) return true
  return false
}

/** Tables whose state differs between two readings (appeared, gone or changed). */
function changedTables(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): Set<string> {
  const changed = new Set<string>()
  for (const [k, v] of a) if (b.get(k) !== v) changed.add(k)
  for (const k of b.keys()) if (!a.has(k)) changed.add(k)
  return changed
}
