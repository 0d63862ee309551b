import 'reflect-metadata'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildIfStale } from '../../bin/build.js'
import { loadDemo } from '../../src/demo.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'
import { accessibilityViolations, haveChromium, openBrowser, useToken, WAIT, type BrowserRun } from './web-browser.js'

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }
type DatasourceList = { datasources: Array<{ name: string; stats: { row_count: number } }> }

let server: TestServer
let base: string
let narrowToken: string
let narrowName: string
const get = (path: string, token: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })

beforeAll(async () => {
  buildIfStale()
  server = await startTestServer({ SIGHTLINE_DEMO: '1' })
  base = server.url.replace(/\/graphql$/, '')
  await loadDemo(server.services.store, () => {}, { ecommEvents: 3000, appEvents: 3000 })
  narrowName = uid('console_narrow')
  narrowToken = (await gqlOk(server, CreateTokenDocument, { input: { name: narrowName, scopes: ['read:ecommerce'] } }, server.adminToken)).createToken.token
  // Two lines the Events API quarantines (with their reasons), one it stores.
  const lines = [
    JSON.stringify({ event: 'sale', product: 'shoes_01' }),
    JSON.stringify({ event: 'refund', product: 'shoes_01' }),
    '{"event": "sale", "product": ',
  ]
  const res = await fetch(`${base}/v0/events?name=ecomm_events&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body: lines.join('\n') })
  expect(await res.json()).toEqual({ successful_rows: 1, quarantined_rows: 2 })
  // Errors for the error chart: a bad token and a missing scope.
  expect((await get('/v0/pipes/api_product_grid.json', 'sl_not_a_token')).status).toBe(403)
  expect((await get('/v0/pipes/v2_cart_browsers.json?workspaceId=ws_acme', narrowToken)).status).toBe(403)
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

describe.skipIf(!haveChromium)('the console in Chromium, on the demo data', () => {
  let run: BrowserRun
  const page = () => run.page
  const section = (name: string) => run.page.getByTestId(`console-${name}`)

  beforeAll(async () => {
    run = await openBrowser(base)
  }, 120_000)
  afterAll(async () => {
    await run?.close()
  })

  it('opens from the nav beside the panels, and a narrow token sees what its scopes allow', async () => {
    const p = page()
    await p.goto(base, { waitUntil: 'domcontentloaded' })
    await useToken(p, narrowToken)
    await p.getByTestId('console-link').click()
    await p.waitForURL(/#console$/)
    expect(await p.locator('main').isHidden()).toBe(true)
    // Any valid token lists the datasources and their schema…
    await section('datasources').locator('tr[data-datasource="ecomm_events"]').waitFor()
    expect(await p.getByTestId('datasource-name').innerText()).toBe('ecomm_events')
    // …but counting quarantine rows needs sql, and reading them admin.
    expect(await section('datasources').locator('tr[data-datasource="ecomm_events"] [data-testid="quarantine-count"]').innerText()).toBe('—')
    await expect.poll(() => p.getByTestId('quarantine-error').innerText(), { timeout: WAIT }).toBe('Quarantined rows are shown to admins: This token lacks admin.')

    await p.getByTestId('console-tab-pipes').click()
    await section('pipes').locator('[data-pipe]').first().waitFor()
    expect(await section('pipes').locator('[data-pipe]').evaluateAll((els) => els.map((e) => e.getAttribute('data-pipe')))).toEqual(['api_product_grid', 'api_ui_filters'])

    await p.getByTestId('console-tab-tokens').click()
    await expect.poll(() => section('tokens').getByTestId('console-error').innerText(), { timeout: WAIT }).toBe('This token lacks admin.')
    expect(await p.getByTestId('token-create').isHidden()).toBe(true)

    await p.getByTestId('console-tab-stats').click()
    await expect.poll(() => section('stats').getByTestId('console-error').innerText(), { timeout: WAIT }).toBe('This token lacks admin.')
    expect(await accessibilityViolations(p, '#console')).toEqual([])
    await run.shot('console-1-narrow-token')
  })

  it('lists every datasource with its rows, schema and quarantined rows with their reasons (admin)', async () => {
    const p = page()
    await useToken(p, server.adminToken)
    await p.getByTestId('console-tab-datasources').click()
    const expected = ((await (await get('/v0/datasources', server.adminToken)).json()) as DatasourceList).datasources
    const row = (name: string) => section('datasources').locator(`tr[data-datasource="${name}"]`)
    await expect.poll(() => row('ecomm_events').getByTestId('quarantine-count').innerText(), { timeout: WAIT }).toBe('2')
    for (const d of expected) {
      expect(Number((await row(d.name).getByTestId('row-count').innerText()).replace(/,/g, '')), d.name).toBe(d.stats.row_count)
    }
    expect(expected.find((d) => d.name === 'ecomm_events')!.stats.row_count).toBeGreaterThan(3000)

    // The schema, as /v0/datasources/<name> gives it.
    const schema = (await (await get('/v0/datasources/ecomm_events', server.adminToken)).json()) as { columns: Array<{ name: string; type: string }> }
    const cells = await p.locator('[data-testid="schema"] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)))
    expect(cells).toEqual(schema.columns.map((c) => [c.name, c.type]))

    await expect.poll(() => p.getByTestId('quarantine-summary').innerText(), { timeout: WAIT }).toContain('2 rows in ecomm_events_quarantine')
    const reasons = await p.locator('[data-testid="quarantine-rows"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelectorAll('td')[1]?.textContent ?? ''))
    expect(reasons).toHaveLength(2)
    expect(reasons.some((r) => /unknown event "refund"/.test(r))).toBe(true)
    expect(reasons.some((r) => /invalid JSON/.test(r))).toBe(true)

    // Another datasource by its link (a route of its own), then a materialized one, which has no quarantine.
    await row('products').getByRole('link').click()
    await p.waitForURL(/#console\/datasources\/products$/)
    await expect.poll(() => p.getByTestId('datasource-name').innerText()).toBe('products')
    await row('ecomm_rollup_hour').getByRole('link').click()
    await expect.poll(() => p.getByTestId('quarantine').innerText()).toContain('has no quarantine')
    await p.goto(`${base}/#console/datasources/ecomm_events`)
    await p.getByTestId('quarantine-rows').waitFor()
    await run.shot('console-2-datasources')
  })

  it('tries a pipe with parameters, shows its answer as a table, its URL with the token and its OpenAPI', async () => {
    const p = page()
    await p.getByTestId('console-tab-pipes').click()
    await p.getByTestId('pipe-filter').fill('api_product')
    await expect.poll(() => section('pipes').locator('[data-pipe]').count()).toBe(1)
    await section('pipes').getByRole('link', { name: 'api_product_grid' }).click()
    await expect.poll(() => p.getByTestId('pipe-name').innerText()).toBe('api_product_grid')

    await p.locator('[data-param="category"]').fill('shoes')
    await p.locator('[data-param="show_oos"]').selectOption('1')
    const url = `${base}/v0/pipes/api_product_grid.json?category=shoes&show_oos=1`
    // Shown with the token masked; copied whole.
    const shown = await p.getByTestId('pipe-url').innerText()
    expect(shown.startsWith(`${url}&token=`)).toBe(true)
    expect(shown).not.toContain(server.adminToken)
    await p.getByTestId('copy-url').click()
    await expect.poll(() => p.getByTestId('copy-state').innerText()).toBe('Copied, with the token.')
    const copied = (await p.evaluate('navigator.clipboard.readText()')) as string
    expect(copied).toBe(`${url}&token=${server.adminToken}`)
    const direct = (await (await fetch(copied)).json()) as Envelope
    expect(direct.rows).toBeGreaterThan(0)

    await p.getByTestId('run-pipe').click()
    await expect.poll(() => p.getByTestId('pipe-summary').getAttribute('data-rows'), { timeout: WAIT }).toBe(String(direct.rows))
    const ids = await p.locator('[data-testid="pipe-rows"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')?.textContent))
    expect(ids).toEqual(direct.data.map((r) => r.id))
    expect(ids.every((id) => id?.startsWith('shoes_'))).toBe(true)
    const headers = await p.locator('[data-testid="pipe-rows"] thead th').evaluateAll((ths) => ths.map((th) => th.firstChild?.textContent))
    expect(headers).toEqual(direct.meta.map((m) => m.name))

    await p.getByText('OpenAPI operation').click()
    await expect.poll(() => p.getByTestId('pipe-openapi').innerText()).toContain('"operationId": "api_product_grid"')
    expect(await p.getByTestId('pipe-openapi-link').getAttribute('href')).toBe('/v0/pipes/openapi.json')
    await run.shot('console-3-pipe')

    // A required parameter: the form will not run without it.
    await p.goto(`${base}/#console/pipes/v2_cart_browsers`)
    await expect.poll(() => p.getByTestId('pipe-name').innerText()).toBe('v2_cart_browsers')
    const workspace = p.locator('[data-param="workspaceId"]')
    await p.getByTestId('run-pipe').click()
    expect(await p.locator('[data-param="workspaceId"]:invalid').count()).toBe(1)
    expect(await p.getByTestId('pipe-result').innerText()).toBe('')
    await workspace.fill('ws_acme')
    await p.getByTestId('run-pipe').click()
    const browsers = (await (await get('/v0/pipes/v2_cart_browsers.json?workspaceId=ws_acme', server.adminToken)).json()) as Envelope
    await expect.poll(() => p.getByTestId('pipe-summary').getAttribute('data-rows'), { timeout: WAIT }).toBe(String(browsers.rows))
    expect(browsers.rows).toBeGreaterThan(0)
    // A bad value: the gateway's message, in place of the table.
    await p.locator('[data-param="limit"]').fill('-5')
    await p.getByTestId('run-pipe').click()
    await p.getByTestId('pipe-error').waitFor()
  })

  it('lists tokens, creates one (its secret shown once) and revokes it, by keyboard', async () => {
    const p = page()
    await p.getByTestId('console-tab-tokens').click()
    const row = (name: string) => section('tokens').locator(`tr[data-token="${name}"]`)
    await row(narrowName).waitFor()
    expect(await row(narrowName).locator('.chip').allInnerTexts()).toEqual(['read:ecommerce'])

    const name = uid('console_made')
    await p.getByTestId('new-token-name').fill(name)
    await p.getByTestId('new-token-scopes').fill('read:ecommerce, sql')
    await p.getByTestId('new-token-workspace').fill('ws_acme')
    await p.getByTestId('create-token').click()
    const secret = await p.getByTestId('new-token-secret').innerText()
    expect(secret).toMatch(/^sl_/)
    await row(name).waitFor()
    expect(await row(name).locator('.chip').allInnerTexts()).toEqual(['read:ecommerce', 'sql'])
    expect(await row(name).locator('td').nth(1).innerText()).toBe('ws_acme')
    expect((await get('/v0/sql?q=SELECT%201', secret)).status).toBe(200)
    await run.shot('console-4-tokens')

    await row(name).getByTestId('revoke').focus()
    await p.keyboard.press('Enter')
    expect(await p.evaluate("document.activeElement?.getAttribute('data-testid')")).toBe('confirm-revoke')
    await p.keyboard.press('Enter')
    await row(name).waitFor({ state: 'detached' })
    expect((await get('/v0/sql?q=SELECT%201', secret)).status).toBe(403)
    await expect.poll(() => row(narrowName).count()).toBe(1)
  })

  it('charts operation stats and errors over time, per operation', async () => {
    const p = page()
    await p.getByTestId('console-tab-stats').click()
    const calls = p.getByTestId('stats-calls-chart')
    await calls.locator('svg').waitFor()
    expect(await calls.locator('svg polyline').count()).toBe(2)
    expect(await p.getByTestId('stats-latency-chart').locator('svg polyline').count()).toBe(2)
    // The errors of this run: a bad token, missing scopes.
    const legend = await p.getByTestId('stats-errors-chart').locator('.legend').innerText()
    expect(legend).toContain('UNAUTHENTICATED')
    expect(legend).toContain('FORBIDDEN')
    expect(await p.locator('[data-testid="error-list"] li[data-code="FORBIDDEN"]').count()).toBeGreaterThan(0)
    // The table: per operation over the range; the pipes read above are in it.
    const grid = p.locator('[data-testid="stats-table"] tr[data-operation="api_product_grid"]')
    expect(Number(await grid.locator('td').first().innerText())).toBeGreaterThanOrEqual(2)
    await grid.getByRole('button').click()
    expect(await p.getByTestId('stats-operation').inputValue()).toBe('api_product_grid')
    expect(await calls.locator('figcaption').innerText()).toContain('Calls and errors, api_product_grid')
    const points = await calls.locator('svg polyline').first().getAttribute('points')
    expect(new Set(points!.split(' ').map((xy) => xy.split(',')[1])).size).toBeGreaterThan(1) // not a flat line
    await p.getByTestId('stats-range').selectOption('1h')
    await expect.poll(() => calls.locator('svg circle').count(), { timeout: WAIT }).toBe(2 * 12)
    await run.shot('console-5-stats')
  })

  it('moves between tabs by keyboard, focus on the section heading, and back to the panels', async () => {
    const p = page()
    await p.getByTestId('console-tab-pipes').focus()
    await p.keyboard.press('Enter')
    await p.waitForURL(/#console\/pipes$/)
    await expect.poll(() => p.evaluate('document.activeElement?.id')).toBe('pipes-title')
    expect(await p.getByTestId('console-tab-pipes').getAttribute('aria-current')).toBe('page')
    await p.getByRole('link', { name: 'Product grid' }).click()
    await p.locator('main').waitFor({ state: 'visible' })
    expect(await p.locator('#console').isHidden()).toBe(true)
    await p.locator('[data-testid="grid"] [data-testid="product"]').first().waitFor()
  })

  it("passes axe-core's WCAG 2.1 A/AA checks in every section, filled", async () => {
    const p = page()
    await p.goto(base, { waitUntil: 'domcontentloaded' })
    await useToken(p, server.adminToken)
    const checks: Array<[string, () => Promise<unknown>]> = [
      ['#console/datasources/ecomm_events', () => p.getByTestId('quarantine-rows').waitFor()],
      ['#console/pipes/api_product_grid', async () => {
        await p.getByTestId('run-pipe').click()
        await p.getByTestId('pipe-rows').waitFor()
      }],
      ['#console/tokens', () => section('tokens').locator('tr[data-token]').first().waitFor()],
      ['#console/stats', () => p.getByTestId('stats-calls-chart').locator('svg').waitFor()],
    ]
    for (const [hash, ready] of checks) {
      await p.goto(`${base}/${hash}`)
      await ready()
      expect(await accessibilityViolations(p, '#console'), hash).toEqual([])
    }
  })

  it('loaded nothing from the internet and broke no rule', () => {
    expect(run.external).toEqual([])
    expect(run.pageErrors).toEqual([])
    expect(run.cspViolations).toEqual([])
  })
})
