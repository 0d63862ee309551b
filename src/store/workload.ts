import { AsyncLocalStorage } from 'node:async_hooks'
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client'
import type { QueryLimit, WorkloadConfig } from '../config.js'
import { StoreBusyError } from './errors.js'

/**
 * What a store call is for. It decides the call's time and memory limits and its place in the queue:
 * ingest, live-feed polls, health checks and token lookups go before reads (interactive reads and
 * dashboards share one level, first come first served, so neither can starve the other), which go
 * before service data.
 */
export type WorkKind = 'ingest' | 'live' | 'health' | 'auth' | 'read' | 'dashboard' | 'service'

/** Lower runs first. */
export const PRIORITY: Readonly<Record<WorkKind, number>> = {
  ingest: 0,
  live: 0,
  health: 0,
  auth: 0,
  read: 1,
  dashboard: 1,
  service: 2,
}
const LEVELS = 3

/** Which configured limit applies to each kind. */
const LIMIT: Readonly<Record<WorkKind, keyof Pick<WorkloadConfig, 'read' | 'dashboard' | 'ingest' | 'service'>>> = {
  ingest: 'ingest',
  live: 'read',
  health: 'read',
  auth: 'read',
  read: 'read',
  dashboard: 'dashboard',
  service: 'service',
}

/** The defaults of `loadConfig`, for stores opened without a configuration (tests, CLI, bench). */
export const DEFAULT_WORKLOAD: WorkloadConfig = Object.freeze({
  read: { timeoutMs: 10_000, maxMemory: 2 * 1024 ** 3 },
  dashboard: { timeoutMs: 30_000, maxMemory: 4 * 1024 ** 3 },
  ingest: { timeoutMs: 60_000, maxMemory: 4 * 1024 ** 3 },
  service: { timeoutMs: 30_000, maxMemory: 1024 ** 3 },
  concurrency: 2,
  queue: 128,
})

/**
 * ClickHouse settings that enforce a limit on one statement. chDB applies settings to its session, so
 * every statement carries all of them (a read's limit must not leak into the next insert).
 */
export function limitSettings(limit: QueryLimit): ClickHouseSettings {
  return {
    max_execution_time: limit.timeoutMs / 1000,
    // The client types UInt64 settings as strings; chDB would then SET a quoted value, so a number goes.
    max_memory_usage: limit.maxMemory as unknown as string,
    timeout_overflow_mode: 'throw',
  }
}

const kindOfCall = new AsyncLocalStorage<WorkKind>()

/**
 * Runs `fn` as work of `kind`: every store query it causes is limited and queued as that kind. An
 * outer kind wins, so the feed's poll stays `live` through the store methods it calls.
 */
export function asWork<T>(kind: WorkKind, fn: () => T): T {
  return kindOfCall.getStore() === undefined ? kindOfCall.run(kind, fn) : fn()
}

/** The kind of the store call running now (`read` outside any). */
export function currentWork(): WorkKind {
  return kindOfCall.getStore() ?? 'read'
}

interface Waiting {
  readonly kind: WorkKind
  readonly start: () => void
  readonly refuse: (err: Error) => void
}

/**
 * Admits store queries: at most `concurrency` run at once, the rest wait in priority order (FIFO within
 * a priority). At most `queue` wait: when full, a newcomer displaces the newest waiting call of a lower
 * priority, or is itself refused; the refused call fails with StoreBusyError and a retry hint. A running
 * query is never interrupted (chDB cannot pre-empt one), so high-priority work waits at most for the
 * queries already running, each bounded by its time limit.
 */
export class Scheduler {
  private readonly waiting: Waiting[][] = Array.from({ length: LEVELS }, () => [])
  private running = 0
  private queued = 0
  /** Moving average of a query's duration, for Retry-After. */
  private averageMs = 50
  /** Calls refused since start, by kind. */
  readonly refused = new Map<WorkKind, number>()

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {}

  get size(): { running: number; queued: number } {
    return { running: this.running, queued: this.queued }
  }

  run<T>(kind: WorkKind, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++
        const began = performance.now()
        let work: Promise<T>
        try {
          work = fn()
        } catch (err) {
          work = Promise.reject(err) // a slot must be given back whatever `fn` does
        }
        // The slot is given back, and the next call started, before the caller hears of the answer: the
        // caller's continuation (a response to build and write) would otherwise run first, in the same
        // turn, while the store sits idle.
        const release = () => {
          this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - began)
          this.running--
          this.next()
        }
        work.then(
          (value) => {
            release()
            resolve(value)
          },
          (err: unknown) => {
            release()
            reject(err)
          },
        )
      }
      if (this.running < this.concurrency && this.queued === 0) return start()
      const entry: Waiting = { kind, start, refuse: reject }
      if (this.queued >= this.maxQueue) {
        const displaced = this.displace(PRIORITY[kind])
        if (!displaced) return reject(this.busy(kind))
        displaced.refuse(this.busy(displaced.kind))
      }
      this.waiting[PRIORITY[kind]]!.push(entry)
      this.queued++
    })
  }

  /** Removes the newest waiting call of the lowest priority below `priority`, if any. */
  private displace(priority: number): Waiting | undefined {
    for (let level = LEVELS - 1; level > priority; level--) {
      const entry = this.waiting[level]!.pop()
      if (entry) {
        this.queued--
        return entry
      }
    }
    return undefined
  }

  private next(): void {
    while (this.running < this.concurrency && this.queued > 0) {
      const entry = this.waiting.find((level) => level.length > 0)!.shift()!
      this.queued--
      entry.start()
    }
  }

  private busy(kind: WorkKind): StoreBusyError {
    this.refused.set(kind, (this.refused.get(kind) ?? 0) + 1)
    const retryAfterMs = Math.max(1000, Math.ceil((this.averageMs * (this.queued + this.running)) / this.concurrency))
    return new StoreBusyError(retryAfterMs)
  }
}

/**
 * Embedded chDB's sessions for the main queue: the store's client and its readers, one per slot. A session
 * runs one statement at a time, so a slot holds one while its statement runs; statements whose values are
 * inlined (no bound parameters) then run side by side, while bound ones still pass chdb-node's one chain.
 */
export class SessionPool {
  private readonly free: ClickHouseClient[]

  constructor(readonly sessions: readonly ClickHouseClient[]) {
    this.free = [...sessions].reverse()
  }

  /** Runs `fn` on a free session; the scheduler admits at most one call per session, so one is free. */
  async use<T>(fn: (client: ClickHouseClient) => Promise<T>): Promise<T> {
    const client = this.free.pop()
    if (!client) throw new Error('no free store session: more calls admitted than sessions')
    try {
      return await fn(client)
    } finally {
      this.free.push(client)
    }
  }
}

/** The limits and the scheduler every query of one client goes through. */
export class Workload {
  readonly scheduler: Scheduler
  /** A session of its own for unbound priority statements (embedded chDB only), with its own queue. */
  readonly lane: { readonly client: ClickHouseClient; readonly scheduler: Scheduler } | undefined
  /** Embedded chDB: the main queue's sessions, one per slot (the queue admits no more calls than sessions). */
  readonly pool: SessionPool | undefined

  constructor(
    readonly config: WorkloadConfig,
    embedded?: { readonly main: ClickHouseClient; readonly readers?: readonly ClickHouseClient[]; readonly lane?: ClickHouseClient },
  ) {
    this.pool = embedded && new SessionPool([embedded.main, ...(embedded.readers ?? [])])
    this.scheduler = new Scheduler(this.pool ? Math.min(config.concurrency, this.pool.sessions.length) : config.concurrency, config.queue)
    this.lane = embedded?.lane && { client: embedded.lane, scheduler: new Scheduler(1, config.queue) }
  }

  limitOf(kind: WorkKind): QueryLimit {
    return this.config[LIMIT[kind]]
  }
}
