import type { ClickHouseClient } from '@clickhouse/client'
import { Kind, parse } from 'graphql'
import { selectRows } from '../src/store/clickhouse.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { executorOf } from '../src/store/executor.js'
import type { GridQuery } from '../src/store/types.js'

type QueryArgs = Parameters<ClickHouseClient['query']>[0]
type ExecArgs = Parameters<ClickHouseClient['exec']>[0]

/** One SELECT exactly as the store sent it: rendered text, bound parameters and answer format. */
export interface CapturedQuery {
  readonly query: string
  readonly params: Record<string, unknown>
  /** The driver's format; `raw` for a statement whose SQL names its own FORMAT (answered as bytes). */
  readonly format?: string | undefined
}

/**
 * Runs `call` on a ClickHouseStore whose client records every query it is given, and returns those
 * queries. The baseline then replays them: the very text QueryFiles rendered from sql/queries/*.sql
 * and the very parameters the store bound, with no hand-copied SQL.
 */
export async function captureQueries(
  client: ClickHouseClient,
  database: string,
  call: (store: ClickHouseStore) => Promise<unknown>,
): Promise<CapturedQuery[]> {
  const captured: CapturedQuery[] = []
  const recording = new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') {
        return (args: QueryArgs) => {
          captured.push({ query: args.query, params: { ...(args.query_params ?? {}) }, format: args.format })
          return target.query(args)
        }
      }
      if (prop === 'exec') {
        return (args: ExecArgs) => {
          if (/^\s*SELECT\b/i.test(args.query)) captured.push({ query: args.query, params: { ...(args.query_params ?? {}) }, format: 'raw' })
          return target.exec(args)
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  await call(new ClickHouseStore(recording, { database, cluster: undefined }))
  return captured
}

/**
 * The statement the gateway sends for a productGrid `document` of plain fields (the store writes their JSON:
 * src/execution/pass-through.ts).
 */
export async function gridQuery(client: ClickHouseClient, database: string, args: GridQuery, lowStock: number, document: string): Promise<CapturedQuery> {
  const [q] = await captureQueries(client, database, (s) => s.productGridRows(args, lowStock, selectionOf(document)))
  if (!q) throw new Error('productGrid ran no query')
  return q
}

/**
 * The statement REST's `api_product_grid.json` sends for the same grid: ClickHouse's FORMAT JSON, passed on as
 * its bytes (64-bit integers unquoted, the pipe's default).
 */
export async function restGridQuery(client: ClickHouseClient, database: string, args: GridQuery, lowStock: number): Promise<CapturedQuery> {
  const [q] = await captureQueries(client, database, (s) => s.productGridJson(args, lowStock, false))
  if (!q) throw new Error('productGridJson ran no query')
  return q
}

/** How many rows a replayed query answers (a raw answer, one JSON array or FORMAT JSON's `data`, is parsed for that). */
export async function rowsOf(client: ClickHouseClient, q: CapturedQuery): Promise<number> {
  const answer = await replayAnswer(client, q)
  if (!Buffer.isBuffer(answer)) return answer.length
  const parsed = JSON.parse(answer.toString('utf8')) as unknown[] | { data: unknown[] }
  return Array.isArray(parsed) ? parsed.length : parsed.data.length
}

/**
 * `replay`, or for a statement answered as bytes (the store's own JSON, productGrid of plain fields, which
 * the gateway writes as it is) only those bytes, as the gateway reads them.
 */
export async function replayAnswer(client: ClickHouseClient, q: CapturedQuery): Promise<unknown[] | Buffer> {
  if (q.format === 'raw') {
    const { bytes } = await executorOf(client).bytes(q.query, q.params, (err) => err as Error)
    // A template's trailer (what the statement read) is cut off, as the store does.
    return /\bFORMAT Template\b/.test(q.query) ? bytes.subarray(0, bytes.lastIndexOf(0x0a)) : bytes
  }
  return replay(client, q)
}

/** The `[response key, field]` pairs of a document's first root field (the grid's plain fields). */
export function selectionOf<F extends string>(document: string): Array<readonly [string, F]> {
  const operation = parse(document).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION)
  const root = operation?.selectionSet.selections[0]
  if (root?.kind !== Kind.FIELD || !root.selectionSet) throw new Error('the document has no root field with a selection')
  return root.selectionSet.selections.map((s) => {
    if (s.kind !== Kind.FIELD) throw new Error('only plain fields are expected here')
    return [s.alias?.value ?? s.name.value, s.name.value as F] as const
  })
}

/**
 * The bare-store cost of one query: run it and parse its rows through the store's own executor in the
 * format the store asked for (`FORMAT JSON` through `selectRows`; `JSONCompact`, which the product grid
 * uses, through `selectCompact`, its arrays then made into one object per row), without the store's
 * mapping to domain objects.
 */
export async function replay(client: ClickHouseClient, q: CapturedQuery): Promise<unknown[]> {
  if (q.format === 'raw') throw new Error('a raw answer is replayed with replayAnswer')
  if (q.format !== 'JSONCompact') return selectRows<unknown>(client, q.query, q.params)
  const doc = await executorOf(client).selectCompact(q.query, q.params)
  const names = doc.meta.map((m) => m.name)
  return doc.data.map((values) => {
    const row: Record<string, unknown> = {}
    for (let i = 0; i < names.length; i++) row[names[i]!] = values[i]
    return row
  })
}
