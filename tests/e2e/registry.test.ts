import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { ProjectService } from '../../src/domain/project.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { testStoreConfig } from '../helpers/store.js'

const FORWARD = fileURLToPath(new URL('../fixtures/projects/forward', import.meta.url))

type PipeList = { pipes: Array<{ name: string }> }
type OpenApi = { paths: Record<string, unknown> }

/**
 * The registry: a loaded project's datasources and pipes are catalog entries beside the built-in ones, and
 * every list (`GET /v0/pipes`, OpenAPI, `/v0/datasources`, `/v0/sql`'s readable tables) and the one pipe
 * route read that catalog — at start and after a reload, together.
 */
describe('one catalog for built-in and project pipes and datasources', () => {
  const admin = `admin_${randomBytes(12).toString('hex')}`
  const database = `r_${randomBytes(5).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'sightline-registry-'))
  let server: RunningServer
  let base: string

  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${admin}` } })
  const json = async <T>(path: string): Promise<T> => {
    const res = await get(path)
    expect(res.status, `${path}: ${res.status}`).toBe(200)
    return (await res.json()) as T
  }
  const listed = async (query = '') => (await json<PipeList>(`/v0/pipes${query}`)).pipes.map((p) => p.name)
  const documented = async (query = '') => Object.keys((await json<OpenApi>(`/v0/pipes/openapi.json${query}`)).paths)
  const sqlStatus = async (table: string) => (await get(`/v0/sql?q=${encodeURIComponent(`SELECT count() AS n FROM ${table}`)}`)).status
  const datasources = async (query = '') => (await json<{ datasources: Array<{ name: string }> }>(`/v0/datasources${query}`)).datasources.map((d) => d.name)

  beforeAll(async () => {
    cpSync(FORWARD, dir, { recursive: true })
    writeFileSync(join(dir, 'copies', 'snapshot_pages.pipe'), 'NODE s\nSQL >\n    SELECT now() AS snapshot_at, page, count() AS views FROM clicks GROUP BY page\n\nTYPE COPY\nTARGET_DATASOURCE pages_snapshot\nCOPY_SCHEDULE @on-demand\n')
    const config = loadConfig(
      { PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: admin, SIGHTLINE_AUTH_FAILURES_PER_MINUTE: '0', SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: database },
      { store: testStoreConfig() },
    )
    server = await startServer(config)
    base = server.url.replace(/\/graphql$/, '')
  })
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists the project’s pipes and the built-in ones (?builtin=true) from the catalog, and serves both on the one pipe route', async () => {
    expect(await listed()).toEqual(expect.arrayContaining(['top_pages', 'page_trend', 'snapshot_pages']))
    expect(await listed()).not.toContain('api_product_grid')
    expect(await listed('?builtin=true')).toEqual(expect.arrayContaining(['api_product_grid', 'v2_cart_timeseries']))
    expect(await listed('?builtin=true')).not.toContain('top_pages')
    expect(await documented()).toContain('/v0/pipes/top_pages.{format}')
    expect(await documented('?builtin=true')).toContain('/v0/pipes/api_product_grid.{format}')

    // One route: the project's endpoint, the built-in pipe the project does not shadow, and neither.
    expect((await get('/v0/pipes/top_pages.json')).status).toBe(200)
    expect((await get('/v0/pipes/top_pages.parquet')).status).toBe(200)
    expect((await get('/v0/pipes/api_product_grid.json')).status).toBe(200)
    expect((await get('/v0/pipes/api_product_grid.parquet')).status).toBe(200) // built-in pipes answer Parquet too
    expect((await get('/v0/pipes/snapshot_pages.json')).status).toBe(404) // a copy pipe is listed, not read
    expect((await get('/v0/pipes/nothing_here.json')).status).toBe(404)

    // /v0/sql reads the project's datasources and the built-in ones; /v0/datasources lists the project's.
    expect(await sqlStatus('clicks')).toBe(200)
    expect(await sqlStatus('products')).toBe(200)
    expect(await datasources()).toEqual(expect.arrayContaining(['clicks', 'daily_pages', 'pages_snapshot']))
    expect(await datasources('?builtin=true')).toEqual(expect.arrayContaining(['ecomm_events', 'products']))
  })

  it('after a reload, every list and the route follow the catalog together: added entries appear, removed ones go', async () => {
    writeFileSync(join(dir, 'datasources', 'visits.datasource'), 'SCHEMA >\n    `at` DateTime `json:$.at`,\n    `page` String `json:$.page`\n\nENGINE "MergeTree"\nENGINE_SORTING_KEY "at"\n')
    writeFileSync(join(dir, 'endpoints', 'visit_count.pipe'), 'NODE n\nSQL >\n    SELECT count() AS visits FROM visits\n\nTYPE endpoint\n')
    rmSync(join(dir, 'endpoints', 'page_trend.pipe'))
    expect(await sqlStatus('visits')).not.toBe(200)
    await server.project!.reload(ProjectService.parse(dir, database))

    expect(await listed()).toContain('visit_count')
    expect(await listed()).not.toContain('page_trend')
    expect(await documented()).toContain('/v0/pipes/visit_count.{format}')
    expect(await documented()).not.toContain('/v0/pipes/page_trend.{format}')
    const answer = await json<{ data: unknown[]; meta: Array<{ name: string; type: string }> }>('/v0/pipes/visit_count.json')
    expect(answer.data).toEqual([{ visits: 0 }])
    expect((await get('/v0/pipes/page_trend.json')).status).toBe(404)
    expect(await sqlStatus('visits')).toBe(200)
    expect(await datasources()).toContain('visits')
  })
})
