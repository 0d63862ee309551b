import { getOperationAST, Kind, type ExecutionArgs, type ExecutionResult, type SelectionNode } from 'graphql'
import type { Principal } from '../auth/scopes.js'

/** Root fields whose answers depend only on their arguments, the caller's grants and the data tables. */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set(['productGrid', 'uiFilters', 'products', 'product', 'stock', 'ecommTrend', 'analytics'])

/**
 * Tables no cacheable answer reads and that change on every request or token check (service logs, tokens,
 * idempotency records, migrations, quarantine): their writes must not empty the cache.
 */
const UNWATCHED = /\.(operation_log|ingest_log|error_log|tokens|schema_migrations|ingest_batches|stock_changes|[a-z_]+_quarantine)$/

export interface ReadCacheOptions {
  /** Serialised size (JSON) of all kept answers; the least recently used go first. */
  readonly maxBytes: number
  /** The longest an answer is kept even when nothing is written: answers relative to the clock (last-hour hits) age. */
  readonly ttlMs: number
  /** How often the tables' state is read to catch writes that bypass this gateway. */
  readonly pollMs: number
  /** Each table's fingerprint (`db.table` -> state); any change of a watched table drops every answer. */
  readonly probe: () => Promise<ReadonlyMap<string, string>>
  readonly onError?: (err: unknown) => void
  readonly now?: () => number
}

type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult

interface Entry {
  readonly version: number
  readonly at: number
  readonly result: ExecutionResult
  readonly bytes: number
}

/** Where a response's headers can be set (Apollo's, through the gateway executor). */
export interface ResponseHeaders {
  set(name: string, value: string): void
}

/**
 * Answers of read-only queries, kept by what determines them: the document and operation, the variables,
 * and the caller's effective grants (scopes, workspace binding, a Tinybird JWT's fixed parameters) — two
 * callers with different grants never share an answer. Each answer is tagged with the data version it was
 * computed at; the version advances on every write through this gateway (a mutation, a Data Sources call)
 * and whenever the poll sees a watched table's parts change (a direct insert, another replica, a merge).
 * Promise: a write through this gateway is never hidden by the cache; any other write is visible at most
 * 2 × `pollMs` after it lands (an answer is served only while the last completed poll was started less than
 * 2 × `pollMs` ago, so a slow or failing poll turns the cache off, never stale); no answer is older than
 * `ttlMs`. Errors are never kept. Token checks, rate limits and query limits run before the executor, so a
 * hit still pays them.
 */
export class ReadCache {
  private version = 0
  private states: ReadonlyMap<string, string> | undefined
  /** When the last successful poll was started (its snapshot is at least that recent). */
  private polledFrom = Number.NEGATIVE_INFINITY
  private readonly entries = new Map<string, Entry>()
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private readonly now: () => number
  readonly stats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0 }

  constructor(private readonly options: ReadCacheOptions) {
    this.now = options.now ?? (() => performance.now())
  }

  /** Reads the tables' state once, then every `pollMs`. */
  async start(): Promise<void> {
    await this.poll()
    this.timer = setInterval(() => void this.poll(), this.options.pollMs)
    this.timer.unref()
  }

  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.clear()
  }

  /** A write went through this gateway: no answer computed before it is served again. */
  written(): void {
    this.version++
    this.stats.invalidations++
    this.clear()
  }

  /** One poll now (also what the timer runs); a poll already running is awaited instead. */
  poll(): Promise<void> {
    this.polling ??= this.readStates().finally(() => {
      this.polling = undefined
    })
    return this.polling
  }

  /** `execute` with the cache in front of it; mutations advance the data version when they end. */
  wrap(execute: Execute): (args: ExecutionArgs, headers?: ResponseHeaders) => Promise<ExecutionResult> | ExecutionResult {
    return (args, headers) => this.execute(args, execute, headers)
  }

  private async execute(args: ExecutionArgs, execute: Execute, headers: ResponseHeaders | undefined): Promise<ExecutionResult> {
    const operation = getOperationAST(args.document, args.operationName)
    if (operation?.operation === 'mutation') {
      try {
        return await execute(args)
      } finally {
        this.written()
      }
    }
    const key = operation?.operation === 'query' ? this.keyOf(args, operation.selectionSet.selections) : undefined
    if (key === undefined) return execute(args)
    if (!this.fresh()) {
      this.stats.bypassed++
      return execute(args)
    }
    const entry = this.entries.get(key)
    if (entry && entry.version === this.version && this.now() - entry.at <= this.options.ttlMs) {
      this.stats.hits++
      this.entries.delete(key)
      this.entries.set(key, entry)
      headers?.set('x-sightline-cache', 'hit')
      return entry.result
    }
    if (entry) this.drop(key, entry)
    this.stats.misses++
    headers?.set('x-sightline-cache', 'miss')
    const version = this.version
    const at = this.now()
    const result = await execute(args)
    if (!result.errors?.length && version === this.version) this.keep(key, { version, at, result, bytes: JSON.stringify(result).length })
    return result
  }

  /** The key of a cacheable query, else undefined (unknown caller, other root fields, no source text). */
  private keyOf(args: ExecutionArgs, selections: readonly SelectionNode[]): string | undefined {
    const principal = (args.contextValue as { principal?: Principal | null } | undefined)?.principal
    const source = args.document.loc?.source.body
    if (!principal || source === undefined || selections.length === 0) return undefined
    for (const s of selections) if (s.kind !== Kind.FIELD || !CACHEABLE_ROOT_FIELDS.has(s.name.value)) return undefined
    const fixed = principal.fixedParams ? [...principal.fixedParams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null
    return JSON.stringify([source, args.operationName ?? null, args.variableValues ?? null, [...principal.scopes].sort(), principal.workspaceId, fixed])
  }

  private fresh(): boolean {
    return this.now() - this.polledFrom <= 2 * this.options.pollMs
  }

  private keep(key: string, entry: Entry): void {
    if (entry.bytes > this.options.maxBytes) return
    const old = this.entries.get(key)
    if (old) this.drop(key, old)
    this.entries.set(key, entry)
    this.bytes += entry.bytes
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.options.maxBytes) break
      this.drop(k, e)
    }
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.bytes -= entry.bytes
  }

  private clear(): void {
    this.entries.clear()
    this.bytes = 0
  }

  private async readStates(): Promise<void> {
    const started = this.now()
    try {
      const all = await this.options.probe()
      const states = new Map([...all].filter(([table]) => !UNWATCHED.test(table)))
      if (this.states && changed(this.states, states)) this.written()
      this.states = states
      this.polledFrom = started
    } catch (err) {
      this.options.onError?.(err)
    }
  }
}

function changed(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return true
  for (const [k, v] of a) if (b.get(k) !== v) return true
  return false
}
