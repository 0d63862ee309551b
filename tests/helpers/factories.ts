import { randomBytes } from 'node:crypto'
import type { AppEventRow, EcommEventRow, ProductRow, WarehouseStockRow } from '../../src/store/types.js'

export const uid = (prefix = 'id') => `${prefix}_${randomBytes(5).toString('hex')}`

export const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000)

export function makeProduct(over: Partial<ProductRow> = {}): ProductRow {
  return { id: uid('p'), category: 'shoes', name: uid('name'), photo: 'https://img.example/p.jpg', price: 10, ...over }
}

export function makeEcommEvent(over: Partial<EcommEventRow> = {}): EcommEventRow {
  return { event: 'view', product: uid('p'), timestamp: new Date(), ...over }
}

export function makeStock(over: Partial<WarehouseStockRow> = {}): WarehouseStockRow {
  return { product: uid('p'), store: 'main', amount: 10, timestamp: new Date(), ...over }
}

export function makeAppEvent(over: Partial<AppEventRow> = {}): AppEventRow {
  return {
    app: 'page',
    action: 'view',
    workspaceId: uid('ws'),
    sessionId: uid('s'),
    visitorId: uid('v'),
    timestamp: new Date(),
    ...over,
  } as AppEventRow
}
