import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startServer, type RunningServer } from '../../src/server.js'
import type { Store } from '../../src/store/store.js'
import { ProductsWithStockDocument } from '../generated/graphql.js'
import { makeProduct, uid } from '../helpers/factories.js'
import { gqlOk } from '../helpers/server.js'
import { openTestStore, testStoreConfig } from '../helpers/store.js'

describe('per-request batching', () => {
  let server: RunningServer
  const calls: Record<string, number> = {}
  const admin = `admin_${uid('x')}_0123456789`
  const category = uid('cat')

  beforeAll(async () => {
    const real = await openTestStore()
    // Counts every store method call the resolvers make, to prove the DataLoaders batch.
    const counting = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          calls[String(prop)] = (calls[String(prop)] ?? 0) + 1
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    }) as Store
    await real.upsertProducts(Array.from({ length: 100 }, (_, i) => makeProduct({ id: `${category}_${i}`, category })))
    await real.ingestWarehouseStock([{ product: `${category}_7`, store: 's', amount: 150 }])
    await real.ingestEcommEvents([{ product: `${category}_7`, event: 'sale' }])
    const config = loadConfig({ PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: admin }, { store: testStoreConfig() })
    server = await startServer(config, { store: counting })
  })
  afterAll(() => server?.stop())

  it('costs one store query per field for a page of 100 products', async () => {
    for (const k of Object.keys(calls)) delete calls[k]
    const data = await gqlOk(server, ProductsWithStockDocument, { category, limit: 100 }, admin)
    expect(data.products).toHaveLength(100)
    const p7 = data.products.find((p) => p.id === `${category}_7`)
    expect(p7).toMatchObject({ stock: { available: 149, status: 'IN_STOCK' }, recentSales: 1 })
    expect(data.products.filter((p) => p.stock.available === 0)).toHaveLength(99)
    expect(calls).toMatchObject({ products: 1, stock: 1, recentSales: 1 })
  })
})
