import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createTinybirdApi, TinybirdApiError, type TinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** `events` and `users`; endpoints `user_totals` (spend per user) and `big_spenders` (min_spent, plan). */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

/**
 * Tinybird's Query API over a loaded project's endpoints: a query reads an endpoint by its name (its
 * answer for the request's parameters), and `pipeline=<endpoint>` as `_`, for tokens that may read it.
 */
describe('/v0/sql over a loaded project’s endpoints', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let admin: TinybirdApi
  let base: string
  const sql = async <T>(q: string, api = admin, params = '') => ((await api.requestJson(`/v0/sql?q=${encodeURIComponent(q)}${params}`)) as { data: T[] }).data

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: CLASSIC, SIGHTLINE_PROJECT_DATABASE: database })
    base = server.url.replace(/\/graphql$/, '')
    admin = createTinybirdApi({ baseUrl: base, token: server.adminToken })
    const at = '2026-11-30 10:00:00'
    await admin.ingestBatch('users', [1, 2, 3].map((id) => ({ user_id: id, name: `u${id}`, plan: id === 3 ? 'pro' : 'free', updated_at: at })), { wait: true })
    const spend = [
      [1, 50],
      [1, 70],
      [2, 30],
      [3, 500],
    ]
    await admin.ingestBatch('events', spend.map(([user, amount]) => ({ timestamp: at, user_id: user, event: 'buy', amount })), { wait: true })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('reads an endpoint by its name, with the request’s parameters', async () => {
    expect(await sql<{ user_id: number; spent: number }>('SELECT user_id, spent FROM user_totals ORDER BY user_id')).toEqual([
      { user_id: 1, spent: 120 },
      { user_id: 2, spent: 30 },
      { user_id: 3, spent: 500 },
    ])
    expect(await sql<{ n: number }>('SELECT count() AS n FROM big_spenders')).toEqual([{ n: 2 }])
    expect(await sql<{ n: number }>('SELECT count() AS n FROM big_spenders', admin, '&min_spent=200')).toEqual([{ n: 1 }])
    // An endpoint joined with a datasource, as any table.
    expect(await sql<{ plan: string; spent: number }>('SELECT u.plan, sum(t.spent) AS spent FROM user_totals AS t JOIN users AS u FINAL USING user_id GROUP BY u.plan ORDER BY u.plan')).toEqual([
      { plan: 'free', spent: 150 },
      { plan: 'pro', spent: 500 },
    ])
  })

  it('reads a datasource with FINAL as its latest rows, as ClickHouse would', async () => {
    await admin.ingestBatch('users', [{ user_id: 1, name: 'u1, renamed', plan: 'pro', updated_at: '2026-11-30 11:00:00' }], { wait: true })
    expect(await sql<{ n: number }>('SELECT count() AS n FROM users')).toEqual([{ n: 4 }])
    expect(await sql<{ name: string }>('SELECT name FROM users AS u FINAL WHERE user_id = 1')).toEqual([{ name: 'u1, renamed' }])
    expect(await sql<{ n: number }>("SELECT count() AS n FROM users FINAL WHERE name != 'users FINAL'")).toEqual([{ n: 3 }])
  })

  it('reads pipeline=<endpoint> as _', async () => {
    expect(await sql<{ total: number }>('SELECT sum(spent) AS total FROM _', admin, '&pipeline=user_totals')).toEqual([{ total: 650 }])
    await expect(sql('SELECT 1 FROM _', admin, '&pipeline=no_such_pipe')).rejects.toMatchObject({ statusCode: 404 })
  })

  it('refuses a token that may not read the endpoint it names', async () => {
    const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token
    const reader = createTinybirdApi({ baseUrl: base, token: await token(['sql', 'read:pipe:user_totals']) })
    expect(await sql<{ n: number }>('SELECT count() AS n FROM user_totals', reader)).toEqual([{ n: 3 }])
    const other = createTinybirdApi({ baseUrl: base, token: await token(['sql', 'read:pipe:big_spenders']) })
    const refused = await sql('SELECT count() FROM user_totals', other).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(TinybirdApiError)
    expect((refused as TinybirdApiError).statusCode).toBe(403)
  })
})
