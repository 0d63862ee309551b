/** What ClickHouse reported for the queries of one unit of work (a GraphQL request, say). */
export interface QueryStats {
  queries: number
  rowsRead: number
  bytesRead: number
  /** Wall time spent waiting on the store, summed over queries. */
  ms: number
  /**
   * When set, every SELECT adds the qualified tables (`db.table`) its statement names: the read cache's
   * dependencies of an answer. Left unset (nothing collected) otherwise.
   */
  tables?: Set<string>
}

/** One finished store call, for latency metrics. */
export type QueryListener = (call: { readonly kind: 'select' | 'insert'; readonly ms: number }) => void

export function emptyQueryStats(): QueryStats {
  return { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 }
}

/**
 * The request a unit of store work is done for: its id goes to ClickHouse as the `query_id` of each
 * statement (`<requestId>.<n>`, unique while they run), its signal cancels statements still waiting or
 * running (the client went away), and its `stats` add up what ClickHouse read for it.
 */
export interface QueryScope {
  readonly requestId?: string | undefined
  readonly signal?: AbortSignal | undefined
  readonly stats?: QueryStats | undefined
  /**
   * Where every SELECT of this scope and of the scopes nested in it notes the qualified tables it names
   * (as `stats.tables`, which wins when set): a cached answer's dependencies when its work runs in scopes
   * of its own (a REST pipe's operation).
   */
  readonly tables?: Set<string> | undefined
}
