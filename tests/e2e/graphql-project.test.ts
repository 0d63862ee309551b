import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, type IntrospectionQuery } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { CountriesInDocument, OrderLookupDocument, ShopDashboardDocument } from '../generated/typed-shop.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** orders → top_customers, order_lookup, countries; fixtures/orders.ndjson (one id past 2^32, a product past 2^53). */
const SHOP = fileURLToPath(new URL('../fixtures/projects/typed-shop', import.meta.url))

describe("a loaded project's endpoint pipes as typed GraphQL fields", () => {
  let server: TestServer
  const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: SHOP, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
    const loads = await server.project!.loadFixtures()
    expect(loads).toEqual([{ datasource: 'orders', file: 'fixtures/orders.ndjson', rows: 5, quarantined: 0 }])
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('serves the schema that codegen generated the client from (tests/generated/typed-shop.graphql)', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }) }),
    })
    const { data } = (await res.json()) as { data: IntrospectionQuery }
    const served = `${printSchema(lexicographicSortSchema(buildClientSchema(data)))}\n`
    expect(served).toBe(readFileSync(new URL('../generated/typed-shop.graphql', import.meta.url), 'utf8'))
  })

  it('answers several pipes in one request, typed: 64-bit counts as exact strings, floats as numbers', async () => {
    const data = await gqlOk(server, ShopDashboardDocument, {}, server.adminToken)
    expect(data.pipes.top_customers).toEqual([
      { customer: 'Cy', orders: '1', revenue: 300, units: '5' },
      { customer: 'Ada', orders: '2', revenue: 160.5, units: '3' },
      { customer: 'Bob', orders: '1', revenue: 80, units: '1' },
    ])
    // The template's Array default (ES,FR,DE) applies when the argument is absent.
    expect(data.pipes.countries).toEqual([
      { country: 'DE', orders: '1', ids: ['18446744073'] },
      { country: 'ES', orders: '3', ids: ['1', '3', '5'] },
      { country: 'FR', orders: '1', ids: ['2'] },
    ])
    const spain = await gqlOk(server, ShopDashboardDocument, { country: 'ES', limit: 1, dateFrom: '2026-01-01 00:00:00' }, server.adminToken)
    expect(spain.pipes.top_customers).toEqual([{ customer: 'Ada', orders: '2', revenue: 160.5, units: '3' }])
    const list = await gqlOk(server, CountriesInDocument, { countries: ['FR', 'DE'] }, server.adminToken)
    expect(list.pipes.countries).toEqual([
      { country: 'DE', orders: '1' },
      { country: 'FR', orders: '1' },
    ])
  })

  it('keeps 64-bit values past 2^53 exact, nulls as null, arrays as lists, DateTime as ClickHouse text', async () => {
    const data = await gqlOk(server, OrderLookupDocument, { orderId: '18446744073' }, server.adminToken)
    expect(data.pipes.order_lookup).toEqual([
      { order_id: '18446744073', timestamp: '2026-01-04 12:00:00', customer: 'Cy', items: ['desk'], coupon: null, big: '18446744073000000000' },
    ])
    // The REST answer of the same pipe (as JSON numbers, Tinybird's default) holds the same rows.
    const rest = await fetch(`${server.url.replace(/\/graphql$/, '')}/v0/pipes/order_lookup.json?order_id=18446744073&output_format_json_quote_64bit_integers=1`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    })
    expect(((await rest.json()) as { data: unknown[] }).data).toEqual(data.pipes.order_lookup)
  })

  it('checks scopes as REST does: read:pipe:<pipe>, and nothing without a token', async () => {
    const lookupOnly = await token(['read:pipe:order_lookup'])
    expect((await gqlOk(server, OrderLookupDocument, { orderId: '2' }, lookupOnly)).pipes.order_lookup?.map((r) => r.customer)).toEqual(['Bob'])
    const refused = await gql(server, ShopDashboardDocument, {}, lookupOnly)
    expect(codes(refused)).toEqual(['FORBIDDEN', 'FORBIDDEN'])
    expect(refused.data).toEqual({ pipes: { top_customers: null, countries: null } })
    const restRefused = await fetch(`${server.url.replace(/\/graphql$/, '')}/v0/pipes/top_customers.json`, { headers: { authorization: `Bearer ${lookupOnly}` } })
    expect(restRefused.status).toBe(403)
    expect(codes(await gql(server, OrderLookupDocument, { orderId: '2' }))).toEqual(['UNAUTHENTICATED'])
  })

  it("answers a template's refusal as BAD_USER_INPUT with Tinybird's message", async () => {
    const res = await gql(server, ShopDashboardDocument, { dateFrom: 'yesterday' }, server.adminToken)
    expect(codes(res)).toEqual(['BAD_USER_INPUT'])
    expect(res.errors?.[0]?.message).toContain("Error validating 'yesterday' to type DateTime")
    // The other pipe of the request still answers.
    expect(res.data?.pipes.top_customers).toBeNull()
    expect(res.data?.pipes.countries).toHaveLength(3)
    const missing = await gql(server, OrderLookupDocument, { orderId: 'x' } as never, server.adminToken)
    expect(codes(missing)).toEqual(['BAD_USER_INPUT'])
  })
})
