import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { isMigratedStore, testStoreConfig } from '../helpers/store.js'
import { makeEcommEvent, makeStock, uid } from '../helpers/factories.js'

describe('migrations and the stock view', () => {
  const config = testStoreConfig()
  let store: ClickHouseStore

  beforeAll(async () => {
    store = ClickHouseStore.open(config)
  })
  afterAll(() => store.close())

  it('applies every file once, and a second run changes nothing', async () => {
    expect(await isMigratedStore(store, config.database)).toBe(false)
    const first = await store.migrate()
    expect(first.applied.length).toBeGreaterThan(10)
    expect(await isMigratedStore(store, config.database)).toBe(true)
    const second = await store.migrate()
    expect(second.applied).toEqual([])
  })

  it('moves the stock view when a warehouse row or a sale is inserted', async () => {
    const product = uid('p')
    expect(await store.stock([product])).toEqual([{ product, available: 0 }])
    await store.ingestWarehouseStock([makeStock({ product, amount: 7 })])
    expect(await store.stock([product])).toEqual([{ product, available: 7 }])
    await store.ingestEcommEvents([makeEcommEvent({ product, event: 'sale' }), makeEcommEvent({ product, event: 'view' })])
    expect(await store.stock([product])).toEqual([{ product, available: 6 }])
  })

  it('keeps the data across a reopen of the same directory', async () => {
    const product = uid('p')
    await store.ingestWarehouseStock([makeStock({ product, amount: 3 })])
    await store.close()
    store = ClickHouseStore.open(config)
    expect(await isMigratedStore(store, config.database)).toBe(true)
    expect(await store.stock([product])).toEqual([{ product, available: 3 }])
  })
})
