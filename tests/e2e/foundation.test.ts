import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printSdl } from '../../src/schema/print.js'
import {
  CreateTokenDocument,
  IngestEcommEventsDocument,
  ProductGridDocument,
  RevokeTokenDocument,
  StockLevelsDocument,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, type TestServer } from '../helpers/server.js'
import { filesHolding, storeFilesDir } from '../helpers/store.js'

/** Every Query and Mutation field, called with valid arguments, and the scope it needs. */
const OPERATIONS: Array<{ query: string; scope: string }> = [
  { query: '{ productGrid { id } }', scope: 'read:ecommerce' },
  { query: '{ uiFilters(filter: VALUE) { value } }', scope: 'read:ecommerce' },
  { query: '{ products { id } }', scope: 'read:ecommerce' },
  { query: '{ product(id: "x") { id } }', scope: 'read:ecommerce' },
  { query: '{ stock(products: ["x"]) { available } }', scope: 'read:ecommerce' },
  { query: '{ ecommTrend { start } }', scope: 'read:ecommerce' },
  { query: '{ analytics(app: PAGE, workspaceId: "w") { app } }', scope: 'read:analytics:page' },
  { query: '{ quarantine(table: "products") { row } }', scope: 'admin' },
  { query: 'mutation { ingestEcommEvents(events: []) { accepted } }', scope: 'append:ecomm_events' },
  { query: 'mutation { ingestWarehouseStock(updates: []) { accepted } }', scope: 'append:warehouse_stock' },
  { query: 'mutation { upsertProducts(products: []) { accepted } }', scope: 'append:products' },
  { query: 'mutation { ingestAppEvents(events: []) { accepted } }', scope: 'append:app_events' },
  { query: 'mutation { createToken(input: {name: "n", scopes: ["read"]}) { token } }', scope: 'admin' },
  { query: 'mutation { revokeToken(name: "nobody") }', scope: 'admin' },
]

async function post(server: TestServer, query: string, token?: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  })
  return { status: res.status, ...((await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> }) }
}

describe('the gateway over HTTP', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server?.stop())

  const createToken = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, server.adminToken)).createToken

  it('answers health, readiness and metrics', async () => {
    const base = server.url.replace('/graphql', '')
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    await post(server, '{ productGrid { id } }')
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toContain('sightline_graphql_requests_total')
    expect(metrics).toContain('process_resident_memory_bytes')
    // The engine's own memory: what it tracks, and each non-empty cache by name.
    const engine = [...metrics.matchAll(/^sightline_engine_memory_bytes\{kind="([^"]+)"\} (\S+)$/gm)].map(([, kind, v]) => [kind!, Number(v)] as const)
    expect(engine.find(([kind]) => kind === 'tracked')?.[1]).toBeGreaterThan(0)
    for (const [kind, bytes] of engine) expect(kind === 'tracked' || (/^[a-z]+(_[a-z]+)*_cache$/.test(kind) && bytes > 0), kind).toBe(true)
  })

  it('refuses every operation without a token, and with a garbage one', async () => {
    for (const op of OPERATIONS) {
      const anonymous = await post(server, op.query)
      expect(anonymous.errors?.map((e) => e.extensions?.code), op.query).toEqual(['UNAUTHENTICATED'])
      const garbage = await post(server, op.query, 'sl_not-a-real-token')
      expect(garbage.status, op.query).toBe(401)
      expect(garbage.errors?.map((e) => e.extensions?.code), op.query).toEqual(['UNAUTHENTICATED'])
    }
  })

  it('answers FORBIDDEN to a token without the scope, and serves one with it', async () => {
    const unrelated = await createToken(['append:products'])
    for (const op of OPERATIONS.filter((o) => o.scope !== 'append:products')) {
      const res = await post(server, op.query, unrelated.token)
      expect(res.errors?.map((e) => e.extensions?.code), op.query).toEqual(['FORBIDDEN'])
    }
    for (const op of OPERATIONS.filter((o) => o.scope !== 'admin')) {
      const allowed = await createToken([op.scope])
      const res = await post(server, op.query, allowed.token)
      expect(res.errors, op.query).toBeUndefined()
    }
  })

  it('lets a broader scope grant a narrower one', async () => {
    const read = await createToken(['read'])
    expect((await post(server, '{ analytics(app: CART, workspaceId: "w") { app } }', read.token)).errors).toBeUndefined()
    expect((await post(server, '{ productGrid { id } }', read.token)).errors).toBeUndefined()
    const cartOnly = await createToken(['read:analytics:cart'])
    expect((await post(server, '{ analytics(app: CART, workspaceId: "w") { app } }', cartOnly.token)).errors).toBeUndefined()
    const fm = await post(server, '{ analytics(app: FM, workspaceId: "w") { app } }', cartOnly.token)
    expect(fm.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
  })

  it('confines a workspace-bound token to its workspace', async () => {
    const bound = await createToken(['read:analytics'], 'ws_a')
    expect((await post(server, '{ analytics(app: PAGE, workspaceId: "ws_a") { app } }', bound.token)).errors).toBeUndefined()
    const other = await post(server, '{ analytics(app: PAGE, workspaceId: "ws_b") { app } }', bound.token)
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
  })

  it('creates, uses and revokes tokens; a revoked token is refused at once', async () => {
    const token = await createToken(['read:ecommerce'])
    expect(token.token).toMatch(/^sl_/)
    await gqlOk(server, StockLevelsDocument, { products: ['x'] }, token.token)
    const revoked = await gqlOk(server, RevokeTokenDocument, { name: token.name }, server.adminToken)
    expect(revoked.revokeToken).toBe(true)
    const after = await gql(server, StockLevelsDocument, { products: ['x'] }, token.token)
    expect(after.status).toBe(401)
    expect(codes(after)).toEqual(['UNAUTHENTICATED'])
    const again = await gqlOk(server, RevokeTokenDocument, { name: token.name }, server.adminToken)
    expect(again.revokeToken).toBe(false)
  })

  it('rejects bad token requests with BAD_USER_INPUT', async () => {
    const name = uid('dup')
    await gqlOk(server, CreateTokenDocument, { input: { name, scopes: ['read'] } }, server.adminToken)
    const dup = await gql(server, CreateTokenDocument, { input: { name, scopes: ['read'] } }, server.adminToken)
    expect(codes(dup)).toEqual(['BAD_USER_INPUT'])
    const badScope = await gql(server, CreateTokenDocument, { input: { name: uid('t'), scopes: ['write:everything'] } }, server.adminToken)
    expect(codes(badScope)).toEqual(['BAD_USER_INPUT'])
    const past = await gql(
      server,
      CreateTokenDocument,
      { input: { name: uid('t'), scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' } },
      server.adminToken,
    )
    expect(codes(past)).toEqual(['BAD_USER_INPUT'])
  })

  it('never writes a token secret to the data directory', async () => {
    const token = await createToken(['read:ecommerce'])
    const { scanned, found } = filesHolding(storeFilesDir(server.config.store), Buffer.from(token.token))
    expect(scanned).toBeGreaterThan(0)
    expect(found).toEqual([])
  })

  it('rejects an unknown enum value as a validation error', async () => {
    const read = await createToken(['read:ecommerce'])
    const res = await post(server, '{ uiFilters(filter: BOGUS) { value } }', read.token)
    expect(res.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED')
    const viaVariable = await gql(server, ProductGridDocument, { ranking: 'BOGUS' as 'PRICE' }, read.token)
    expect(codes(viaVariable)).toEqual(['BAD_USER_INPUT'])
  })

  it('refuses an oversized body with PAYLOAD_TOO_LARGE and bad JSON with 400', async () => {
    const big = 'x'.repeat(server.config.maxBodyBytes + 1)
    const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe(
      'PAYLOAD_TOO_LARGE',
    )
    const bad = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' })
    expect(bad.status).toBe(400)
  })

  it('closes introspection to non-admins outside development', async () => {
    const read = await createToken(['read'])
    const res = await post(server, '{ __schema { queryType { name } } }', read.token)
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    const admin = await post(server, '{ __schema { queryType { name } } }', server.adminToken)
    expect(admin.errors).toBeUndefined()
  })

  it('ingests through mutations and serves the grid', async () => {
    const append = await createToken(['append:ecomm_events'])
    const read = await createToken(['read:ecommerce'])
    const res = await gqlOk(
      server,
      IngestEcommEventsDocument,
      { events: [{ event: 'SALE', product: 'nothing-yet' }, { event: 'VIEW', product: '  ' }] },
      append.token,
    )
    expect(res.ingestEcommEvents).toMatchObject({ accepted: 1, quarantined: 1, deduplicated: false })
    expect(res.ingestEcommEvents.errors).toEqual([{ index: 1, message: 'product is empty' }])
    const stock = await gqlOk(server, StockLevelsDocument, { products: ['nothing-yet'] }, read.token)
    expect(stock.stock).toEqual([{ product: 'nothing-yet', available: -1, status: 'OUT_OF_STOCK' }])
  })
})

describe('the schema artifact', () => {
  it('matches the type-graphql classes (run `npm run schema` after changing them)', async () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')
    expect(await printSdl()).toBe(committed)
  })
})
