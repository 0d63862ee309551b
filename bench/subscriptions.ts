import { createClient, type Client } from 'graphql-ws'
import WebSocket from 'ws'
import type { GraphQLHttp } from './gateway.js'
import { round, summarize, type Summary } from './stats.js'

export interface SubscriptionResult {
  readonly subscribers: number
  readonly writes: number
  /** subscribers × writes */
  readonly expected: number
  readonly delivered: number
  readonly lost: number
  readonly duplicates: number
  /** Updates for products no measured write touched (e.g. history from before subscribing). */
  readonly stray: number
  /**
   * From the change log's stamp to each delivery: the update's `at` is stamped by the change log's
   * materialized view inside the insert (same machine, same clock as this process). The insert goes on
   * after it (the other views of the table: rollups, stock), so this spans the rest of the insert too.
   */
  readonly afterCommitMs: Summary
  /**
   * From the gateway's store acknowledging the write (its ingest log's `at`, taken when the insert
   * returned, ms precision) to each delivery: what the live path adds after the write is stored. Empty
   * without `storedAt`.
   */
  readonly afterStoredMs: Summary
  /** Per write, from its store acknowledgement to its first delivery. */
  readonly firstAfterStoredMs: Summary
  /** From sending the mutation to each delivery: the write, the change-log poll and the fan-out. */
  readonly afterSendMs: Summary
  /** From the mutation's HTTP response reaching the writer to each delivery; 0 when the delivery came first. */
  readonly afterResponseMs: Summary
  /** Deliveries that reached their subscriber before the mutation's response reached the writer. */
  readonly deliveredBeforeResponse: number
  /** Mutation round trip. */
  readonly mutationMs: Summary
  /** Per write, from the write being stored to its first delivery: what the feed adds before fanning out. */
  readonly firstDeliveryMs: Summary
  /** Per write, from its first delivery to its last: the fan-out to every subscriber. */
  readonly fanOutMs: Summary
  readonly connectSeconds: number
}

/** Every stock change, every field: what the live bench's and the soak's subscribers ask for. */
const SUBSCRIPTION = 'subscription Stock { stockChanged { product available status delta at } }'
const SALE = 'mutation Sale($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted } }'
const WAIT_MS = 5_000

interface Update {
  product: string
  at: string
}

/**
 * `subscribers` graphql-ws clients, one WebSocket each as real dashboards have, all subscribed to
 * every stock change; then `writes` sequential one-sale mutations, each of a product no other write
 * touches, waiting for every subscriber to receive it (or WAIT_MS) before the next.
 */
export async function measureSubscriptions(o: {
  wsUrl: string
  readToken: string
  writer: GraphQLHttp
  subscribers: number
  writes: number
  products: readonly string[]
  progress: (line: string) => void
  /** Called once every subscriber receives updates, just before the measured writes. */
  beforeWrites?: () => void
  /** Called once the writes are measured, while every subscriber is still connected. */
  beforeDisconnect?: () => void
  /** When the store acknowledged each measured write (wall-clock ms, in write order), asked once they are all delivered. */
  storedAt?: (writes: number) => Promise<number[]>
}): Promise<SubscriptionResult> {
  if (o.products.length < o.writes + 1) throw new Error('need more products than writes')
  const clients: Client[] = []
  // Per product a write touches: delivery times (monotonic), commit-to-delivery times (wall clock, the
  // same clock ClickHouse stamps `at` with) and deliveries per subscriber.
  const times = new Map<string, number[]>()
  const walls = new Map<string, number[]>()
  const commits = new Map<string, number[]>()
  const counts = new Map<string, Uint16Array>()
  const seenAny = new Uint8Array(o.subscribers)
  const errors: unknown[] = []
  let stray = 0
  let waiter: { product: string; resolve: () => void } | undefined

  const onUpdate = (i: number, update: Update) => {
    const t = performance.now()
    const wall = Date.now()
    seenAny[i] = 1
    const list = times.get(update.product)
    const perSub = counts.get(update.product)
    if (!list || !perSub) {
      stray++
      return
    }
    perSub[i] = perSub[i]! + 1
    list.push(t)
    walls.get(update.product)!.push(wall)
    commits.get(update.product)!.push(wall - Date.parse(update.at))
    if (waiter && waiter.product === update.product && list.length >= o.subscribers) waiter.resolve()
  }
  const track = (product: string) => {
    times.set(product, [])
    walls.set(product, [])
    commits.set(product, [])
    counts.set(product, new Uint16Array(o.subscribers))
  }

  const t0 = performance.now()
  try {
    await connectSubscribers(
      { url: o.wsUrl, token: o.readToken, count: o.subscribers, clients },
      {
        next: (i, msg) => {
          if (msg.data) onUpdate(i, msg.data.stockChanged)
          else errors.push(msg.errors)
        },
        error: (_i, err) => errors.push(err),
      },
      (connected) => {
        if ((connected / CONNECT_BATCH) % 4 === 0 || connected === o.subscribers) o.progress(`subscribers connected: ${connected}/${o.subscribers}`)
      },
    )
    const connectSeconds = (performance.now() - t0) / 1000

    const sale = (product: string) => o.writer.request(SALE, { events: [{ event: 'SALE', product }] })
    const waitFor = (product: string) =>
      new Promise<void>((resolve) => {
        if ((times.get(product)?.length ?? 0) >= o.subscribers) return resolve()
        const timer = setTimeout(() => {
          waiter = undefined
          resolve()
        }, WAIT_MS)
        waiter = {
          product,
          resolve: () => {
            clearTimeout(timer)
            waiter = undefined
            resolve()
          },
        }
      })

    // Subscriptions start asynchronously on the server: write until every subscriber has seen one.
    const primer = o.products[0]!
    const primeUntil = performance.now() + 30_000
    for (;;) {
      track(primer)
      await sale(primer)
      await waitFor(primer)
      if (seenAny.every((s) => s === 1)) break
      if (performance.now() > primeUntil) throw new Error(`only ${seenAny.filter((s) => s === 1).length}/${o.subscribers} subscriptions delivered`)
      await new Promise((r) => setTimeout(r, 200))
    }
    await new Promise((r) => setTimeout(r, 500))
    if (errors.length > 0) throw new Error(`subscription errors: ${JSON.stringify(errors.slice(0, 3))}`)
    times.delete(primer)
    commits.delete(primer)
    counts.delete(primer)
    stray = 0

    const afterCommit: number[] = []
    const afterSend: number[] = []
    const afterResponse: number[] = []
    const mutation: number[] = []
    const first: number[] = []
    const fanOut: number[] = []
    let beforeResponse = 0
    let delivered = 0
    o.beforeWrites?.()
    let duplicates = 0
    /** Per measured write, the wall-clock times of its deliveries. */
    const deliveredAt: number[][] = []
    for (let w = 0; w < o.writes; w++) {
      const product = o.products[w + 1]!
      track(product)
      const done = waitFor(product)
      const sent = performance.now()
      await sale(product)
      const answered = performance.now()
      mutation.push(answered - sent)
      await done
      const afterThis = commits.get(product)!
      afterCommit.push(...afterThis)
      if (afterThis.length > 0) {
        first.push(Math.min(...afterThis))
        fanOut.push(Math.max(...afterThis) - Math.min(...afterThis))
      }
      times.get(product)!.forEach((t) => {
        afterSend.push(t - sent)
        if (t < answered) beforeResponse++
        afterResponse.push(Math.max(0, t - answered))
      })
      for (const c of counts.get(product)!) {
        if (c > 0) delivered++
        if (c > 1) duplicates += c - 1
      }
      deliveredAt.push(walls.get(product)!)
      times.delete(product)
      walls.delete(product)
      commits.delete(product)
      counts.delete(product)
      if ((w + 1) % 10 === 0 || w + 1 === o.writes) o.progress(`subscription writes: ${w + 1}/${o.writes}`)
    }
    o.beforeDisconnect?.()
    const afterStored: number[] = []
    const firstAfterStored: number[] = []
    if (o.storedAt) {
      const stored = await o.storedAt(o.writes)
      deliveredAt.forEach((list, w) => {
        const at = stored[w]
        if (at === undefined || list.length === 0) return
        for (const t of list) afterStored.push(t - at)
        firstAfterStored.push(Math.min(...list) - at)
      })
    }
    return {
      subscribers: o.subscribers,
      writes: o.writes,
      expected: o.subscribers * o.writes,
      delivered,
      lost: o.subscribers * o.writes - delivered,
      duplicates,
      stray,
      afterCommitMs: summarize(afterCommit),
      afterStoredMs: summarize(afterStored),
      firstAfterStoredMs: summarize(firstAfterStored),
      afterSendMs: summarize(afterSend),
      afterResponseMs: summarize(afterResponse),
      deliveredBeforeResponse: beforeResponse,
      mutationMs: summarize(mutation),
      firstDeliveryMs: summarize(first),
      fanOutMs: summarize(fanOut),
      connectSeconds: round(connectSeconds),
    }
  } finally {
    await Promise.all(clients.map((c) => c.dispose()))
  }
}

/** Sockets connected at once by `connectSubscribers`. */
const CONNECT_BATCH = 50

/**
 * Opens `count` graphql-ws clients (one WebSocket each, as real dashboards have), `CONNECT_BATCH` at a time,
 * each subscribed to every stock change; resolves once all are connected. Each client is added to `clients`
 * as it is created (for the caller to dispose, also after a failure); `on` hears subscriber `i`'s messages.
 */
export async function connectSubscribers(
  o: { readonly url: string; readonly token: string; readonly count: number; readonly clients: Client[] },
  on: {
    next(i: number, msg: { data?: { stockChanged: Update } | null; errors?: unknown }): void
    error(i: number, err: unknown): void
    complete?(i: number): void
  },
  progress: (connected: number) => void = () => {},
): Promise<void> {
  for (let start = 0; start < o.count; start += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, o.count - start) }, (_, k) => start + k)
    await Promise.all(
      batch.map(
        (i) =>
          new Promise<void>((resolve, reject) => {
            const client = createClient({
              url: o.url,
              webSocketImpl: WebSocket,
              connectionParams: { authorization: `Bearer ${o.token}` },
              lazy: false,
              retryAttempts: 0,
              onNonLazyError: reject,
            })
            o.clients.push(client)
            client.on('connected', () => resolve())
            client.subscribe<{ stockChanged: Update }>(
              { query: SUBSCRIPTION },
              { next: (msg) => on.next(i, msg), error: (err) => on.error(i, err), complete: () => on.complete?.(i) },
            )
          }),
      ),
    )
    progress(Math.min(start + CONNECT_BATCH, o.count))
  }
}

/**
 * When the gateway stored each of the last `n` writes made with the token named `token`, oldest first: its
 * ingest log's `at`, taken when the insert returned (`storedAt` for `measureSubscriptions`; the measured
 * writes are the writer's last ones, sequential, so in time order they are the writes in order).
 */
export async function storedTimes(admin: GraphQLHttp, token: string, n: number): Promise<number[]> {
  const { ingestLog } = await admin.request<{ ingestLog: Array<{ token: string; at: string }> }>('query L($n: Int) { ingestLog(limit: $n) { token at } }', { n: n + 50 })
  return ingestLog
    .filter((e) => e.token === token)
    .map((e) => Date.parse(e.at))
    .sort((a, b) => a - b)
    .slice(-n)
}
