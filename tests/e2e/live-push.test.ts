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
import { gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'
import { subscribeStock } from '../helpers/stock.js'
import { Changes, subscribers } from '../helpers/wait.js'

type Update = StockChangedSubscription['stockChanged']

/** Every update and every read of the change log notifies it. */
const changes = new Changes()
const until = (condition: () => boolean, what: string, ms = 60_000) => changes.until(condition, what, ms)

const collect = (client: Client, variables: { products?: string[]; category?: string }) => subscribeStock(client, variables, () => changes.notify())

const brief = (u: Update) => ({ product: u.product, available: u.available, delta: u.delta })

describe('gateway writes pushed to subscribers', () => {
  let server: TestServer
  let read: string
  let append: string
  const clients: Client[] = []
  /** Reads of the change log so far (the poller's and the nudges'), those under way, and a gate that can hold them. */
  let reads = 0
  let reading = 0
  let held: Promise<void> | undefined

  beforeAll(async () => {
    server = await startTestServer()
    const mk = async (scopes: string[]) =>
      (await gqlOk(server, CreateTokenDocument, { input: { name: uid('t'), scopes } }, server.adminToken)).createToken.token
    read = await mk(['read:ecommerce'])
    append = await mk(['append'])
    const store = server.services.store
    // Reads between writes (the levels read again with the log) are held before they take their gate:
    // a read holding the gate holds writes back for as long. Reads of the log alone are held themselves.
    let gated = 0
    const real = store.stockChangesSince.bind(store)
    store.stockChangesSince = async (since) => {
      while (held && gated === 0) await held
      reading++
      try {
        return await real(since)
      } finally {
        reading--
        reads++
        changes.notify()
      }
    }
    const between = store.betweenWrites.bind(store)
    store.betweenWrites = async (read) => {
      while (held) await held
      return between(async () => {
        gated++
        try {
          return await read()
        } finally {
          gated--
        }
      })
    }
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  const client = () => {
    const c = wsClient(server, read)
    clients.push(c)
    return c
  }
  /** Resolves after `n` more reads of the change log have completed: time for a duplicate to show. */
  const moreReads = (n: number) => {
    const target = reads + n
    return until(() => reads >= target, `${n} more reads of the change log`)
  }

  it('sends a gateway write without reading the change log, answers without waiting for it, and never sends it again', async () => {
    const [product, warm] = [uid('p'), uid('warm')]
    const sub = collect(client(), { products: [product, warm] })
    await subscribers(server.services.feed, (n) => n === 1)
    // The feed sends a write itself once it has read the stock levels (as it starts): a first write's
    // update says it has.
    await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product: warm, store: 's', amount: 1 }] }, append)
    await until(() => sub.updates.length >= 1, 'the first update')
    let release!: () => void
    held = new Promise<void>((resolve) => (release = resolve))
    try {
      // Every read of the change log waits on `held` (the poller's too): once none is under way, the update
      // can only come from the write itself.
      await until(() => reading === 0, 'the reads under way')
      const before = reads
      const answer = await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount: 12 }] }, append)
      expect(answer.ingestWarehouseStock.accepted).toBe(1)
      await until(() => sub.updates.length >= 2, 'the update, while the log cannot be read')
      expect(reads).toBe(before)
    } finally {
      held = undefined
      release()
    }
    await moreReads(3)
    expect(sub.errors).toEqual([])
    expect(sub.updates.map(brief)).toEqual([
      { product: warm, available: 1, delta: 1 },
      { product, available: 12, delta: 12 },
    ])
    sub.dispose()
    await subscribers(server.services.feed, (n) => n === 0)
  })

  it('delivers gateway writes and direct inserts each exactly once, in order, to the filters they match', async () => {
    const [catX, catY] = [uid('x'), uid('y')]
    const [a, b, c] = [uid('a'), uid('b'), uid('c')] // c has no product row, so no category
    await gqlOk(
      server,
      UpsertProductsDocument,
      {
        products: [
          { id: a, category: catX, name: 'a', price: 1 },
          { id: b, category: catY, name: 'b', price: 1 },
        ],
      },
      append,
    )
    const filters: Array<{ variables: { products?: string[]; category?: string }; wants: string[] }> = [
      { variables: {}, wants: [a, b, c] },
      { variables: { products: [a] }, wants: [a] },
      { variables: { category: catX }, wants: [a] },
      { variables: { category: catY }, wants: [b] },
      { variables: { products: [b, c] }, wants: [b, c] },
      { variables: { products: [uid('none')] }, wants: [] },
    ]
    const sockets = [client(), client()]
    const subs = filters.map((f, i) => collect(sockets[i % 2]!, f.variables))
    await subscribers(server.services.feed, (n) => n === filters.length)

    const stock = new Map([a, b, c].map((p) => [p, 0]))
    const sent: Array<{ product: string; available: number; delta: number }> = []
    const gateway = (product: string, delta: number) =>
      delta === -1
        ? gqlOk(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product }] }, append)
        : gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product, store: 's', amount: delta }] }, append)
    // Straight into the store: only a read of the change log (the poller's) finds it. A gateway write
    // goes out when stored, so it would pass a direct insert not read yet: each is let arrive first.
    const direct = (product: string, delta: number) => server.services.store.ingestWarehouseStock([{ product, store: 'direct', amount: delta }])
    const steps: Array<[string, number, 'gateway' | 'direct']> = [
      [a, 150, 'gateway'], [b, 20, 'direct'], [c, 5, 'gateway'], [a, -1, 'gateway'], [b, 3, 'direct'],
      [a, 4, 'direct'], [b, -1, 'gateway'], [c, -1, 'gateway'], [c, 9, 'direct'], [a, -1, 'gateway'],
    ]
    for (const [product, delta, via] of steps) {
      await (via === 'gateway' ? gateway(product, delta) : direct(product, delta))
      stock.set(product, stock.get(product)! + delta)
      sent.push({ product, available: stock.get(product)!, delta })
      if (via === 'direct') await until(() => subs[0]!.updates.length >= sent.length, 'the direct insert, polled')
    }

    const expected = filters.map((f) => sent.filter((u) => f.wants.includes(u.product)))
    await until(() => subs.every((s, i) => s.updates.length >= expected[i]!.length), 'every expected update')
    await moreReads(3)
    for (const [i, sub] of subs.entries()) {
      expect(sub.errors).toEqual([])
      expect(sub.updates.map(brief)).toEqual(expected[i])
    }
    for (const s of subs) s.dispose()
    await subscribers(server.services.feed, (n) => n === 0)
  })
})
