import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { ProductsWithStockDocument, TokensDocument } from '../generated/graphql.js'
import { killAll, runNode, spawnNode } from '../helpers/process.js'
import { gql, gqlOk, wsClient } from '../helpers/server.js'

// A newcomer's first hour, through the real CLI (`bin/sightline.js`, what `npm run demo` runs): the demo
// is ready only once its data and tokens are, its data moves on its own, a second start builds and loads
// nothing, and the CLI lists, revokes and reloads. The tests' global setup has built dist/ and web/dist/.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/sightline.js')
const DATA = mkdtempSync(join(tmpdir(), 'sightline-demo-'))

/** The environment of a newcomer's shell: no admin token, the embedded store in a fresh directory. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { SIGHTLINE_ADMIN_TOKEN: _admin, CLICKHOUSE_URL: _url, NODE_ENV: _mode, ...rest } = process.env
  return { ...rest, SIGHTLINE_DATA_DIR: DATA, SIGHTLINE_LOG_LEVEL: 'info', HOST: '127.0.0.1', ...extra }
}

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

interface Demo {
  readonly base: string
  readonly url: string
  readonly wsUrl: string
  readonly tokens: Record<string, string>
  readonly output: string[]
  /** /readyz answers seen while starting, in order, with their time. */
  readonly readiness: Array<{ status: number; at: number }>
  stop(): Promise<number | null>
}

/** `sightline start` in demo mode; resolves once it prints where it serves (after the demo tokens). */
async function startDemo(): Promise<Demo> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = spawnNode([BIN, 'start'], env({ SIGHTLINE_DEMO: '1', PORT: String(port), SIGHTLINE_DEMO_TRICKLE_MS: '200' }))
  // What /readyz answers while the demo starts: probed, since readiness is the server's state, not an event.
  const readiness: Demo['readiness'] = []
  let probing = true
  void (async () => {
    while (probing) {
      const status = await fetch(`${base}/readyz`).then((r) => r.status, () => 0)
      if (status !== 0) readiness.push({ status, at: Date.now() })
      await new Promise((r) => setTimeout(r, 25))
    }
  })()
  const tokens: Record<string, string> = {}
  child.onLine((line) => {
    const token = /^(\w+_token): (sl_\S+)$/.exec(line)
    if (token) tokens[token[1]!] = token[2]!
  })
  await child.waitForLine((line) => (line.startsWith('Sightline is serving') ? true : undefined), 'the line saying where it serves', 600_000).finally(() => (probing = false))
  return {
    base,
    url: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    tokens,
    get output() {
      return child.output.split('\n')
    },
    readiness,
    stop: async () => (await child.kill('SIGTERM')).code,
  }
}

/** Runs a CLI command to its end; resolves with its exit code and output. */
async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const { code, out } = await runNode([BIN, ...args], env())
  return { code, out }
}

const lastHourSales = async (demo: Demo) => {
  const data = await gqlOk(demo, ProductsWithStockDocument, { limit: 100 }, demo.tokens.app_read_token)
  return data.products.reduce((sum, p) => sum + p.recentSales, 0)
}

afterAll(killAll)

describe('npm run demo, as a newcomer runs it', () => {
  let first: Demo

  it('is ready only once the demo data and tokens are, and prints an admin token', { timeout: 600_000 }, async () => {
    first = await startDemo()
    expect(first.output.some((l) => l.startsWith('Building'))).toBe(false) // built once by the tests' setup
    expect(Object.keys(first.tokens).sort()).toEqual(['app_analytics_token', 'app_append_token', 'app_read_token', 'demo_admin_token'])
    expect(first.readiness.some((r) => r.status === 503)).toBe(true) // it answered while loading, not ready
    const firstReady = first.readiness.find((r) => r.status === 200)
    // The demo admin token works, and the demo tokens were made before /readyz first said 200.
    const { tokens } = await gqlOk(first, TokensDocument, {}, first.tokens.demo_admin_token)
    const read = tokens.find((t) => t.name === 'app_read_token')!
    expect(read.scopes).toEqual(['read:ecommerce'])
    if (firstReady) expect(Date.parse(read.createdAt)).toBeLessThanOrEqual(firstReady.at)
    expect((await gqlOk(first, ProductsWithStockDocument, { limit: 100 }, first.tokens.app_read_token)).products).toHaveLength(44)
  })

  it('moves by itself: last-hour sales grow and live stock changes arrive with no write of ours', { timeout: 300_000 }, async () => {
    const client = wsClient(first, first.tokens.app_read_token)
    const update = new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: 'subscription { stockChanged { product available delta } }' }, { next: resolve, error: reject, complete: () => {} })
    })
    try {
      const before = await lastHourSales(first)
      await expect.poll(() => lastHourSales(first), { timeout: 120_000, interval: 500 }).toBeGreaterThan(before)
      expect(await update).toMatchObject({ data: { stockChanged: { delta: expect.any(Number) } } })
    } finally {
      await client.dispose()
    }
  })

  it('starts again on the same data without a build or a reload, with new tokens', { timeout: 300_000 }, async () => {
    expect(await first.stop()).toBe(0)
    const again = await startDemo()
    try {
      expect(again.output.some((l) => l.startsWith('Building'))).toBe(false)
      expect(again.output.join('\n')).toContain('demo data already present, skipping the load')
      expect(again.tokens.app_read_token).not.toBe(first.tokens.app_read_token)
      expect((await gql(again, ProductsWithStockDocument, { limit: 1 }, first.tokens.app_read_token)).status).toBe(401)
      expect(await lastHourSales(again)).toBeGreaterThan(0)
    } finally {
      expect(await again.stop()).toBe(0)
    }
  })

  it('lists and revokes tokens from the CLI, and reloads the demo with seed --reset', { timeout: 600_000 }, async () => {
    const list = await cli(['token', 'list'])
    expect(list.code).toBe(0)
    expect(list.out).toMatch(/^NAME\s+SCOPES\s+WORKSPACE\s+CREATED\s+EXPIRES$/m)
    expect(list.out).toMatch(/^app_read_token\s+read:ecommerce\s+-\s+\S+\s+never$/m)
    expect(list.out).not.toMatch(/sl_/)

    expect(await cli(['token', 'revoke', 'app_read_token'])).toMatchObject({ code: 0 })
    expect((await cli(['token', 'list'])).out).not.toContain('app_read_token')
    const again = await cli(['token', 'revoke', 'app_read_token'])
    expect(again.code).toBe(1)
    expect(again.out).toContain('no live token is named "app_read_token"')
    expect((await cli(['token', 'revoke'])).code).toBe(2)

    const reset = await cli(['seed', '--reset'])
    expect(reset.code).toBe(0)
    expect(reset.out).toMatch(/emptied: .*ecomm_events/)
    expect(reset.out).toContain('products: 44 in 5 categories')
    expect((await cli(['token', 'list'])).out).toContain('app_analytics_token') // tokens survive a reset
  })
})
