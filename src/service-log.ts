import type { Store } from './store/store.js'
import type { ErrorLogEntry, IngestLogEntry, OperationLogEntry } from './store/types.js'

export interface ServiceLogOptions {
  /** How often buffered records are written. @default 1000 */
  readonly flushMs?: number
  /** Records buffered before a write starts at once. @default 1000 */
  readonly flushAt?: number
  /** Records kept while the store refuses them; older ones are dropped past this. @default 50000 */
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

  /** Writes everything buffered so far; resolves once written (or failed and kept for later). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
    if (this.buffered === 0) return
    const batch = { operations: this.operations, ingests: this.ingests, errors: this.errors }
    this.operations = []
    this.ingests = []
    this.errors = []
    this.writing = this.store.writeServiceLog(batch).then(
      () => undefined,
      (err: unknown) => {
        // Keep the batch for the next attempt; past the bound the oldest records go.
        this.operations = [...batch.operations, ...this.operations]
        this.ingests = [...batch.ingests, ...this.ingests]
        this.errors = [...batch.errors, ...this.errors]
        this.options.onError?.(err, this.trim())
      },
    )
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
    if (this.buffered >= this.flushAt && !this.writing) void this.flush()
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
