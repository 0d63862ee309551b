import { AsyncLocalStorage } from 'node:async_hooks'
import type { ClickHouseClient } from '@clickhouse/client'

/** What ClickHouse reported for the queries of one unit of work (a GraphQL request, say). */
export interface QueryStats {
  queries: number
  rowsRead: number
  bytesRead: number
  /** Wall time spent waiting on the store, summed over queries. */
  ms: number
}

/** One finished store call, for latency metrics. */
export type QueryListener = (call: { readonly kind: 'select' | 'insert'; readonly ms: number }) => void

const current = new AsyncLocalStorage<QueryStats>()
const listeners = new WeakMap<ClickHouseClient, QueryListener>()

export function emptyQueryStats(): QueryStats {
  return { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 }
}

/** Runs `fn` so that every store query it causes, however deep, adds to `stats`. */
export function collectQueryStats<T>(stats: QueryStats, fn: () => T): T {
  return current.run(stats, fn)
}

/** Reports every call made through `client` to `listener` (one listener per client). */
export function observeQueries(client: ClickHouseClient, listener: QueryListener): void {
  listeners.set(client, listener)
}

/** Called by the query helpers after each store call. */
export function recordQuery(
  client: ClickHouseClient,
  kind: 'select' | 'insert',
  ms: number,
  read: { rows_read?: number; bytes_read?: number } = {},
): void {
  listeners.get(client)?.({ kind, ms })
  const stats = current.getStore()
  if (!stats) return
  stats.queries += 1
  stats.ms += ms
  stats.rowsRead += Number(read.rows_read ?? 0)
  stats.bytesRead += Number(read.bytes_read ?? 0)
}
