/**
 * Many shared holders at once, or one exclusive holder. Ingest holds it shared; a live-feed poll holds
 * it exclusively, so it reads the change log and the stock levels between writes, never half-way through
 * one (an insert commits the change log's part and the stock view's part one after the other, and on the
 * embedded store inserts run on their own session beside the reads). An exclusive holder waits for the
 * writes in flight and holds new ones back for as long as its reads take.
 */
export class SharedExclusiveGate {
  private shared = 0
  private exclusive: Promise<void> | undefined
  private drained: Array<() => void> = []

  async runShared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive
    this.shared++
    try {
      return await fn()
    } finally {
      if (--this.shared === 0) for (const wake of this.drained.splice(0)) wake()
    }
  }

  async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive
    let release!: () => void
    this.exclusive = new Promise<void>((resolve) => (release = resolve))
    try {
      while (this.shared > 0) await new Promise<void>((resolve) => this.drained.push(resolve))
      return await fn()
    } finally {
      this.exclusive = undefined
      release()
    }
  }
}
