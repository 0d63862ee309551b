/**
 * `npm run bench:compare`: builds of the gateway side by side on one dataset, against the bare store.
 *
 * The data is generated once and its chDB directory copied once per contender (and once for the bare
 * store, read in this process). Each contender is a built checkout (`node dist/main.js start`) with its
 * own environment: this checkout, this checkout with the read cache on, and optionally an older build
 * (`--baseline DIR`, e.g. `git worktree add /tmp/base main && (cd /tmp/base && npm run build)`).
 * Rounds interleave every contender and the bare store; each round yields one p50 per measure and side,
 * and the report gives the median over rounds of each ratio with its min–max: the machine is shared and
 * noisy, so a ratio of two numbers taken seconds apart is the only fair comparison.
 *
 * Measured: productGrid over GraphQL (every field, all products), the same grid as REST
 * `api_product_grid.json`, the cart dashboard (8 queries), and ingest of 10,000 ecommerce events per batch
 * through `/v0/events` (NDJSON) and through `ingestEcommEvents`, against a direct JSONEachRow insert into
 * the same table on the bare copy. Gateways run with `SIGHTLINE_DURABILITY=none`, like the direct insert.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ClickHouseClient } from '@clickhouse/client'
import { prng } from '../src/random.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { toChDateTime } from '../src/store/clickhouse.js'
import { createConnection } from '../src/store/connection.js'
import { captureQueries, gridQuery, replay, replayAnswer, restGridQuery, rowsOf, type CapturedQuery } from './bare.js'
import { fmt, generate, settle, type Dataset } from './data.js'
import { closeHttp, getBytes, getJson, GraphQLHttp, pipeUrl, sendBytes, startGateway, type GatewayProcess } from './gateway.js'
import { median, round, spread } from './stats.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DATABASE = 'sightline'
const LOW_STOCK = 100
const BATCH = 10_000
const GRID = 'query Grid($category: String) { productGrid(category: $category) { id name category photo price stock stockStatus hits trending rankStatus } }'
const INGEST = 'mutation Ingest($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted quarantined } }'
const DASHBOARD = `query Dashboard($ws: ID!, $from: DateTime!, $to: DateTime!) {
  analytics(app: CART, workspaceId: $ws, from: $from, to: $to) {
    totals { ...M }
    browser: breakdown(by: BROWSER) { value metrics { ...M } }
    os: breakdown(by: OS) { value metrics { ...M } }
    device: breakdown(by: DEVICE) { value metrics { ...M } }
    country: breakdown(by: COUNTRY) { value metrics { ...M } }
    referer: breakdown(by: REFERER) { value metrics { ...M } }
    platform: breakdown(by: PLATFORM) { value metrics { ...M } }
    timeseries(granularity: HOUR) { start metrics { ...M } }
  }
}
fragment M on AppMetrics { events sessions visitors ... on CartMetrics { views addToCarts purchases revenue } }`
const DIMENSIONS = ['browser', 'os', 'device', 'country', 'referer', 'platform'] as const

const USAGE = `Usage: npm run bench:compare -- [options]

  --events N       ecommerce events (default 1,000,000)   --products N   products (default 2,000)
  --rounds N       interleaved rounds (default 5)         --block N      requests per side and round (default 15)
  --ingest-rounds N  rounds with one 10,000-row batch per route (default 3; 0 skips ingest)
  --baseline DIR   also measure the build in DIR (a checkout with dist/ and node_modules/)
  --no-cache       skip the contender with SIGHTLINE_READ_CACHE=1
  --out PATH       JSON report (default bench/results/compare.json)
`

interface Contender {
  readonly name: string
  readonly repo: string
  readonly env: Record<string, string>
  gateway?: GatewayProcess
  reader?: GraphQLHttp
  writer?: GraphQLHttp
  readToken?: string
  appendToken?: string
}

type Samples = Record<string, number[]>

const progress = (line: string) => process.stderr.write(`  ${line}\n`)

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      products: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '5' },
      block: { type: 'string', default: '15' },
      'ingest-rounds': { type: 'string', default: '3' },
      baseline: { type: 'string' },
      'no-cache': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) return console.log(USAGE)
  const events = Number(values.events)
  const scale = { events, products: Number(values.products), appEvents: Math.round(events * 0.3) }
  const rounds = Number(values.rounds)
  const block = Number(values.block)
  const ingestRounds = Number(values['ingest-rounds'])
  const out = resolve(values.out ?? join(REPO, 'bench', 'results', 'compare.json'))

  const durable = { SIGHTLINE_DURABILITY: 'none', SIGHTLINE_RATE_LIMIT: '0' }
  const contenders: Contender[] = [
    ...(values.baseline ? [{ name: 'baseline', repo: resolve(values.baseline), env: durable }] : []),
    { name: 'gateway', repo: REPO, env: durable },
    ...(values['no-cache'] ? [] : [{ name: 'gateway+cache', repo: REPO, env: { ...durable, SIGHTLINE_READ_CACHE: '1' } }]),
  ]

  const root = mkdtempSync(join(tmpdir(), 'sightline-compare-'))
  const loadStart = loadavg().map((v) => round(v))
  const started = performance.now()
  let client: ClickHouseClient | undefined
  try {
    process.stderr.write(`\n▶ Generating ${fmt(scale.events)} events, ${fmt(scale.products)} products, ${fmt(scale.appEvents)} app events\n`)
    const bareDir = join(root, 'bare')
    client = openClient(bareDir)
    const genStore = new ClickHouseStore(client, { database: DATABASE, cluster: undefined })
    await genStore.migrate()
    const data = await generate(client, genStore, DATABASE, scale, progress)
    await settle(client, DATABASE, progress)
    await client.close()
    client = undefined
    const adminToken = `bench_admin_${randomBytes(16).toString('hex')}`
    for (const c of contenders) {
      const dir = join(root, c.name)
      cpSync(bareDir, dir, { recursive: true })
      c.gateway = await startGateway({ repo: c.repo, dataDir: dir, database: DATABASE, adminToken, lowStock: LOW_STOCK, env: c.env })
      const admin = new GraphQLHttp(c.gateway.url, adminToken)
      const token = async (name: string, scopes: string[]) =>
        (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } })).createToken.token
      c.readToken = await token('bench_read', ['read'])
      c.appendToken = await token('bench_append', ['append:ecomm_events'])
      c.reader = new GraphQLHttp(c.gateway.url, c.readToken)
      c.writer = new GraphQLHttp(c.gateway.url, c.appendToken)
      progress(`${c.name}: pid ${c.gateway.pid} (${c.repo})`)
    }
    client = openClient(bareDir)
    const c0 = client

    const gridArgs = { category: 'all', showOutOfStock: false, ranking: 'PRICE' } as const
    const gridSql = await gridQuery(c0, DATABASE, gridArgs, LOW_STOCK, GRID)
    const restSql = await restGridQuery(c0, DATABASE, gridArgs, LOW_STOCK)
    const to = new Date(data.now.getTime() + 60_000)
    const from = new Date(to.getTime() - 7 * 24 * 3600e3)
    const dashSql = await captureQueries(c0, DATABASE, (s) => dashboardCalls(s, data, from, to))
    const gridBody = JSON.stringify({ query: GRID, variables: { category: 'all' } })
    const dashBody = JSON.stringify({ query: DASHBOARD, variables: { ws: data.workspace, from: from.toISOString(), to: to.toISOString() } })
    const rows = await rowsOf(c0, gridSql)
    for (const c of contenders) {
      const items = (await c.reader!.post<{ productGrid: unknown[] }>(gridBody)).productGrid.length
      const rest = (await getJson<{ data: unknown[] }>(restGridUrl(c))).data.length
      if (items !== rows || rest !== rows) throw new Error(`${c.name}: grid ${items} rows, REST ${rest}, bare ${rows}`)
    }
    progress(`grid: ${rows} rows; dashboard: ${dashSql.length} queries`)

    // ---- reads, interleaved
    // The dashboard is ~10× the grid's time: a third of the block keeps the rounds comparable in length.
    const measures: Array<{ name: string; block: number; bare: () => Promise<unknown>; of: (c: Contender) => () => Promise<unknown> }> = [
      { name: 'grid', block, bare: () => replayAnswer(c0, gridSql), of: (c) => () => c.reader!.answer(gridBody) },
      { name: 'restGrid', block, bare: () => replayAnswer(c0, restSql), of: (c) => () => getBytes(restGridUrl(c)) },
      { name: 'dashboard', block: Math.max(3, Math.ceil(block / 3)), bare: () => Promise.all(dashSql.map((q: CapturedQuery) => replay(c0, q))), of: (c) => () => c.reader!.post(dashBody) },
    ]
    // per measure, per side ("bare" or a contender): one p50 per round
    const p50s: Record<string, Samples> = {}
    // per measure, per contender: the gateway's main-thread CPU per request, one figure per round
    const mainCpu: Record<string, Samples> = {}
    for (const m of measures) {
      p50s[m.name] = { bare: [] }
      mainCpu[m.name] = {}
      for (const c of contenders) p50s[m.name]![c.name] = []
      const sides: Array<[string, () => Promise<unknown>]> = [['bare', m.bare], ...contenders.map((c): [string, () => Promise<unknown>] => [c.name, m.of(c)])]
      for (const [, fn] of sides) for (let i = 0; i < 5; i++) await fn() // warm-up
      for (let r = 0; r < rounds; r++) {
        // rotate who goes first
        const order = sides.map((_, i) => sides[(i + r) % sides.length]!)
        for (const [name, fn] of order) {
          const times: number[] = []
          const pid = contenders.find((c) => c.name === name)?.gateway?.pid
          const cpu0 = mainThreadCpuMs(pid)
          for (let i = 0; i < m.block; i++) {
            const t0 = performance.now()
            await fn()
            times.push(performance.now() - t0)
          }
          p50s[m.name]![name]!.push(median(times))
          const cpu1 = mainThreadCpuMs(pid)
          if (cpu0 !== undefined && cpu1 !== undefined) (mainCpu[m.name]![name] ??= []).push((cpu1 - cpu0) / m.block)
        }
      }
      progress(`${m.name}: ${Object.entries(p50s[m.name]!).map(([k, v]) => `${k} ${round(median(v))} ms`).join(', ')}`)
    }

    // ---- ingest, interleaved
    const ingest: Record<string, number[]> = { direct: [] }
    for (const c of contenders) {
      ingest[`${c.name} /v0/events`] = []
      ingest[`${c.name} mutation`] = []
    }
    if (ingestRounds > 0) {
      const rand = prng(11)
      const makeBatch = () =>
        Array.from({ length: BATCH }, () => {
          const r = rand()
          return {
            timestamp: new Date(data.now.getTime() - 3600e3 - Math.floor(rand() * 6 * 24 * 3600e3)),
            event: r < 0.75 ? 'view' : r < 0.93 ? 'cart' : 'sale',
            product: data.productIds[Math.floor(rand() * data.productIds.length)]!,
          }
        })
      const direct = async () => {
        const batch = makeBatch().map((e) => ({ ...e, timestamp: toChDateTime(e.timestamp) }))
        const t0 = performance.now()
        await c0.insert({ table: `${DATABASE}.ecomm_events`, values: batch, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: randomUUID() } })
        return performance.now() - t0
      }
      const viaEvents = (c: Contender) => async () => {
        const body = makeBatch().map((e) => JSON.stringify({ timestamp: e.timestamp.toISOString(), event: e.event, product: e.product })).join('\n')
        const t0 = performance.now()
        const res = await postText(`${base(c)}/v0/events?name=ecomm_events`, body, c.appendToken!, 'application/x-ndjson')
        const took = performance.now() - t0
        const parsed = JSON.parse(res.text) as { successful_rows?: number }
        if (res.status >= 300 || parsed.successful_rows !== BATCH) throw new Error(`${c.name} /v0/events: ${res.status} ${res.text.slice(0, 300)}`)
        return took
      }
      const viaMutation = (c: Contender) => async () => {
        const body = JSON.stringify({ query: INGEST, variables: { events: makeBatch().map((e) => ({ timestamp: e.timestamp.toISOString(), event: e.event.toUpperCase(), product: e.product })) } })
        const t0 = performance.now()
        const r = await c.writer!.post<{ ingestEcommEvents: { accepted: number } }>(body)
        const took = performance.now() - t0
        if (r.ingestEcommEvents.accepted !== BATCH) throw new Error(`${c.name} mutation: ${JSON.stringify(r)}`)
        return took
      }
      const sides: Array<[string, () => Promise<number>]> = [
        ['direct', direct],
        ...contenders.flatMap((c): Array<[string, () => Promise<number>]> => [
          [`${c.name} /v0/events`, viaEvents(c)],
          [`${c.name} mutation`, viaMutation(c)],
        ]),
      ]
      for (const [, fn] of sides) await fn() // warm-up
      for (let r = 0; r < ingestRounds; r++) {
        const order = sides.map((_, i) => sides[(i + r) % sides.length]!)
        for (const [name, fn] of order) ingest[name]!.push(await fn())
        progress(`ingest round ${r + 1}/${ingestRounds}`)
      }
    }

    // ---- report
    const ratio = (measure: string, side: string) => {
      const bare = p50s[measure]!.bare!
      const values = p50s[measure]![side]!.map((v, i) => v / bare[i]!)
      return spread(values)
    }
    const report = {
      meta: {
        date: new Date().toISOString(),
        scale,
        rows,
        rounds,
        block,
        ingestRounds,
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
        node: process.version,
        loadAverage: { start: loadStart, end: loadavg().map((v) => round(v)) },
        durationSeconds: round((performance.now() - started) / 1000, 1),
        contenders: contenders.map((c) => ({ name: c.name, repo: c.repo, env: c.env })),
        method:
          'Per round and side, the p50 of a block of sequential requests; ratios are taken within a round (contender p50 ÷ bare p50) and summarised as median (min–max) over rounds. Ingest: one 10,000-row batch per route and round, rows/s ÷ the direct insert of the same round.',
      },
      reads: Object.fromEntries(
        measures.map((m) => [
          m.name,
          {
            p50Ms: Object.fromEntries(Object.entries(p50s[m.name]!).map(([k, v]) => [k, spread(v)])),
            ratioToBare: Object.fromEntries(contenders.map((c) => [c.name, ratio(m.name, c.name)])),
            mainThreadCpuMsPerRequest: Object.fromEntries(Object.entries(mainCpu[m.name]!).map(([k, v]) => [k, spread(v)])),
          },
        ]),
      ),
      ingest:
        ingestRounds > 0
          ? {
              batchRows: BATCH,
              rowsPerSec: Object.fromEntries(Object.entries(ingest).map(([k, v]) => [k, spread(v.map((ms) => Math.round(BATCH / (ms / 1000))))])),
              ratioToDirect: Object.fromEntries(
                Object.entries(ingest)
                  .filter(([k]) => k !== 'direct')
                  .map(([k, v]) => [k, spread(v.map((ms, i) => ingest.direct![i]! / ms))]),
              ),
            }
          : null,
      memoryMb: Object.fromEntries(contenders.map((c) => [c.name, c.gateway!.memory()])),
    }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
    console.log(JSON.stringify({ reads: report.reads, ingest: report.ingest, load: report.meta.loadAverage }, null, 2))
    console.log(`\nWritten ${out}`)
  } catch (err) {
    for (const c of contenders) if (c.gateway) process.stderr.write(`\n${c.name} log tail:\n${c.gateway.logTail()}\n`)
    throw err
  } finally {
    for (const c of contenders) await c.gateway?.stop()
    await client?.close()
    closeHttp()
    rmSync(root, { recursive: true, force: true })
  }
}

function openClient(dataDir: string): ClickHouseClient {
  return createConnection({ url: undefined, user: 'default', password: '', database: 'default', cluster: undefined, dataDir })
}

function dashboardCalls(s: ClickHouseStore, data: Dataset, from: Date, to: Date): Promise<unknown[]> {
  const q = { app: 'cart', workspaceId: data.workspace, from, to, filter: {} } as const
  return Promise.all([
    s.analyticsTotals(q),
    ...DIMENSIONS.map((by) => s.analyticsBreakdown({ ...q, by, limit: 50 })),
    s.analyticsTimeseries({ ...q, granularity: 'HOUR', timezone: 'UTC' }),
  ])
}

const base = (c: Contender) => c.gateway!.url.replace(/\/graphql$/, '')
const restGridUrl = (c: Contender) => pipeUrl(c.gateway!.url, 'api_product_grid', c.readToken!)

/**
 * CPU time (user + system, ms) of a process's main thread, the one that runs JavaScript (its thread id is
 * the process id), from Linux's /proc; undefined elsewhere. chDB's and the GC's threads are not counted.
 * Ticks are 10 ms: a block's figure is coarse, the median over rounds is not.
 */
function mainThreadCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return undefined
  }
}

async function postText(url: string, body: string, token: string, contentType: string): Promise<{ status: number; text: string }> {
  const { status, bytes } = await sendBytes(url, 'POST', body, { 'content-type': contentType, authorization: `Bearer ${token}`, 'content-length': String(Buffer.byteLength(body)) })
  return { status, text: bytes.toString('utf8') }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
