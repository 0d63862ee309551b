import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnection } from '../../src/store/connection.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * productGrid answers that select plain fields are written by the store (src/execution/pass-through.ts).
 * Every document here is sent twice: as it is, and with `@include(if: true)` on its root field, which
 * means the same but keeps it off that path (graphql-jit or graphql-js execute it): the two answers must
 * be the same JSON, status included, errors included.
 */
describe('productGrid passed through from the store', () => {
  let server: TestServer
  const suffix = randomBytes(4).toString('hex')
  const category = `grid_${suffix}`
  const huge = `grid_huge_${suffix}`
  const empty = `grid_empty_${suffix}`
  const tokens = { ecommerce: '', analytics: '' }

  interface Answer {
    status: number
    text: string
    body: unknown
  }

  async function post(query: string, variables: Record<string, unknown>, token: string | undefined): Promise<Answer> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ query, variables }),
    })
    const text = await res.text()
    // A written answer goes out in parts (src/transport/apollo.ts): its length is declared, not chunked.
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text))
    return { status: res.status, text, body: JSON.parse(text) as unknown }
  }

  /** The same document with `@include(if: true)` on its (first) root field: same meaning, executed. */
  const executed = (query: string) => query.replace(/(productGrid(?:\([^)]*\))?)\s*\{/, '$1 @include(if: true) {')

  async function both(query: string, variables: Record<string, unknown>, token: string | undefined = server.adminToken) {
    const before = await written()
    const passed = await post(query, variables, token)
    const storeWrote = (await written()).passed === before.passed + 1
    const plain = await post(executed(query), variables, token)
    expect(executed(query)).not.toBe(query)
    // The directive moves what follows it on its line: errors are compared by line, not column.
    expect({ status: passed.status, body: byLine(passed.body) }).toEqual({ status: plain.status, body: byLine(plain.body) })
    return { passed, plain, storeWrote }
  }

  const byLine = (body: unknown): unknown => {
    const errors = (body as { errors?: Array<{ locations?: Array<{ line: number }> }> }).errors
    if (!errors) return body
    return { ...(body as object), errors: errors.map((e) => ({ ...e, ...(e.locations && { locations: e.locations.map((l) => l.line) }) })) }
  }

  /** Answers the store wrote so far, and those it refused (then executed), from /metrics. */
  async function written(): Promise<{ passed: number; refused: number }> {
    const text = await (await fetch(new URL('/metrics', server.url))).text()
    const count = (outcome: string) => Number(new RegExp(`^sightline_graphql_store_written_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
    return { passed: count('passed'), refused: count('refused') }
  }

  /** Whether the store wrote the answer `send` gets. */
  async function storeWritten(send: () => Promise<unknown>): Promise<boolean> {
    const before = await written()
    await send()
    return (await written()).passed === before.passed + 1
  }

  async function write(mutation: string, variables: Record<string, unknown>) {
    const res = await post(mutation, variables, server.adminToken)
    expect(res.body).not.toHaveProperty('errors')
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_RATE_LIMIT: '0' })
    const mint = async (name: string, scopes: string[]) => {
      const res = await post('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } }, server.adminToken)
      return ((res.body as { data: { createToken: { token: string } } }).data.createToken as { token: string }).token
    }
    tokens.ecommerce = await mint(`grid_read_${suffix}`, ['read:ecommerce'])
    tokens.analytics = await mint(`grid_analytics_${suffix}`, ['read:analytics'])
    const products = [
      { id: `${suffix}_a`, category, name: 'Café ☕ 🔥 "quoted" \\ back/slash', price: 19.99 },
      { id: `${suffix}_b`, category, name: 'Tab\tnew\nline \u0001 control', price: 0.1 + 0.2, photo: 'https://x.test/a/b.png' },
      { id: `${suffix}_c`, category, name: '日本語 ñ', price: 123456.789 },
      { id: `${suffix}_d`, category, name: 'zero', price: 0 },
      { id: `${suffix}_e`, category, name: 'low', price: 5 },
      { id: `${suffix}_h`, category: huge, name: 'too many', price: 1 },
    ]
    await write('mutation U($products: [ProductInput!]!) { upsertProducts(products: $products) { accepted } }', { products })
    const updates = [
      { product: `${suffix}_a`, store: 's1', amount: 500 },
      { product: `${suffix}_b`, store: 's1', amount: 50 },
      { product: `${suffix}_c`, store: 's1', amount: 1000 },
      { product: `${suffix}_e`, store: 's1', amount: 3 },
    ]
    await write('mutation W($updates: [WarehouseStockInput!]!) { ingestWarehouseStock(updates: $updates) { accepted } }', { updates })
    // 2 × (2^31 - 1): fits the store's Int64, not GraphQL's Int. The gateway refuses such updates; a direct
    // insert into the store does not.
    const direct = createConnection(server.config.store)
    const timestamp = new Date().toISOString().slice(0, 19).replace('T', ' ')
    await direct.insert({
      table: `${server.config.store.database}.warehouse_stock`,
      values: ['s1', 's2'].map((store) => ({ timestamp, product: `${suffix}_h`, store, amount: 2147483647 })),
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: randomUUID() },
    })
    const events = [...Array<string>(4).fill(`${suffix}_c`), ...Array<string>(2).fill(`${suffix}_a`)].map((product) => ({ event: 'SALE', product }))
    await write('mutation E($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted } }', { events })
  })

  afterAll(async () => {
    await server?.stop()
  })

  const ALL = 'query G($c: String, $r: GridRanking, $o: Boolean) { productGrid(category: $c, ranking: $r, showOutOfStock: $o) { id name category photo price stock stockExact stockStatus hits trending rankStatus } }'

  it('answers every field, every ranking and filter, as the executor does', async () => {
    for (const r of ['PRICE', 'TRENDING', null, undefined]) {
      for (const o of [true, false, null]) {
        const { passed, storeWrote } = await both(ALL, { c: category, ...(r !== undefined && { r }), o })
        expect(passed.status).toBe(200)
        expect(storeWrote).toBe(true)
        const items = (passed.body as { data: { productGrid: Array<Record<string, unknown>> } }).data.productGrid
        expect(items.length).toBe(o === true ? 5 : 4)
      }
    }
    const { passed } = await both(ALL, { c: category, r: 'TRENDING', o: true })
    const items = (passed.body as { data: { productGrid: Array<Record<string, unknown>> } }).data.productGrid
    // Four sales took four from its stock of 1,000.
    expect(items[0]).toMatchObject({ id: `${suffix}_c`, hits: 4, trending: true, rankStatus: 'Trending 🔥', stockStatus: 'IN_STOCK', stock: 996, stockExact: '996', price: 123456.789 })
    expect(items.find((i) => i.id === `${suffix}_a`)).toMatchObject({ name: 'Café ☕ 🔥 "quoted" \\ back/slash', hits: 2 })
    expect(items.find((i) => i.id === `${suffix}_b`)).toMatchObject({ name: 'Tab\tnew\nline \u0001 control', price: 0.1 + 0.2, photo: 'https://x.test/a/b.png' })
    expect(items.find((i) => i.id === `${suffix}_d`)).toMatchObject({ stock: 0, stockStatus: 'OUT_OF_STOCK', trending: false, rankStatus: null })
  })

  it('answers aliases, repeated fields, literal arguments and defaults', async () => {
    const documents = [
      `{ grid: productGrid(category: "${category}", ranking: TRENDING) { key: id, label: name, stockStatus, s: stock, name, id: hits } }`,
      `{ productGrid(category: "${category}", showOutOfStock: true) { id id name price name } }`,
      `query { productGrid(category: "${category}") { rankStatus } }`,
      `query Named { productGrid(category: "${category}", ranking: PRICE, showOutOfStock: false) { trending stockExact photo category } }`,
    ]
    for (const query of documents) {
      const { passed, storeWrote } = await both(query, {})
      expect(passed.status).toBe(200)
      expect(storeWrote).toBe(true)
    }
    // Every category (the default `all`) holds the product whose stock does not fit Int: the executor's error.
    const all = await both('{ productGrid { id stock stockStatus hits } }', {})
    expect(all.storeWrote).toBe(false)
  })

  it('answers an empty grid', async () => {
    const { passed, storeWrote } = await both(ALL, { c: empty })
    expect(passed.body).toEqual({ data: { productGrid: [] } })
    expect(storeWrote).toBe(true)
  })

  it('leaves other shapes to the executor, with the same answers', async () => {
    const documents = [
      `{ productGrid(category: "${category}") { __typename id } }`,
      `{ productGrid(category: "${category}") { ... on ProductGridItem { id name } } }`,
      `{ productGrid(category: "${category}") { ...F } } fragment F on ProductGridItem { id stock }`,
      `{ productGrid(category: "${category}") { id name @skip(if: true) } }`,
      `{ a: productGrid(category: "${category}") { id } b: productGrid(category: "${empty}") { id } }`,
    ]
    for (const query of documents) {
      let passed: Answer | undefined
      expect(await storeWritten(async () => (passed = await post(query, {}, server.adminToken)))).toBe(false)
      expect(passed?.status).toBe(200)
      expect(passed?.body).not.toHaveProperty('errors')
    }
  })

  it('reports the same errors: no caller, a missing scope, bad variables, values outside Int', async () => {
    // Without a token (this server lets anonymous callers read): the same answer either way.
    await both(ALL, { c: category }, undefined)
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ c: category }, 'not-a-token', 'UNAUTHENTICATED'],
      [{ c: category }, tokens.analytics, 'FORBIDDEN'],
      [{ c: 5 }, server.adminToken, 'BAD_USER_INPUT'],
      [{ c: category, r: 'SIDEWAYS' }, server.adminToken, 'BAD_USER_INPUT'],
      [{ c: huge }, tokens.ecommerce, 'VALUE_OUT_OF_RANGE'],
    ]
    for (const [variables, token, code] of cases) {
      const { passed, storeWrote } = await both(ALL, variables, token)
      expect(JSON.stringify(passed.body)).toContain(code)
      expect(storeWrote).toBe(false)
    }
    // The exact stock of the same row passes through: only the Int field refuses it.
    const exact = await both(`{ productGrid(category: "${huge}") { id stockExact stockStatus } }`, {}, tokens.ecommerce)
    expect(exact.passed.body).toEqual({ data: { productGrid: [{ id: `${suffix}_h`, stockExact: '4294967294', stockStatus: 'IN_STOCK' }] } })
    expect(exact.storeWrote).toBe(true)
  })
})
