import DataLoader from 'dataloader'
import type { Principal } from './auth/scopes.js'
import type { TokenService } from './auth/tokens.js'
import type { Config } from './config.js'
import type { StockFeed } from './live/stock-feed.js'
import { emptyQueryStats, type QueryStats } from './store/query-stats.js'
import type { Store } from './store/store.js'
import type { Telemetry } from './telemetry.js'
import type { IngestOptions, Product, StockLevel } from './store/types.js'

/** Per-request loaders: each batches one field of a page of products into one store query. */
export interface Loaders {
  readonly product: DataLoader<string, Product | null>
  readonly stock: DataLoader<string, StockLevel>
  readonly recentSales: DataLoader<string, number>
}

export function createLoaders(store: Store): Loaders {
  return {
    product: new DataLoader((ids) => store.productsByIds(ids)),
    stock: new DataLoader((ids) => store.stock(ids)),
    recentSales: new DataLoader((ids) => store.recentSales(ids)),
  }
}

/** What every resolver gets: who is calling, the process-wide services, and fresh loaders. */
export interface Context {
  readonly requestId: string
  readonly principal: Principal | null
  readonly config: Config
  readonly store: Store
  readonly tokens: TokenService
  readonly feed: StockFeed
  readonly telemetry: Telemetry
  readonly loaders: Loaders
  /** What ClickHouse read for this request (filled while it runs inside `collectQueryStats`). */
  readonly reads: QueryStats
  /**
   * For an ingest operation run by a transport that parsed the rows itself (REST's NDJSON and CSV):
   * each row's raw text and line, so quarantined rows keep what the client sent.
   */
  readonly rowSources?: IngestOptions['sources']
}

/** The services shared by every request of one server. */
export type Services = Pick<Context, 'config' | 'store' | 'tokens' | 'feed' | 'telemetry'>

export function createContext(
  services: Services,
  principal: Principal | null,
  requestId: string,
  reads: QueryStats = emptyQueryStats(),
  rowSources?: IngestOptions['sources'],
): Context {
  return { ...services, principal, requestId, reads, loaders: createLoaders(services.store), ...(rowSources && { rowSources }) }
}
