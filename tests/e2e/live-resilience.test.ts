import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { print } from 'graphql'
import type { Client } from 'graphql-ws'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { CreateTokenDocument, IngestWarehouseStockDocument, StockChangedDocument, type StockChangedSubscription } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { subscribeStock } from '../helpers/stock.js'
import { Changes } from '../helpers/wait.js'
import { gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'

type Update = StockChangedSubscription['stockChanged']

/** Every update, error, completion, frame, close and subscriber count change below notifies it. */
const changes = new Changes()
const until = (condition: () => boolean, what: string, ms = 30_000) => changes.until(condition, what, ms)

/** A test server whose feed reports its subscriber count to `changes`. */
async function startWatchedServer(): Promise<TestServer> {
  const server = await startTestServer()
  server.services.feed.watchSubscribers(changes.notify)
  return server
}

/**
 * Rounds of `products` updates (`frame` bytes each, to each of `subscriptions` on a socket that stopped
 * reading) that surely fill that socket's TCP buffers: twice what the kernel may hold for it, its receive
 * buffer at its autotuning maximum plus the server's send buffer at its. Loopback buffers grow to tens of MB
 * on some kernels (here tcp_rmem's maximum is 32 MB), so a fixed number of rounds that fills them on one
 * machine may leave the socket unfilled, and the backlog at 0, on another.
 */
function roundsToFill(subscriptions: number, products: number, frame: number): number {
  const max = (file: string) => Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1))
  let kernel = 64 << 20 // when /proc is not there, a generous guess
  try {
    kernel = max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem')
  } catch {
    // not Linux
  }
  return Math.ceil((2 * kernel) / (subscriptions * products * frame)) + 2
}

/** Bytes of one `next` frame of `product` on the wire (a lower bound: the level and date vary). */
const frameBytes = (product: string) =>
  JSON.stringify({ id: 's0', type: 'next', payload: { data: { stockChanged: { product, available: 1, status: 'LOW_STOCK', delta: 1, at: new Date().toISOString() } } } }).length

async function tokens(server: TestServer) {
  const mk = async (scopes: string[]) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('t'), scopes } }, server.adminToken)).createToken.token
  return { read: await mk(['read:ecommerce']), append: await mk(['append']) }
}

/** Subscribes through graphql-ws and records what the sink sees. */
const collect = (client: Client, variables: { products?: string[]; category?: string }) => subscribeStock(client, variables, () => changes.notify())

/**
 * A graphql-transport-ws client on a raw socket with `count` unfiltered subscriptions, which records
 * what arrives per subscription. `pause()` stops it reading: the server's writes pile up in the TCP
 * buffers until they are full.
 */
async function rawSubscriber(server: TestServer, token: string, count: number) {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws')
  await once(socket, 'open')
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
  const [ack] = (await once(socket, 'message')) as [Buffer]
  expect(JSON.parse(ack.toString()).type).toBe('connection_ack')
  const received = new Map<string, Update[]>()
  const completed = new Set<string>()
  socket.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id: string; type: string; payload?: { data?: StockChangedSubscription } }
    if (msg.type === 'next' && msg.payload?.data) received.get(msg.id)!.push(msg.payload.data.stockChanged)
    if (msg.type === 'complete') completed.add(msg.id)
    changes.notify()
  })
  let closed = false
  socket.on('close', () => {
    closed = true
    changes.notify()
  })
  for (let i = 0; i < count; i++) {
    received.set(`s${i}`, [])
    socket.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: print(StockChangedDocument), variables: {} } }))
  }
  return {
    socket,
    received,
    completed,
    get closed() {
      return closed
    },
  }
}

describe('a subscriber that stops reading', () => {
  let server: TestServer
  let read: string
  let append: string
  const clients: Client[] = []
  const sockets: WebSocket[] = []

  beforeAll(async () => {
    server = await startWatchedServer()
    ;({ read, append } = await tokens(server))
  })
  afterAll(async () => {
    for (const s of sockets) s.terminate()
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  it('stalls no one: the others get every update in order while its backlog stays bounded and coalesces', async () => {
    // Long ids make big frames, and 20 subscriptions on the frozen socket each get every update (~1.8 MB
    // a round), so some rounds fill its TCP buffers (as many as `roundsToFill` says the kernel may need);
    // from then on its subscriptions, which wait for each write to flush, stop pulling from the feed and
    // the feed's queues take the backlog.
    const products = Array.from({ length: 250 }, () => `${uid('p')}_${'x'.repeat(200)}`)
    const watched = products.slice(0, 10)
    const frozen = await rawSubscriber(server, read, 20)
    sockets.push(frozen.socket)
    clients.push(wsClient(server, read), wsClient(server, read))
    const all = collect(clients[0]!, {})
    const some = collect(clients[1]!, { products: watched })
    await until(() => server.services.feed.subscriberCount === 22, 'every subscription')
    frozen.socket.pause()

    const limit = 1000 // the feed's default queueLimit
    const maxRounds = roundsToFill(20, products.length, frameBytes(products[0]!))
    const backlogs: number[] = []
    let rounds = 0
    // Round r adds r to every product, so after r rounds each has r(r+1)/2.
    while (rounds < maxRounds && backlogs.filter((b) => b === limit).length < 3) {
      rounds++
      await gqlOk(server, IngestWarehouseStockDocument, { updates: products.map((product) => ({ product, store: 's', amount: rounds })) }, append)
      await until(() => all.updates.length === rounds * products.length && some.updates.length === rounds * watched.length, `round ${rounds} at the readers`)
      expect(frozen.closed).toBe(false)
      backlogs.push(server.services.feed.backlog)
    }
    // The frozen socket did fill up, the backlog then grew to the limit and stayed there.
    expect(backlogs.at(-1)).toBe(limit)
    expect(Math.max(...backlogs)).toBe(limit)
    expect(backlogs.filter((b) => b > 0).length).toBeGreaterThan(3)

    const level = (r: number) => (r * (r + 1)) / 2
    const levels = Array.from({ length: rounds }, (_, i) => level(i + 1))
    for (const { sub, wanted } of [
      { sub: all, wanted: products },
      { sub: some, wanted: watched },
    ]) {
      expect(sub.errors).toEqual([])
      for (const p of wanted) {
        const mine = sub.updates.filter((u) => u.product === p)
        expect(mine.map((u) => u.available)).toEqual(levels)
        expect(mine.map((u) => u.delta)).toEqual(levels.map((_, i) => i + 1))
      }
      // Round by round: no update of round r+1 before the last of round r.
      const rounds = sub.updates.map((u) => levels.indexOf(u.available))
      expect(rounds).toEqual([...rounds].sort((a, b) => a - b))
    }

    // It reads again: every subscription catches up to today's stock, skipping levels but never
    // going back, with deltas that add up.
    frozen.socket.resume()
    const final = level(rounds)
    const caughtUp = () =>
      [...frozen.received.values()].every((got) => {
        const last = new Map(got.map((u) => [u.product, u.available]))
        return products.every((p) => last.get(p) === final)
      })
    await until(caughtUp, 'the frozen socket to catch up')
    for (const got of frozen.received.values()) {
      expect(got.length).toBeLessThan(rounds * products.length)
      for (const p of products) {
        const mine = got.filter((u) => u.product === p)
        const seen = mine.map((u) => u.available)
        expect(seen.every((a) => levels.includes(a))).toBe(true)
        expect(seen).toEqual([...new Set(seen)].sort((a, b) => a - b))
        expect(mine.reduce((sum, u) => sum + u.delta, 0)).toBe(final)
      }
    }
  })
})

describe('stopping the server', () => {
  it('completes every subscription before closing the sockets with 1001', async () => {
    const server = await startWatchedServer()
    const { read, append } = await tokens(server)
    const [p1, p2] = [uid('p'), uid('p')]
    const clients = Array.from({ length: 4 }, () => wsClient(server, read))
    const closeCodes: number[] = []
    for (const c of clients)
      c.on('closed', (e) => {
        closeCodes.push((e as { code: number }).code)
        changes.notify()
      })
    const subs = [
      collect(clients[0]!, {}),
      collect(clients[0]!, { products: [p1] }),
      collect(clients[1]!, { products: [p2] }),
      collect(clients[2]!, { products: [p1, p2] }),
      collect(clients[3]!, {}),
    ]
    await until(() => server.services.feed.subscriberCount === subs.length, 'every subscription')
    await gqlOk(server, IngestWarehouseStockDocument, { updates: [{ product: p1, store: 's', amount: 3 }] }, append)
    await until(() => [0, 1, 3, 4].every((i) => subs[i]!.updates.length === 1), 'the update')

    await server.stop()
    await until(() => closeCodes.length === clients.length, 'every socket to close')
    expect(closeCodes).toEqual(clients.map(() => 1001))
    for (const sub of subs) {
      expect(sub.errors).toEqual([])
      expect(sub.completed).toBe(1)
    }
    expect(subs.map((s) => s.updates.length)).toEqual([1, 1, 0, 1, 1])
    expect(server.services.feed.subscriberCount).toBe(0)
    await Promise.all(clients.map((c) => c.dispose()))
  })

  it('does not wait on a client that stopped reading, and still completes the others', async () => {
    const server = await startWatchedServer()
    const { read, append } = await tokens(server)
    const frozen = await rawSubscriber(server, read, 20)
    const client = wsClient(server, read)
    const sub = collect(client, {})
    await until(() => server.services.feed.subscriberCount === 21, 'every subscription')
    frozen.socket.pause()
    // Fill the frozen socket's buffers, so it has frames in flight when it is cut.
    const products = Array.from({ length: 250 }, () => `${uid('p')}_${'x'.repeat(200)}`)
    const maxRounds = roundsToFill(20, products.length, frameBytes(products[0]!))
    let rounds = 0
    while (server.services.feed.backlog === 0) {
      if (++rounds > maxRounds) throw new Error(`the frozen socket never filled up in ${maxRounds} rounds`)
      await gqlOk(server, IngestWarehouseStockDocument, { updates: products.map((product) => ({ product, store: 's', amount: 1 })) }, append)
      await until(() => sub.updates.length === rounds * products.length, `round ${rounds} at the reader`)
    }
    const logged = vi.spyOn(console, 'error')

    const started = Date.now()
    await server.stop()
    // Apollo's drain would otherwise wait its 10 s grace for a closing handshake that never comes.
    expect(Date.now() - started).toBeLessThan(8_000)
    await until(() => sub.completed === 1, 'the reader to complete')
    expect(sub.errors).toEqual([])
    // Its unsent frames failed when it was cut; that is not reported as an internal error.
    expect(logged).not.toHaveBeenCalled()
    logged.mockRestore()
    frozen.socket.terminate()
    await client.dispose()
  })
})
