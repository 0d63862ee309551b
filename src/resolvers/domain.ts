import type { Services } from '../context.js'
import { createDomain, type Domain } from '../domain/index.js'

const built = new WeakMap<Services['telemetry'], Domain>()

/** The use cases over a server's services (one set per server, keyed by its telemetry; built on first use). */
export function domainOf(services: Pick<Services, 'config' | 'store' | 'feed' | 'telemetry'>): Domain {
  let domain = built.get(services.telemetry)
  if (!domain) {
    const { config, store, feed, telemetry } = services
    domain = createDomain({
      store,
      lowStockThreshold: config.lowStockThreshold,
      maxBatch: config.maxBatch,
      ingested: (entry) => telemetry.ingested(entry),
      stockMoved: (writeId, changes, storedAt) => void feed.stored(writeId, changes, storedAt),
      sendsStock: () => feed.sending,
      flushServiceLog: () => telemetry.serviceLog.flush(),
      projectDatabase: config.project?.database,
    })
    built.set(telemetry, domain)
  }
  return domain
}
