import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gql } from '../helpers/server.js'
import { testStoreConfig } from '../helpers/store.js'

/** The Forward-layout fixture: clicks → daily_pages (materialized), top_pages/page_trend endpoints, a copy pipe, TOKEN lines. */
const FORWARD = fileURLToPath(new URL('../fixtures/projects/forward', import.meta.url))

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }
type Minted = ReadonlyArray<{ name: string; secret: string; scopes: readonly string[] }>

describe('a loaded project’s HTTP surface: datafile tokens, pipe list, OpenAPI, /v0/sql, copies, settings, service logs', () => {
  const admin = `admin_${randomBytes(12).toString('hex')}`
  const database = `p_${randomBytes(5).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'sightline-surface-'))
  const store = testStoreConfig()
  let server: RunningServer
  let base: string
  let minted: Minted = []
  const secretOf = (name: string) => minted.find((t) => t.name === name)?.secret ?? ''

  const start = async () => {
    const config = loadConfig(
      { PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: admin, SIGHTLINE_AUTH_FAILURES_PER_MINUTE: '0', SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: database },
      { store },
    )
    let got: Minted = []
    const running = await startServer(config, { onProjectTokens: (m) => (got = m) })
    return { running, got }
  }
  const get = (path: string, token = admin) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
  const post = (path: string, body: string, token = admin) => fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body })
  const sql = async (q: string, token = admin) => get(`/v0/sql?q=${encodeURIComponent(q)}`, token)

  beforeAll(async () => {
    cpSync(FORWARD, dir, { recursive: true })
    // On demand only here: an hourly run landing mid-test would add rows to the snapshot the test counts.
    const copy = join(dir, 'copies', 'snapshot_pages.pipe')
    writeFileSync(copy, readFileSync(copy, 'utf8').replace('COPY_SCHEDULE 0 * * * *', 'COPY_SCHEDULE @on-demand'))
    // max_threads from a template, applied to the query (getSetting reads it back).
    writeFileSync(join(dir, 'endpoints', 'threads.pipe'), "NODE t\nSQL >\n    %\n    {{ max_threads(3) }}\n    SELECT getSetting('max_threads') AS threads\n\nTYPE endpoint\n")
    const first = await start()
    server = first.running
    minted = first.got
    base = server.url.replace(/\/graphql$/, '')
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('mints one stored token per TOKEN name, with Sightline scopes, and shows each secret only on the start that created it', async () => {
    expect(minted.map((t) => ({ name: t.name, scopes: t.scopes })).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'dashboard', scopes: ['read:datasource:clicks', 'read:pipe:top_pages', 'sql'] },
      { name: 'tracker', scopes: ['append:clicks'] },
    ])
    for (const t of minted) expect(t.secret).toMatch(/^sl_/)

    const tracker = secretOf('tracker')
    const dashboard = secretOf('dashboard')
    // clicks keeps 90 days (ENGINE_TTL): a recent click.
    const click = JSON.stringify({ ts: new Date().toISOString().slice(0, 19).replace('T', ' '), session: { id: 's9' }, page: '/docs' })
    expect((await post('/v0/events?name=clicks&wait=true', click, tracker)).status).toBe(200)
    expect((await post('/v0/events?name=clicks&wait=true', click, dashboard)).status).toBe(403)
    expect((await get('/v0/pipes/top_pages.json', tracker)).status).toBe(403)
    const top = await get('/v0/pipes/top_pages.json', dashboard)
    expect(top.status).toBe(200)
    expect(((await top.json()) as Envelope).data).toEqual([{ page: '/docs', views: 1, visitors: 1 }])
    expect((await get('/v0/pipes/page_trend.json', dashboard)).status).toBe(403)

    // The same scope kinds are grantable to new tokens (GraphQL createToken), bare or database-qualified.
    for (const scopes of [['append:clicks'], ['read:pipe:top_pages', 'read:datasource:clicks'], [`append:${database}.clicks`]]) {
      const res = await gql(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, admin)
      expect(res.errors, scopes.join()).toBeUndefined()
    }
    const refused = await gql(server, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['append:tokens'] } }, admin)
    expect(refused.errors?.[0]?.message).toMatch(/unknown scope/)
  })

  it('lists the project’s pipes with their parameters, and an OpenAPI document of its endpoints', async () => {
    const list = (await (await get('/v0/pipes')).json()) as { pipes: Array<{ name: string; type: string; parameters: Array<{ name: string; type: string; default: unknown; required: boolean }> }> }
    expect(list.pipes.map((p) => `${p.name}:${p.type}`).sort()).toEqual(['daily_pages_mv:materialized', 'page_trend:endpoint', 'page_views:default', 'snapshot_pages:copy', 'threads:endpoint', 'top_pages:endpoint'])
    const top = list.pipes.find((p) => p.name === 'top_pages')!
    expect(top.parameters).toEqual([
      { name: 'start', type: 'DateTime', default: '2024-01-01 00:00:00', required: false, description: null },
      { name: 'country', type: 'String', default: null, required: false, description: null },
      { name: 'limit', type: 'Int32', default: 10, required: false, description: 'rows to return' },
    ])
    // A read token lists only what it may read; the built-in pipes stay listed under ?builtin=true.
    const mine = (await (await get('/v0/pipes', secretOf('dashboard'))).json()) as { pipes: Array<{ name: string }> }
    expect(mine.pipes.map((p) => p.name)).toEqual(['top_pages'])
    const builtin = (await (await get('/v0/pipes?builtin=true')).json()) as { pipes: Array<{ name: string }> }
    expect(builtin.pipes.map((p) => p.name)).toContain('api_product_grid')

    const doc = (await (await fetch(`${base}/v0/pipes/openapi.json`)).json()) as { openapi: string; paths: Record<string, { get: { parameters: Array<{ name: string; schema: Record<string, unknown> }> } }> }
    expect(doc.openapi).toBe('3.0.3')
    expect(Object.keys(doc.paths).sort()).toEqual(['/v0/pipes/page_trend.{format}', '/v0/pipes/threads.{format}', '/v0/pipes/top_pages.{format}'])
    const limit = doc.paths['/v0/pipes/top_pages.{format}']!.get.parameters.find((p) => p.name === 'limit')!
    expect(limit.schema).toMatchObject({ type: 'integer', default: 10 })
  })

  it('describes the project’s datasources (GET /v0/datasources), the built-in ones under ?builtin=true', async () => {
    const list = (await (await get('/v0/datasources')).json()) as { datasources: Array<{ name: string; type: string }> }
    expect(list.datasources.map((d) => `${d.name}:${d.type}`).sort()).toEqual(['clicks:landing', 'daily_pages:materialized', 'pages_snapshot:materialized'])
    const clicks = (await (await get('/v0/datasources/clicks')).json()) as { columns: Array<{ name: string; type: string; jsonpath: string | null }>; engine: { engine: string; sorting_key: string } }
    expect(clicks.columns.find((c) => c.name === 'session_id')).toMatchObject({ type: 'String', jsonpath: '$.session.id' })
    expect(clicks.engine).toMatchObject({ engine: 'MergeTree', sorting_key: 'page, timestamp' })
    const builtin = (await (await get('/v0/datasources?builtin=true')).json()) as { datasources: Array<{ name: string }> }
    expect(builtin.datasources.map((d) => d.name)).toContain('ecomm_events')
    expect((await get('/v0/datasources/ecomm_events')).status).toBe(200) // a name the project does not have
  })

  it('serves /v0/sql over the project’s datasources for tokens that may read them', async () => {
    const res = await sql('SELECT page, count() AS n FROM clicks GROUP BY page ORDER BY page')
    expect(res.status).toBe(200)
    expect(((await res.json()) as Envelope).data).toEqual([{ page: '/docs', n: 1 }])
    expect((await sql('SELECT count() AS n FROM clicks', secretOf('dashboard'))).status).toBe(200)
    const other = await sql('SELECT count() FROM pages_snapshot', secretOf('dashboard'))
    expect(other.status).toBe(403)
    expect((await sql(`SELECT count() FROM ${database}.clicks`)).status).toBe(403)
    // The built-in datasources stay readable where the project does not shadow their names.
    expect((await sql('SELECT count() AS n FROM ecomm_events')).status).toBe(200)
  })

  it('runs q= over a project pipe’s answer, and applies max_threads from the template to the query', async () => {
    const over = await get(`/v0/pipes/top_pages.json?q=${encodeURIComponent('SELECT count() AS pages FROM _')}`)
    expect(over.status).toBe(200)
    expect(((await over.json()) as Envelope).data).toEqual([{ pages: 1 }])
    const threads = (await (await get('/v0/pipes/threads.json')).json()) as Envelope
    expect(threads.data).toEqual([{ threads: 3 }])
    // .parquet and .prometheus answer (tests/e2e/project-parquet.test.ts); a pipe without Prometheus's
    // name and value columns is refused by ClickHouse (400).
    expect((await get('/v0/pipes/top_pages.parquet')).status).toBe(200)
    expect((await get('/v0/pipes/top_pages.prometheus')).status).toBe(400)
  })

  it('runs a copy pipe on demand (POST /v0/pipes/<name>/copy), into its target, with the copy and append scopes', async () => {
    const res = await post('/v0/pipes/snapshot_pages/copy', '')
    expect(res.status).toBe(200)
    const job = (await res.json()) as Record<string, unknown>
    expect(job).toMatchObject({ kind: 'copy', status: 'done', pipe_name: 'snapshot_pages', datasource: { name: 'pages_snapshot' }, mode: 'append', rows: 1 })
    await post('/v0/pipes/snapshot_pages/copy?days=30', '')
    const snap = (await (await sql('SELECT page, views FROM pages_snapshot ORDER BY page')).json()) as Envelope
    expect(snap.data).toEqual([
      { page: '/docs', views: 1 },
      { page: '/docs', views: 1 },
    ])
    expect((await post('/v0/pipes/snapshot_pages/copy', '', secretOf('dashboard'))).status).toBe(403)
    expect((await post('/v0/pipes/top_pages/copy', '')).status).toBe(404)
    const bad = await post('/v0/pipes/snapshot_pages/copy?days=many', '')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toContain('days')
  })

  it('answers the official @tinybirdco/sdk with the datafiles’ own tokens', async () => {
    const tracker = createTinybirdApi({ baseUrl: base, token: secretOf('tracker') })
    const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ')
    expect(await tracker.ingestBatch('clicks', [{ ts: stamp, session: { id: 'sdk1' }, page: '/sdk' }])).toEqual({ successful_rows: 1, quarantined_rows: 0 })
    const dashboard = createTinybirdApi({ baseUrl: base, token: secretOf('dashboard') })
    const top = await dashboard.query<{ page: string; views: number }>('top_pages', { limit: 10 })
    expect(top.data.find((r) => r.page === '/sdk')).toEqual({ page: '/sdk', views: 1, visitors: 1 })
  })

  it('stores a batch retried with the same idempotency key once', async () => {
    const count = async () => Number(((await (await sql("SELECT count() AS n FROM clicks WHERE page = '/retried'")).json()) as Envelope).data[0]?.n)
    const body = JSON.stringify({ ts: new Date().toISOString().slice(0, 19).replace('T', ' '), session: { id: 'r1' }, page: '/retried' })
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}/v0/events?name=clicks&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'idempotency-key': 'batch-1' }, body })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ successful_rows: 1, quarantined_rows: 0 })
    }
    expect(await count()).toBe(1)
    expect((await post('/v0/events?name=clicks&wait=true&idempotency_key=batch-2', body)).status).toBe(200)
    expect(await count()).toBe(2)
  })

  it('records project pipe reads in the operation log, as the built-in pipes are', async () => {
    await get('/v0/pipes/top_pages.json')
    let n = 0
    for (let i = 0; i < 50 && n === 0; i++) {
      const res = (await (await sql("SELECT count() AS n FROM operation_log WHERE operation = 'top_pages'")).json()) as Envelope
      n = Number(res.data[0]?.n ?? 0)
      if (n === 0) await new Promise((r) => setTimeout(r, 200))
    }
    expect(n).toBeGreaterThan(0)
  })

  it('does not mint the datafiles’ tokens again on restart', async () => {
    await server.stop()
    const again = await start()
    server = again.running
    base = server.url.replace(/\/graphql$/, '')
    expect(again.got).toEqual([])
    expect((await get('/v0/pipes/top_pages.json', secretOf('dashboard'))).status).toBe(200)
  })
})
