import { StoreUnavailableError } from '../errors.js'
import { type CompactDocument, type Executor, type QueryParams } from '../executor.js'
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
   * `sql/queries/<name>.sql` inside `wrap`, whose SQL ends with `FORMAT Template` and a result-set format
   * ending in TEMPLATE_TRAILER: the bytes before that trailer, as written (never
   * decoded here); what it read goes to the request's statistics. `params` must not be empty.
   */
  async templateBytes(name: string, params: QueryParams, wrap: (sql: string) => string): Promise<Buffer> {
    const answer = await this.exec.bytes(wrap(this.files.get(name)), params, unavailable, (bytes) => {
      const end = bytes.lastIndexOf(0x0a)
      const trailer = end < 0 ? null : /^(\d+) (\d+)\s*$/.exec(bytes.subarray(end + 1).toString('latin1'))
      // No trailer: the answer was cut by an exception (a limit hit mid-answer).
      if (!trailer) throw new Error('the answer ends without what it read')
      return { body: bytes.subarray(0, end), read: { rows_read: Number(trailer[1]), bytes_read: Number(trailer[2]) } }
    })
    return answer.bytes
  }
}

/**
 * What a `FORMAT Template` result set read by `templateBytes` ends with (as SQL string text): what the
 * statement read, as plain numbers on a line of their own.
 */
export const TEMPLATE_TRAILER = '\\n${rows_read:Raw} ${bytes_read:Raw}'

/** A `FORMAT Template` row format writing one JSON object of these columns, each under its own name. */
export function jsonObjectRow(keys: readonly string[]): string {
  return `{${keys.map((key) => `"${key}":\${${key}:JSON}`).join(',')}}`
}

const unavailable = (err: unknown) => new StoreUnavailableError('store query failed', { cause: err })

/** Strictly increasing versions for ReplacingMergeTree rows: microseconds, bumped on ties. */
export class Versions {
  private last = 0n

  next(): bigint {
    const now = BigInt(Date.now()) * 1000n
    this.last = now > this.last ? now : this.last + 1n
    return this.last
  }
}
