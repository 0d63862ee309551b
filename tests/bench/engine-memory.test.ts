import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createConnection, engineArgs } from '../../src/store/connection.js'

const root = mkdtempSync(join(tmpdir(), 'sightline-engine-memory-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const MB = 1024 * 1024

describe('the embedded engine’s memory settings', () => {
  it('reads SIGHTLINE_CHDB_* into engine arguments, with bounded caches by default', () => {
    const defaults = loadConfig({}).store.memory!
    expect(defaults).toMatchObject({ markCacheMb: 64, indexCacheMb: 64, uncompressedCacheMb: 0, maxMemoryMb: 0, purgeMs: 5000, extraArgs: [] })
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
      '--max_thread_pool_size=500',
      '--background_pool_size=4',
    ])
    expect(() => loadConfig({ SIGHTLINE_CHDB_MARK_CACHE_MB: '-1' })).toThrow(/SIGHTLINE_CHDB_MARK_CACHE_MB/)
  })

  it('starts chDB with them (the engine reports its server settings), and a closed client lets another directory open', async () => {
    const base = loadConfig({ SIGHTLINE_CHDB_MARK_CACHE_MB: '3', SIGHTLINE_CHDB_INDEX_CACHE_MB: '5', SIGHTLINE_CHDB_MAX_MEMORY_MB: '700', SIGHTLINE_CHDB_PURGE_MS: '20' }).store
    const first = { ...base, dataDir: join(root, 'a') }
    const client = createConnection(first)
    // The store's second lane: same directory, same engine.
    const lane = createConnection(first)
    const rs = await lane.query({
      query: "SELECT name, value FROM system.server_settings WHERE name IN ('mark_cache_size', 'index_mark_cache_size', 'primary_index_cache_size', 'max_server_memory_usage') ORDER BY name",
      format: 'JSONEachRow',
    })
    expect(await rs.json()).toEqual([
      { name: 'index_mark_cache_size', value: String(3 * MB) },
      { name: 'mark_cache_size', value: String(3 * MB) },
      { name: 'max_server_memory_usage', value: String(700 * MB) },
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
})
