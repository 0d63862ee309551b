import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createTinybirdApi, type TinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** `visits` and two endpoints: `page_visits` (days: Int32) and `endpoint_usage`, over tinybird.pipe_stats_rt and tinybird.endpoint_errors. */
const PROJECT = fileURLToPath(new URL('../fixtures/projects/service-data', import.meta.url))

/**
 * Tinybird's service datasources (`tinybird.pipe_stats_rt`, `pipe_stats`, `datasources_ops_log`,
 * `endpoint_errors`) from Sightline's own logs: in a project's endpoint, and on `/v0/sql` for admins.
 */
describe('tinybird.* service datasources', () => {
  let server: TestServer
  let base: string
  let admin: TinybirdApi
  const sql = async <T>(q: string, api = admin) => ((await api.requestJson(`/v0/sql?q=${encodeURIComponent(q)}`)) as { data: T[] }).data

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: PROJECT, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
    base = server.url.replace(/\/graphql$/, '')
    admin = createTinybirdApi({ baseUrl: base, token: server.adminToken })
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
    await admin.ingestBatch('visits', [{ timestamp: now, page: '/a' }, { timestamp: now, page: '/b' }, { timestamp: now, page: '/a' }], { wait: true })
    for (let i = 0; i < 3; i++) expect((await admin.query('page_visits')).data).toEqual([{ page: '/a', visits: 2 }, { page: '/b', visits: 1 }])
    const bad = await fetch(`${base}/v0/pipes/page_visits.json?days=many`, { headers: { authorization: `Bearer ${server.adminToken}` } })
    expect(bad.status).toBe(400)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('answers an endpoint over tinybird.pipe_stats_rt and tinybird.endpoint_errors with the requests made', async () => {
    // The service log is written every second: the endpoint sees the requests once they are.
    await expect
      .poll(async () => (await admin.query<Record<string, unknown>>('endpoint_usage', { pipe: 'page_visits' })).data, { timeout: 15_000, interval: 300 })
      .toEqual([{ pipe_name: 'page_visits', requests: 4, errors: 1, worst_status: 400, logged_errors: 1 }])
  })

  it('serves them on /v0/sql to admins, by Tinybird’s names and types, and to no one else', async () => {
    const rows = await sql<Record<string, unknown>>(
      "SELECT pipe_name, toTypeName(start_datetime) AS t, toTypeName(duration) AS d, status_code, token_name FROM tinybird.pipe_stats_rt WHERE pipe_name = 'page_visits' ORDER BY status_code",
    )
    expect(rows.map((r) => r.status_code)).toEqual([200, 200, 200, 400])
    expect(rows[0]).toMatchObject({ t: "DateTime('UTC')", d: 'Float32' })
    const daily = await sql<{ view_count: number; error_count: number; q: number[] }>(
      "SELECT sum(view_count) AS view_count, sum(error_count) AS error_count, quantilesTimingMerge(0.9, 0.95, 0.99)(quantile_timing_state) AS q FROM tinybird.pipe_stats WHERE pipe_name = 'page_visits'",
    )
    expect(daily[0]).toMatchObject({ view_count: 4, error_count: 1 })
    expect(daily[0]?.q).toHaveLength(3)
    // Query API requests are Tinybird's `query_api`.
    await expect.poll(async () => (await sql<{ n: number }>("SELECT count() AS n FROM tinybird.pipe_stats_rt WHERE pipe_name = 'query_api'"))[0]?.n, { timeout: 15_000 }).toBeGreaterThan(0)
    const ops = await sql<{ datasource_name: string; rows: number; event_type: string; result: string }>(
      "SELECT datasource_name, rows, event_type, result FROM tinybird.datasources_ops_log WHERE datasource_name = 'visits'",
    )
    expect(ops).toEqual([{ datasource_name: 'visits', rows: 3, event_type: 'append', result: 'ok' }])
    // The name inside a string stays a string; a column Sightline does not record is ClickHouse's unknown column.
    expect(await sql<{ s: string }>("SELECT 'tinybird.pipe_stats_rt' AS s")).toEqual([{ s: 'tinybird.pipe_stats_rt' }])
    await expect(sql('SELECT result_rows FROM tinybird.pipe_stats_rt')).rejects.toThrow(/result_rows/)
    const reader = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['sql', 'read'] } }, server.adminToken)).createToken.token
    await expect(sql('SELECT count() FROM tinybird.pipe_stats_rt', createTinybirdApi({ baseUrl: base, token: reader }))).rejects.toThrow(/403|may not read/)
  })
})
