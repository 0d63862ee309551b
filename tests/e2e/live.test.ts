import type { Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreateTokenDocument,
  IngestEcommEventsDocument,
  IngestWarehouseStockDocument,
  UpsertProductsDocument,
  type StockChangedSubscription,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { subscribeStock } from '../helpers/stock.js'
import { subscribers } from '../helpers/wait.js'
import { gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'

type Update = StockChangedSubscription['stockChanged']

/** Subscribes and collects updates; `until(n)` resolves once n have arrived. */
function collect(client: Client, variables: { products?: string[]; category?: string }) {
  // Each update or error wakes the waits below; no timer polls.
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const w of wakers) w()
  }
  const { updates, errors, dispose } = subscribeStock(client, variables, wake)
  /** Resolves with the updates once `n` have arrived, an error has, or `ms` have passed. */
  const until = (n: number, ms = 60_000) =>
    new Promise<Update[]>((resolve) => {
      const check = () => {
        if (updates.length < n && errors.length === 0) return
        done()
      }
      const done = () => {
        clearTimeout(timer)
        wakers.delete(check)
        resolve(updates)
      }
      const timer = setTimeout(done, ms)
      wakers.add(check)
      check()
    })
  return { updates, errors, until, dispose }
}

describe('live stock over graphql-ws', () => {
  let server: TestServer
  let read: string
  let append: string
  const clients: Client[] = []

  beforeAll(async () => {
    server = await startTestServer()
    const mk = async (scopes: string[]) =>
      (await gqlOk(server, CreateTokenDocument, { input: { name: uid('t'), scopes } }, server.adminToken)).createToken.token
    read = await mk(['read:ecommerce'])
    append = await mk(['append'])
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  const client = (token?: string) => {
    const c = wsClient(server, token)
    clients.push(c)
    return c
  }

  it('delivers every update exactly once and in order to 25 subscribers', async () => {
    const [p1, p2] = [uid('p'), uid('p')]
    const category = uid('cat')
    await gqlOk(
      server,
      UpsertProductsDocument,
      { products: [{ id: p1, category, name: 'one', price: 1 }, { id: p2, category: 'other', name: 'two', price: 2 }] },
      append,
    )
    await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product: p1, store: 's', amount: 200 }, { product: p2, store: 's', amount: 50 }] }, append)

    // Subscribers with different filters: by product, by category, both products, p2 only.
    const subs = Array.from({ length: 25 }, (_, i) => {
      const filter = i % 4 === 0 ? { products: [p1] } : i % 4 === 1 ? { category } : i % 4 === 2 ? { products: [p1, p2] } : { products: [p2] }
      return { filter, sub: collect(client(read), filter) }
    })
    await subscribers(server.services.feed, (n) => n === 25)

    // 40 sequential sales, alternating products: 20 of p1, 20 of p2.
    for (let i = 0; i < 40; i++) {
      await gqlOk(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product: i % 2 === 0 ? p1 : p2 }] }, append)
    }
    const expectP1 = Array.from({ length: 20 }, (_, i) => 200 - (i + 1))
    const expectP2 = Array.from({ length: 20 }, (_, i) => 50 - (i + 1))
    for (const { filter, sub } of subs) {
      const wantsP1 = filter.products?.includes(p1) || filter.category === category
      const wantsP2 = filter.products?.includes(p2)
      const expected = (wantsP1 ? 20 : 0) + (wantsP2 ? 20 : 0)
      const got = await sub.until(expected)
      expect(sub.errors).toEqual([])
      expect(got.length).toBe(expected)
      expect(got.filter((u) => u.product === p1).map((u) => u.available)).toEqual(wantsP1 ? expectP1 : [])
      expect(got.filter((u) => u.product === p2).map((u) => u.available)).toEqual(wantsP2 ? expectP2 : [])
      expect(got.every((u) => u.delta === -1)).toBe(true)
      expect(new Set(got.filter((u) => u.product === p1).map((u) => u.status))).toEqual(new Set(wantsP1 ? ['IN_STOCK'] : []))
      expect(new Set(got.filter((u) => u.product === p2).map((u) => u.status))).toEqual(new Set(wantsP2 ? ['LOW_STOCK'] : []))
    }
    // Several more poll cycles: a change sent twice would show up now.
    const counts = subs.map(({ sub }) => sub.updates.length)
    await new Promise((r) => setTimeout(r, 4 * server.config.pollMs))
    expect(subs.map(({ sub }) => sub.updates.length)).toEqual(counts)
    for (const { sub } of subs) sub.dispose()
    await subscribers(server.services.feed, (n) => n === 0)
  })

  it('gives each filter exactly its sequence of interleaved gateway and direct writes, in write order, each once', async () => {
    const category = uid('cat')
    const other = uid('cat')
    const [a, b, c] = [uid('a'), uid('b'), uid('c')]
    const d = uid('unlisted') // has stock but no product row, so no category
    await gqlOk(
      server,
      UpsertProductsDocument,
      {
        products: [
          { id: a, category, name: 'a', price: 1 },
          { id: b, category, name: 'b', price: 1 },
          { id: c, category: other, name: 'c', price: 1 },
        ],
      },
      append,
    )
    const filters: Array<{ products?: string[]; category?: string; wants: string[] }> = [
      { wants: [a, b, c, d] },
      { category: 'all', wants: [a, b, c, d] },
      { products: [a, c], wants: [a, c] },
      { category, wants: [a, b] },
      { category: other, wants: [c] },
      { products: [b, c], category, wants: [b] },
      { products: [a, d], category: 'all', wants: [a, d] },
      { products: [d], wants: [d] },
      { products: [uid('nothing')], wants: [] },
    ]
    // Two sockets, several subscriptions each.
    const sockets = [client(read), client(read)]
    const subs = filters.map(({ wants: _, ...variables }, i) => collect(sockets[i % 2]!, variables))
    await subscribers(server.services.feed, (n) => n === filters.length)

    const stock = new Map([a, b, c, d].map((p) => [p, 0]))
    const sent: Array<{ product: string; available: number; delta: number }> = []
    const restock = (product: string, amount: number) =>
      gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount }] }, append)
    const sell = (product: string) => gqlOk(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product }] }, append)
    // Straight into the store: only the change-log poller sees it.
    const direct = (product: string, amount: number) => server.services.store.ingestWarehouseStock([{ product, store: 'direct', amount }])
    const steps: Array<[string, number, 'gateway' | 'direct']> = [
      [a, 150, 'gateway'], [c, 5, 'direct'], [b, 120, 'gateway'], [a, -1, 'gateway'], [d, 9, 'direct'],
      [b, -1, 'gateway'], [c, -1, 'gateway'], [a, 3, 'direct'], [d, 4, 'gateway'], [c, 200, 'gateway'],
      [b, 7, 'direct'], [a, -1, 'gateway'], [b, -1, 'gateway'], [d, 1, 'direct'], [c, -1, 'gateway'], [a, -1, 'gateway'],
    ]
    for (const [product, delta, via] of steps) {
      if (via === 'direct') await direct(product, delta)
      else if (delta === -1) await sell(product)
      else await restock(product, delta)
      stock.set(product, stock.get(product)! + delta)
      sent.push({ product, available: stock.get(product)!, delta })
      // A gateway write goes out when stored, without waiting for the log; a write that bypassed the
      // gateway only when the poller reads it: let it arrive before the next write, for one order.
      if (via === 'direct') await subs[0]!.until(sent.length)
    }

    for (const [i, { wants }] of filters.entries()) {
      const expected = sent.filter((u) => wants.includes(u.product))
      const got = await subs[i]!.until(expected.length)
      expect(subs[i]!.errors).toEqual([])
      expect(got.map(({ product, available, delta }) => ({ product, available, delta }))).toEqual(expected)
      expect(got.map((u) => u.status)).toEqual(expected.map((u) => (u.available > 100 ? 'IN_STOCK' : u.available > 0 ? 'LOW_STOCK' : 'OUT_OF_STOCK')))
      const times = got.map((u) => Date.parse(u.at))
      expect(times).toEqual([...times].sort((x, y) => x - y))
    }
    // Several more poll cycles: nothing arrives twice or late.
    const counts = subs.map((s) => s.updates.length)
    await new Promise((r) => setTimeout(r, 4 * server.config.pollMs))
    expect(subs.map((s) => s.updates.length)).toEqual(counts)
    for (const s of subs) s.dispose()
    await subscribers(server.services.feed, (n) => n === 0)
  })

  it('delivers writes that bypass the gateway through the change-log poller', async () => {
    const product = uid('p')
    const sub = collect(client(read), { products: [product] })
    await subscribers(server.services.feed, (n) => n === 1)
    // Straight into the store: no resolver, so no immediate publish; only the poller can see it.
    await server.services.store.ingestWarehouseStock([{ product, store: 'direct', amount: 7 }])
    const got = await sub.until(1)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ product, available: 7, delta: 7, status: 'LOW_STOCK' })
    await new Promise((r) => setTimeout(r, 400)) // several more polls: nothing is sent twice
    expect(sub.updates).toHaveLength(1)
    sub.dispose()
  })

  it('refuses a socket without a valid token', async () => {
    for (const token of [undefined, 'sl_garbage']) {
      const sub = collect(client(token), {})
      await sub.until(1, 60_000)
      expect(sub.updates).toEqual([])
      const err = sub.errors[0] as { code?: number } | undefined
      expect(err?.code).toBe(4403)
    }
  })

  it('refuses a token without the read scope', async () => {
    const sub = collect(client(append), {})
    await sub.until(1, 60_000)
    expect(sub.updates).toEqual([])
    expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN')
  })
})
