import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import type { StoreConfig } from '../../src/config.js'
import { isMigrated } from '../../src/store/migrate.js'

let dataDir: string | undefined

/**
 * chDB allows one data directory per process; vitest runs each test file in its own fork, so each
 * file gets one directory and each call a fresh database inside it.
 */
export function testStoreConfig(): StoreConfig {
  dataDir ??= mkdtempSync(join(tmpdir(), 'sightline-test-'))
  return {
    url: process.env.CLICKHOUSE_URL || undefined,
    user: process.env.CLICKHOUSE_USER ?? 'default',
    password: process.env.CLICKHOUSE_PASSWORD ?? '',
    database: `t_${randomBytes(6).toString('hex')}`,
    cluster: undefined,
    dataDir,
  }
}

/**
 * Where the store's files are: the embedded store's data directory, or, on the remote-path suite, the
 * directory of the ClickHouse HTTP interface that serves it (tests/remote/global-setup.ts).
 */
export function storeFilesDir(config: Pick<StoreConfig, 'url' | 'dataDir'>): string {
  return (config.url && process.env.SIGHTLINE_TEST_STORE_DIR) || config.dataDir
}

/**
 * Every file under `dir` whose bytes hold `needle`, and how many files were read. Files that vanish
 * while it reads (a remote store merging parts under it) are skipped.
 */
export function filesHolding(dir: string, needle: Buffer): { scanned: number; found: string[] } {
  const out = { scanned: 0, found: [] as string[] }
  const gone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT'
  const walk = (d: string) => {
    let entries: string[]
    try {
      entries = readdirSync(d)
    } catch (err) {
      if (gone(err)) return
      throw err
    }
    for (const f of entries) {
      const p = join(d, f)
      try {
        if (statSync(p).isDirectory()) walk(p)
        else {
          const holds = readFileSync(p).includes(needle)
          out.scanned++
          if (holds) out.found.push(p)
        }
      } catch (err) {
        if (!gone(err)) throw err
      }
    }
  }
  walk(dir)
  return out
}

/** A migrated store on its own database. */
export async function openTestStore(): Promise<ClickHouseStore> {
  const store = ClickHouseStore.open(testStoreConfig())
  await store.migrate()
  return store
}

/** True once the store answers and every migration is applied to `database`. */
export async function isMigratedStore(store: ClickHouseStore, database: string): Promise<boolean> {
  try {
    return await isMigrated(store.executor.client, { database })
  } catch {
    return false
  }
}
