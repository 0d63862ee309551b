// First: the allocator's settings must be in the environment before chDB's library loads.
import './engine-allocator.js'
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { Session } from 'chdb'
import { createChdbConnection } from 'chdb/connection'
import type { EngineMemoryConfig, StoreConfig } from '../config.js'
import { SHARDED_SETTINGS } from './cluster.js'
import { dropLibraryPages } from './resident.js'

const MB = 1024 * 1024
/** The file the engine is mapped from (the platform package of chdb). */
const CHDB_LIBRARY = 'libchdb.so'

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
  // Idle pool threads keep their stacks and allocator caches; chDB's default keeps up to 1,000 of them.
  args.push(`--max_thread_pool_free_size=${memory.idleThreads}`)
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
  // chDB keeps settings for its session: statements that carry no limits of their own (migrations, say)
  // must not inherit the last query's, so every statement pins them, unlimited unless it sets its own.
  const client = createClient({ connection, clickhouse_settings: { max_execution_time: 0, max_memory_usage: '0', timeout_overflow_mode: 'throw' } })
  const purgeMs = config.memory?.purgeMs ?? 0
  const trimMs = config.memory?.trimMs ?? 0
  if (purgeMs <= 0 && trimMs <= 0) {
    starter?.close()
    return client
  }
  const release = housekeeping(config.dataDir, purgeMs, trimMs, starter)
  const close = client.close.bind(client)
  client.close = async () => {
    await close()
    await release()
  }
  return client
}

/**
 * Unmaps the pages of the embedded engine's library that the process no longer uses, now (see
 * `dropLibraryPages`): for the CLI once the server is ready, when starting it has read most of them.
 */
export async function trimEngineLibrary(): Promise<void> {
  await dropLibraryPages(CHDB_LIBRARY)
}

interface Housekeeper {
  readonly session: Session
  readonly timers: readonly NodeJS.Timeout[]
  users: number
  running: Promise<unknown> | undefined
}

/** One per data directory (the engine, and its allocator, is one per process). */
const housekeepers = new Map<string, Housekeeper>()

/**
 * The engine's allocator (jemalloc) keeps the pages a finished query freed, for the next one: after a
 * dashboard over millions of rows that is a few hundred MB of resident memory nobody uses (measured: a
 * process's anonymous RSS 229 MB after scans of 10M rows, 58 MB after a purge). Every `purgeMs` a session
 * of its own (so it never waits behind, or interleaves with, the store's statements) hands them back.
 * Every `trimMs` the library's pages the process no longer uses are unmapped (`dropLibraryPages`).
 * Returns the release for one client; the last release stops both.
 */
function housekeeping(dataDir: string, purgeMs: number, trimMs: number, starter: Session | undefined): () => Promise<void> {
  const key = resolve(dataDir)
  let keeper = housekeepers.get(key)
  if (keeper) {
    keeper.users++
    starter?.close()
  } else {
    const session = starter ?? new Session(dataDir)
    const timers: NodeJS.Timeout[] = []
    if (purgeMs > 0) {
      timers.push(
        setInterval(() => {
          if (!keeper || keeper.running) return
          const k = keeper
          k.running = session
            .queryAsync('SYSTEM JEMALLOC PURGE')
            .catch(() => undefined)
            .finally(() => (k.running = undefined))
        }, purgeMs),
      )
    }
    // The library's pages that starting the engine read once go soon after the start, the rest of what
    // is no longer used at every later tick (what is still used comes back on its next access).
    if (trimMs > 0) {
      const trim = () => void dropLibraryPages(CHDB_LIBRARY).catch(() => undefined)
      timers.push(setTimeout(trim, Math.min(trimMs, 5_000)), setInterval(trim, trimMs))
    }
    for (const timer of timers) timer.unref()
    keeper = { session, timers, users: 1, running: undefined }
    housekeepers.set(key, keeper)
  }
  const k = keeper
  let released = false
  return async () => {
    if (released) return
    released = true
    if (--k.users > 0) return
    housekeepers.delete(key)
    for (const timer of k.timers) clearTimeout(timer)
    await k.running
    k.session.close()
  }
}
