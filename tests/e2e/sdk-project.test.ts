import 'reflect-metadata'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Tinybird } from '@tinybirdco/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dailyViews, pageViews, topPages } from '../fixtures/sdk-project/tinybird/definitions.js'
import { spawnNode } from '../helpers/process.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

const run = promisify(execFile)
const PROJECT = fileURLToPath(new URL('../fixtures/sdk-project', import.meta.url))
const SDK_CLI = fileURLToPath(new URL('../../node_modules/@tinybirdco/sdk/bin/tinybird.js', import.meta.url))
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))

/**
 * A project written with Tinybird's TypeScript SDK: the SDK's own `tinybird generate` writes its datafiles,
 * Sightline loads them, and the SDK's typed client (`new Tinybird({ datasources, pipes })`) ingests into the
 * datasource (its materialized view follows) and queries the endpoint.
 */
/** The SDK's typed client over the project's definitions. */
const typedClient = (baseUrl: string, token: string) => new Tinybird({ datasources: { pageViews, dailyViews }, pipes: { topPages }, baseUrl, token })

describe('a Tinybird TypeScript SDK project', () => {
  let server: TestServer
  let tinybird: ReturnType<typeof typedClient>
  let base: string

  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'sightline-sdk-generated-'))
    await run(process.execPath, [SDK_CLI, 'generate', '--output-dir', out], { cwd: PROJECT, env: { ...process.env, TINYBIRD_TOKEN: 'unused', TINYBIRD_URL: 'http://127.0.0.1:1' } })
    expect(readdirSync(join(out, 'datasources')).sort()).toEqual(['daily_views.datasource', 'page_views.datasource'])
    server = await startTestServer({ SIGHTLINE_PROJECT: out, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
    base = server.url.replace(/\/graphql$/, '')
    tinybird = typedClient(base, server.adminToken)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('ingests through the typed client and answers the typed endpoint', async () => {
    await tinybird.pageViews.ingest({ timestamp: '2026-11-30 10:00:00', pathname: '/a', session_id: 's1', country: 'ES', duration_ms: 10, tags: ['x', 'y'] })
    await tinybird.pageViews.ingest({ timestamp: '2026-11-30 10:05:00', pathname: '/a', session_id: 's2', country: null, duration_ms: 20, tags: [] })
    await tinybird.pageViews.ingest({ timestamp: '2026-11-30 11:00:00', pathname: '/b', session_id: 's1', country: 'FR', duration_ms: 5, tags: ['z'] })
    const answer = await tinybird.topPages.query({ start_date: '2026-11-30 00:00:00', end_date: '2026-12-01 00:00:00' })
    expect(answer.data.map((r) => ({ ...r, views: Number(r.views), sessions: Number(r.sessions) }))).toEqual([
      { pathname: '/a', views: 2, sessions: 2, avg_ms: 15 },
      { pathname: '/b', views: 1, sessions: 1, avg_ms: 5 },
    ])
    expect(answer.meta.map((m) => m.type)).toEqual(['String', 'UInt64', 'UInt64', 'Float64'])
    const limited = await tinybird.topPages.query({ start_date: '2026-11-30 00:00:00', end_date: '2026-12-01 00:00:00', limit: 1 })
    expect(limited.data.map((r) => r.pathname)).toEqual(['/a'])
  })

  it('stores the rows as the SDK wrote the schema (arrays, nullable, low cardinality) and feeds the materialized view', async () => {
    const sql = async (q: string) => ((await (await fetch(`${base}/v0/sql?q=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${server.adminToken}` } })).json()) as { data: unknown[] }).data
    expect(await sql('SELECT pathname, country, tags FROM page_views ORDER BY timestamp')).toEqual([
      { pathname: '/a', country: 'ES', tags: ['x', 'y'] },
      { pathname: '/a', country: null, tags: [] },
      { pathname: '/b', country: 'FR', tags: ['z'] },
    ])
    expect(await sql('SELECT pathname, sum(views) AS views FROM daily_views GROUP BY pathname ORDER BY pathname')).toEqual([
      { pathname: '/a', views: 2 },
      { pathname: '/b', views: 1 },
    ])
  })

  it('is tested as it is by sightline test: its SDK generates the datafiles, its fixtures and tests/ are read', async () => {
    const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: '', CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '', TINYBIRD_TOKEN: '', TINYBIRD_URL: '' }
    const { stdout } = await run(process.execPath, [BIN, 'test', '--project', PROJECT], { env, timeout: 170_000 })
    expect(stdout).toContain('fixtures: fixtures/page_views.ndjson → page_views: 3 rows')
    expect(stdout).toMatch(/✓ tests\/top_pages\.yaml › top_pages_november_30/)
    expect(stdout).toContain('2 passed, 0 failed')
  })

  it('is served as it is by sightline start, its SDK generating the datafiles', async () => {
    const admin = `admin_${randomBytes(8).toString('hex')}`
    const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: admin, SIGHTLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'sightline-sdk-start-')), CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '', PORT: '0', SIGHTLINE_LOG_LEVEL: 'warn', TINYBIRD_TOKEN: '', TINYBIRD_URL: '' }
    const started = spawnNode([BIN, 'start', '--project', PROJECT], env)
    try {
      const url = await started.waitForLine((line) => /Sightline is serving (http:\/\/\S+)\/graphql/.exec(line)?.[1], 'the serving line')
      const client = typedClient(url, admin)
      await client.pageViews.ingest({ timestamp: '2026-11-30 09:00:00', pathname: '/c', session_id: 's9', country: 'IT', duration_ms: 1, tags: [] })
      const answer = await client.topPages.query({ start_date: '2026-11-30 00:00:00', end_date: '2026-12-01 00:00:00' })
      expect(answer.data.map((r) => r.pathname)).toEqual(['/c'])
    } finally {
      await started.kill('SIGINT')
    }
  })
})
