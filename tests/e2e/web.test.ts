import 'reflect-metadata'
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildIfStale } from '../../bin/build.js'
import { loadDemo } from '../../src/demo.js'
import type { Gateway } from '../../src/transport/gateway.js'
import { webRoute } from '../../src/web.js'
import { CreateTokenDocument, IngestEcommEventsDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ARTIFACTS = join(ROOT, 'tests/artifacts/web')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// Without the background-networking flags Chromium keeps dialling Google, which this network refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const WAIT = 30_000

const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  const message = `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI) throw new Error(`${message}: the web end-to-end tests cannot run`)
  console.warn(`${message}: skipping the browser tests`)
}

interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A request with the path sent as written (fetch would normalise dots and escapes). */
function raw(base: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

let server: TestServer
let base: string
let fullToken: string
let narrowToken: string

beforeAll(async () => {
  buildIfStale() // the tests' global setup has built it already, unless web/ changed since
  // The demo's settings: CORS for pages on localhost (any port).
  server = await startTestServer({ SIGHTLINE_DEMO: '1' })
  base = server.url.replace(/\/graphql$/, '')
  await loadDemo(server.services.store, () => {}, { ecommEvents: 3000, appEvents: 3000 })
  const mk = async (scopes: string[]) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('web'), scopes } }, server.adminToken)).createToken.token
  fullToken = await mk(['read', 'append'])
  narrowToken = await mk(['read:ecommerce'])
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

describe('the web route', () => {
  it('serves the page and the playground with a CSP, revalidated', async () => {
    for (const path of ['/', '/graphiql']) {
      const res = await fetch(base + path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-cache')
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
      expect(await res.text()).toMatch(/<script type="module"[^>]* src="\/assets\//)
    }
  })

  it('serves hashed assets with their type, cached for good, and honours ETags and HEAD', async () => {
    const html = await (await fetch(base)).text()
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1]
    expect(js && css).toBeTruthy()
    const res = await fetch(base + js)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect((await fetch(base + css)).headers.get('content-type')).toBe('text/css; charset=utf-8')
    const etag = res.headers.get('etag')!
    expect((await raw(base, js!, 'GET', { 'if-none-match': etag })).status).toBe(304)
    const head = await raw(base, js!, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
    expect((await fetch(`${base}/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml')
  })

  it("draws the demo's product photos itself, so the page needs no other host", async () => {
    const res = await fetch(`${base}/photos/shoes_01.svg`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/svg+xml')
    const svg = await res.text()
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg).toContain('>SHOES 01<')
    for (const bad of ['/photos/..%2fpackage.json.svg', '/photos/a<b.svg', '/photos/x.png']) expect((await raw(base, bad)).status, bad).toBe(404)
  })

  it('never leaves web/dist', async () => {
    for (const path of [
      '/assets/..%2f..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/assets/..%2F..%2F..%2Fsrc%2Fweb.ts',
      '/assets/..%5c..%5c..%5cpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/assets/%00',
      '/assets/%E0%A4%A',
      '/assets/',
      '/assets/nope.js',
    ]) {
      const res = await raw(base, path)
      expect(res.status, path).toBe(404)
      expect(res.body, path).not.toContain('"name": "sightline"')
    }
    // Dot segments are resolved by the URL parser before routing: /package.json is not the web app's.
    const dotted = await raw(base, '/assets/../../package.json')
    expect(dotted.status).toBe(404)
    expect(dotted.body).not.toContain('sightline')
  })

  it('answers other methods with 405 and leaves unknown paths to the gateway', async () => {
    const post = await fetch(`${base}/`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    const other = await fetch(`${base}/nowhere`)
    expect(other.status).toBe(404)
    expect(await other.json()).toEqual({ error: 'not found' })
  })

  it('says to build when web/dist is missing', async () => {
    const gateway = { log: pino({ level: 'silent' }) } as unknown as Gateway
    const route = webRoute(gateway, { root: mkdtempSync(join(tmpdir(), 'sightline-web-')) })
    const bare: Server = createServer((req, res) => {
      void route(req, res, new URL(req.url ?? '/', 'http://localhost')).then((handled) => {
        if (!handled) res.writeHead(404).end()
      })
    })
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`
      for (const path of ['/', '/graphiql']) {
        const res = await fetch(url + path)
        expect(res.status).toBe(503)
        expect(await res.text()).toContain('npm run build')
      }
      expect((await fetch(`${url}/assets/app.js`)).status).toBe(404)
    } finally {
      await new Promise((resolve) => bare.close(resolve))
    }
  })
})

describe.skipIf(!haveChromium)('the web page in Chromium', () => {
  let browser: Browser
  let context: BrowserContext
  let page: Page
  /** Requests to anywhere but the gateway, by the page's URL path at the time. */
  const external: Array<{ page: string; url: string }> = []
  const pageErrors: string[] = []
  const cspViolations: string[] = []

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
  const cards = () => page.locator('[data-testid="grid"] [data-testid="product"]')
  const card = (id: string) => page.locator(`[data-testid="grid"] [data-product="${id}"]`)
  const stockOf = async (id: string) => Number(await card(id).locator('[data-testid="stock"]').getAttribute('data-stock'))

  async function useToken(token: string): Promise<void> {
    await page.getByTestId('token-input').fill(token)
    await page.getByTestId('token-save').click()
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
    // This machine has no internet; the app must not need it (the demo's photos are served by the gateway).
    await context.route(
      (url) => url.host !== new URL(base).host,
      (route) => {
        external.push({ page: new URL(page.url()).pathname, url: route.request().url() })
        return route.abort()
      },
    )
    page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text())
    })
    page.setDefaultTimeout(WAIT)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
  })

  it('asks for a token and explains a bad one', async () => {
    await page.goto(base, { waitUntil: 'domcontentloaded' })
    await expect.poll(() => page.getByTestId('grid-notice').innerText(), { timeout: WAIT }).toContain('A token is needed')
    await expect.poll(() => page.getByTestId('hint').innerText()).toContain('app_analytics_token')
    await useToken('sl_not_a_real_token')
    await expect.poll(() => page.getByTestId('grid-notice').innerText(), { timeout: WAIT }).toContain('invalid, expired or revoked')
    await expect.poll(() => page.getByTestId('live-state').getAttribute('data-state'), { timeout: WAIT }).toBe('rejected')
  })

  it('shows the grid with a read:ecommerce token and says the dashboard lacks read:analytics', async () => {
    await useToken(narrowToken)
    await cards().first().waitFor()
    expect(await cards().count()).toBeGreaterThan(10)
    await expect.poll(() => page.getByTestId('dashboard-error').innerText(), { timeout: WAIT }).toBe('This token lacks read:analytics:cart.')
    expect(await page.getByTestId('dashboard-notice').innerText()).toContain('app_analytics_token')
    expect(await page.evaluate("sessionStorage.getItem('sightline.token')")).toBe(narrowToken)
    await shot('1-missing-scope')
    // A panel takes a token of its own, then goes back to the page's.
    await page.getByTestId('dashboard-token').fill(fullToken)
    await page.getByTestId('dashboard-token').press('Enter')
    await page.getByTestId('total-events').waitFor()
    await page.getByRole('button', { name: 'Use the page token' }).click()
    await page.getByTestId('dashboard-error').waitFor()
  })

  it('shows the grid, trending markers and a dashboard with a read + append token', async () => {
    await useToken(fullToken)
    await page.getByTestId('total-events').waitFor()
    await cards().first().waitFor()
    expect(await page.locator('[data-testid="grid"] [data-testid="trending"]').count()).toBe(3)
    expect(await page.locator('[data-testid="trending"]').first().innerText()).toBe('Trending 🔥')
    await expect.poll(() => page.getByTestId('live-state').getAttribute('data-state'), { timeout: WAIT }).toBe('live')
    // Filters fed by uiFilters: the KPI names and the category's products.
    expect(await page.getByTestId('kpi').locator('option').allInnerTexts()).toEqual(['sales', 'carts', 'views'])
    expect(await page.getByTestId('trend-product').locator('option').first().innerText()).toBe('All')
    // The dashboard: totals, breakdowns and a time series chart.
    expect(Number((await page.getByTestId('total-events').innerText()).replace(/\D/g, ''))).toBeGreaterThan(0)
    await page.getByTestId('total-revenue').waitFor()
    expect(await page.locator('[data-testid="breakdown-browsers"] li').count()).toBeGreaterThan(0)
    expect(await page.locator('[data-testid="series"] svg polyline').count()).toBe(3)
    expect(await page.locator('[data-testid="trend"] svg polyline').count()).toBe(1)
    await shot('2-grid-and-dashboard')
  })

  it('changes the grid with the category, ranking and out-of-stock controls', async () => {
    const before = await cards().evaluateAll((els) => els.map((e) => e.getAttribute('data-product')))
    await page.getByTestId('category').selectOption('shoes')
    await page.locator('[data-testid="grid"][data-category="shoes"]').waitFor()
    const shoes = await cards().evaluateAll((els) => els.map((e) => e.getAttribute('data-product')))
    expect(shoes.length).toBeGreaterThan(0)
    expect(shoes.every((id) => id?.startsWith('shoes_'))).toBe(true)
    expect(shoes).not.toEqual(before)
    // The trend's product picker is uiFilters(PRODUCT, "shoes"): "All", then every shoe, in stock or not.
    const options = await page.getByTestId('trend-product').locator('option').allInnerTexts()
    expect(options[0]).toBe('All')
    expect(options.length).toBeGreaterThan(shoes.length)

    expect(await page.locator('[data-testid="grid"] [data-status="OUT_OF_STOCK"]').count()).toBe(0)
    await page.getByTestId('out-of-stock').check()
    await page.locator('[data-testid="grid"][data-show-out-of-stock="true"]').waitFor()
    const soldOut = page.locator('[data-testid="grid"] [data-status="OUT_OF_STOCK"]')
    expect(await soldOut.count()).toBeGreaterThan(0)
    expect(await cards().count()).toBeGreaterThan(shoes.length)
    // A shopper sees 0 and "Out of stock" (the API's signed sum stays in data-stock), and cannot sell one.
    for (const out of await soldOut.all()) {
      expect(await out.getByTestId('stock').innerText()).toBe('Out of stock · 0')
      expect(await out.getByTestId('sell').isDisabled()).toBe(true)
    }

    await page.getByTestId('ranking').selectOption('PRICE')
    await expect.poll(() => page.getByTestId('grid-summary').innerText(), { timeout: WAIT }).toContain('ranked by price')
    const prices = await cards().locator('.price').allInnerTexts()
    const values = prices.map((p) => Number(p.replace(/[^0-9.]/g, '')))
    expect(values).toEqual([...values].sort((a, b) => b - a))
    await shot('3-filtered')
  })

  it('updates a stock badge live when a sale is ingested, without a reload', async () => {
    await page.evaluate('window.__sameDocument = true')
    const id = (await page.locator('[data-testid="grid"] [data-status="IN_STOCK"]').first().getAttribute('data-product'))!
    expect(id).toBeTruthy()
    const before = await stockOf(id)
    const res = await gqlOk(server, IngestEcommEventsDocument, { events: [{ event: 'SALE', product: id }] }, fullToken)
    expect(res.ingestEcommEvents.accepted).toBe(1)
    await expect.poll(() => stockOf(id), { timeout: WAIT }).toBe(before - 1)
    expect(await card(id).locator('[data-testid="stock"]').innerText()).toBe(`In stock · ${(before - 1).toLocaleString('en-US')}`)
    await expect.poll(() => page.locator(`[data-testid="live-feed"] li[data-product="${id}"]`).count(), { timeout: WAIT }).toBeGreaterThan(0)
    expect(await page.evaluate('window.__sameDocument')).toBe(true)

    // The card's own button ingests through the gateway too (the token has append).
    await card(id).getByTestId('sell').click()
    await expect.poll(() => stockOf(id), { timeout: WAIT }).toBe(before - 2)
    await shot('4-live-stock')
  })

  it('serves GraphiQL from the bundle and runs a query offline', async () => {
    await page.getByRole('link', { name: /GraphiQL playground/ }).click()
    await page.waitForURL(/\/graphiql$/)
    await page.locator('.graphiql-container').waitFor()
    await page.locator('.graphiql-query-editor .view-lines').waitFor()
    // The page's token, from this tab's session storage, is in the headers editor (Monaco renders spaces as U+00A0).
    const headers = async () => (await page.locator('.graphiql-editor-tool').innerText()).replace(/\s+/g, ' ')
    await expect.poll(headers, { timeout: WAIT }).toContain(`"Authorization": "Bearer ${fullToken}"`)
    await page.locator('.graphiql-execute-button').click()
    // Several operations: GraphiQL asks which one to run.
    const pick = page.getByRole('menuitem', { name: 'ProductGrid' })
    if (await pick.isVisible({ timeout: 5000 }).catch(() => false)) await pick.click()
    await expect.poll(() => page.locator('.graphiql-response').innerText(), { timeout: WAIT }).toContain('"productGrid"')
    expect(await page.locator('.graphiql-response').innerText()).toContain('"stockStatus"')
    await shot('5-graphiql')
  })

  it('opened cold, the playground says a token is needed, then runs a query with a pasted one', async () => {
    const cold = await browser.newContext()
    try {
      const playground = await cold.newPage()
      const errors: string[] = []
      playground.on('pageerror', (err) => errors.push(err.message))
      await playground.goto(`${base}/graphiql`)
      await playground.locator('.graphiql-query-editor .view-lines').waitFor({ timeout: WAIT })
      const run = async () => {
        await playground.locator('.graphiql-execute-button').click()
        const pick = playground.getByRole('menuitem', { name: 'ProductGrid' })
        if (await pick.isVisible({ timeout: 5000 }).catch(() => false)) await pick.click()
      }
      // Monaco renders spaces as U+00A0 and wraps long lines.
      const response = async () => (await playground.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ')
      await run()
      await expect.poll(response, { timeout: WAIT }).toContain('No token yet')
      // Paste a bare token (no "Bearer "), as a newcomer would, over the whole Headers editor.
      const editor = playground.locator('.graphiql-editor-tool .monaco-editor').filter({ visible: true }).first()
      await editor.click()
      await playground.keyboard.press('ControlOrMeta+A')
      await playground.keyboard.insertText(`{ "Authorization": "${narrowToken}" }`)
      // Whatever Monaco auto-closed after the cursor goes.
      await playground.keyboard.press('Shift+ControlOrMeta+End')
      await playground.keyboard.press('Delete')
      await run()
      await expect.poll(response, { timeout: WAIT }).toContain('"productGrid"')
      await playground.screenshot({ path: join(ARTIFACTS, '6-graphiql-cold.png') })
      expect(errors).toEqual([])
    } finally {
      await cold.close()
    }
  })

  it("lets a page on another localhost origin call /graphql with the demo's CORS settings", async () => {
    const other = await browser.newContext()
    const site: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other app</title>'))
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    try {
      const origin = `http://localhost:${(site.address() as AddressInfo).port}`
      const remote = await other.newPage()
      await remote.goto(origin)
      // A real cross-origin call: JSON and an Authorization header make the browser send a preflight first.
      const answer = await remote.evaluate(
        async ([url, token]) => {
          const res = await fetch(url!, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: '{ productGrid { id } }' }),
          })
          return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as { data?: { productGrid: unknown[] } } }
        },
        [server.url, narrowToken],
      )
      expect(answer.status).toBe(200)
      expect(answer.body.data?.productGrid.length).toBeGreaterThan(0)
      expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/) // exposed to the page's script
    } finally {
      await other.close()
      await new Promise((resolve) => site.close(resolve))
    }
  })

  it("resets stock from another origin through Tinybird's truncate endpoint, as the seed frontend does", async () => {
    const manage = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('reset'), scopes: ['manage:mv_latest_availability'] } }, server.adminToken)).createToken.token
    const other = await browser.newContext()
    const site: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>seed frontend</title>'))
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    try {
      const remote = await other.newPage()
      await remote.goto(`http://localhost:${(site.address() as AddressInfo).port}`)
      const answer = await remote.evaluate(
        async ([origin, manageToken, readToken]) => {
          const reset = await fetch(`${origin}/v0/datasources/mv_latest_availability/truncate`, { method: 'POST', headers: { authorization: `Bearer ${manageToken}` } })
          const grid = await fetch(`${origin}/v0/pipes/api_product_grid.json?show_oos=1&token=${readToken}`)
          return { reset: reset.status, stocks: ((await grid.json()) as { data: Array<{ stock: number }> }).data.map((r) => r.stock) }
        },
        [base, manage, fullToken],
      )
      expect(answer.reset).toBe(205)
      expect(answer.stocks.length).toBeGreaterThan(0)
      expect(answer.stocks.every((s) => s === 0)).toBe(true)
    } finally {
      await other.close()
      await new Promise((resolve) => site.close(resolve))
    }
  })

  it('loaded nothing from the internet and broke no rule', () => {
    expect(external).toEqual([])
    expect(pageErrors).toEqual([])
    expect(cspViolations).toEqual([])
  })
})
