import type { ClickHouseClient } from '@clickhouse/client'
import { selectRows } from '../src/store/clickhouse.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'

type QueryArgs = Parameters<ClickHouseClient['query']>[0]

/** One SELECT exactly as the store sent it: rendered text and bound parameters. */
export interface CapturedQuery {
  readonly query: string
  readonly params: Record<string, unknown>
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
          captured.push({ query: args.query, params: { ...(args.query_params ?? {}) } })
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
 * The bare-store cost of one query: run it and parse its rows through the store's own `selectRows`
 * (same format, same parsing), without the store's mapping to domain objects.
 */
export function replay(client: ClickHouseClient, q: CapturedQuery): Promise<unknown[]> {
  return selectRows<unknown>(client, q.query, q.params)
}
