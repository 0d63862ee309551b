import { describe, expect, it } from 'vitest'
import { APPS, DIMENSION_FIELDS, type AppEventRow } from '../../src/store/types.js'
import {
  APP_ACTIONS,
  checkAppEvent,
  checkEcommEvent,
  checkProduct,
  checkWarehouseStock,
  MAX_AMOUNT,
  MAX_MONEY,
  StockBalance,
  type Checked,
  type ValidAppEvent,
} from '../../src/store/validate.js'

const NOW = new Date('2026-06-15T12:00:00.000Z')
const DAY = 24 * 3600 * 1000

function reason<T>(c: Checked<T>): string {
  if (c.ok) throw new Error(`expected a refusal, got ${JSON.stringify(c.row)}`)
  return c.reason
}
function row<T>(c: Checked<T>): T {
  if (!c.ok) throw new Error(`expected a valid row, got "${c.reason}"`)
  return c.row
}

/** The timestamp rules, shared by every datasource that has a timestamp. */
function timestampRules(check: (timestamp: Date | null | undefined) => Checked<{ timestamp: Date }>) {
  it('defaults a missing timestamp to now', () => {
    expect(row(check(undefined)).timestamp).toEqual(NOW)
    expect(row(check(null)).timestamp).toEqual(NOW)
  })
  it('refuses an invalid date', () => {
    expect(reason(check(new Date('not a date')))).toMatch(/not a valid date/)
  })
  it('refuses timestamps before 2000, accepts 2000-01-01 itself', () => {
    expect(reason(check(new Date('1990-05-01T00:00:00Z')))).toMatch(/before 2000-01-01/)
    expect(reason(check(new Date('1999-12-31T23:59:59.999Z')))).toMatch(/before 2000-01-01/)
    expect(row(check(new Date('2000-01-01T00:00:00Z'))).timestamp.toISOString()).toBe('2000-01-01T00:00:00.000Z')
  })
  it('accepts up to a day ahead and refuses anything later', () => {
    expect(row(check(new Date(NOW.getTime() + DAY))).timestamp.getTime()).toBe(NOW.getTime() + DAY)
    expect(reason(check(new Date(NOW.getTime() + DAY + 1)))).toMatch(/more than a day ahead/)
    expect(reason(check(new Date('2999-01-01T00:00:00Z')))).toMatch(/more than a day ahead/)
  })
}

/** The id rules: trimmed, not empty, at most 256 characters, no NUL. */
function idRules(field: string, check: (value: string) => Checked<unknown>, read: (r: unknown) => unknown) {
  it(`${field}: refuses empty and blank, trims, caps at 256 characters`, () => {
    expect(reason(check(''))).toBe(`${field} is empty`)
    expect(reason(check('   '))).toBe(`${field} is empty`)
    expect(read(row(check('  x1  ')))).toBe('x1')
    expect(read(row(check('a'.repeat(256))))).toBe('a'.repeat(256))
    expect(reason(check('a'.repeat(257)))).toBe(`${field} is longer than 256 characters`)
  })
  it(`${field}: refuses a NUL character (the aggregating views' batch markers start with one)`, () => {
    expect(reason(check('\0abc'))).toBe(`${field} contains a NUL character`)
    expect(reason(check('a\0b'))).toBe(`${field} contains a NUL character`)
  })
}

describe('checkEcommEvent', () => {
  const ok = { event: 'view', product: 'p1' } as const

  it('accepts the three events', () => {
    for (const event of ['view', 'cart', 'sale'] as const) {
      expect(row(checkEcommEvent({ ...ok, event, timestamp: NOW }, NOW))).toEqual({ event, product: 'p1', timestamp: NOW })
    }
  })
  it('refuses any other event', () => {
    expect(reason(checkEcommEvent({ ...ok, event: 'purchase' as never }, NOW))).toBe('unknown event "purchase"')
  })
  idRules('product', (product) => checkEcommEvent({ ...ok, product }, NOW), (r) => (r as { product: string }).product)
  describe('timestamp', () => timestampRules((timestamp) => checkEcommEvent({ ...ok, timestamp }, NOW)))
})

describe('checkWarehouseStock', () => {
  const ok = { product: 'p1', store: 'main', amount: 5 }

  it('accepts whole amounts up to ±1e9, both extremes included', () => {
    for (const amount of [0, -7, 12, MAX_AMOUNT, -MAX_AMOUNT]) {
      expect(row(checkWarehouseStock({ ...ok, amount }, NOW)).amount).toBe(amount)
    }
  })
  it('refuses fractions and non-finite numbers', () => {
    for (const amount of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(reason(checkWarehouseStock({ ...ok, amount }, NOW))).toBe('amount is not an integer')
    }
  })
  it('refuses absurd magnitudes', () => {
    expect(reason(checkWarehouseStock({ ...ok, amount: MAX_AMOUNT + 1 }, NOW))).toBe('amount 1000000001 is beyond ±1000000000')
    expect(reason(checkWarehouseStock({ ...ok, amount: -2_147_483_647 }, NOW))).toBe('amount -2147483647 is beyond ±1000000000')
  })
  it('refuses an update that would take the stock outside Int32, from the stored stock on', () => {
    const balance = new StockBalance([['p1', 2_000_000_000]])
    expect(row(checkWarehouseStock({ ...ok, amount: 147_483_647 }, NOW, balance)).amount).toBe(147_483_647) // 2^31 - 1
    expect(reason(checkWarehouseStock({ ...ok, amount: 1 }, NOW, balance))).toBe(
      'amount 1 would take the stock of p1 to 2147483648, outside the 32-bit range',
    )
    // The refused row did not move the balance; going down is fine, and so is another product.
    expect(row(checkWarehouseStock({ ...ok, amount: -5 }, NOW, balance)).amount).toBe(-5)
    expect(row(checkWarehouseStock({ ...ok, product: 'p2', amount: MAX_AMOUNT }, NOW, balance)).amount).toBe(MAX_AMOUNT)
    const low = new StockBalance([['p1', -2_147_000_000]])
    expect(reason(checkWarehouseStock({ ...ok, amount: -500_000 }, NOW, low))).toMatch(/outside the 32-bit range/)
  })
  it('moves the balance only for rows that pass every other check', () => {
    const balance = new StockBalance([['p1', 2_147_483_000]])
    expect(reason(checkWarehouseStock({ ...ok, store: '', amount: 600 }, NOW, balance))).toBe('store is empty')
    expect(row(checkWarehouseStock({ ...ok, amount: 600 }, NOW, balance)).amount).toBe(600)
  })
  idRules('product', (product) => checkWarehouseStock({ ...ok, product }, NOW), (r) => (r as { product: string }).product)
  idRules('store', (store) => checkWarehouseStock({ ...ok, store }, NOW), (r) => (r as { store: string }).store)
  describe('timestamp', () => timestampRules((timestamp) => checkWarehouseStock({ ...ok, timestamp }, NOW)))
})

describe('checkProduct', () => {
  const ok = { id: 'p1', category: 'shoes', name: 'Runner', photo: 'https://img/p.jpg', price: 9.5 }

  it('accepts a product and defaults a missing photo to ""', () => {
    expect(row(checkProduct(ok))).toEqual(ok)
    expect(row(checkProduct({ ...ok, photo: null })).photo).toBe('')
    expect(row(checkProduct({ ...ok, photo: undefined })).photo).toBe('')
  })
  idRules('id', (id) => checkProduct({ ...ok, id }), (r) => (r as { id: string }).id)
  idRules('category', (category) => checkProduct({ ...ok, category }), (r) => (r as { category: string }).category)
  idRules('name', (name) => checkProduct({ ...ok, name }), (r) => (r as { name: string }).name)

  it('caps the photo at 4096 characters', () => {
    expect(row(checkProduct({ ...ok, photo: 'x'.repeat(4096) })).photo).toHaveLength(4096)
    expect(reason(checkProduct({ ...ok, photo: 'x'.repeat(4097) }))).toBe('photo is longer than 4096 characters')
  })
  it('refuses non-finite and negative prices, accepts zero', () => {
    expect(row(checkProduct({ ...ok, price: 0 })).price).toBe(0)
    expect(reason(checkProduct({ ...ok, price: Number.NaN }))).toBe('price is not a finite number')
    expect(reason(checkProduct({ ...ok, price: Number.POSITIVE_INFINITY }))).toBe('price is not a finite number')
    expect(reason(checkProduct({ ...ok, price: -0.01 }))).toBe('price is negative')
    expect(row(checkProduct({ ...ok, price: MAX_MONEY })).price).toBe(1e12)
    expect(reason(checkProduct({ ...ok, price: 1e308 }))).toBe('price 1e+308 is larger than 1000000000000')
    expect(reason(checkProduct({ ...ok, price: 'x' as unknown as number }))).toBe('price is not a finite number')
  })
})

describe('checkAppEvent', () => {
  const ok: AppEventRow = { app: 'cart', action: 'view', workspaceId: 'ws1', sessionId: 's1', visitorId: 'v1', timestamp: NOW }

  it('knows exactly the spec actions of each app', () => {
    expect(APP_ACTIONS).toEqual({
      cart: ['view', 'add_to_cart', 'purchase'],
      fm: ['play', 'pause', 'share'],
      link: ['click', 'redirect'],
      page: ['view', 'interaction'],
    })
    expect(Object.keys(APP_ACTIONS).sort()).toEqual([...APPS].sort())
  })

  it("accepts every app's actions and refuses the other apps' ones", () => {
    for (const app of APPS) {
      for (const other of APPS) {
        for (const action of APP_ACTIONS[other]) {
          const checked = checkAppEvent({ ...ok, app, action }, NOW)
          if (APP_ACTIONS[app].includes(action)) {
            expect(row(checked).action).toBe(action)
          } else {
            expect(reason(checked)).toBe(
              `unknown action "${action}" for app ${app} (expected one of ${APP_ACTIONS[app].join(', ')})`,
            )
          }
        }
      }
      expect(reason(checkAppEvent({ ...ok, app, action: '' }, NOW))).toMatch(/unknown action ""/)
    }
  })

  it('refuses an unknown app', () => {
    expect(reason(checkAppEvent({ ...ok, app: 'shop' as never }, NOW))).toBe('unknown app "shop"')
  })

  it('fills every missing dimension, the asset and the revenue with empty values', () => {
    const r = row(checkAppEvent(ok, NOW))
    for (const f of DIMENSION_FIELDS) expect(r[f]).toBe('')
    expect(r.assetId).toBe('')
    expect(r.revenue).toBe(0)
    expect(row(checkAppEvent({ ...ok, revenue: null, assetId: null, country: null }, NOW))).toEqual(r)
  })

  it('keeps dimensions as given (not trimmed) and caps them at 4096 characters', () => {
    const given = Object.fromEntries(DIMENSION_FIELDS.map((f, i) => [f, ` ${f}-${i} `]))
    const r = row(checkAppEvent({ ...ok, ...given, assetId: 'a1' }, NOW))
    for (const f of DIMENSION_FIELDS) expect(r[f]).toBe(given[f])
    expect(r.assetId).toBe('a1')
    for (const f of [...DIMENSION_FIELDS, 'assetId'] as const) {
      expect(row(checkAppEvent({ ...ok, [f]: 'x'.repeat(4096) }, NOW))[f]).toHaveLength(4096)
      expect(reason(checkAppEvent({ ...ok, [f]: 'x'.repeat(4097) }, NOW))).toBe(`${f} is longer than 4096 characters`)
    }
  })

  idRules('workspaceId', (workspaceId) => checkAppEvent({ ...ok, workspaceId }, NOW), (r) => (r as ValidAppEvent).workspaceId)
  idRules('sessionId', (sessionId) => checkAppEvent({ ...ok, sessionId }, NOW), (r) => (r as ValidAppEvent).sessionId)
  idRules('visitorId', (visitorId) => checkAppEvent({ ...ok, visitorId }, NOW), (r) => (r as ValidAppEvent).visitorId)

  it('refuses other workspaces when bound to one', () => {
    expect(row(checkAppEvent(ok, NOW, 'ws1')).workspaceId).toBe('ws1')
    expect(row(checkAppEvent({ ...ok, workspaceId: ' ws1 ' }, NOW, 'ws1')).workspaceId).toBe('ws1')
    expect(reason(checkAppEvent({ ...ok, workspaceId: 'ws2' }, NOW, 'ws1'))).toBe(`workspace "ws2" is not the token's workspace`)
    expect(reason(checkAppEvent({ ...ok, workspaceId: '' }, NOW, 'ws1'))).toBe('workspaceId is empty')
  })

  it('refuses negative and non-finite revenue, accepts zero and positive', () => {
    expect(row(checkAppEvent({ ...ok, action: 'purchase', revenue: 12.34 }, NOW)).revenue).toBe(12.34)
    expect(row(checkAppEvent({ ...ok, action: 'purchase', revenue: 0 }, NOW)).revenue).toBe(0)
    expect(reason(checkAppEvent({ ...ok, revenue: -1 }, NOW))).toBe('revenue is negative')
    expect(reason(checkAppEvent({ ...ok, revenue: Number.NaN }, NOW))).toBe('revenue is not a finite number')
    expect(reason(checkAppEvent({ ...ok, revenue: Number.NEGATIVE_INFINITY }, NOW))).toBe('revenue is not a finite number')
    expect(reason(checkAppEvent({ ...ok, revenue: 1e308 }, NOW))).toBe('revenue 1e+308 is larger than 1000000000000')
    expect(row(checkAppEvent({ ...ok, action: 'purchase', revenue: 1e12 }, NOW)).revenue).toBe(1e12)
  })

  describe('timestamp', () => timestampRules((timestamp) => checkAppEvent({ ...ok, timestamp }, NOW)))
})
