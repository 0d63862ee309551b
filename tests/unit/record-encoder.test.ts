import { describe, expect, it } from 'vitest'
import { DATASOURCES, ndjsonSource, parseNdjson } from '../../src/domain/records.js'
import { prng } from '../../src/random.js'
import { appEventCodec, ecommEventCodec, productCodec, warehouseStockCodec, type RowCodec } from '../../src/store/area/codecs.js'
import { recordEncoder } from '../../src/store/area/record-encoder.js'
import type { IngestTable } from '../../src/store/types.js'
import { StockBalance } from '../../src/store/validate.js'

const NOW = new Date('2026-11-30T12:00:00.000Z')

/** What the typed path makes of a body: parseNdjson's rows through the codec (the store's check and encode), then its rejected lines. */
function typedPath(name: string, body: string, codec: RowCodec<never, never>) {
  const batch = parseNdjson(body, DATASOURCES.get(name)!)
  const rows: unknown[][] = []
  const errors: Array<{ index: number; message: string }> = []
  const bad: Array<{ row: string; reason: string }> = []
  batch.rows.forEach((row, i) => {
    const checked = codec.check(row as never)
    if (checked.ok) rows.push(codec.encode(checked.row))
    else {
      errors.push({ index: batch.lines[i]! - 1, message: checked.reason })
      bad.push({ row: batch.sources[i]!.row, reason: `${batch.sources[i]!.label}: ${checked.reason}` })
    }
  })
  batch.rejected.forEach((r, j) => {
    const k = batch.rows.length + j
    errors.push({ index: batch.lines[k]! - 1, message: r.reason })
    bad.push({ row: r.row, reason: `${batch.sources[k]!.label}: ${r.reason}` })
  })
  return { rows, errors, bad }
}

function onePass(name: string, table: IngestTable, body: string, env: { workspace?: string; balance?: StockBalance; version?: () => bigint } = {}) {
  const source = ndjsonSource(body, DATASOURCES.get(name)!)
  const encoder = recordEncoder(table, source, { now: NOW, version: env.version ?? (() => 0n), workspace: env.workspace, balance: env.balance })
  source.each(encoder.add)
  const done = encoder.done()
  return { size: source.size, rows: done.rows, errors: done.errors, bad: done.bad.map(({ row, reason }) => ({ row, reason })), stockChanges: done.stockChanges }
}

const rand = prng(20)
const one = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const TIMESTAMPS = [
  '2026-11-30T10:00:00.000Z',
  '2026-11-29 23:59:59',
  '2026-11-30 01:02:03.456',
  '2026-11-30T10:00:00+02:00',
  '2026-11-30',
  '1764496800',
  1764496800,
  '1999-12-31 23:59:59',
  '2027-06-01 00:00:00',
  '2026-02-30 00:00:00',
  'yesterday',
  '',
  null,
  undefined,
  true,
]
const IDS = ['p1', ' p2 ', '', '   ', 'x'.repeat(256), 'y'.repeat(257), 'a\0b', 7, false, null, undefined, { id: 1 }, 'é"\\\n', 'p\u2028']
const LINES = ['', '   ', 'not json', '[1,2]', '"text"', 'null', '{"event":"view",', '{"__proto__":{"event":"view"},"product":"p"}']

function line(fields: Record<string, readonly unknown[]>): string {
  if (rand() < 0.08) return one(LINES)
  const record: Record<string, unknown> = {}
  for (const [name, values] of Object.entries(fields)) {
    const v = one(values)
    if (v !== undefined) record[name] = v
  }
  const text = JSON.stringify(record)
  return rand() < 0.1 ? `${text}\r` : text
}

describe('the one-pass NDJSON path (Store.ingestRecords)', () => {
  it('gives ecomm_events the rows, errors and quarantine rows of the typed path, stock moves included', () => {
    const body = Array.from({ length: 3000 }, () =>
      line({ timestamp: TIMESTAMPS, event: ['view', 'cart', 'sale', 'SALE', 'Cart', 'buy', 3, null, undefined], product: IDS }),
    ).join('\n')
    const typed = typedPath('ecomm_events', body, ecommEventCodec(NOW) as RowCodec<never, never>)
    const fast = onePass('ecomm_events', 'ecomm_events', body)
    expect(fast.rows).toEqual(typed.rows)
    expect(fast.errors).toEqual(typed.errors)
    expect(fast.bad).toEqual(typed.bad)
    expect(fast.size).toBe(parseNdjson(body, DATASOURCES.get('ecomm_events')!).sources.length)
    expect(typed.rows.length).toBeGreaterThan(100)
    expect(typed.errors.length).toBeGreaterThan(100)
    const sales = new Map<string, number>()
    for (const [, event, product] of typed.rows as string[][]) if (event === 'sale') sales.set(product!, (sales.get(product!) ?? 0) - 1)
    expect(new Map(fast.stockChanges.map((c) => [c.product, c.delta]))).toEqual(sales)
  })

  it('gives app events (by the seed name barely_events) the typed path’s rows, with the token’s workspace enforced', () => {
    const body = Array.from({ length: 3000 }, () =>
      line({
        timestamp: TIMESTAMPS,
        app: ['cart', 'cart', 'cart', 'FM', 'link', 'page', 'shop', 1, undefined],
        event_type: ['cart', undefined],
        action: ['view', 'view', 'view', 'play', 'click', 'purchase', 'fly', '', undefined],
        workspaceId: ['w1', 'w1', 'w1', 'w2', '', undefined],
        session_id: ['s', 's', 's', ...IDS],
        visitorId: ['v', 'v', 'v', '', 5, undefined],
        browser: ['Firefox', 'é"\\', 3, true, { b: 1 }, undefined],
        revenue: [0, 12.5, '3.25', -1, 1e13, 'x', null, undefined],
      }),
    ).join('\n')
    const typed = typedPath('barely_events', body, appEventCodec(NOW, 'w1') as RowCodec<never, never>)
    const fast = onePass('barely_events', 'app_events', body, { workspace: 'w1' })
    expect(fast.rows).toEqual(typed.rows)
    expect(fast.errors).toEqual(typed.errors)
    expect(fast.bad).toEqual(typed.bad)
    expect(typed.rows.length).toBeGreaterThan(30)
  })

  it('gives products their versions in row order, and warehouse updates the balance check of the typed path', () => {
    const products = Array.from({ length: 500 }, () => line({ id: IDS, category: ['c', ''], name: ['n', 3], photo: ['x', null, 'y'.repeat(4097)], price: [1.5, '2', -1, 'no', undefined] })).join('\n')
    let a = 0n
    let b = 0n
    const typedProducts = typedPath('products', products, productCodec(() => ++a) as RowCodec<never, never>)
    const fastProducts = onePass('products', 'products', products, { version: () => ++b })
    expect(fastProducts.rows).toEqual(typedProducts.rows)
    expect(fastProducts.bad).toEqual(typedProducts.bad)

    const stock: Array<[string, number]> = [['p1', 2_147_483_000]]
    const updates = Array.from({ length: 500 }, () => line({ timestamp: TIMESTAMPS, product: ['p1', 'p2', ''], store: ['s', ''], amount: [5, -3, 1000, 2e9, 1.5, '7', 'x', undefined] })).join('\n')
    const typedUpdates = typedPath('warehouse_stock', updates, warehouseStockCodec(NOW, new StockBalance(stock)) as RowCodec<never, never>)
    const fastUpdates = onePass('warehouse_stock', 'warehouse_stock', updates, { balance: new StockBalance(stock) })
    expect(fastUpdates.rows).toEqual(typedUpdates.rows)
    expect(fastUpdates.errors).toEqual(typedUpdates.errors)
    expect(fastUpdates.bad).toEqual(typedUpdates.bad)
    expect(typedUpdates.errors.some((e) => e.message.includes('outside the 32-bit range'))).toBe(true)
  })

  it('counts the records of a body as the walk visits them (blank lines skipped, CRLF taken)', () => {
    for (const body of ['', '\n', ' \r\n{"a":1}\r\n\n[1]\n', '{}', 'x\n\ny']) {
      let visited = 0
      const source = ndjsonSource(body, DATASOURCES.get('ecomm_events')!)
      source.each(() => visited++)
      expect(source.size, JSON.stringify(body)).toBe(visited)
    }
  })
})
