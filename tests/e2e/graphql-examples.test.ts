import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { AppDashboardDocument } from '../generated/example-app-analytics.js'
import { ShopGridDocument } from '../generated/example-ecommerce.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

// The example projects' endpoints as typed GraphQL fields, through clients codegen'd from their schemas
// (tests/generated/example-*.graphql): each pipe answers over GraphQL what it answers over REST.
const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url))

/** A pipe's rows over REST, 64-bit integers as strings (the GraphQL Int64 form). */
async function restRows(server: TestServer, pipe: string, params: Record<string, string | string[] | undefined>): Promise<unknown[]> {
  const search = new URLSearchParams({ output_format_json_quote_64bit_integers: '1' })
  for (const [key, value] of Object.entries(params)) for (const v of value === undefined ? [] : [value].flat()) search.append(key, v)
  const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/v0/pipes/${pipe}.json?${search}`, { headers: { authorization: `Bearer ${server.adminToken}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: unknown[] }).data
}

describe('examples/app-analytics as typed GraphQL', () => {
  let server: TestServer
  const database = `p_${randomBytes(5).toString('hex')}`
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: example('app-analytics'), SIGHTLINE_PROJECT_DATABASE: database })
    await server.project!.loadFixtures()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it.each([
    { workspaceId: 'ws_a', start: '2026-11-01 00:00:00', end: '2026-11-30 00:00:00' },
    { workspaceId: 'ws_b', start: '2026-11-01 00:00:00', end: '2026-11-30 00:00:00', device: 'desktop', limit: 2 },
    { workspaceId: 'ws_a', start: '2026-11-20 00:00:00', end: '2026-11-30 00:00:00', platforms: ['android', 'ios'] },
  ])('answers six pipes in one request as REST does, for %o', async (variables) => {
    const data = await gqlOk(server, AppDashboardDocument, variables, server.adminToken)
    const params = { ...variables, limit: variables.limit === undefined ? undefined : String(variables.limit) }
    let rows = 0
    for (const [pipe, answer] of Object.entries(data.pipes)) {
      expect(answer, pipe).toEqual(await restRows(server, pipe, params))
      rows += answer?.length ?? 0
    }
    expect(rows).toBeGreaterThan(0)
  })

  it('needs workspaceId (non-null, required=True in the template) and checks each pipe’s scope', async () => {
    const missing = await gql(server, AppDashboardDocument, {} as never, server.adminToken)
    expect(codes(missing)).toEqual(['BAD_USER_INPUT'])
    // The example's pipes share the built-in pipes' names, so their scopes carry the project database.
    const scopes = [`read:pipe:${database}.v2_page_devices`]
    const token = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('devices'), scopes } }, server.adminToken)).createToken.token
    const partial = await gql(server, AppDashboardDocument, { workspaceId: 'ws_a', start: '2026-11-01 00:00:00' }, token)
    expect(partial.data?.pipes.v2_page_devices?.length).toBeGreaterThan(0)
    expect(partial.data?.pipes.v2_cart_browsers).toBeNull()
    expect(codes(partial)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'])
  })
})

describe('examples/ecommerce as typed GraphQL', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: example('ecommerce'), SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
    await server.project!.loadFixtures()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it.each([{}, { category: 'shoes', ranking: '1', showOos: '1' }, { category: 'bags' }])('answers the product grid as REST does, for %o', async (variables) => {
    const data = await gqlOk(server, ShopGridDocument, variables, server.adminToken)
    const grid = await restRows(server, 'api_product_grid', { category: variables.category, ranking: variables.ranking, show_oos: variables.showOos })
    expect(grid.length).toBeGreaterThan(0)
    expect(data.pipes.api_product_grid).toEqual(grid)
    expect(data.pipes.api_ui_filters).toEqual(await restRows(server, 'api_ui_filters', { filter: 'value' }))
  })
})
