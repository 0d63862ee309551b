import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createConnection, engineArgs } from '../../src/store/connection.js'
import { ENGINE_ALLOCATOR } from '../../src/store/engine-allocator.js'
import { droppable, dropLibraryPages, parseSmaps } from '../../src/store/resident.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { testStoreConfig } from '../helpers/store.js'

const root = mkdtempSync(join(tmpdir(), 'sightline-engine-memory-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const MB = 1024 * 1024
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('the embedded engine’s memory settings', () => {
  it('reads SIGHTLINE_CHDB_* into engine arguments, with bounded caches by default', () => {
    const defaults = loadConfig({}).store.memory!
    expect(defaults).toMatchObject({ markCacheMb: 64, indexCacheMb: 64, uncompressedCacheMb: 0, maxMemoryMb: 0, purgeMs: 5000, trimMs: 10_000, idleThreads: 4, extraArgs: [] })
    expect(loadConfig({}).heapGrowingPercent).toBe(25)
    expect(loadConfig({ SIGHTLINE_CHDB_TRIM_MS: '0', SIGHTLINE_HEAP_GROWING_PERCENT: '0' })).toMatchObject({ heapGrowingPercent: 0, store: { memory: { trimMs: 0 } } })
    expect(() => loadConfig({ SIGHTLINE_HEAP_GROWING_PERCENT: '400' })).toThrow(/SIGHTLINE_HEAP_GROWING_PERCENT/)
    const set = loadConfig({
      SIGHTLINE_CHDB_MARK_CACHE_MB: '3',
      SIGHTLINE_CHDB_INDEX_CACHE_MB: '5',
      SIGHTLINE_CHDB_MAX_MEMORY_MB: '700',
      SIGHTLINE_CHDB_ARGS: ' --max_thread_pool_size=500  --background_pool_size=4 ',
    }).store.memory!
    expect(engineArgs(set)).toEqual([
      `--mark_cache_size=${3 * MB}`,
      `--index_mark_cache_size=${3 * MB}`,
      `--primary_index_cache_size=${5 * MB}`,
      `--uncompressed_cache_size=0`,
      `--max_server_memory_usage=${700 * MB}`,
      '--max_thread_pool_free_size=4',
      '--max_thread_pool_size=500',
      '--background_pool_size=4',
    ])
    expect(() => loadConfig({ SIGHTLINE_CHDB_MARK_CACHE_MB: '-1' })).toThrow(/SIGHTLINE_CHDB_MARK_CACHE_MB/)
  })

  it('starts chDB with them (the engine reports its server settings), and a closed client lets another directory open', async () => {
    const base = loadConfig({
      SIGHTLINE_CHDB_MARK_CACHE_MB: '3',
      SIGHTLINE_CHDB_INDEX_CACHE_MB: '5',
      SIGHTLINE_CHDB_MAX_MEMORY_MB: '700',
      SIGHTLINE_CHDB_PURGE_MS: '20',
      SIGHTLINE_CHDB_IDLE_THREADS: '3',
    }).store
    const first = { ...base, dataDir: join(root, 'a') }
    const client = createConnection(first)
    // The store's second lane: same directory, same engine.
    const lane = createConnection(first)
    const rs = await lane.query({
      query:
        "SELECT name, value FROM system.server_settings WHERE name IN ('mark_cache_size', 'index_mark_cache_size', 'primary_index_cache_size', 'max_server_memory_usage', 'max_thread_pool_free_size') ORDER BY name",
      format: 'JSONEachRow',
    })
    expect(await rs.json()).toEqual([
      { name: 'index_mark_cache_size', value: String(3 * MB) },
      { name: 'mark_cache_size', value: String(3 * MB) },
      { name: 'max_server_memory_usage', value: String(700 * MB) },
      { name: 'max_thread_pool_free_size', value: '3' },
      { name: 'primary_index_cache_size', value: String(5 * MB) },
    ])
    // The allocator purge runs on its own session beside the store's statements.
    for (let i = 0; i < 20; i++) await client.command({ query: 'SELECT count() FROM numbers(100000) FORMAT Null' })
    await lane.close()
    await client.close()

    // One data directory per process: the housekeeping session must be gone with the last client.
    const other = createConnection({ ...base, dataDir: join(root, 'b') })
    const one = await (await other.query({ query: 'SELECT 1 AS x', format: 'JSONEachRow' })).json()
    expect(one).toEqual([{ x: 1 }])
    await other.close()
  })

  it('loads the engine with the allocator settings in its environment, which chDB reads (an operator’s own are kept)', () => {
    const start = (conf: string | undefined, dir: string) =>
      spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `import { createConnection } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/store/connection.ts')).href)}
           const c = createConnection({ dataDir: ${JSON.stringify(join(root, dir))} })
           await c.command({ query: 'SELECT count() FROM numbers(100000) GROUP BY number % 7 FORMAT Null' })
           console.log(process.env.JE_MALLOC_CONF); await c.close()`,
        ],
        { cwd: REPO, encoding: 'utf8', env: { ...process.env, JE_MALLOC_CONF: conf } },
      )
    const ours = start(undefined, 'alloc-default')
    expect(ours.stderr).toBe('')
    expect(ours.stdout.trim()).toBe(ENGINE_ALLOCATOR)
    // The engine's jemalloc reads the variable: with abort_conf, each of our options is valid...
    const strict = start(`${ENGINE_ALLOCATOR},abort_conf:true`, 'alloc-strict')
    expect([strict.status, strict.stdout.trim()]).toEqual([0, `${ENGINE_ALLOCATOR},abort_conf:true`])
    // ...and an unknown one aborts the process (were the variable not read, this would start).
    expect(start('abort_conf:true,no_such_option:1', 'alloc-bad').status).not.toBe(0)
  }, 60_000)

  it('picks only read-only, never-written mappings of the library to drop', () => {
    const smaps = [
      '7f0000000000-7f0000100000 r--p 00000000 08:01 42    /opt/x/libchdb.so',
      'Rss:                 800 kB',
      'Private_Dirty:         0 kB',
      'Anonymous:             0 kB',
      '7f0000100000-7f0000300000 r-xp 00100000 08:01 42    /opt/x/libchdb.so',
      'Rss:                1500 kB',
      'Private_Dirty:         0 kB',
      'Anonymous:             0 kB',
      // relocated data, made read-only after: its pages exist nowhere else
      '7f0000300000-7f0000310000 r--p 00300000 08:01 42    /opt/x/libchdb.so',
      'Rss:                  64 kB',
      'Private_Dirty:        64 kB',
      'Anonymous:            64 kB',
      '7f0000310000-7f0000320000 rw-p 00310000 08:01 42    /opt/x/libchdb.so',
      'Rss:                  64 kB',
      'Anonymous:             0 kB',
      '7f0000400000-7f0000500000 r-xp 00000000 08:01 43    /usr/bin/node',
      'Rss:                 900 kB',
      'Anonymous:             0 kB',
      '7f0000600000-7f0000700000 rw-p 00000000 00:00 0 ',
      'Rss:                1024 kB',
      'Anonymous:          1024 kB',
    ].join('\n')
    const all = parseSmaps(smaps)
    expect(all).toHaveLength(6)
    expect(all[5]).toMatchObject({ path: '', privateKb: 1024, rssKb: 1024 })
    expect(droppable(all, 'libchdb.so').map((m) => [m.start.toString(16), m.perms, m.rssKb])).toEqual([
      ['7f0000000000', 'r--p', 800],
      ['7f0000100000', 'r-xp', 1500],
    ])
  })

  it.runIf(process.platform === 'linux')('unmaps the library pages the engine no longer uses, and the engine goes on working', async () => {
    const client = createConnection({ ...loadConfig({ SIGHTLINE_CHDB_TRIM_MS: '0', SIGHTLINE_CHDB_PURGE_MS: '0' }).store, dataDir: join(root, 'c') })
    const sum = async () => (await (await client.query({ query: 'SELECT sum(number) AS s FROM numbers(1000)', format: 'JSONEachRow' })).json<{ s: number | string }>())[0]!.s
    expect(Number(await sum())).toBe(499500)
    const libraryKb = async () => droppable(parseSmaps(await readFile('/proc/self/smaps', 'utf8')), 'libchdb.so').reduce((kb, m) => kb + m.rssKb, 0)
    const before = await libraryKb()
    // Starting the engine reads tens of MB of its code and data once.
    expect(before).toBeGreaterThan(20 * 1024)
    const advised = await dropLibraryPages('libchdb.so')
    expect(advised).toBeGreaterThan(before * 1024)
    expect(await libraryKb()).toBeLessThan(before / 2)
    // What the next statement needs is mapped back from the file.
    expect(Number(await sum())).toBe(499500)
    const back = await libraryKb()
    expect(back).toBeGreaterThan(0)
    // Again: the mappings found the first time are dropped again.
    expect(await dropLibraryPages('libchdb.so')).toBe(advised)
    expect(await libraryKb()).toBeLessThan(back)
    await client.close()
  })

  it.runIf(!process.env.CLICKHOUSE_URL)('reads the stock levels (once a minute, for the live feed) without compiling them', async () => {
    const config = testStoreConfig()
    const store = ClickHouseStore.open(config)
    await store.migrate()
    const compiled = async () =>
      Number((await store.executor.select<{ n: string }>("SELECT value AS n FROM system.metrics WHERE metric = 'CompiledExpressionCacheCount'"))[0]?.n ?? 0)
    const before = await compiled()
    for (let i = 0; i < 6; i++) await store.datasources.stockLevels()
    expect(await compiled()).toBe(before)
    // The same statement without the pinned settings is compiled (from its fourth run), so the check above can fail.
    const same = `SELECT product, toInt64(sum(available_stock)) AS available FROM ${config.database}.mv_latest_availability GROUP BY product HAVING available != 0`
    for (let i = 0; i < 6; i++) await store.executor.select(same)
    expect(await compiled()).toBeGreaterThan(before)
    await store.close()
  })
})
