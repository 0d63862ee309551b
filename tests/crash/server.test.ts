import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startServerProcess } from '../helpers/process.js'

// The same kill as crash.test.ts, but of the real server (`sightline start`), with the retry sent over
// GraphQL and a live subscriber connected to the restarted server: a warehouse batch with a bad row is
// killed just before the part of each of its tables and views lands; after the retry, stock, quarantine
// and `deduplicated` are exact, and the subscriber hears of each product's change at most once — exactly
// once when the kill had cost the change-log rows (they are written by the retry), never when they had
// landed before the kill (they belong to the previous process's subscribers). The ingest journal is
// removed before the restart, so the retry (not start-up recovery) completes the batch here.

const HERE = fileURLToPath(new URL('.', import.meta.url))
const skip = spawnSync('gcc', ['--version']).status !== 0
if (skip) console.warn('server crash tests skipped: gcc is missing (it builds the LD_PRELOAD shim)')

/** The server from source, with the live feed polling every 100 ms. */
const start = (env: Record<string, string>) => startServerProcess({ SIGHTLINE_POLL_MS: '100', ...env })

async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: T; errors?: unknown[] }
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`)
  return body.data
}

const INGEST = `mutation($u: [WarehouseStockInput!]!, $k: String) {
  ingestWarehouseStock(updates: $u, idempotencyKey: $k) { accepted quarantined errors { index message } deduplicated }
}`

describe.skipIf(skip)('the server killed before each part of a keyed batch, restarted, retried over GraphQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-crash-server-'))
  const shim = join(dir, 'kill-on-rename.so')
  const admin = `admin_${randomBytes(16).toString('hex')}`
  const at = new Date(Date.now() - 10 * 60_000).toISOString()
  const updates = [
    { product: 'p1', store: 'north', amount: 100, timestamp: at },
    { product: 'p1', store: 'south', amount: -30, timestamp: at },
    { product: 'p2', store: 'east', amount: 7, timestamp: at },
    { product: 'bad_row_mark', store: '', amount: 1, timestamp: at },
  ]
  const first = { accepted: 3, quarantined: 1, errors: [{ index: 3, message: 'store is empty' }] }

  beforeAll(() => {
    const cc = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, join(HERE, 'kill-on-rename.c'), '-ldl'], { encoding: 'utf8' })
    if (cc.status !== 0) throw new Error(`gcc failed:\n${cc.stderr}`)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  // Change-log rows: lost with the kill (so the retry writes them) or landed before it, or either.
  const targets: Array<[string, 'lost' | 'landed' | 'either']> = [
    ['warehouse_stock_quarantine', 'lost'],
    ['warehouse_stock', 'either'],
    ['mv_latest_availability', 'either'],
    ['stock_changes', 'lost'],
    ['ingest_batches', 'landed'],
  ]

  it.each(targets)('killed before the part of %s', async (target, changeLog) => {
    const dataDir = join(dir, target)
    const env = { SIGHTLINE_DATA_DIR: dataDir, SIGHTLINE_ADMIN_TOKEN: admin }
    const doomed = await start({ ...env, LD_PRELOAD: shim, CRASH_TABLE_DIR: join(dataDir, 'data', 'sightline', target) })
    await expect(gql(doomed.url, admin, INGEST, { u: updates, k: 'key-1' })).rejects.toThrow()
    expect((await doomed.exited).signal).toBe('SIGKILL')
    // Without the journal, start-up cannot complete the batch: the retry does, with a subscriber listening.
    rmSync(join(dataDir, 'sightline-journal'), { recursive: true, force: true })

    const server = await start(env)
    const heard: Array<{ product: string; delta: number }> = []
    const ws = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${admin}` }, retryAttempts: 0 })
    try {
      let ready: () => void = () => {}
      const sentinel = new Promise<void>((resolve) => (ready = resolve))
      ws.subscribe<{ stockChanged: { product: string; delta: number } }>(
        { query: 'subscription { stockChanged(products: ["p1", "p2", "sentinel"]) { product delta } }' },
        {
          next: ({ data }) => (data!.stockChanged.product === 'sentinel' ? ready() : heard.push(data!.stockChanged)),
          error: () => {},
          complete: () => {},
        },
      )
      // The subscription is live once an unrelated change reaches it.
      const poke = setInterval(() => void gql(server.url, admin, INGEST, { u: [{ product: 'sentinel', store: 's', amount: 1, timestamp: at }] }).catch(() => {}), 500)
      await sentinel.finally(() => clearInterval(poke))

      const retried = await gql<{ ingestWarehouseStock: unknown }>(server.url, admin, INGEST, { u: updates, k: 'key-1' })
      expect(retried.ingestWarehouseStock).toEqual({ ...first, deduplicated: target === 'ingest_batches' })
      await new Promise((r) => setTimeout(r, 1500)) // 15 polls
      const stock = await gql<{ stock: Array<{ product: string; available: number }> }>(server.url, admin, 'query { stock(products: ["p1", "p2"]) { product available } }')
      expect(stock.stock).toEqual([
        { product: 'p1', available: 70 },
        { product: 'p2', available: 7 },
      ])
      const q = await gql<{ quarantine: Array<{ row: string }> }>(server.url, admin, 'query { quarantine(table: "warehouse_stock", limit: 100) { row } }')
      expect(q.quarantine.filter((r) => r.row.includes('bad_row_mark'))).toHaveLength(1)
      const again = await gql<{ ingestWarehouseStock: unknown }>(server.url, admin, INGEST, { u: updates, k: 'key-1' })
      expect(again.ingestWarehouseStock).toEqual({ ...first, deduplicated: true })

      const per = (p: string) => heard.filter((h) => h.product === p)
      for (const [p, delta] of [['p1', 70], ['p2', 7]] as const) {
        expect(per(p).length, `${p}: ${JSON.stringify(heard)}`).toBeLessThanOrEqual(1)
        if (changeLog === 'lost') expect(per(p)).toEqual([{ product: p, delta }])
        if (changeLog === 'landed') expect(per(p)).toEqual([])
        if (per(p).length === 1) expect(per(p)[0]!.delta).toBe(delta)
      }
    } finally {
      await ws.dispose()
      await server.kill('SIGTERM')
    }
  })
})
