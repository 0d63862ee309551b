import { toChDateTime64 } from '../clickhouse.js'
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

  /**
   * Changes after `since`, each with its product's stock now: one read. With `levels: false`, the log
   * alone (every `available` undefined), a cheaper read for a reader that knows the levels.
   */
  async since(since: Date, options: { levels?: boolean } = {}): Promise<LoggedStockChange[]> {
    if (options.levels === false) {
      // An integer, never text from outside: the statement stays unbound (see the query file).
      const sinceUs = String(Math.trunc(since.getTime()) * 1000)
      const log = await this.q.rows<{ id: string; product: string; delta: number; at_us: number }>('stock_changes_log_since', {}, { since_us: sinceUs })
      return log.map((r) => ({ id: r.id, product: r.product, delta: Number(r.delta), at: new Date(Number(r.at_us) / 1000), available: undefined }))
    }
    const rows = await this.q.rows<{ id: string; product: string; delta: number; at_us: number; available: number; stocked: string }>(
      'stock_changes_since',
      { since: toChDateTime64(since) },
    )
    return rows.map((r) => ({
      id: r.id,
      product: r.product,
      delta: Number(r.delta),
      at: new Date(Number(r.at_us) / 1000),
      available: r.stocked === r.product ? Number(r.available) : undefined,
    }))
  }

  betweenWrites<T>(read: () => Promise<T>): Promise<T> {
    return this.writes.runExclusive(read)
  }
}
