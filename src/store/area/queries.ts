import { StoreUnavailableError } from '../errors.js'
import type { CompactDocument, Executor, QueryParams } from '../executor.js'
import { QueryFiles, type RenderOptions } from '../sql.js'

/**
 * What every area of the store shares: the executor, the query files of `sql/queries/` rendered for this
 * database, and the names of its tables.
 */
export class StoreQueries {
  private readonly files: QueryFiles

  constructor(
    readonly exec: Executor,
    readonly render: RenderOptions,
  ) {
    this.files = new QueryFiles(render)
  }

  get database(): string {
    return this.render.database
  }

  /** `db.name` */
  table(name: string): string {
    return `${this.render.database}.${name}`
  }

  /** ` ON CLUSTER c` on a cluster, else nothing. */
  get onCluster(): string {
    return this.render.cluster ? ` ON CLUSTER ${this.render.cluster}` : ''
  }

  /** The rows of `sql/queries/<name>.sql`, its `{{slot}}`s filled from a closed map. */
  rows<T>(name: string, params: QueryParams = {}, slots: Readonly<Record<string, string>> = {}): Promise<T[]> {
    return this.exec.select<T>(this.text(name, slots), params)
  }

  /** The same as columns and arrays of values (`FORMAT JSONCompact`), for hot paths that build their own objects. */
  compact(name: string, params: QueryParams = {}, slots: Readonly<Record<string, string>> = {}): Promise<CompactDocument> {
    return this.exec.selectCompact(this.text(name, slots), params)
  }

  private text(name: string, slots: Readonly<Record<string, string>>): string {
    let text = this.files.get(name)
    for (const [slot, value] of Object.entries(slots)) text = text.replaceAll(`{{${slot}}}`, value)
    return text
  }

  /**
   * `sql/queries/<name>.sql` inside `wrap` (which shapes its columns and pins its output settings), answered
   * as ClickHouse's `FORMAT JSON` text: passed on as written, never parsed, only its statistics read (for
   * the request's counts). `params` must not be empty (a bound statement).
   */
  async jsonText(name: string, params: QueryParams, wrap: (sql: string) => string): Promise<string> {
    const doc = await this.exec.document<never>(
      wrap(this.files.get(name)),
      params,
      (err) => new StoreUnavailableError('store query failed', { cause: err }),
      (text) => {
        // An answer that does not end with its statistics was cut by an exception (a limit hit mid-answer).
        const statistics = /"statistics":\s*(\{[^{}]*\})\s*\}\s*$/.exec(text.slice(-400))?.[1]
        if (statistics === undefined) throw new Error('the answer ends without its statistics')
        return { text, statistics: JSON.parse(statistics) as unknown }
      },
    )
    return (doc as unknown as { text: string }).text
  }

  /**
   * `sql/queries/<name>.sql` inside `wrap`, whose SQL ends with its FORMAT and output settings, answered as
   * the bytes ClickHouse wrote (never decoded here); what it read goes to the request's statistics.
   * `params` must not be empty (a bound statement).
   */
  async rawBytes(name: string, params: QueryParams, wrap: (sql: string) => string): Promise<Buffer> {
    const answer = await this.exec.bytes(wrap(this.files.get(name)), params, (err) => new StoreUnavailableError('store query failed', { cause: err }))
    return answer.bytes
  }
}

/** Strictly increasing versions for ReplacingMergeTree rows: microseconds, bumped on ties. */
export class Versions {
  private last = 0n

  next(): bigint {
    const now = BigInt(Date.now()) * 1000n
    this.last = now > this.last ? now : this.last + 1n
    return this.last
  }
}
