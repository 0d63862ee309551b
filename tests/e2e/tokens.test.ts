import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppTotalsDocument, CreateJwtDocument, CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

describe('an admin bound to a workspace mints tokens for that workspace only', () => {
  let server: TestServer
  let boundAdmin: string
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_JWT_SECRET: 'x'.repeat(40) })
    const input = { name: uid('bound-admin'), scopes: ['admin'], workspaceId: 'ws_a' }
    boundAdmin = (await gqlOk(server, CreateTokenDocument, { input }, server.adminToken)).createToken.token
  })
  afterAll(() => server?.stop())

  it('binds a token it creates without a workspace to its own', async () => {
    const created = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('t'), scopes: ['read'] } }, boundAdmin)).createToken
    expect(created.workspaceId).toBe('ws_a')
    expect(codes(await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: 'ws_b' }, created.token))).toEqual(['FORBIDDEN'])
    expect(codes(await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: 'ws_a' }, created.token))).toEqual([])
  })

  it('refuses a token or JWT for another workspace', async () => {
    const other = { name: uid('t'), scopes: ['read'], workspaceId: 'ws_b' }
    expect(codes(await gql(server, CreateTokenDocument, { input: other }, boundAdmin))).toEqual(['FORBIDDEN'])
    expect(codes(await gql(server, CreateJwtDocument, { input: other }, boundAdmin))).toEqual(['FORBIDDEN'])
    const jwt = (await gqlOk(server, CreateJwtDocument, { input: { name: 'shop', scopes: ['read'] } }, boundAdmin)).createJwt
    expect(jwt.workspaceId).toBe('ws_a')
  })

  it('leaves an unbound admin free to bind or not', async () => {
    const free = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('t'), scopes: ['read'] } }, server.adminToken)).createToken
    expect(free.workspaceId).toBeNull()
  })
})
