// Shared by the console's browser tests: the system Chromium, offline, with the page's errors collected.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const ARTIFACTS = join(fileURLToPath(new URL('../../', import.meta.url)), 'tests/artifacts/web')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const WAIT = 30_000
// Without the background-networking flags Chromium keeps dialling Google, which this network refuses.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  const message = `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI) throw new Error(`${message}: the web end-to-end tests cannot run`)
  console.warn(`${message}: skipping the browser tests`)
}

export interface BrowserRun {
  readonly browser: Browser
  readonly context: BrowserContext
  readonly page: Page
  /** Requests to anywhere but the gateway (aborted: the page must not need the internet). */
  readonly external: string[]
  readonly pageErrors: string[]
  readonly cspViolations: string[]
  shot(name: string): Promise<unknown>
  close(): Promise<void>
}

/** Chromium on the gateway's origin only, with clipboard access (the console copies URLs and secrets). */
export async function openBrowser(base: string): Promise<BrowserRun> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
  const external: string[] = []
  const pageErrors: string[] = []
  const cspViolations: string[] = []
  await context.route(
    (url) => url.host !== new URL(base).host,
    (route) => {
      external.push(route.request().url())
      return route.abort()
    },
  )
  const page = await context.newPage()
  page.on('pageerror', (err) => pageErrors.push(err.message))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text())
  })
  page.setDefaultTimeout(WAIT)
  return {
    browser,
    context,
    page,
    external,
    pageErrors,
    cspViolations,
    shot: (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }),
    close: () => browser.close(),
  }
}

/** A browser on `base` with `token` pasted in the page's token form: where the console tests start. */
export async function openSignedIn(base: string, token: string): Promise<BrowserRun> {
  const run = await openBrowser(base)
  await run.page.goto(base, { waitUntil: 'domcontentloaded' })
  await useToken(run.page, token)
  return run
}

/** Pastes a token in the page's token form. */
export async function useToken(page: Page, token: string): Promise<void> {
  await page.getByTestId('token-input').fill(token)
  await page.getByTestId('token-save').click()
}

export interface Violation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly nodes: string[]
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * axe-core's WCAG 2.1 A and AA checks on the element `selector` (evaluated over the devtools protocol,
 * which the page's CSP does not govern), as a list of violations with the elements at fault.
 */
export async function accessibilityViolations(page: Page, selector: string): Promise<Violation[]> {
  await page.evaluate(AXE)
  return page.evaluate(
    `axe.run(document.querySelector(${JSON.stringify(selector)}), { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })))`,
  )
}
