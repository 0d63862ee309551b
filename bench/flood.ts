/**
 * `npm run bench:flood`: a heavy-read flood against the gateway as shipped (default limits, scheduler
 * and rate limits), measuring what it costs everyone else: a 10-row ingest and `/healthz`, idle and
 * under the flood. The flood is 16 client loops (`--loops`) of the heaviest reads a read token can ask
 * for: the full product grid, an all-time dashboard with 1,000-row breakdowns, and an 11-month hourly
 * trend in a half-hour zone (Asia/Kolkata, which forces the minute rollup).
 *
 * The target: ingest's worst case under the flood within 3× its idle worst case plus the read
 * time limit (SIGHTLINE_READ_TIMEOUT_MS, 10 s by default), and /healthz under 100 ms.
 *
 * Options: --events N, --products N, --loops N, --seconds N, --quick (a small run), --out PATH,
 * --profile DIR (the gateway's V8 CPU profile).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { createConnection } from '../src/store/connection.js'
import { fmt, generate, settle } from './data.js'
import { startGateway, type GatewayProcess } from './gateway.js'
import { round, summarize, type Summary } from './stats.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DATABASE = 'sightline'
const READ_TIMEOUT_MS = 10_000 // the default of SIGHTLINE_READ_TIMEOUT_MS, which the gateway runs with here

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    events: { type: 'string', default: '1000000' },
    products: { type: 'string', default: '2000' },
    loops: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '30' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench', 'results', 'flood.json') },
    profile: { type: 'string' },
  },
})
const quick = values.quick
const EVENTS = quick ? 50_000 : Number(values.events)
const PRODUCTS = quick ? 500 : Number(values.products)
const LOOPS = Number(values.loops)
const SECONDS = quick ? 8 : Number(values.seconds)

const progress = (line: string) => process.stderr.write(`  ${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Answer {
  status: number
  ms: number
  codes: string[]
}

async function gql(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<Answer> {
  const started = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> }
  return { status: res.status, ms: performance.now() - started, codes: (body.errors ?? []).map((e) => String(e.extensions?.code)) }
}

async function healthz(base: string): Promise<number> {
  const started = performance.now()
  const res = await fetch(`${base}/healthz`)
  await res.arrayBuffer()
  return performance.now() - started
}

const GRID = '{ productGrid(showOutOfStock: true) { id name category photo price stock stockStatus hits trending rankStatus } }'
const METRICS = 'events sessions visitors ... on CartMetrics { views addToCarts purchases revenue }'
const DASHBOARD = `query D($ws: ID!, $from: DateTime!, $to: DateTime!) {
  analytics(app: CART, workspaceId: $ws, from: $from, to: $to) {
    totals { ${METRICS} }
    country: breakdown(by: COUNTRY, limit: 1000) { value metrics { ${METRICS} } }
    city: breakdown(by: CITY, limit: 1000) { value metrics { ${METRICS} } }
    referer: breakdown(by: REFERER, limit: 1000) { value metrics { ${METRICS} } }
    browser: breakdown(by: BROWSER, limit: 1000) { value metrics { ${METRICS} } }
  }
}`
const TREND = `query T($from: DateTime!, $to: DateTime!) {
  ecommTrend(from: $from, to: $to, granularity: HOUR, timezone: "Asia/Kolkata") { start views carts sales revenue }
}`
const INGEST = 'mutation I($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }'

function ingestBatch(productIds: readonly string[]): Record<string, unknown> {
  return { e: Array.from({ length: 10 }, (_, i) => ({ event: 'VIEW', product: productIds[i % productIds.length] })) }
}

/** Ingests one 10-row batch at a time, `pauseMs` apart, until `stop`. */
async function ingestLoop(url: string, token: string, productIds: readonly string[], until: () => boolean, pauseMs: number): Promise<Answer[]> {
  const out: Answer[] = []
  while (!until()) {
    out.push(await gql(url, token, INGEST, ingestBatch(productIds)))
    await sleep(pauseMs)
  }
  return out
}

async function healthLoop(base: string, until: () => boolean): Promise<number[]> {
  const out: number[] = []
  while (!until()) {
    out.push(await healthz(base))
    await sleep(100)
  }
  return out
}

const summary = (values: readonly number[]): Summary & { n: number } => ({ ...summarize(values.length ? values : [0]), n: values.length })

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sightline-flood-'))
  const dataDir = join(root, 'data')
  const adminToken = `flood_admin_${randomBytes(16).toString('hex')}`
  let gateway: GatewayProcess | undefined
  try {
    process.stderr.write(`\n▶ Generating ${fmt(EVENTS)} events, ${fmt(PRODUCTS)} products\n`)
    const client = createConnection({ url: undefined, user: 'default', password: '', database: 'default', cluster: undefined, dataDir })
    const store = new ClickHouseStore(client, { database: DATABASE, cluster: undefined })
    await store.migrate()
    const data = await generate(client, store, DATABASE, { events: EVENTS, products: PRODUCTS, appEvents: Math.round(EVENTS * 0.3) }, progress)
    await settle(client, DATABASE, progress)
    await client.close()

    process.stderr.write('\n▶ Starting the gateway with its default limits\n')
    const profile = values.profile && resolve(values.profile)
    gateway = await startGateway({
      repo: REPO,
      dataDir,
      database: DATABASE,
      adminToken,
      lowStock: 100,
      nodeArgs: profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [],
    })
    const url = gateway.url
    const base = url.replace(/\/graphql$/, '')
    const mint = async (scopes: string[]) => {
      const name = `flood_${randomBytes(4).toString('hex')}`
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ query: 'mutation Q($i: TokenInput!) { createToken(input: $i) { token } }', variables: { i: { name, scopes } } }),
      })
      return ((await res.json()) as { data: { createToken: { token: string } } }).data.createToken.token
    }
    const appendToken = await mint(['append'])
    const readTokens = await Promise.all(Array.from({ length: LOOPS }, () => mint(['read'])))
    const now = new Date()
    const elevenMonths = new Date(now.getTime() - 335 * 86_400_000)
    const heavy = [
      { name: 'grid', query: GRID, variables: {} },
      { name: 'dashboard', query: DASHBOARD, variables: { ws: data.workspace, from: '2000-01-01T00:00:00Z', to: now.toISOString() } },
      { name: 'trend', query: TREND, variables: { from: elevenMonths.toISOString(), to: now.toISOString() } },
    ]

    // Each heavy read alone, once warm, for reference.
    const alone: Record<string, number> = {}
    for (const h of heavy) {
      await gql(url, readTokens[0]!, h.query, h.variables)
      const a = await gql(url, readTokens[0]!, h.query, h.variables)
      if (a.codes.length) progress(`${h.name} alone answered ${a.codes.join(', ')}`)
      alone[h.name] = round(a.ms)
    }
    progress(`heavy reads alone: ${JSON.stringify(alone)} ms`)

    process.stderr.write('\n▶ Idle: ingest and /healthz with nothing else running\n')
    const idleEnd = Date.now() + 5_000
    const [idleIngest, idleHealth] = await Promise.all([
      ingestLoop(url, appendToken, data.productIds, () => Date.now() > idleEnd, 100),
      healthLoop(base, () => Date.now() > idleEnd),
    ])

    process.stderr.write(`\n▶ Flood: ${LOOPS} loops of heavy reads for ${SECONDS} s, ingest and /healthz alongside\n`)
    const floodEnd = Date.now() + SECONDS * 1000
    const reads: Record<string, { ok: number[]; codes: Record<string, number> }> = Object.fromEntries(
      heavy.map((h) => [h.name, { ok: [] as number[], codes: {} as Record<string, number> }]),
    )
    const readLoop = async (i: number) => {
      let n = i
      while (Date.now() < floodEnd) {
        const h = heavy[n++ % heavy.length]!
        const a = await gql(url, readTokens[i]!, h.query, h.variables)
        const r = reads[h.name]!
        if (a.codes.length === 0) r.ok.push(a.ms)
        for (const c of new Set(a.codes)) r.codes[c] = (r.codes[c] ?? 0) + 1
        // A refused read (STORE_BUSY, RATE_LIMITED) backs off briefly, as a client honouring Retry-After would, only shorter.
        if (a.codes.length) await sleep(100)
      }
    }
    await sleep(0)
    const floodStarted = Date.now()
    const readers = Array.from({ length: LOOPS }, (_, i) => readLoop(i))
    await sleep(1000) // let the queue fill before measuring
    const [floodIngest, floodHealth] = await Promise.all([
      ingestLoop(url, appendToken, data.productIds, () => Date.now() > floodEnd, 250),
      healthLoop(base, () => Date.now() > floodEnd),
    ])
    await Promise.all(readers)
    const floodMs = Date.now() - floodStarted

    const idleI = summary(idleIngest.map((a) => a.ms))
    const floodI = summary(floodIngest.map((a) => a.ms))
    const report = {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, loadAverage: loadavg().map((v) => round(v)) },
      scale: { events: EVENTS, products: PRODUCTS, loops: LOOPS, seconds: SECONDS },
      heavyReadAloneMs: alone,
      ingest: {
        idle: idleI,
        flood: floodI,
        failed: floodIngest.filter((a) => a.codes.length > 0).map((a) => a.codes.join(',')),
      },
      healthz: { idle: summary(idleHealth), flood: summary(floodHealth) },
      reads: Object.fromEntries(
        Object.entries(reads).map(([name, r]) => [name, { answered: r.ok.length, perSecond: round((r.ok.length * 1000) / floodMs), latency: summary(r.ok), refused: r.codes }]),
      ),
      targets: {
        ingestWorstWithin: round(3 * idleI.max + READ_TIMEOUT_MS),
        ingestWorst: round(floodI.max),
        ingestMet: floodI.max <= 3 * idleI.max + READ_TIMEOUT_MS && floodIngest.every((a) => a.codes.length === 0),
        healthzWorst: round(summary(floodHealth).max),
        healthzMet: summary(floodHealth).max < 100,
      },
    }
    mkdirSync(dirname(values.out), { recursive: true })
    writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`)
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  } finally {
    await gateway?.stop()
    rmSync(root, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
