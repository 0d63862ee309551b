import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildIfStale } from '../../bin/build.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { accessibilityViolations, haveChromium, openSignedIn, WAIT, type BrowserRun } from './web-browser.js'

/**
 * The console on one of our own example projects (examples/ecommerce, loaded unchanged with its fixtures):
 * the project's datasources with the fixtures' row counts and schema, and its grid endpoint tried from the form.
 */
const EXAMPLE = fileURLToPath(new URL('../../examples/ecommerce', import.meta.url))

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }

let server: TestServer
let base: string
const fixtures = new Map<string, number>()
const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } })

beforeAll(async () => {
  buildIfStale()
  server = await startTestServer({ SIGHTLINE_PROJECT: EXAMPLE, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
  base = server.url.replace(/\/graphql$/, '')
  for (const file of readdirSync(join(EXAMPLE, 'fixtures')).filter((f) => f.endsWith('.ndjson'))) {
    const body = readFileSync(join(EXAMPLE, 'fixtures', file), 'utf8')
    const name = file.replace(/\.ndjson$/, '')
    const res = await fetch(`${base}/v0/events?name=${name}&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body })
    expect(res.status).toBe(200)
    const answer = (await res.json()) as { successful_rows: number; quarantined_rows: number }
    expect(answer.quarantined_rows).toBe(0)
    fixtures.set(name, answer.successful_rows)
  }
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

describe.skipIf(!haveChromium)('the console in Chromium, on examples/ecommerce', () => {
  let run: BrowserRun
  beforeAll(async () => {
    run = await openSignedIn(base, server.adminToken)
  }, 120_000)
  afterAll(async () => {
    await run?.close()
  })

  it("shows the example's datasources with the fixtures' rows and their schema", async () => {
    const p = run.page
    const products = fixtures.get('products')
    expect(products).toBeGreaterThan(0)
    await p.goto(`${base}/#console/datasources/products`)
    const row = p.locator('[data-testid="console-datasources"] tr[data-datasource="products"]')
    await expect.poll(() => row.getByTestId('row-count').innerText(), { timeout: WAIT }).toBe(String(products))
    await expect.poll(() => p.getByTestId('datasource-name').innerText()).toBe('products')
    const schema = await p.locator('[data-testid="schema"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')?.textContent))
    expect(schema).toEqual(expect.arrayContaining(['id', 'name', 'category', 'price']))
    for (const ds of ['ecomm_events', 'warehouse_stock', 'mv_latest_availability']) {
      await expect.poll(() => p.locator(`[data-testid="console-datasources"] tr[data-datasource="${ds}"]`).count()).toBe(1)
    }
    expect(await accessibilityViolations(p, '#console')).toEqual([])
    await run.shot('console-example-1-datasources')
  })

  it('tries the example grid endpoint from its form and shows the same rows as REST', async () => {
    const p = run.page
    await p.goto(`${base}/#console/pipes/api_product_grid`)
    await expect.poll(() => p.getByTestId('pipe-name').innerText(), { timeout: WAIT }).toBe('api_product_grid')
    // The project's own pipe, not the built-in one of the same name.
    expect(await p.locator('[data-testid="pipe-list"] li[data-pipe="api_product_grid"] .tag').count()).toBe(0)
    const params = await p.locator('[data-testid="pipe-form"] [data-param]').evaluateAll((els) => els.map((e) => e.getAttribute('data-param')))
    expect(params).toEqual(expect.arrayContaining(['category']))
    await p.getByTestId('run-pipe').click()
    const direct = (await (await get('/v0/pipes/api_product_grid.json')).json()) as Envelope
    expect(direct.data.length).toBeGreaterThan(0)
    await expect.poll(() => p.getByTestId('pipe-summary').getAttribute('data-rows'), { timeout: WAIT }).toBe(String(direct.data.length))
    const first = await p.locator('[data-testid="pipe-rows"] tbody tr').first().locator('td').allInnerTexts()
    expect(first).toEqual(direct.meta.map((m) => String(direct.data[0]?.[m.name])))
    await run.shot('console-example-2-pipe')
  })

  it('loaded nothing from the internet and broke no rule', () => {
    expect(run.external).toEqual([])
    expect(run.pageErrors).toEqual([])
    expect(run.cspViolations).toEqual([])
  })
})
