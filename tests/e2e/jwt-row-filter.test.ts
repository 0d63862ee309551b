import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import { createTinybirdApi, TinybirdApiError, type TinybirdApi, type TinybirdApiTokenScope } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.js'

/** The Classic-layout fixture: `events` (timestamp, user_id, event, amount), `users`, `user_daily` (a view's target). */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))
const SECRET = randomBytes(32).toString('hex')

/**
 * A Tinybird JWT's `DATASOURCES:READ` scope reads its datasource through the Query API (`/v0/sql`), and with
 * a `filter` only the rows the condition holds for (row-level security), whatever the SQL around it; a
 * filter that is not one condition is the token's fault (403) and reads nothing. Minted and used through
 * the official SDK.
 */
describe('JWT DATASOURCES:READ with a row filter', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  let admin: TinybirdApi
  const api = (token: string) => createTinybirdApi({ baseUrl: base, token })
  const mint = async (scopes: TinybirdApiTokenScope[]) => (await admin.createToken({ name: 'tenant', scopes }, { expirationTime: Math.floor(Date.now() / 1000) + 600 })).token
  const rows = async (token: string, sql: string) => (await api(token).sql<Record<string, unknown>>(sql)).data
  const failure = async (call: Promise<unknown>): Promise<{ status: number; body: string }> => {
    try {
      await call
    } catch (err) {
      if (err instanceof TinybirdApiError) return { status: err.statusCode, body: err.responseBody ?? err.message }
      throw err
    }
    throw new Error('the call succeeded')
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: CLASSIC, SIGHTLINE_PROJECT_DATABASE: database, SIGHTLINE_JWT_SECRET: SECRET })
    base = server.url.replace(/\/graphql$/, '')
    admin = api(server.adminToken)
    const events = [1, 1, 1, 2, 2, 3].map((user_id, i) => ({ timestamp: `2026-01-0${1 + (i % 3)} 10:00:00`, user_id, event: i % 2 ? 'buy' : 'view', amount: 10 * (i + 1) }))
    await admin.ingestBatch('events', events, { wait: true })
    // One misfit, quarantined: a filtered reader must not see it.
    await admin.ingestBatch('events', [{ timestamp: 'not a time', user_id: 3, event: 'x' }], { wait: true })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('reads the whole datasource (and its quarantine) without a filter, and no other datasource', async () => {
    const token = await mint([{ type: 'DATASOURCES:READ', resource: 'events' }])
    expect(await rows(token, 'SELECT count() AS n FROM events')).toEqual([{ n: 6 }])
    expect((await rows(token, 'SELECT count() AS n FROM events_quarantine'))[0]?.n).toBe(1)
    expect((await failure(rows(token, 'SELECT count() FROM users'))).status).toBe(403)
    expect((await failure(api(token).query('big_spenders'))).status).toBe(403)
  })

  it('reads only the rows its filter holds for, however the SQL reads the datasource', async () => {
    const token = await mint([{ type: 'DATASOURCES:READ', resource: 'events', filter: 'user_id = 1' }])
    expect(await rows(token, 'SELECT count() AS n, sum(amount) AS total FROM events')).toEqual([{ n: 3, total: 10 + 20 + 30 }])
    expect(await rows(token, 'SELECT DISTINCT user_id FROM events ORDER BY user_id')).toEqual([{ user_id: 1 }])
    const spelled = [
      'SELECT DISTINCT user_id FROM events AS e WHERE user_id != 1 OR 1 = 1',
      'SELECT DISTINCT user_id FROM (SELECT * FROM events) UNION DISTINCT SELECT user_id FROM events',
      'WITH everything AS (SELECT * FROM events) SELECT DISTINCT user_id FROM everything',
      'SELECT DISTINCT b.user_id AS user_id FROM events AS a CROSS JOIN events AS b',
      'SELECT DISTINCT user_id FROM events WHERE user_id IN (SELECT user_id FROM events WHERE user_id > 1) OR 1',
    ]
    for (const sql of spelled) expect(await rows(token, sql), sql).toEqual([{ user_id: 1 }])
    // The quarantine holds other tenants' rows, which the filter cannot sort: closed.
    expect((await failure(rows(token, 'SELECT count() FROM events_quarantine'))).status).toBe(403)
  })

  it('reads the rows either of two filtered scopes holds for; one unfiltered scope reads them all', async () => {
    const two = await mint([
      { type: 'DATASOURCES:READ', resource: 'events', filter: 'user_id = 1' },
      { type: 'DATASOURCES:READ', resource: 'events', filter: "event = 'buy' AND user_id = 2" },
    ])
    expect(await rows(two, 'SELECT user_id, count() AS n FROM events GROUP BY user_id ORDER BY user_id')).toEqual([
      { user_id: 1, n: 3 },
      { user_id: 2, n: 1 },
    ])
    const whole = await mint([
      { type: 'DATASOURCES:READ', resource: 'events', filter: 'user_id = 1' },
      { type: 'DATASOURCES:READ', resource: 'events' },
    ])
    expect(await rows(whole, 'SELECT count() AS n FROM events')).toEqual([{ n: 6 }])
  })

  it('refuses (403) a filter that is not one condition, reads another datasource or calls what the Query API forbids', async () => {
    const filters = [
      'user_id = 1) UNION ALL (SELECT * FROM events', // closes its bracket to add a branch
      'user_id = 1) ORDER BY (user_id', // closes its bracket to add a clause
      'user_id = 1 SETTINGS max_threads = 1',
      'user_id = 1 -- the rest is a comment',
      'user_id = 1; DROP TABLE events',
      'user_id IN (SELECT user_id FROM users)', // a datasource the token may not read
      'sleep(1) = 0',
      'user_id IN (SELECT number FROM file(\'/etc/passwd\'))',
      'user_id = ',
    ]
    for (const filter of filters) {
      const token = await mint([{ type: 'DATASOURCES:READ', resource: 'events', filter }])
      const refused = await failure(rows(token, 'SELECT count() AS n FROM events'))
      expect(refused.status, filter).toBe(403)
      expect(refused.body, filter).not.toMatch(/Code: \d+|DB::Exception/)
    }
  })

  it('checks the filter’s shape when minting: a string, only on DATASOURCES:READ', async () => {
    for (const scopes of [
      [{ type: 'DATASOURCES:READ', resource: 'events', filter: '' }],
      [{ type: 'DATASOURCES:READ', resource: 'events', filter: 42 as unknown as string }],
      [{ type: 'PIPES:READ', resource: 'big_spenders', filter: 'user_id = 1' }],
    ]) {
      expect((await failure(mint(scopes))).status, JSON.stringify(scopes)).toBe(400)
    }
  })

  it('holds for a JWT the application signs itself', async () => {
    const now = Math.floor(Date.now() / 1000)
    const jwt = await new SignJWT({ workspace_id: 'any', name: 'self_signed', scopes: [{ type: 'DATASOURCES:READ', resource: 'events', filter: 'user_id = 3' }] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(SECRET))
    expect(await rows(jwt, 'SELECT user_id, count() AS n FROM events GROUP BY user_id')).toEqual([{ user_id: 3, n: 1 }])
  })
})
