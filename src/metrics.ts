import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Workload } from './store/workload.js'

/** Prometheus metrics of one server (its own registry, so several servers in a process never clash). */
export class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({
    name: 'sightline_graphql_requests_total',
    help: 'GraphQL operations by name and outcome code',
    labelNames: ['operation', 'code'] as const,
    registers: [this.registry],
  })
  readonly duration = new Histogram({
    name: 'sightline_graphql_request_duration_seconds',
    help: 'GraphQL operation latency',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })
  readonly subscriptions = new Gauge({
    name: 'sightline_websocket_connections',
    help: 'Open WebSocket connections at /graphql',
    registers: [this.registry],
  })

  readonly ingestRows = new Counter({
    name: 'sightline_ingest_rows_total',
    help: 'Ingested rows by datasource and outcome (accepted, quarantined)',
    labelNames: ['table', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly storeDuration = new Histogram({
    name: 'sightline_store_query_duration_seconds',
    help: 'Latency of store calls by kind (select, insert)',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  readonly liveSubscriptions = new Gauge({
    name: 'sightline_stock_subscriptions',
    help: 'Active stockChanged subscriptions',
    registers: [this.registry],
  })

  /** The store's work queues, read at each scrape (see `observeWorkload`). */
  readonly storeQueue = new Gauge({
    name: 'sightline_store_queue',
    help: 'Store calls running and waiting, by queue (main: queries, one per session of the embedded pool; lane: the embedded writes session)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  })
  readonly storeRefused = new Gauge({
    name: 'sightline_store_refused',
    help: 'Store calls refused with STORE_BUSY since start, by kind of work',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  })

  /** The store engine's memory, read at each scrape (see `observeEngine`). */
  readonly engineMemory = new Gauge({
    name: 'sightline_engine_memory_bytes',
    help: "The store engine's memory (its system.metrics): tracked (MemoryTracking, all it accounts for) and each cache's bytes (mark_cache, primary_index_cache, query_condition_cache, …)",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  private workload: Workload | undefined
  private engine: (() => Promise<ReadonlyMap<string, number>>) | undefined

  /**
   * Reports the store engine's memory (`Store.engineMemory`) at every scrape: each read replaces the last
   * (a cache that emptied is no longer reported); a failed read leaves the last values.
   */
  observeEngine(read: () => Promise<ReadonlyMap<string, number>>): void {
    this.engine = read
  }

  /** Reports a store's work queues (running, waiting, refused) at every scrape. */
  observeWorkload(workload: Workload): void {
    this.workload = workload
  }

  get contentType(): string {
    return this.registry.contentType
  }

  async render(): Promise<string> {
    this.sampleWorkload()
    await this.sampleEngine()
    return this.registry.metrics()
  }

  private async sampleEngine(): Promise<void> {
    const memory = await this.engine?.().catch(() => undefined)
    if (!memory) return
    this.engineMemory.reset()
    for (const [kind, bytes] of memory) this.engineMemory.set({ kind }, bytes)
  }

  private sampleWorkload(): void {
    const w = this.workload
    if (!w) return
    const refused = new Map<string, number>()
    for (const [queue, scheduler] of [['main', w.scheduler], ['lane', w.lane?.scheduler]] as const) {
      if (!scheduler) continue
      this.storeQueue.set({ queue, state: 'running' }, scheduler.size.running)
      this.storeQueue.set({ queue, state: 'waiting' }, scheduler.size.queued)
      for (const [kind, n] of scheduler.refused) refused.set(kind, (refused.get(kind) ?? 0) + n)
    }
    for (const [kind, n] of refused) this.storeRefused.set({ kind }, n)
  }
}
