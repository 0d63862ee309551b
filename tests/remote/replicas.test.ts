import { randomBytes } from 'node:crypto'
import { createClient as createClickHouse } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Arrivals } from '../helpers/arrivals.js'
import { uid } from '../helpers/factories.js'
import { killAll, startServerProcess, type ServerProcess } from '../helpers/process.js'
import { wsClient } from '../helpers/server.js'

// Two gateway replicas, each its own process, on one store reached over ClickHouse's HTTP protocol
// (CLICKHOUSE_URL, set by the remote suite's global setup): live stock is shared through the store's
// change log, so every subscriber hears every write once, whoever made it, and a replica that dies
// takes nothing from the other's subscribers.

const ADMIN = `admin_${randomBytes(16).toString('hex')}`
const DATABASE = `r_${randomBytes(6).toString('hex')}`

type Replica = ServerProcess

/** A replica on the suite's store (CLICKHOUSE_URL) and database; the first to start migrates it. */
function startReplica(): Promise<Replica> {
  return startServerProcess({
    CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '',
    SIGHTLINE_ADMIN_TOKEN: ADMIN,
    CLICKHOUSE_DATABASE: DATABASE,
    SIGHTLINE_POLL_MS: '100',
    SIGHTLINE_RATE_LIMIT: '0',
  })
}

async function post(replica: Replica, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(replica.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] }
  if (body.errors) throw new Error(JSON.stringify(body.errors))
  return body.data!
}

const STOCK = 'mutation W($p: ID!, $n: Int!) { ingestWarehouseStock(updates: [{ product: $p, store: "s", amount: $n }]) { accepted } }'

type Update = { product: string; available: number; delta: number }

/** Subscribes to one product's stock on a replica; collects what arrives. */
function listen(replica: Replica, product: string) {
  const updates = new Arrivals<Update>()
  const client = wsClient(replica, ADMIN)
  client.subscribe<{ stockChanged: Update }>(
    { query: 'subscription S($p: [ID!]) { stockChanged(products: $p) { product available delta } }', variables: { p: [product] } },
    {
      next: (msg) => {
        if (msg.data) updates.push(msg.data.stockChanged)
      },
      error: () => {},
      complete: () => {},
    },
  )
  /** Resolves once `n` updates arrived (the test's timeout bounds the wait). */
  const until = (n: number) => updates.until(n)
  return { updates: updates.items, until, dispose: () => client.dispose() }
}

describe.skipIf(!process.env.CLICKHOUSE_URL)('two gateway replicas on one store over HTTP (npm run test:remote)', () => {
  let a: Replica
  let b: Replica
  beforeAll(async () => {
    a = await startReplica() // migrates the database
    b = await startReplica()
  }, 300_000)
  afterAll(killAll)

  it('a write through one replica reaches the other replica’s subscribers exactly once', async () => {
    const product = uid('p')
    const onA = listen(a, product)
    const onB = listen(b, product)
    try {
      await new Promise((r) => setTimeout(r, 500)) // both subscriptions registered
      await post(a, STOCK, { p: product, n: 5 })
      expect(await onB.until(1)).toEqual([{ product, available: 5, delta: 5 }])
      expect(await onA.until(1)).toEqual([{ product, available: 5, delta: 5 }])
      await post(b, STOCK, { p: product, n: -2 })
      expect(await onA.until(2)).toEqual([
        { product, available: 5, delta: 5 },
        { product, available: 3, delta: -2 },
      ])
      expect(await onB.until(2)).toHaveLength(2)
      await new Promise((r) => setTimeout(r, 1000)) // several polls later, nothing arrives twice
      expect(onA.updates).toHaveLength(2)
      expect(onB.updates).toHaveLength(2)
    } finally {
      await Promise.all([onA.dispose(), onB.dispose()])
    }
  })

  it('a direct insert into the store reaches both replicas, and a replica killed loses nothing for the other', async () => {
    const product = uid('p')
    const onA = listen(a, product)
    const onB = listen(b, product)
    const store = createClickHouse({ url: process.env.CLICKHOUSE_URL })
    try {
      await new Promise((r) => setTimeout(r, 500))
      await store.insert({ table: `${DATABASE}.warehouse_stock`, values: [{ product, store: 'direct', amount: 10, timestamp: '2026-01-01 00:00:00' }], format: 'JSONEachRow' })
      expect(await onA.until(1)).toEqual([{ product, available: 10, delta: 10 }])
      expect(await onB.until(1)).toEqual([{ product, available: 10, delta: 10 }])
      await a.kill('SIGKILL')
      await post(b, STOCK, { p: product, n: 1 })
      await store.insert({ table: `${DATABASE}.warehouse_stock`, values: [{ product, store: 'direct', amount: 2, timestamp: '2026-01-01 00:00:01' }], format: 'JSONEachRow' })
      expect(await onB.until(3)).toEqual([
        { product, available: 10, delta: 10 },
        { product, available: 11, delta: 1 },
        { product, available: 13, delta: 2 },
      ])
    } finally {
      await onB.dispose()
      await Promise.resolve(onA.dispose()).catch(() => {})
      await store.close()
    }
  })
})
