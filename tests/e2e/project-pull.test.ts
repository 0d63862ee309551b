import 'reflect-metadata'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDatasource } from '../../src/project/datafile.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

const run = promisify(execFile)
const EXAMPLE = fileURLToPath(new URL('../../examples/ecommerce', import.meta.url))
const SDK_CLI = fileURLToPath(new URL('../../node_modules/@tinybirdco/sdk/bin/tinybird.js', import.meta.url))
// The SDK's resource reads (what `tinybird pull` and `tinybird init`'s code generation call); its package
// exports them only to its own CLI, so they are imported by path.
const RESOURCES = new URL('../../node_modules/@tinybirdco/sdk/dist/api/resources.js', import.meta.url).href

interface Resources {
  fetchAllResources(config: { baseUrl: string; token: string }): Promise<{
    datasources: Array<{ name: string; columns: Array<{ name: string; type: string; jsonpath?: string; default?: string }>; engine: { type: string; sorting_key?: string; partition_key?: string } }>
    pipes: Array<{ name: string; type: string; nodes: Array<{ name: string; sql: string }>; params: Array<{ name: string; type: string; required: boolean }>; output_columns: Array<{ name: string; type: string }>; materialized?: { datasource: string } }>
  }>
}

/** Every datafile of the example, by file name, as written. */
function datafiles(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const sub of readdirSync(dir, { withFileTypes: true })) {
    if (!sub.isDirectory()) continue
    for (const f of readdirSync(join(dir, sub.name))) if (/\.(datasource|pipe)$/.test(f)) out.set(f, readFileSync(join(dir, sub.name, f), 'utf8'))
  }
  return out
}

/**
 * Tinybird's resource reads over a loaded project, as the official SDK makes them: `tinybird pull` (the
 * SDK's own CLI) writes back the project's datafiles, and the resource descriptions its code generation
 * reads name each pipe's type, parameters and output columns and each datasource's engine.
 */
describe('tinybird pull and the resource reads over a loaded project', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  const get = (path: string, token = server.adminToken) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: EXAMPLE, SIGHTLINE_PROJECT_DATABASE: database })
    base = server.url.replace(/\/graphql$/, '')
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('gives back every datafile of the project through the SDK’s `tinybird pull`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-pull-'))
    writeFileSync(join(dir, 'tinybird.json'), JSON.stringify({ include: [], token: '${TINYBIRD_TOKEN}', baseUrl: base }))
    const { stdout } = await run(process.execPath, [SDK_CLI, 'pull', '--output-dir', 'pulled'], { cwd: dir, env: { ...process.env, TINYBIRD_TOKEN: server.adminToken, NO_COLOR: '1' } })
    expect(stdout).toMatch(/pull/i)
    const pulled = readdirSync(join(dir, 'pulled')).sort()
    const expected = datafiles(EXAMPLE)
    expect(pulled).toEqual([...expected.keys()].sort())
    for (const [name, text] of expected) expect(readFileSync(join(dir, 'pulled', name), 'utf8').trimEnd(), name).toBe(text.trimEnd())
  })

  it('describes each pipe and datasource as the SDK’s code generation reads them', async () => {
    const { fetchAllResources } = (await import(RESOURCES)) as Resources
    const { datasources, pipes } = await fetchAllResources({ baseUrl: base, token: server.adminToken })
    const grid = pipes.find((p) => p.name === 'api_product_grid')
    expect(grid?.type).toBe('endpoint')
    expect(grid?.nodes.map((n) => n.name)).toEqual(['filter_prods', 'latest_stock', 'ecomm_hits', 'endpoint'])
    expect(grid?.params.map((p) => p.name)).toContain('category')
    expect(grid?.output_columns.map((c) => c.name)).toEqual(['id', 'name', 'stock', 'stock_status', 'hits', 'rank_status', 'photo', 'price'])
    expect(grid?.output_columns.find((c) => c.name === 'stock')?.type).toBe('Int64')
    expect(pipes.find((p) => p.name === 'mat_stock_sales')).toMatchObject({ type: 'materialized', materialized: { datasource: 'mv_latest_availability' } })
    const events = datasources.find((d) => d.name === 'ecomm_events')
    expect(events?.engine).toMatchObject({ type: 'MergeTree', sorting_key: 'event, product, timestamp', partition_key: 'toYear(timestamp)' })
    expect(events?.columns[0]).toMatchObject({ name: 'timestamp', type: 'DateTime', jsonpath: '$.timestamp' })
  })

  it('shows a read token the endpoints it reads, and nothing of the others', async () => {
    // A built-in pipe has the name too, so the project's is scoped as <database>.<name> (API.md, Scopes).
    const scopes = [`read:pipe:${database}.api_ui_filters`]
    const reader = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token
    const own = await get('/v0/pipes/api_ui_filters', reader)
    expect(own.status).toBe(200)
    const view = (await own.json()) as { name: string; type: string; nodes: Array<{ dependencies: string[] }> }
    expect(view).toMatchObject({ name: 'api_ui_filters', type: 'endpoint' })
    expect(view.nodes.flatMap((n) => n.dependencies)).toContain('products')
    expect((await get('/v0/pipes/api_ui_filters.pipe', reader)).status).toBe(200)
    for (const path of ['/v0/pipes/api_product_grid', '/v0/pipes/api_product_grid.pipe', '/v0/pipes/mat_stock_sales?format=pipe']) {
      const res = await get(path, reader)
      expect(res.status, path).toBe(403)
      expect(((await res.json()) as { error: string }).error).toMatch(/needs the scope/)
    }
    expect((await get('/v0/pipes/no_such_pipe')).status).toBe(404)
    for (const path of ['/v0/pipes/%E0%A4%A', '/v0/datasources/%E0%A4%A.datasource', '/v0/datasources/%FF']) expect((await get(path)).status, path).toBe(400)
    expect((await get('/v0/pipes/api_ui_filters', 'sl_not_a_token')).status).toBe(403)
    const post = await fetch(`${base}/v0/pipes/api_ui_filters`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` } })
    expect(post.status).toBe(405)
  })

  it('writes a built-in datasource’s datafile from its table, which parses to the same columns and engine', async () => {
    const res = await get('/v0/datasources/products.datasource?builtin=true')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    const described = (await (await get('/v0/datasources/products?builtin=true')).json()) as { columns: Array<{ name: string; type: string }>; engine: Record<string, string> }
    const parsed = parseDatasource('products.datasource', text)
    expect(parsed.columns.map((c) => [c.name, c.type])).toEqual(described.columns.map((c) => [c.name, c.type]))
    expect(parsed.engine).toMatchObject({ type: 'ReplacingMergeTree', ver: described.engine.engine_ver, sortingKey: described.engine.sorting_key })
    expect(described.engine.engine_ver).toBeTruthy()
    // The project's datasource of the same name answers its own file; ?format=datasource is the same read.
    expect((await (await get('/v0/datasources/products?format=datasource')).text()).trimEnd()).toBe(datafiles(EXAMPLE).get('products.datasource')?.trimEnd())
    // A built-in pipe is Sightline's code: described, with no datafile.
    expect((await get('/v0/pipes/api_product_grid?builtin=true')).status).toBe(200)
    const pipe = await get('/v0/pipes/api_product_grid.pipe?builtin=true')
    expect(pipe.status).toBe(404)
    expect(((await pipe.json()) as { error: string }).error).toMatch(/built into Sightline/)
    expect((await get('/v0/datasources/nope.datasource')).status).toBe(404)
  })
})
