import type { ClickHouseClient } from '@clickhouse/client'
import { selectRows } from '../src/store/clickhouse.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { executorOf } from '../src/store/executor.js'

type QueryArgs = Parameters<ClickHouseClient['query']>[0]

/** One SELECT exactly as the store sent it: rendered text, bound parameters and answer format. */
export interface CapturedQuery {
  readonly query: string
  readonly params: Record<string, unknown>
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
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  await call(new ClickHouseStore(recording, { database, cluster: undefined }))
  return captured
}

/**
 * The bare-store cost of one query: run it and parse its rows through the store's own executor in the
 * format the store asked for (`FORMAT JSON` through `selectRows`; `JSONCompact`, which the product grid
 * uses, through `selectCompact`, its arrays then made into one object per row), without the store's
 * mapping to domain objects.
 */
export async function replay(client: ClickHouseClient, q: CapturedQuery): Promise<unknown[]> {
  if (q.format !== 'JSONCompact') return selectRows<unknown>(client, q.query, q.params)
  const doc = await executorOf(client).selectCompact(q.query, q.params)
  const names = doc.meta.map((m) => m.name)
  return doc.data.map((values) => {
    const row: Record<string, unknown> = {}
    for (let i = 0; i < names.length; i++) row[names[i]!] = values[i]
    return row
  })
}
