import { mkdirSync } from 'node:fs'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import type { StoreConfig } from '../config.js'
import { SHARDED_SETTINGS } from './cluster.js'

/**
 * The one place that chooses the backend: embedded chDB in `dataDir`, or a ClickHouse server at `url`.
 * Everything above sees only `@clickhouse/client`.
 */
export function createConnection(config: StoreConfig): ClickHouseClient {
  if (config.url) {
    return createClient({
      url: config.url,
      username: config.user,
      password: config.password,
      request_timeout: 60_000,
      ...(config.cluster && config.clusterMode === 'sharded' && { clickhouse_settings: SHARDED_SETTINGS }),
    })
  }
  mkdirSync(config.dataDir, { recursive: true })
  // chdb types its Connection against @clickhouse/client-common, a twin of the client's own types.
  const connection = createChdbConnection({ path: config.dataDir }) as unknown as NonNullable<
    Parameters<typeof createClient>[0]
  >['connection']
  // chDB keeps settings for its session: statements that carry no limits of their own (migrations, say)
  // must not inherit the last query's, so every statement pins them, unlimited unless it sets its own.
  return createClient({ connection, clickhouse_settings: { max_execution_time: 0, max_memory_usage: '0', timeout_overflow_mode: 'throw' } })
}
