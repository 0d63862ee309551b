import { print } from 'graphql'
import type { Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreateTokenDocument,
  IngestEcommEventsDocument,
  IngestWarehouseStockDocument,
  StockChangedDocument,
  UpsertProductsDocument,
  type StockChangedSubscription,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'

type Update = StockChangedSubscription['stockChanged']

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Subscribes and collects updates; `until(n)` resolves once n have arrived. */
function collect(client: Client, variables: { products?: string[]; category?: string }) {
  const updates: Update[] = []
  const errors: unknown[] = []
  let wake: (() => void) | undefined
  const dispose = client.subscribe<StockChangedSubscription>(
    { query: print(StockChangedDocument), variables },
    {
      next: (msg) => {
        if (msg.data) updates.push(msg.data.stockChanged)
        if (msg.errors) errors.push(msg.errors)
        wake?.()
      },
      error: (err) => {
        errors.push(err)
        wake?.()
      },
      complete: () => {},
    },
  )
  const until = async (n: number, ms = 10_000) => {
    const deadline = Date.now() + ms
    while (updates.length < n && errors.length === 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 50)
      })
    }
    return updates
  }
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
    await until(() => server.services.feed.subscriberCount === 25)

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
    await until(() => server.services.feed.subscriberCount === 0)
  })

  it('delivers writes that bypass the gateway through the change-log poller', async () => {
    const product = uid('p')
    const sub = collect(client(read), { products: [product] })
    await until(() => server.services.feed.subscriberCount === 1)
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
      await sub.until(1, 3000)
      expect(sub.updates).toEqual([])
      const err = sub.errors[0] as { code?: number } | undefined
      expect(err?.code).toBe(4403)
    }
  })

  it('refuses a token without the read scope', async () => {
    const sub = collect(client(append), {})
    await sub.until(1, 3000)
    expect(sub.updates).toEqual([])
    expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN')
  })
})
