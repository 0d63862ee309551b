import { describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { makeStock, uid } from '../helpers/factories.js'
import { testStoreConfig } from '../helpers/store.js'

const url = process.env.CLICKHOUSE_URL
if (!url) console.info('remote-store tests skipped: set CLICKHOUSE_URL to run them against a ClickHouse server')

describe.skipIf(!url)('the remote store (CLICKHOUSE_URL)', () => {
  it('migrates, writes and reads through the same code path as chDB', async () => {
    const store = ClickHouseStore.open({ ...testStoreConfig(), url })
    try {
      await store.migrate()
      expect(await store.isReady()).toBe(true)
      const product = uid('p')
      await store.ingestWarehouseStock([makeStock({ product, amount: 5 })])
      expect(await store.stock([product])).toEqual([{ product, available: 5 }])
    } finally {
      await store.close()
    }
  })
})
