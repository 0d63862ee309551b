/**
 * Things that arrive one by one (subscription updates, say), and waits for the n-th: each wait resolves
 * on the arrival that completes it, not on a poll.
 */
export class Arrivals<T> {
  readonly items: T[] = []
  private waiting: Array<{ n: number; resolve: (items: T[]) => void }> = []

  push(item: T): void {
    this.items.push(item)
    this.waiting = this.waiting.filter((w) => {
      if (this.items.length < w.n) return true
      w.resolve(this.items)
      return false
    })
  }

  /** Resolves with every item once at least `n` have arrived (the test's timeout bounds the wait). */
  until(n: number): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items)
    return new Promise((resolve) => this.waiting.push({ n, resolve }))
  }
}
