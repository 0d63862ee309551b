import type { Principal } from '../auth/scopes.js'
import { assertRange } from '../store/buckets.js'
import type { Store } from '../store/store.js'
import type { ErrorLogEntry, IngestLogEntry, OperationStat } from '../store/types.js'
import { badInput, withScope } from './errors.js'

const DAY_MS = 86_400_000
const MAX_LIMIT = 10_000

function checkLimit(limit: number | null | undefined): number {
  const n = limit ?? 100
  if (n < 1 || n > MAX_LIMIT) throw badInput(`limit must be between 1 and ${MAX_LIMIT}`)
  return n
}

/**
 * The service data admins read (Tinybird's pipe_stats, datasources_ops_log, endpoint_errors). Each
 * read first writes what the gateway still buffers (`flush`), so an admin sees every request answered
 * before theirs.
 */
export class ServiceDataService {
  constructor(
    private readonly store: Store,
    private readonly flush: () => Promise<void>,
  ) {}

  async operationStats(who: Principal | null, from?: Date | null, to?: Date | null): Promise<OperationStat[]> {
    withScope(who, 'admin')
    const end = to ?? new Date()
    const start = from ?? new Date(end.getTime() - DAY_MS)
    assertRange(start, end)
    await this.flush()
    return this.store.operationStats(start, end)
  }

  async ingestLog(who: Principal | null, limit?: number | null): Promise<IngestLogEntry[]> {
    withScope(who, 'admin')
    const n = checkLimit(limit)
    await this.flush()
    return this.store.ingestLog(n)
  }

  async errorLog(who: Principal | null, limit?: number | null): Promise<ErrorLogEntry[]> {
    withScope(who, 'admin')
    const n = checkLimit(limit)
    await this.flush()
    return this.store.errorLog(n)
  }
}
