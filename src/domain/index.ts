import type { Store } from '../store/store.js'
import { AnalyticsService } from './analytics.js'
import { EcommerceService } from './ecommerce.js'
import { IngestService, type IngestPorts } from './ingest.js'
import { ServiceDataService } from './service-data.js'

/** The use cases every transport shares (GraphQL resolvers, REST pipes and ingest). */
export interface Domain {
  readonly analytics: AnalyticsService
  readonly ecommerce: EcommerceService
  readonly ingest: IngestService
  readonly serviceData: ServiceDataService
}

export interface DomainDeps extends IngestPorts {
  readonly store: Store
  readonly lowStockThreshold: number
  /** Writes the service log's buffer (before service data is read). */
  flushServiceLog(): Promise<void>
}

export function createDomain(deps: DomainDeps): Domain {
  return {
    analytics: new AnalyticsService(deps.store),
    ecommerce: new EcommerceService(deps.store, deps.lowStockThreshold),
    ingest: new IngestService(deps.store, deps),
    serviceData: new ServiceDataService(deps.store, () => deps.flushServiceLog()),
  }
}
