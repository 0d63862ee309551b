import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildIfStale } from '../../bin/build.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { accessibilityViolations, haveChromium, openSignedIn, WAIT, type BrowserRun } from './web-browser.js'

/** The Forward-layout fixture: clicks (JSON paths, quarantine), endpoints top_pages and page_trend, a copy pipe. */
const FORWARD = fileURLToPath(new URL('../fixtures/projects/forward', import.meta.url))

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }

let server: TestServer
let base: string
const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } })
const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString().slice(0, 19).replace('T', ' ')

beforeAll(async () => {
  buildIfStale()
  const dir = mkdtempSync(join(tmpdir(), 'sightline-console-'))
  cpSync(FORWARD, dir, { recursive: true })
  server = await startTestServer({ SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
  base = server.url.replace(/\/graphql$/, '')
  const click = (page: string, session: string, minutesAgo: number) => JSON.stringify({ ts: at(minutesAgo), session: { id: session }, page, geo: { country: 'ES' }, tags: ['a'], items: [{ id: 1 }], duration: 100 })
  const lines = [
    click('/home', 's1', 30),
    click('/home', 's2', 20),
    click('/home', 's2', 10),
    click('/pricing', 's1', 5),
    click('/pricing', 's3', 1),
    JSON.stringify({ ts: at(1), session: { id: 's4' }, page: '/home', duration: 'long' }), // duration is UInt32
    'not JSON at all',
  ]
  const res = await fetch(`${base}/v0/events?name=clicks&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body: lines.join('\n') })
  expect(res.status).toBe(200)
  expect(await res.json()).toMatchObject({ successful_rows: 5, quarantined_rows: 2 })
  // The console shows what the REST API lists: the project's datasources and pipes, then the built-in pipes (?builtin=true).
  const datasources = (await (await get('/v0/datasources')).json()) as { datasources: Array<{ name: string }> }
  expect(datasources.datasources.map((d) => d.name)).toContain('clicks')
  const pipes = (await (await get('/v0/pipes')).json()) as { pipes: Array<{ name: string }> }
  expect(pipes.pipes.map((p) => p.name)).toContain('top_pages')
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

describe.skipIf(!haveChromium)('the console in Chromium, on a loaded Tinybird project', () => {
  let run: BrowserRun
  beforeAll(async () => {
    run = await openSignedIn(base, server.adminToken)
  }, 120_000)
  afterAll(async () => {
    await run?.close()
  })

  it("shows the project's datasource with its rows, schema and quarantined rows with Tinybird's reasons", async () => {
    const p = run.page
    await p.goto(`${base}/#console/datasources/clicks`)
    const row = p.locator('[data-testid="console-datasources"] tr[data-datasource="clicks"]')
    await expect.poll(() => row.getByTestId('row-count').innerText(), { timeout: WAIT }).toBe('5')
    await expect.poll(() => row.getByTestId('quarantine-count').innerText(), { timeout: WAIT }).toBe('2')
    await expect.poll(() => p.getByTestId('datasource-name').innerText()).toBe('clicks')
    const schema = await p.locator('[data-testid="schema"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')?.textContent))
    expect(schema).toEqual(['timestamp', 'session_id', 'page', 'country', 'tags', 'item_ids', 'duration_ms', 'raw'])
    await p.getByTestId('quarantine-rows').waitFor()
    const text = await p.getByTestId('quarantine-rows').innerText()
    expect(text).toContain('duration_ms')
    expect(await p.locator('[data-testid="quarantine-rows"] tbody tr').count()).toBe(2)
    expect(await accessibilityViolations(p, '#console')).toEqual([])
    await run.shot('console-project-1-datasources')
  })

  it("lists the project's pipes with their parameters and tries an endpoint", async () => {
    const p = run.page
    await p.goto(`${base}/#console/pipes/top_pages`)
    await expect.poll(() => p.getByTestId('pipe-name').innerText(), { timeout: WAIT }).toBe('top_pages')
    const params = await p.locator('[data-testid="pipe-form"] [data-param]').evaluateAll((els) => els.map((e) => e.getAttribute('data-param')))
    expect(params).toEqual(expect.arrayContaining(['start', 'country', 'limit']))
    expect(await p.locator('label[for="param-limit"]').innerText()).toContain('Int32')
    expect(await p.locator('#param-limit-hint').innerText()).toContain('rows to return')
    await p.locator('[data-param="start"]').fill(at(60 * 24))
    await p.locator('[data-param="limit"]').fill('1')
    await p.getByTestId('run-pipe').click()
    await expect.poll(() => p.getByTestId('pipe-summary').getAttribute('data-rows'), { timeout: WAIT }).toBe('1')
    const direct = (await (await get(`/v0/pipes/top_pages.json?start=${encodeURIComponent(at(60 * 24))}&limit=1`)).json()) as Envelope
    const first = await p.locator('[data-testid="pipe-rows"] tbody tr td').allInnerTexts()
    expect(first).toEqual(direct.meta.map((m) => String(direct.data[0]?.[m.name])))
    expect(direct.data[0]).toMatchObject({ page: '/home', views: 3 })
    expect(await p.getByTestId('pipe-url').innerText()).toContain(`/v0/pipes/top_pages.json?start=`)
    expect(await accessibilityViolations(p, '#console')).toEqual([])
    await run.shot('console-project-2-pipe')

    // A copy or materialization pipe is listed but not offered to run.
    expect(await p.locator('[data-testid="pipe-list"] li[data-pipe="snapshot_pages"] .tag').first().innerText()).toBe('copy')
    // The gateway's own pipes are listed after the project's, marked.
    expect(await p.locator('[data-testid="pipe-list"] li[data-pipe="api_product_grid"] .tag').innerText()).toBe('built-in')
    await p.locator('[data-testid="pipe-list"] li[data-pipe="snapshot_pages"] a').click()
    await expect.poll(() => p.getByTestId('pipe-name').innerText()).toBe('snapshot_pages')
    expect(await p.getByTestId('pipe-form').count()).toBe(0)
  })

  it('charts the project pipe calls among the operation stats', async () => {
    const p = run.page
    await p.getByTestId('console-tab-stats').click()
    await p.locator('[data-testid="stats-table"] tr[data-operation="top_pages"]').waitFor()
    expect(await p.getByTestId('stats-calls-chart').locator('svg polyline').count()).toBe(2)
    await run.shot('console-project-3-stats')
  })

  it('loaded nothing from the internet and broke no rule', () => {
    expect(run.external).toEqual([])
    expect(run.pageErrors).toEqual([])
    expect(run.cspViolations).toEqual([])
  })
})
