import { StoreUnavailableError } from '../errors.js'
import type { Executor, QueryParams } from '../executor.js'
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
    let text = this.files.get(name)
    for (const [slot, value] of Object.entries(slots)) text = text.replaceAll(`{{${slot}}}`, value)
    return this.exec.select<T>(text, params)
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
