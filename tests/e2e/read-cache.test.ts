import { randomBytes, randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnection } from '../../src/store/connection.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The read cache (SIGHTLINE_READ_CACHE=1) never hides a write through the gateway, shows a write that
 * bypasses it once the poll has seen the table change, and keeps callers with different grants apart.
 * The TTL is long here, so only the write paths and the poll can make a change visible.
 */
describe('read cache', () => {
  let server: TestServer
  let direct: ClickHouseClient
  const category = `c_${randomBytes(4).toString('hex')}`
  const tokens: Record<string, string> = {}

  interface Answer {
    status: number
    cache: string | null
    body: { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> }
  }

  async function post(query: string, variables: Record<string, unknown>, token: string): Promise<Answer> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    })
    const text = await res.text()
    // A hit is written from the bytes kept (src/transport/apollo.ts): its length is declared, not chunked.
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text))
    return { status: res.status, cache: res.headers.get('x-sightline-cache'), body: JSON.parse(text) as Answer['body'] }
  }

  const PRODUCTS = 'query P($category: String, $limit: Int) { products(category: $category, limit: $limit) { id name price } }'
  const names = (a: Answer) => ((a.body.data?.products ?? []) as Array<{ name: string }>).map((p) => p.name).sort()

  /**
   * Reads until an answer comes from the cache. A background merge changes a table's parts and so empties
   * the cache, like any change the poll sees: a few reads may miss before one is kept and served again.
   */
  async function cached(query: string, variables: Record<string, unknown>, token: string): Promise<Answer> {
    let answer = await post(query, variables, token)
    for (let i = 0; i < 50 && answer.cache !== 'hit'; i++) {
      await new Promise((r) => setTimeout(r, 20))
      answer = await post(query, variables, token)
    }
    return answer
  }

  async function upsert(id: string, name: string) {
    const res = await post(
      'mutation U($products: [ProductInput!]!) { upsertProducts(products: $products) { accepted } }',
      { products: [{ id, category, name, price: 10 }] },
      server.adminToken,
    )
    expect(res.body.errors).toBeUndefined()
  }

  beforeAll(async () => {
    // A poll every 500 ms: answers are served while the last poll started < 1 s ago, even on a loaded machine.
    server = await startTestServer({ SIGHTLINE_POLL_MS: '500', SIGHTLINE_READ_CACHE: '1', SIGHTLINE_READ_CACHE_TTL_MS: '600000', SIGHTLINE_TOKEN_CACHE_MS: '0', SIGHTLINE_RATE_LIMIT: '0' })
    const mint = async (name: string, scopes: string[], workspaceId?: string) => {
      const res = await post(
        'mutation T($input: TokenInput!) { createToken(input: $input) { token } }',
        { input: { name, scopes, ...(workspaceId && { workspaceId }) } },
        server.adminToken,
      )
      return (res.body.data?.createToken as { token: string }).token
    }
    tokens.read = await mint('cache_read', ['read'])
    tokens.ecommerce = await mint('cache_ecommerce', ['read:ecommerce'])
    tokens.bound = await mint('cache_bound', ['read'], 'ws_1')
    tokens.analytics = await mint('cache_analytics', ['read:analytics'])
    tokens.revoked = await mint('cache_revoked', ['read'])
    // A second connection to the same embedded store: writes that never pass through the gateway.
    direct = createConnection(server.config.store)
    await upsert('p1', 'first')
  })

  afterAll(async () => {
    await server?.stop()
    await direct?.close()
  })

  it('serves a repeated read from the cache, and a write through the gateway is visible on the next read', async () => {
    const first = await post(PRODUCTS, { category }, tokens.read!)
    expect(names(first)).toEqual(['first'])
    const again = await cached(PRODUCTS, { category }, tokens.read!)
    expect(again.cache).toBe('hit')
    expect(again.body).toEqual(first.body)

    await upsert('p2', 'second')
    const after = await post(PRODUCTS, { category }, tokens.read!)
    expect(after.cache).not.toBe('hit')
    expect(names(after)).toEqual(['first', 'second'])
  })

  it('a direct insert into a table (bypassing the gateway) becomes visible once the poll sees the table change', async () => {
    expect((await cached(PRODUCTS, { category }, tokens.read!)).cache).toBe('hit')
    await direct.insert({
      table: `${server.config.store.database}.products`,
      values: [{ category, id: 'p3', name: 'third', photo: '', price: 1, version: 1 }],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: randomUUID() },
    })
    // No sleep-and-assert: read until the change shows (SIGHTLINE_POLL_MS is 500 here; the TTL is 10 minutes,
    // so only the poll can make it visible); the deadline only bounds a broken cache.
    const deadline = Date.now() + 60_000
    let seen: string[] = []
    while (Date.now() < deadline) {
      seen = names(await post(PRODUCTS, { category }, tokens.read!))
      if (seen.includes('third')) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(seen).toEqual(['first', 'second', 'third'])
  })

  it('never shares an answer between callers with different scopes or workspace bindings', async () => {
    // Same document and variables, other grants: while the `read` caller's answer is kept (a hit just
    // before and just after), each other caller's first request is computed for it, never served that answer.
    // Each attempt uses variables no one has asked for yet (another limit), so it is every caller's first time.
    let limit = 100
    for (const other of ['ecommerce', 'bound'] as const) {
      let checked = false
      for (let attempt = 0; attempt < 10 && !checked; attempt++) {
        const variables = { category, limit: ++limit }
        expect((await cached(PRODUCTS, variables, tokens.read!)).cache).toBe('hit')
        const theirs = await post(PRODUCTS, variables, tokens[other]!)
        expect(theirs.cache).not.toBe('hit')
        expect(names(theirs)).toEqual(['first', 'second', 'third'])
        // Conclusive when the cache was serving throughout (a late poll makes it step aside: no header).
        checked = theirs.cache === 'miss' && (await post(PRODUCTS, variables, tokens.read!)).cache === 'hit'
      }
      expect(checked, `${other}: the cache never served throughout the attempt`).toBe(true)
    }
    // A caller without the scope gets FORBIDDEN, not the cached answer; errors are never kept.
    for (let i = 0; i < 2; i++) {
      const refused = await post(PRODUCTS, { category }, tokens.analytics!)
      expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN'])
      expect(refused.cache).toBe('miss')
    }
  })

  const GRID = 'query G($category: String) { productGrid(category: $category, showOutOfStock: true) { id stock } }'
  const ANALYTICS = 'query A($ws: ID!, $from: DateTime, $to: DateTime) { analytics(app: CART, workspaceId: $ws, from: $from, to: $to) { totals { events } } }'
  // A fixed range: the answer does not depend on the clock.
  const analyticsVars = { ws: 'ws_1', from: '2026-01-01T00:00:00Z', to: '2026-01-08T00:00:00Z' }
  const stockOf = (a: Answer, id: string) => ((a.body.data?.productGrid ?? []) as Array<{ id: string; stock: number }>).find((p) => p.id === id)?.stock

  /**
   * After a write, the analytics answer (which reads no stock table) must still be served from the cache.
   * A read the cache sits out (its poll late on a loaded machine: no header) proves nothing either way, so
   * read again; a miss would mean the write dropped it.
   */
  async function stillCached(): Promise<void> {
    let answer = await post(ANALYTICS, analyticsVars, tokens.read!)
    for (let i = 0; i < 250 && answer.cache === null; i++) {
      await new Promise((r) => setTimeout(r, 20))
      answer = await post(ANALYTICS, analyticsVars, tokens.read!)
    }
    expect(answer.cache).toBe('hit')
  }

  it('a write through the gateway drops the answers that read a table it changed, and only those', async () => {
    const before = await cached(GRID, { category }, tokens.read!)
    expect(before.cache).toBe('hit')
    expect((await cached(ANALYTICS, analyticsVars, tokens.read!)).cache).toBe('hit')
    const stock = stockOf(before, 'p1')!
    const res = await post(
      'mutation S($updates: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $updates) { accepted } }',
      { updates: [{ product: 'p1', store: 'store_1', amount: 5 }] },
      server.adminToken,
    )
    expect(res.body.errors).toBeUndefined()
    // The grid reads the stock view that warehouse_stock feeds: never served stale after the write answered.
    const after = await post(GRID, { category }, tokens.read!)
    expect(after.cache).not.toBe('hit')
    expect(stockOf(after, 'p1')).toBe(stock + 5)
    await stillCached()
  })

  it('a direct insert into warehouse_stock drops the grid once the poll sees it, and not the analytics answer', async () => {
    const before = await cached(GRID, { category }, tokens.read!)
    expect((await cached(ANALYTICS, analyticsVars, tokens.read!)).cache).toBe('hit')
    const stock = stockOf(before, 'p1')!
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
    await direct.insert({
      table: `${server.config.store.database}.warehouse_stock`,
      values: [{ timestamp: now, product: 'p1', store: 'store_2', amount: 7 }],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: randomUUID() },
    })
    const deadline = Date.now() + 60_000
    let seen: number | undefined
    while (Date.now() < deadline) {
      seen = stockOf(await post(GRID, { category }, tokens.read!), 'p1')
      if (seen === stock + 7) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(seen).toBe(stock + 7)
    await stillCached()
  })

  it('a write through the REST API (Events, Data Sources) is visible on the next read, GraphQL and REST alike', async () => {
    const rest = async (): Promise<{ cache: string | null; stock: number | undefined }> => {
      const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/v0/pipes/api_product_grid.json?category=${category}&token=${tokens.read}`)
      expect(res.status).toBe(200)
      const rows = ((await res.json()) as { data: Array<{ id: string; stock: number }> }).data
      return { cache: res.headers.get('x-sightline-cache'), stock: rows.find((r) => r.id === 'p1')?.stock }
    }
    const restHit = async () => {
      let answer = await rest()
      for (let i = 0; i < 50 && answer.cache !== 'hit'; i++) answer = await rest()
      expect(answer.cache).toBe('hit')
      return answer
    }
    const writes = [
      (amount: number) =>
        fetch(`${server.url.replace(/\/graphql$/, '')}/v0/events?name=warehouse_stock&wait=true`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.adminToken}` },
          body: JSON.stringify({ timestamp: new Date().toISOString(), product: 'p1', store: 'store_3', amount }),
        }),
      (amount: number) =>
        fetch(`${server.url.replace(/\/graphql$/, '')}/v0/datasources?name=warehouse_stock&mode=append&format=ndjson`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.adminToken}` },
          body: JSON.stringify({ timestamp: new Date().toISOString(), product: 'p1', store: 'store_4', amount }),
        }),
    ]
    for (const write of writes) {
      const stock = stockOf(await cached(GRID, { category }, tokens.read!), 'p1')!
      expect((await restHit()).stock).toBe(stock)
      expect((await write(3)).status).toBe(200)
      const graphql = await post(GRID, { category }, tokens.read!)
      expect(graphql.cache).not.toBe('hit')
      expect(stockOf(graphql, 'p1')).toBe(stock + 3)
      const after = await rest()
      expect(after.cache).not.toBe('hit')
      expect(after.stock).toBe(stock + 3)
    }
  })

  it('writes a cached answer as the same bytes as the answer it kept', async () => {
    const text = async () => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.read}` },
        body: JSON.stringify({ query: GRID, variables: { category, n: 1 } }),
      })
      return { cache: res.headers.get('x-sightline-cache'), body: await res.text() }
    }
    let miss = await text()
    for (let i = 0; i < 50 && miss.cache !== 'miss'; i++) miss = await text()
    let hit = await text()
    for (let i = 0; i < 50 && hit.cache !== 'hit'; i++) hit = await text()
    expect([miss.cache, hit.cache]).toEqual(['miss', 'hit'])
    expect(hit.body).toBe(miss.body)
    expect(JSON.parse(hit.body)).toHaveProperty('data.productGrid')
  })

  it('reports hits, misses, evictions, entries and bytes on /metrics', async () => {
    await cached(GRID, { category }, tokens.read!)
    const text = await (await fetch(new URL('/metrics', server.url))).text()
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    expect(value('sightline_read_cache_hits_total')).toBeGreaterThan(0)
    expect(value('sightline_read_cache_misses_total')).toBeGreaterThan(0)
    expect(value('sightline_read_cache_entries')).toBeGreaterThan(0)
    expect(value('sightline_read_cache_bytes')).toBeGreaterThan(0)
    // The writes of the tests above dropped answers that read what they changed.
    expect(value('sightline_read_cache_evictions_total\\{reason="write"\\}')).toBeGreaterThan(0)
    expect(text).toMatch(/^# TYPE sightline_read_cache_evictions_total counter$/m)
    expect(text).toMatch(/^# TYPE sightline_read_cache_bytes gauge$/m)
  })

  it('checks the token on every request: a revoked token gets no cached answer', async () => {
    expect((await cached(PRODUCTS, { category }, tokens.revoked!)).cache).toBe('hit')
    await post('mutation R($name: String!) { revokeToken(name: $name) }', { name: 'cache_revoked' }, server.adminToken)
    const after = await post(PRODUCTS, { category }, tokens.revoked!)
    expect(after.status).toBe(401)
    expect(after.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED'])
  })
})
