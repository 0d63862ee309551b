import { describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { makeStock, uid } from '../helpers/factories.js'
import { isMigratedStore, testStoreConfig } from '../helpers/store.js'

const url = process.env.CLICKHOUSE_URL
if (!url) console.info('remote-store tests skipped: set CLICKHOUSE_URL to run them against a ClickHouse server')

describe.skipIf(!url)('the remote store (CLICKHOUSE_URL)', () => {
  it('migrates, writes and reads through the same code path as chDB', async () => {
    const config = { ...testStoreConfig(), url }
    const store = ClickHouseStore.open(config)
    try {
      await store.migrate()
      expect(await isMigratedStore(store, config.database)).toBe(true)
      const product = uid('p')
      await store.ingestWarehouseStock([makeStock({ product, amount: 5 })])
      expect(await store.stock([product])).toEqual([{ product, available: 5 }])
    } finally {
      await store.close()
    }
  })
})
