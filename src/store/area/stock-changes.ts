import type { SharedExclusiveGate } from '../gate.js'
import type { LoggedStockChange } from '../types.js'
import type { StoreQueries } from './queries.js'

/**
 * The stock change log the live feed reads (filled by a view from the stock-moving datasources), and the
 * gate that lets a reader see it between writes.
 */
export class StockChangeLog {
  constructor(
    private readonly q: StoreQueries,
    /** Ingest holds it shared, `betweenWrites` exclusively (see SharedExclusiveGate). */
    private readonly writes: SharedExclusiveGate,
  ) {}

  /** Changes logged after `since`, oldest first: the log alone (the feed keeps the stock levels itself). */
  async since(since: Date): Promise<LoggedStockChange[]> {
    // An integer, never text from outside: the statement stays unbound (see the query file).
    const sinceUs = String(Math.trunc(since.getTime()) * 1000)
    const log = await this.q.rows<{ id: string; product: string; delta: number; at_us: number; write: string }>('stock_changes_log_since', {}, { since_us: sinceUs })
    return log.map((r) => ({ id: r.id, product: r.product, delta: Number(r.delta), at: new Date(Number(r.at_us) / 1000), write: r.write }))
  }

  betweenWrites<T>(read: () => Promise<T>): Promise<T> {
    return this.writes.runExclusive(read)
  }
}
