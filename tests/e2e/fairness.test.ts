import { randomBytes } from 'node:crypto'
import type { GraphQLFormattedError } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createConnection } from '../../src/store/connection.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { subscribers } from '../helpers/wait.js'

const uid = (p: string) => `${p}_${randomBytes(5).toString('hex')}`
const INT32_MAX = 2_147_483_647

interface Answer {
  status: number
  headers: Headers
  data?: Record<string, unknown> | null
  errors?: GraphQLFormattedError[]
}

async function post(server: Pick<TestServer, 'url'>, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Answer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  })
  return { status: res.status, headers: res.headers, ...((await res.json()) as Pick<Answer, 'data' | 'errors'>) }
}

async function ok(server: TestServer, query: string, variables: Record<string, unknown> = {}, token = server.adminToken) {
  const res = await post(server, query, variables, token)
  if (res.errors) throw new Error(JSON.stringify(res.errors))
  return res.data!
}

const codesOf = (a: { errors?: readonly GraphQLFormattedError[] }) => (a.errors ?? []).map((e) => String(e.extensions?.code))

async function createToken(server: TestServer, scopes: string[]): Promise<{ name: string; token: string }> {
  const name = uid('tok')
  const data = await ok(server, 'mutation Q($i: TokenInput!) { createToken(input: $i) { name token } }', { i: { name, scopes } })
  return data.createToken as { name: string; token: string }
}

/** A raw graphql-transport-ws socket that records every frame and its close code, in order. */
async function rawSubscription(server: TestServer, token: string, query: string, variables: Record<string, unknown> = {}) {
  const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws')
  const frames: Array<Record<string, unknown>> = []
  const closed = new Promise<number>((resolve) =>
    ws.on('close', (code) => {
      frames.push({ close: code })
      resolve(code)
    }),
  )
  let acked: () => void = () => {}
  const ack = new Promise<void>((resolve) => (acked = resolve))
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>
    frames.push(frame)
    if (frame.type === 'connection_ack') acked()
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
  await ack
  ws.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: { query, variables } }))
  return { ws, frames, closed }
}

const STOCK_SUB = 'subscription S($p: [ID!]) { stockChanged(products: $p) { product available } }'

async function metric(server: TestServer, line: RegExp): Promise<number> {
  const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text()
  const m = text.split('\n').find((l) => line.test(l))
  return m ? Number(m.split(' ').pop()) : 0
}

describe('revocation reaches live sockets', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_JWT_SECRET: 'j'.repeat(40), SIGHTLINE_TOKEN_CACHE_MS: '1000' })
  })
  afterAll(async () => {
    await server.stop()
  })

  it('a revoked token ends its subscriptions: an error frame, then close 4403', async () => {
    const { name, token } = await createToken(server, ['read'])
    const sub = await rawSubscription(server, token, STOCK_SUB, { p: [uid('p')] })
    await subscribers(server.services.feed, (n) => n === 1)
    expect(await ok(server, 'mutation Q($n: String!) { revokeToken(name: $n) }', { n: name })).toEqual({ revokeToken: true })
    expect(await sub.closed).toBe(4403)
    const after = sub.frames.slice(sub.frames.findIndex((f) => f.type === 'connection_ack') + 1)
    expect(after).toEqual([
      { id: 's1', type: 'error', payload: [{ message: 'The bearer token was revoked or has expired', extensions: { code: 'UNAUTHENTICATED' } }] },
      { close: 4403 },
    ])
    await subscribers(server.services.feed, (n) => n === 0)
  })

  it('an expired JWT ends its subscriptions the same way', async () => {
    const { token } = await server.services.tokens.jwt.sign({ name: 'short', scopes: ['read'], expiresInSeconds: 2 })
    const sub = await rawSubscription(server, token, STOCK_SUB, { p: [uid('p')] })
    expect(await sub.closed).toBe(4403)
    expect(sub.frames.filter((f) => f.type === 'error').map((f) => (f.payload as GraphQLFormattedError[])[0]?.extensions?.code)).toEqual([
      'UNAUTHENTICATED',
    ])
  })

  it('a valid token keeps its socket through the re-checks', async () => {
    const { token } = await createToken(server, ['read'])
    const sub = await rawSubscription(server, token, STOCK_SUB, { p: [uid('p')] })
    // Three re-check periods (SIGHTLINE_TOKEN_CACHE_MS=1000): still open, nothing but the ack.
    await new Promise((r) => setTimeout(r, 3000))
    expect(sub.ws.readyState).toBe(WebSocket.OPEN)
    expect(sub.frames.map((f) => f.type)).toEqual(['connection_ack'])
    sub.ws.close()
    await sub.closed
  })
})

describe('failed authentication is limited per address and cheap to refuse', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_AUTH_FAILURES_PER_MINUTE: '6', SIGHTLINE_AUTH_FAILURE_BURST: '5' })
  })
  afterAll(async () => {
    await server.stop()
  })

  it('answers 401 for the first failures, then 429 with Retry-After without asking the store; known tokens still pass', async () => {
    const known = await createToken(server, ['read'])
    expect((await post(server, '{ __typename }', {}, known.token)).status).toBe(200) // now cached as good
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await post(server, '{ __typename }', {}, `sl_${randomBytes(32).toString('base64url')}`)).status)
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    const selectsBefore = await metric(server, /^sightline_store_query_duration_seconds_count\{kind="select"\}/)
    const refused = await Promise.all(Array.from({ length: 50 }, () => post(server, '{ __typename }', {}, `sl_${randomBytes(32).toString('base64url')}`)))
    expect(new Set(refused.map((r) => r.status))).toEqual(new Set([429]))
    expect(codesOf(refused[0]!)).toEqual(['RATE_LIMITED'])
    expect(refused[0]!.errors![0]!.message).toMatch(/^Too many failed authentications from this address/)
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // The one select since is this scrape's own read of the engine's memory (sightline_engine_memory_bytes).
    expect(await metric(server, /^sightline_store_query_duration_seconds_count\{kind="select"\}/)).toBe(selectsBefore + 1)
    // REST refuses the same way, and the known token still works from this address.
    const rest = await fetch(server.url.replace('/graphql', `/v0/pipes/api_product_grid.json?token=sl_guess${uid('x')}`))
    expect(rest.status).toBe(429)
    expect((await post(server, '{ __typename }', {}, known.token)).status).toBe(200)
    // Over WebSocket, a throttled ConnectionInit closes 4403 like a bad token; the known token connects.
    const closeCode = (token: string) =>
      new Promise<number | string>((resolve) => {
        const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws')
        ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })))
        ws.once('message', (data) => {
          resolve((JSON.parse(String(data)) as { type: string }).type)
          ws.close()
        })
        ws.once('close', (code) => resolve(code))
      })
    expect(await closeCode(`sl_${randomBytes(32).toString('base64url')}`)).toBe(4403)
    expect(await closeCode(known.token)).toBe('connection_ack')
    // The negative cache stays bounded whatever the flood (TokenService's maxCached).
    expect(server.services.tokens.cachedCount).toBeLessThanOrEqual(10_000)
  })
})

describe('behind a proxy (SIGHTLINE_TRUST_PROXY=1)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_AUTH_FAILURES_PER_MINUTE: '6', SIGHTLINE_AUTH_FAILURE_BURST: '2', SIGHTLINE_TRUST_PROXY: '1' })
  })
  afterAll(async () => {
    await server.stop()
  })

  it('limits each client the proxy names in X-Forwarded-For on its own', async () => {
    const guess = (client: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer sl_${randomBytes(32).toString('base64url')}`, 'x-forwarded-for': `198.51.100.7, ${client}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      }).then((r) => r.status)
    expect([await guess('203.0.113.1'), await guess('203.0.113.1'), await guess('203.0.113.1')]).toEqual([401, 401, 429])
    expect(await guess('203.0.113.2')).toBe(401) // another client behind the same proxy is not throttled
  })
})

describe('store limits and the bounded queue', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_DASHBOARD_MAX_MEMORY: '100000', SIGHTLINE_STORE_QUEUE: '2' })
  })
  afterAll(async () => {
    await server.stop()
  })

  const DASHBOARD = 'query D($w: ID!) { analytics(app: CART, workspaceId: $w) { totals { events } } }'

  it('a query over its memory limit answers QUERY_TIMEOUT (GraphQL) and 504 (REST); other kinds keep their own limits', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ app: 'CART', action: 'view', workspaceId: 'w1', sessionId: `s${i}`, visitorId: `v${i}`, country: `c${i}` }))
    await ok(server, 'mutation Q($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }', { e: events })
    const res = await post(server, DASHBOARD, { w: 'w1' }, server.adminToken)
    expect(codesOf(res)).toEqual(['QUERY_TIMEOUT'])
    expect(res.errors![0]!.message).toMatch(/memory limit/)
    const rest = await fetch(server.url.replace('/graphql', `/v0/pipes/v2_cart_timeseries.json?workspaceId=w1&token=${server.adminToken}`))
    expect(rest.status, JSON.stringify(await rest.clone().json())).toBe(504)
    expect(((await rest.json()) as { error?: string }).error).toMatch(/memory limit/)
    // Reads are not dashboards: their limit is the default.
    expect((await post(server, '{ productGrid { id } }', {}, server.adminToken)).errors).toBeUndefined()
  })

  it('a full queue answers STORE_BUSY with Retry-After (503 when nothing could be answered)', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => post(server, '{ productGrid { id } }', {}, server.adminToken)))
    const busy = answers.filter((a) => codesOf(a).includes('STORE_BUSY'))
    expect(busy.length).toBeGreaterThan(0)
    for (const a of busy) {
      expect(a.status).toBe(503)
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(a.errors![0]!.extensions).toMatchObject({ code: 'STORE_BUSY' })
    }
    // Everything else was answered in full.
    for (const a of answers.filter((x) => !busy.includes(x))) expect(a.errors).toBeUndefined()
    // And /metrics counts the refusals by kind of work.
    expect(await metric(server, /^sightline_store_refused\{kind="read"\}/)).toBeGreaterThanOrEqual(busy.length)
    expect(await metric(server, /^sightline_store_queue\{queue="main",state="waiting"\}/)).toBe(0)
  })
})

describe('numbers that cannot lie', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server.stop()
  })

  const STOCK = 'mutation Q($u: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $u) { accepted quarantined errors { index message } } }'

  it('quarantines a warehouse update that would take stock outside 32 bits, and absurd magnitudes', async () => {
    const p = uid('p')
    const first = await ok(server, STOCK, { u: [{ product: p, store: 'a', amount: 1_000_000_000 }, { product: p, store: 'b', amount: 1_000_000_000 }] })
    expect(first.ingestWarehouseStock).toMatchObject({ accepted: 2, quarantined: 0 })
    const over = await ok(server, STOCK, {
      u: [
        { product: p, store: 'a', amount: 147_483_647 }, // reaches 2^31 - 1 exactly: fine
        { product: p, store: 'a', amount: 1 },
        { product: uid('q'), store: 'a', amount: INT32_MAX },
      ],
    })
    expect(over.ingestWarehouseStock).toEqual({
      accepted: 1,
      quarantined: 2,
      errors: [
        { index: 1, message: `amount 1 would take the stock of ${p} to 2147483648, outside the 32-bit range` },
        { index: 2, message: 'amount 2147483647 is beyond ±1000000000' },
      ],
    })
    expect(await ok(server, 'query Q($p: [ID!]!) { stock(products: $p) { available } }', { p: [p] })).toEqual({ stock: [{ available: INT32_MAX }] })

    const product = await ok(server, 'mutation { upsertProducts(products: [{ id: "big", category: "c", name: "n", price: 1e308 }]) { quarantined errors { message } } }')
    expect(product.upsertProducts).toEqual({ quarantined: 1, errors: [{ message: 'price 1e+308 is larger than 1000000000000' }] })
    const revenue = await ok(
      server,
      'mutation { ingestAppEvents(events: [{ app: CART, action: "purchase", workspaceId: "w", sessionId: "s", visitorId: "v", revenue: 1e308 }]) { quarantined errors { message } } }',
    )
    expect(revenue.ingestAppEvents).toEqual({ quarantined: 1, errors: [{ message: 'revenue 1e+308 is larger than 1000000000000' }] })
  })

  it('a stored stock outside 32 bits answers VALUE_OUT_OF_RANGE for that field; REST and stockExact give the exact value', async () => {
    const p = uid('p')
    await ok(server, 'mutation Q($p: ID!) { upsertProducts(products: [{ id: $p, category: "overflow", name: "n", price: 1 }]) { accepted } }', { p })
    // Written by something other than the gateway, which would have refused it.
    const raw = createConnection(server.config.store)
    try {
      const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
      await raw.insert({
        table: `${server.config.store.database}.warehouse_stock`,
        values: [
          { timestamp: now, product: p, store: 'x', amount: INT32_MAX },
          { timestamp: now, product: p, store: 'y', amount: INT32_MAX },
        ],
        format: 'JSONEachRow',
      })
    } finally {
      await raw.close()
    }
    const stock = await post(server, 'query Q($p: [ID!]!) { stock(products: $p) { product available } }', { p: [p] }, server.adminToken)
    expect(codesOf(stock)).toEqual(['VALUE_OUT_OF_RANGE'])
    expect(stock.errors![0]!.path).toEqual(['stock', 0, 'available'])
    expect(stock.errors![0]!.message).toContain('4294967294')

    const grid = await post(server, '{ productGrid(category: "overflow", showOutOfStock: true) { id stock } }', {}, server.adminToken)
    expect(codesOf(grid)).toEqual(['VALUE_OUT_OF_RANGE'])
    const exact = await ok(server, '{ productGrid(category: "overflow", showOutOfStock: true) { id stockExact } }')
    expect(exact).toEqual({ productGrid: [{ id: p, stockExact: '4294967294' }] })

    const rest = await fetch(server.url.replace('/graphql', `/v0/pipes/api_product_grid.json?category=overflow&show_oos=true&token=${server.adminToken}`))
    expect(rest.status).toBe(200)
    const text = await rest.text()
    // The exact digits, as a JSON number (the .json body is ClickHouse's own document, whitespace and all).
    expect(text).toMatch(/"stock":\s*4294967294[,\s}]/)
    const csv = await (await fetch(server.url.replace('/graphql', `/v0/pipes/api_product_grid.csv?category=overflow&show_oos=true&token=${server.adminToken}`))).text()
    expect(csv.split('\n')[0]).toContain(',4294967294,') // .csv has no header row (.csvwithnames has)
  })

  it('an aggregate that overflowed (null from ClickHouse) answers VALUE_OUT_OF_RANGE, never 0', async () => {
    const w = uid('w')
    const raw = createConnection(server.config.store)
    try {
      const row = { timestamp: new Date().toISOString().replace('T', ' ').replace('Z', ''), event_type: 'cart', action: 'purchase', workspace_id: w, session_id: 's', visitor_id: 'v', revenue: 1e308 }
      await raw.insert({ table: `${server.config.store.database}.app_events`, values: [row, { ...row, session_id: 's2' }], format: 'JSONEachRow' })
    } finally {
      await raw.close()
    }
    const res = await post(server, 'query Q($w: ID!) { analytics(app: CART, workspaceId: $w) { totals { events ... on CartMetrics { revenue } } } }', { w }, server.adminToken)
    expect(codesOf(res)).toEqual(['VALUE_OUT_OF_RANGE'])
    expect(res.errors![0]!.message).toBe('The stored revenue is not a finite number')
  })
})

describe('WebSocket: open sockets counted, per-address cap, init timeout', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_WS_MAX_PER_ADDRESS: '3', SIGHTLINE_WS_INIT_TIMEOUT_MS: '300' })
  })
  afterAll(async () => {
    await server.stop()
  })

  const gauge = () => metric(server, /^sightline_websocket_connections /)

  it('refuses a socket over the per-address cap at the upgrade (429) and counts only open sockets', async () => {
    const open = async () => {
      const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws')
      return new Promise<WebSocket | number>((resolve) => {
        ws.once('open', () => resolve(ws))
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      })
    }
    const sockets = [await open(), await open(), await open()]
    expect(sockets.every((s) => s instanceof WebSocket)).toBe(true)
    expect(await open()).toBe(429)
    expect(await gauge()).toBe(3)
    // Without ConnectionInit they are closed with 4408 after SIGHTLINE_WS_INIT_TIMEOUT_MS; then nothing is counted.
    const codes = await Promise.all(sockets.map((s) => new Promise<number>((resolve) => (s as WebSocket).once('close', resolve))))
    expect(codes).toEqual([4408, 4408, 4408])
    expect(await gauge()).toBe(0)
    expect(await open()).toBeInstanceOf(WebSocket)
  })

  it('a socket that closes while its ConnectionInit is checked is not left counted', async () => {
    const { token } = await createToken(server, ['read'])
    for (let i = 0; i < 20; i++) {
      const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws')
      await new Promise((resolve) => ws.once('open', resolve))
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
      ws.terminate()
    }
    let value = -1
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && (value = await gauge()) !== 0) await new Promise((r) => setTimeout(r, 50))
    expect(value).toBe(0)
  })
})
