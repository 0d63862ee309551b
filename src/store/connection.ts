import { mkdirSync } from 'node:fs'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { Session } from 'chdb'
import { createChdbConnection } from 'chdb/connection'
import type { EngineMemoryConfig, StoreConfig } from '../config.js'
import { SHARDED_SETTINGS } from './cluster.js'

const MB = 1024 * 1024

/**
 * Server settings of the embedded engine that bound its memory. chDB's defaults are a server's: 5 GiB
 * each for the mark, primary-index and index-mark caches and 90% of RAM for all queries together. They
 * are server configuration, not session settings, so they can only be given when the engine starts.
 */
export function engineArgs(memory: EngineMemoryConfig | undefined): string[] {
  if (!memory) return []
  const args = [
    `--mark_cache_size=${memory.markCacheMb * MB}`,
    `--index_mark_cache_size=${memory.markCacheMb * MB}`,
    `--primary_index_cache_size=${memory.indexCacheMb * MB}`,
    `--uncompressed_cache_size=${memory.uncompressedCacheMb * MB}`,
  ]
  if (memory.maxMemoryMb > 0) args.push(`--max_server_memory_usage=${memory.maxMemoryMb * MB}`)
  return [...args, ...memory.extraArgs]
}

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
  // chdb/connection takes no engine arguments, but every connection to one data directory shares the
  // process's one engine, started by the first: a bare session opened first with the arguments starts it
  // (a no-op when the engine already runs, e.g. the store's second lane), and is closed once the client's
  // own connection holds the engine.
  const args = engineArgs(config.memory)
  const starter = args.length > 0 ? new Session(config.dataDir, { connectionArgs: args }) : undefined
  // chdb types its Connection against @clickhouse/client-common, a twin of the client's own types.
  const connection = createChdbConnection({ path: config.dataDir }) as unknown as NonNullable<
    Parameters<typeof createClient>[0]
  >['connection']
  starter?.close()
  // chDB keeps settings for its session: statements that carry no limits of their own (migrations, say)
  // must not inherit the last query's, so every statement pins them, unlimited unless it sets its own.
  return createClient({ connection, clickhouse_settings: { max_execution_time: 0, max_memory_usage: '0', timeout_overflow_mode: 'throw' } })
}
