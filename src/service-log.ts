import type { Store } from './store/store.js'
import type { ErrorLogEntry, IngestLogEntry, OperationLogEntry } from './store/types.js'

export interface ServiceLogOptions {
  /** How often buffered records are written. @default 1000 */
  readonly flushMs?: number
  /** Records buffered before a write starts at once. @default 1000 */
  readonly flushAt?: number
  /** Records kept while the store refuses them, a third per log; older ones are dropped past it. @default 50000 */
  readonly maxBuffered?: number
  readonly onError?: (err: unknown, dropped: number) => void
}

/**
 * Records operations, ingest batches and errors in the store's service tables, off the request
 * path: calls only append to memory; a timer (or a full buffer) writes one batch per table. While
 * the store is down records wait, bounded; `close()` writes what is left.
 */
export class ServiceLog {
  private operations: OperationLogEntry[] = []
  private ingests: IngestLogEntry[] = []
  private errors: ErrorLogEntry[] = []
  private readonly timer: NodeJS.Timeout
  private writing: Promise<void> | undefined
  /** After a failed write only the timer retries, not every new record. */
  private failing = false
  private readonly flushAt: number
  private readonly maxBuffered: number

  constructor(
    private readonly store: Store,
    private readonly options: ServiceLogOptions = {},
  ) {
    this.flushAt = options.flushAt ?? 1000
    this.maxBuffered = options.maxBuffered ?? 50_000
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 1000)
    this.timer.unref()
  }

  get buffered(): number {
    return this.operations.length + this.ingests.length + this.errors.length
  }

  operation(entry: OperationLogEntry): void {
    this.add(this.operations, entry)
  }

  ingest(entry: IngestLogEntry): void {
    this.add(this.ingests, entry)
  }

  error(entry: ErrorLogEntry): void {
    this.add(this.errors, entry)
  }

  /**
   * Writes everything buffered so far; resolves once written (or failed and kept for later). Each
   * log is written on its own, so a failure re-queues only the records that were not written.
   */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
    if (this.buffered === 0) return
    const operations = this.operations
    const ingests = this.ingests
    const errors = this.errors
    this.operations = []
    this.ingests = []
    this.errors = []
    const none = { operations: [], ingests: [], errors: [] }
    const write = async (): Promise<void> => {
      let failure: unknown
      const attempt = async (records: unknown[], batch: Parameters<Store['writeServiceLog']>[0], requeue: () => void) => {
        if (records.length === 0) return
        try {
          await this.store.writeServiceLog(batch)
        } catch (err) {
          failure = err
          requeue()
        }
      }
      await attempt(operations, { ...none, operations }, () => (this.operations = [...operations, ...this.operations]))
      await attempt(ingests, { ...none, ingests }, () => (this.ingests = [...ingests, ...this.ingests]))
      await attempt(errors, { ...none, errors }, () => (this.errors = [...errors, ...this.errors]))
      this.failing = failure !== undefined
      if (this.failing) this.options.onError?.(failure, this.trim())
    }
    this.writing = write()
    try {
      await this.writing
    } finally {
      this.writing = undefined
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }

  private add<T>(list: T[], entry: T): void {
    list.push(entry)
    if (this.buffered >= this.flushAt && !this.writing && !this.failing) void this.flush()
  }

  /** Drops the oldest records beyond `maxBuffered`; returns how many. */
  private trim(): number {
    let dropped = 0
    for (const list of [this.operations, this.ingests, this.errors]) {
      const over = list.length - Math.floor(this.maxBuffered / 3)
      if (over > 0) {
        list.splice(0, over)
        dropped += over
      }
    }
    return dropped
  }
}
