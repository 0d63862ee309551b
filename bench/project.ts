/**
 * `npm run bench:project`: a loaded Tinybird project's pipe over REST against the same SQL run directly on
 * the store. The gateway runs in this process on a fresh embedded store with `examples/ecommerce` loaded
 * and generated data; "bare" renders the pipe exactly as the server does (`pipeSql`, bound parameters,
 * template settings) and runs it through the project repository's `select` (same chDB session, same JSON
 * parse), so the ratio is what the HTTP surface, auth, parameter handling and Tinybird's envelope add.
 * Calls alternate in blocks after a warm-up; each round's p50 ratio is kept and the median and spread of
 * those ratios are reported (target ≤ 1.2× for the product grid).
 *
 *   npm run bench:project -- [--events 300000] [--products 2000] [--rounds 5] [--iterations 60]
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { withSettings } from '../src/domain/project.js'
import { loadProject } from '../src/project/datafile.js'
import { pipeSql } from '../src/project/pipeline.js'
import { startServer } from '../src/server.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { interleaved, round, summarize } from './stats.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    products: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '60' },
  },
})
const EXAMPLE = fileURLToPath(new URL('../examples/ecommerce', import.meta.url))
const database = 'bench_project'
const dir = mkdtempSync(join(tmpdir(), 'sightline-project-bench-'))
const admin = `admin_${randomBytes(12).toString('hex')}`
const config = loadConfig({
  PORT: '0',
  SIGHTLINE_LOG_LEVEL: 'silent',
  SIGHTLINE_ADMIN_TOKEN: admin,
  SIGHTLINE_DATA_DIR: dir,
  SIGHTLINE_DURABILITY: 'none',
  SIGHTLINE_RATE_LIMIT: '0',
  SIGHTLINE_PROJECT: EXAMPLE,
  SIGHTLINE_PROJECT_DATABASE: database,
})
const server = await startServer(config)
const store = server.services.store
if (!(store instanceof ClickHouseStore)) throw new Error('the bench needs the ClickHouse store')
const repo = store.project(database)
const base = server.url.replace(/\/graphql$/, '')

try {
  // Data: products in 8 categories, stock for each, `events` view/cart/sale events over 30 days.
  const products = Number(values.products)
  const categories = ['shoes', 'bags', 'hats', 'shirts', 'coats', 'socks', 'belts', 'scarves']
  await repo.insert(
    'products',
    Array.from({ length: products }, (_, i) => ({ category: categories[i % categories.length], id: `p${i}`, name: `Product ${i}`, photo: '', price: 5 + (i % 200) })),
  )
  await repo.insert(
    'warehouse_stock',
    Array.from({ length: products }, (_, i) => ({ timestamp: '2026-11-01 00:00:00', product: `p${i}`, store: 's1', amount: (i * 37) % 400 })),
  )
  const events = Number(values.events)
  const kinds = ['view', 'view', 'view', 'cart', 'sale']
  const now = Date.now()
  for (let from = 0; from < events; from += 50_000) {
    const chunk = Array.from({ length: Math.min(50_000, events - from) }, (_, j) => {
      const i = from + j
      const at = new Date(now - ((i * 7919) % (30 * 86_400)) * 1000).toISOString().slice(0, 19).replace('T', ' ')
      return { timestamp: at, event: kinds[i % kinds.length], product: `p${(i * 31) % products}` }
    })
    await repo.insert('ecomm_events', chunk)
  }
  process.stderr.write(`data: ${products} products, ${events} events\n`)

  const project = loadProject(EXAMPLE)
  const cases: Array<{ label: string; pipe: string; params: Record<string, string> }> = [
    { label: 'api_product_grid (all, trending)', pipe: 'api_product_grid', params: { ranking: '1' } },
    { label: 'api_product_grid (one category)', pipe: 'api_product_grid', params: { category: 'hats' } },
    { label: 'api_ui_filters (products)', pipe: 'api_ui_filters', params: { filter: 'product', category: 'bags' } },
  ]
  const rounds = Number(values.rounds)
  const iterations = Number(values.iterations)
  const results = []
  for (const c of cases) {
    const url = `${base}/v0/pipes/${c.pipe}.json?${new URLSearchParams(c.params)}`
    const rest = async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${admin}` } })
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`)
      await res.json()
    }
    const bare = async () => {
      const rendered = pipeSql(project, c.pipe, { database, params: c.params })
      await repo.select(withSettings(rendered), rendered.params)
    }
    const ratios: number[] = []
    let last: Record<string, number[]> = {}
    for (let r = 0; r < rounds; r++) {
      last = await interleaved({ rest, bare }, { warmup: r === 0 ? 10 : 3, iterations, block: 10 })
      ratios.push(summarize(last.rest!).p50 / summarize(last.bare!).p50)
    }
    const sorted = [...ratios].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)]!
    const row = {
      case: c.label,
      rest_p50_ms: summarize(last.rest!).p50,
      bare_p50_ms: summarize(last.bare!).p50,
      ratio_median: round(median),
      ratio_min: round(sorted[0]!),
      ratio_max: round(sorted[sorted.length - 1]!),
    }
    results.push(row)
    process.stderr.write(`${JSON.stringify(row)}\n`)
  }
  console.log('\n| pipe | REST p50 (ms, last round) | bare SQL p50 (ms) | REST / bare, median of rounds (min–max) |')
  console.log('|---|---|---|---|')
  for (const r of results) console.log(`| ${r.case} | ${r.rest_p50_ms} | ${r.bare_p50_ms} | ${r.ratio_median}× (${r.ratio_min}–${r.ratio_max}) |`)
} finally {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
