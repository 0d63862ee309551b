/**
 * `npm run bench`: for each scale, a generated history (cached, see data.ts) is copied twice; the gateway
 * runs as its own process on one copy and the bare store in a child of this process on the other; each
 * pass measures both (the reads with the gateway's read cache on, then everything with it off, the default),
 * and passes are repeated (`--runs`) interleaved across scales; then a mixed soak
 * (soak.ts). Prints a table of medians with spreads and writes every pass's figures to one JSON report.
 * `--help` lists the options; the README's Benchmarks section explains the method.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ClickHouseClient } from '@clickhouse/client'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import type { DimensionField, GridQuery } from '../src/store/types.js'
import { captureQueries, gridQuery, replay, replayAnswer, restGridQuery, rowsOf, type CapturedQuery } from './bare.js'
import { addRecent, buildHistory, cachedHistory, DATABASE, fmt, openBenchClient, type CachedHistory, type Dataset, type Scale } from './data.js'
import { closeHttp, getBytes, getJson, GraphQLHttp, pipeUrl, startGateway, type GatewayProcess, type ReadCacheCounts } from './gateway.js'
import { measureIngest } from './ingest.js'
import type { IngestRoutesSummary } from './ingest-routes.js'
import { printPass, printResults, summarizeRuns, TARGETS, type BenchResults, type PassReport, type ReadComparison } from './report.js'
import { DASHBOARD as SOAK_DASHBOARD, DASHBOARD_DIMENSIONS, GRID as SOAK_GRID, runSoak, type SoakResult } from './soak.js'
import { closedLoop, interleaved, round, summarize } from './stats.js'
import { measureSubscriptions, storedTimes } from './subscriptions.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DEFAULT_OUT = join(REPO, 'bench', 'results', 'latest.json')
const LOW_STOCK = 100

const USAGE = `Usage: npm run bench -- [options]

  --scale S         small (1M events, 2,000 products, 300k app events; the default), large (10M events,
                    10,000 products, 3M app events) or both (adds the scale ratios: grid at 10M vs 1M,
                    dashboard with 10x the app events)
  --runs N          passes per scale, interleaved across scales; the report gives medians and spreads
                    (default 1)
  --soak-minutes M  the mixed soak after the passes (default 5; 0 skips it; --quick 0.25);
                    \`npm run bench:soak -- --minutes M\` runs it alone
  --events N        ecommerce events of the small scale (default 1,000,000; --quick 50,000)
  --products N      products of the small scale (default 2,000; --quick 500)
  --app-events N    app events of the small scale (default 30% of --events)
  --subscribers N   graphql-ws subscribers for the live-stock latency (default 1,000; --quick 100)
  --quick           small sizes (about a minute) to check the harness works
  --brief           the chosen scales' real sizes with --quick's iteration counts (a loaded machine)
  --out PATH        where to write the JSON report (default bench/results/latest.json)
  --prepare         only generate (or find) the histories of the chosen scales, then stop
  --keep            keep the temporary data directories
  --profile DIR     write the gateway's V8 CPU profile (.cpuprofile) to DIR

Generated histories are cached under node_modules/.cache/sightline-bench (SIGHTLINE_BENCH_CACHE), keyed
by the generator, the migrations and the scale; each pass copies one and adds a fresh last hour.
`

export type ScaleName = 'small' | 'large'

export interface Plan {
  readonly name: ScaleName
  readonly scale: Scale
  readonly quick: boolean
  readonly grid: { warmup: number; iterations: number; block: number }
  readonly dashboard: { warmup: number; iterations: number; block: number }
  readonly ingestRows: number
  readonly concurrency: { clients: number; seconds: number }
  readonly subscribers: number
  readonly writes: number
}

interface Options {
  readonly plans: readonly Plan[]
  readonly runs: number
  readonly soakMinutes: number
  readonly out: string
  readonly keep: boolean
  readonly quick: boolean
  readonly prepare: boolean
  readonly profile: string | undefined
}

const count = (v: string | undefined, fallback: number, min: number) => {
  if (v === undefined) return fallback
  const n = Number(v.replaceAll('_', '').replaceAll(',', ''))
  if (!Number.isInteger(n) || n < min) throw new Error(`expected an integer ≥ ${min}, got "${v}"`)
  return n
}

function options(argv: string[]): Options | { generate: string; scale: Scale } | { pass: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      brief: { type: 'boolean', default: false },
      scale: { type: 'string', default: 'small' },
      runs: { type: 'string' },
      'soak-minutes': { type: 'string' },
      events: { type: 'string' },
      products: { type: 'string' },
      'app-events': { type: 'string' },
      subscribers: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      prepare: { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
      // A child process's job (chDB binds one data directory per process).
      'internal-generate': { type: 'string' },
      'internal-scale': { type: 'string' },
      'internal-pass': { type: 'string' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  if (values['internal-generate']) return { generate: values['internal-generate'], scale: JSON.parse(values['internal-scale'] ?? '{}') as Scale }
  if (values['internal-pass']) return { pass: values['internal-pass'] }
  if (!['small', 'large', 'both'].includes(values.scale)) throw new Error(`--scale is small, large or both, not "${values.scale}"`)
  const quick = values.quick
  const events = count(values.events, quick ? 50_000 : 1_000_000, 1000)
  const small: Scale = {
    events,
    products: count(values.products, quick ? 500 : 2_000, 100),
    appEvents: count(values['app-events'], Math.round(events * 0.3), 1000),
  }
  // Ten times the events and app events over the same week, five times the products.
  const large: Scale = quick ? { events: 500_000, products: 2_500, appEvents: 150_000 } : { events: 10_000_000, products: 10_000, appEvents: 3_000_000 }
  const subscribers = count(values.subscribers, quick ? 100 : 1_000, 1)
  const plan = (name: ScaleName, scale: Scale): Plan => {
    if (quick || values.brief) {
      return {
        name,
        scale,
        quick,
        grid: { warmup: 3, iterations: 20, block: 5 },
        dashboard: { warmup: 2, iterations: 10, block: 5 },
        ingestRows: 20_000,
        concurrency: { clients: 16, seconds: 2 },
        subscribers,
        writes: 5,
      }
    }
    // The large scale's reads are ~5x slower: fewer iterations keep its pass near the small one's time.
    return name === 'small'
      ? {
          name,
          scale,
          quick,
          grid: { warmup: 20, iterations: 300, block: 10 },
          dashboard: { warmup: 10, iterations: 150, block: 5 },
          ingestRows: 200_000,
          concurrency: { clients: 16, seconds: 15 },
          subscribers,
          writes: 50,
        }
      : {
          name,
          scale,
          quick,
          grid: { warmup: 10, iterations: 100, block: 10 },
          dashboard: { warmup: 5, iterations: 60, block: 5 },
          ingestRows: 100_000,
          concurrency: { clients: 16, seconds: 10 },
          subscribers,
          writes: 30,
        }
  }
  const plans = values.scale === 'both' ? [plan('small', small), plan('large', large)] : [plan(values.scale as ScaleName, values.scale === 'large' ? large : small)]
  const soak = values['soak-minutes'] === undefined ? (quick ? 0.25 : 5) : Number(values['soak-minutes'])
  if (!Number.isFinite(soak) || soak < 0) throw new Error(`--soak-minutes is a number ≥ 0, not "${values['soak-minutes']}"`)
  return {
    plans,
    runs: count(values.runs, 1, 1),
    soakMinutes: soak,
    out: resolve(values.out ?? DEFAULT_OUT),
    keep: values.keep,
    quick,
    prepare: values.prepare,
    profile: values.profile && resolve(values.profile),
  }
}

const progress = (line: string) => process.stderr.write(`  ${line}\n`)
const phase = (line: string) => process.stderr.write(`\n▶ ${line}\n`)

const GRID = SOAK_GRID
const DASHBOARD = SOAK_DASHBOARD
const DIMENSIONS: ReadonlyArray<readonly [gql: string, store: DimensionField]> = DASHBOARD_DIMENSIONS

interface DashboardData {
  analytics: Record<string, unknown> & { totals: { events: number } }
}

/**
 * The gateway's environment in every pass (the cache-on phase adds `SIGHTLINE_READ_CACHE=1`). 1,000 sockets of
 * one read token subscribe at once: the per-token rate limit (on by default) would refuse most of them, and it
 * is not what this bench measures (bench:flood runs with it on). Ingest is compared with a direct insert that
 * does not fsync (the terms); the fsync cost is measured beside it by bench:ingest (ingestRoutes). Reads
 * do not depend on it.
 */
const GATEWAY_ENV = { SIGHTLINE_RATE_LIMIT: '0', SIGHTLINE_DURABILITY: 'none' }

/** The Tinybird-compatible REST pipe measured against the bare store: the product grid as `.json`. */
const REST_GRID_PIPE = 'api_product_grid'

/** One pass at one scale, in its own process: copies of the cached history, the gateway on one. */
async function measurePass(p: Plan, history: CachedHistory, o: { keep: boolean; profile: string | undefined }): Promise<PassReport> {
  const root = mkdtempSync(join(tmpdir(), 'sightline-bench-'))
  const bareDir = join(root, 'bare')
  const gatewayDir = join(root, 'gateway')
  const adminToken = `bench_admin_${randomBytes(16).toString('hex')}`
  const profile = o.profile
  let client: ClickHouseClient | undefined
  let gateway: GatewayProcess | undefined
  const started = performance.now()
  // Other work on the machine skews every number: it is recorded with the results.
  const loadAverage = loadavg().map((v) => round(v))
  try {
    phase(`${p.name} scale: ${fmt(p.scale.events)} ecommerce events, ${fmt(p.scale.products)} products, ${fmt(p.scale.appEvents)} app events`)
    cpSync(history.dir, bareDir, { recursive: true })
    client = openBenchClient(bareDir)
    await addRecent(client, DATABASE, p.scale, new Date(), progress)
    await client.close()
    client = undefined
    cpSync(bareDir, gatewayDir, { recursive: true })
    progress(`copied the history (generated in ${history.generatedSeconds} s${history.reused ? ', reused' : ''}) twice: the gateway serves one copy, the bare store reads the other`)
    const data = history.dataset
    client = openBenchClient(bareDir)
    const c = client
    const store = new ClickHouseStore(client, { database: DATABASE, cluster: undefined })
    const reads = await captureReads(c, data)
    const gatewayOn = (env: Record<string, string>, nodeArgs: string[] = []) =>
      startGateway({ repo: REPO, dataDir: gatewayDir, database: DATABASE, adminToken, lowStock: LOW_STOCK, nodeArgs, env: { ...GATEWAY_ENV, ...env } })

    // ---- read cache on: its own gateway process on the same copy, before the one the rest of the pass measures.
    // Only one process may open a chDB directory, so this one is stopped first. Running it before (not after)
    // the cache-off process leaves that process's phases, order and memory trail as they were, with one restart,
    // and the cached reads see the same data as the uncached ones (live and ingest write to the gateway's copy only).
    phase(`Read cache on: the gateway with SIGHTLINE_READ_CACHE=1 on its copy, stopped before the cache-off gateway starts (grid, dashboard, REST grid, ${p.concurrency.clients}-client throughput)`)
    gateway = await gatewayOn({ SIGHTLINE_READ_CACHE: '1' })
    progress(`gateway pid ${gateway.pid} at ${gateway.url}, read cache on`)
    // Tokens are stored in the data directory: the one created here reads through the next process too.
    const readToken = await createToken(gateway.url, adminToken, 'bench_read', ['read'])
    const cacheOn = await measureCachedReads(p, reads, { gateway, reader: new GraphQLHttp(gateway.url, readToken), readToken, client: c })
    await gateway.stop()
    gateway = undefined

    phase('Starting the gateway (node dist/main.js start) on its copy, read cache off (the default)')
    gateway = await gatewayOn({}, profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [])
    progress(`gateway pid ${gateway.pid} at ${gateway.url}`)
    const gw = gateway
    // The gateway's resident memory after each phase, to see what grows it.
    const rssTrail: Record<string, number | null> = {}
    const mark = (name: string) => {
      rssTrail[name] = gw.memory()?.rssMb ?? null
    }
    mark('ready')
    const sides: ReadSides = { gateway, reader: new GraphQLHttp(gateway.url, readToken), readToken, client: c, store }
    const writer = new GraphQLHttp(gateway.url, await createToken(gateway.url, adminToken, 'bench_append', ['append:ecomm_events']))

    // ---- productGrid
    phase(`productGrid: gateway over HTTP vs the same SQL on the bare store (${p.grid.iterations} each, interleaved)`)
    const gridAll = await compareGrid(sides, reads.grid, p.grid)
    const gridCategory = await compareGrid(sides, reads.gridCategory, { ...p.grid, iterations: Math.ceil(p.grid.iterations / 2) })
    mark('after productGrid')

    // ---- dashboard
    phase(`Analytics dashboard (totals + ${DIMENSIONS.length} breakdowns + hourly series): gateway vs bare (${p.dashboard.iterations} each)`)
    const dashboard = await compareDashboard(sides, reads.dashboard, p.dashboard)
    mark('after dashboard')

    // ---- concurrency
    phase(`productGrid throughput: ${p.concurrency.clients} concurrent clients, ${p.concurrency.seconds} s each side`)
    const concurrency = await compareLoad(sides, reads.grid, p.concurrency)
    mark('after concurrency')

    // ---- REST
    phase(`REST ${REST_GRID_PIPE}.json (every product, as bytes): gateway vs the same SQL on the bare store (${p.grid.iterations} each, interleaved)`)
    const restGrid = await compareRestGrid(sides, reads, p.grid)
    mark('after REST')

    // ---- subscriptions
    phase(`Live stock: ${fmt(p.subscribers)} graphql-ws subscribers, ${p.writes} sequential sale mutations`)
    const admin = new GraphQLHttp(gateway.url, adminToken)
    const subscriptions = await measureSubscriptions({
      wsUrl: gateway.wsUrl,
      readToken: await createToken(gateway.url, adminToken, 'bench_live', ['read:ecommerce']),
      writer,
      subscribers: p.subscribers,
      writes: p.writes,
      products: data.productIds,
      progress,
      storedAt: (n) => storedTimes(admin, 'bench_append', n),
      beforeDisconnect: () => mark('with subscribers'),
    })
    mark('after subscriptions')

    // ---- ingest
    phase(`Ingest: ${fmt(p.ingestRows)} rows in 10,000-row batches, mutation vs direct insert (interleaved)`)
    const ingest = await measureIngest({ http: writer, client, database: DATABASE, products: data.productIds, rows: p.ingestRows, progress })

    await new Promise((r) => setTimeout(r, 1000))
    mark('after ingest (end of run)')
    const after = gateway.memory()
    const heap = await gateway.heap()
    const memory = {
      afterRunRssMb: after?.rssMb ?? null,
      withSubscribersRssMb: rssTrail['with subscribers'] ?? null,
      peakRssMb: after?.peakMb ?? null,
      heapUsedMb: heap?.usedMb ?? null,
      heapTotalMb: heap?.totalMb ?? null,
      trail: rssTrail,
    }

    const report: PassReport = {
      meta: {
        date: new Date().toISOString(),
        quick: p.quick,
        scaleName: p.name,
        scale: p.scale,
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30, 1) },
        node: process.version,
        chdb: packageVersion('chdb'),
        clickhouseClient: packageVersion('@clickhouse/client'),
        commit: gitCommit(),
        durationSeconds: 0,
        loadAverage: { start: loadAverage, end: [] },
      },
      method: METHOD,
      productGrid: gridAll,
      productGridCategory: gridCategory,
      dashboard,
      restGrid,
      ingest,
      concurrency,
      cacheOn,
      subscriptions,
      memory,
      targets: [],
    }
    report.targets = TARGETS.map((t) => {
      const value = t.value(report)
      return { name: t.name, value, limit: t.limit, met: value !== null && t.met(value) }
    })
    report.meta.durationSeconds = round((performance.now() - started) / 1000, 1)
    report.meta.loadAverage.end = loadavg().map((v) => round(v))

    printPass(report)
    return report
  } catch (err) {
    if (gateway) process.stderr.write(`\ngateway log tail:\n${gateway.logTail()}\n`)
    throw err
  } finally {
    await gateway?.stop()
    await client?.close()
    closeHttp()
    if (!o.keep) rmSync(root, { recursive: true, force: true })
    else process.stderr.write(`kept ${root}\n`)
    if (profile) process.stderr.write(`gateway CPU profile in ${profile}\n`)
  }
}

/** Runs one pass in a child process (a fresh chDB for the bare store each time) and reads its report. */
async function passInChild(p: Plan, history: CachedHistory, o: Options, out: string): Promise<PassReport> {
  const job = JSON.stringify({ plan: p, history: { ...history, dataset: { ...history.dataset, now: history.dataset.now.toISOString() } }, keep: o.keep, profile: o.profile, out })
  await new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'bench', 'run.ts'), '--internal-pass', job], {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.once('error', fail)
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`the ${p.name}-scale pass failed (exit ${code})`))))
  })
  return JSON.parse(readFileSync(out, 'utf8')) as PassReport
}

async function childPass(jobText: string): Promise<void> {
  const job = JSON.parse(jobText) as { plan: Plan; history: Omit<CachedHistory, 'dataset'> & { dataset: Omit<Dataset, 'now'> & { now: string } }; keep: boolean; profile: string | undefined; out: string }
  const history: CachedHistory = { ...job.history, dataset: { ...job.history.dataset, now: new Date(job.history.dataset.now) } }
  const report = await measurePass(job.plan, history, { keep: job.keep, profile: job.profile })
  writeFileSync(job.out, JSON.stringify(report))
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2))
  if ('generate' in o) return buildHistory(o.generate, o.scale, progress)
  if ('pass' in o) return childPass(o.pass)
  const started = performance.now()
  const loadStart = loadavg().map((v) => round(v))
  const histories = new Map<ScaleName, CachedHistory>()
  for (const p of o.plans) {
    phase(`History for the ${p.name} scale (${fmt(p.scale.events)} events, ${fmt(p.scale.products)} products, ${fmt(p.scale.appEvents)} app events)`)
    histories.set(p.name, await cachedHistory(p.scale, progress))
  }
  if (o.prepare) return
  const scratch = mkdtempSync(join(tmpdir(), 'sightline-bench-passes-'))
  const passes: PassReport[] = []
  let soak: SoakResult | undefined
  let ingestRoutes: IngestRoutesSummary | undefined
  try {
    // Run 1 of every scale, then run 2 of every scale…: drift on the machine spreads over all of them.
    for (let run = 1; run <= o.runs; run++) {
      for (const p of o.plans) {
        phase(`Pass ${run}/${o.runs}, ${p.name} scale`)
        const report = await passInChild(p, histories.get(p.name)!, o, join(scratch, `${p.name}-${run}.json`))
        passes.push({ ...report, meta: { ...report.meta, run } })
      }
    }
    phase('Ingest routes on a fresh store: /v0/events and both mutations vs a direct insert, durability none and fsync (bench:ingest)')
    ingestRoutes = runIngestRoutes(o.quick ? 3 : 8, join(scratch, 'ingest-routes.json'))
    if (o.soakMinutes > 0) {
      const small = o.plans.find((p) => p.name === 'small') ?? o.plans[0]!
      phase(`Soak: ${o.soakMinutes} minutes of mixed reads, ingest and live subscribers (${small.name} scale)`)
      soak = await runSoak({ repo: REPO, history: histories.get(small.name)!, scale: small.scale, minutes: o.soakMinutes, quick: o.quick, keep: o.keep, progress })
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      quick: o.quick,
      scales: Object.fromEntries(o.plans.map((p) => [p.name, p.scale])),
      runs: o.runs,
      soakMinutes: o.soakMinutes,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30, 1) },
      node: process.version,
      chdb: packageVersion('chdb'),
      clickhouseClient: packageVersion('@clickhouse/client'),
      commit: gitCommit(),
      durationSeconds: round((performance.now() - started) / 1000, 1),
      loadAverage: { start: loadStart, end: loadavg().map((v) => round(v)) },
      histories: Object.fromEntries([...histories].map(([k, h]) => [k, { generatedSeconds: h.generatedSeconds, reused: h.reused }])),
    },
    method: METHOD,
    summary: [],
    targets: [],
    passes,
    soak: soak ?? null,
    ingestRoutes: ingestRoutes ?? null,
  }
  summarizeRuns(results)
  mkdirSync(dirname(o.out), { recursive: true })
  writeFileSync(o.out, `${JSON.stringify(results, null, 2)}\n`)
  printResults(results)
  console.log(`\nWritten ${o.out}`)
}

/** `bench/ingest-routes.ts` in its own process (it starts one child per durability), its report read back. */
function runIngestRoutes(rounds: number, out: string): IngestRoutesSummary {
  execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'ingest-routes.ts'), '--rounds', String(rounds), '--out', out], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] })
  return JSON.parse(readFileSync(out, 'utf8')) as IngestRoutesSummary
}

/** One productGrid request, the statement it makes the gateway send, and the rows that answers. */
interface GridRead {
  readonly args: GridQuery
  readonly sql: CapturedQuery
  readonly body: string
  readonly rows: number
}

/** What a pass reads, captured once on the bare store: each request with the exact SQL the gateway sends for it. */
interface Reads {
  /** Every product. */
  readonly grid: GridRead
  readonly gridCategory: GridRead
  /** REST `api_product_grid.json` with no parameters: the same grid as `grid`, in the pipe's FORMAT JSON. */
  readonly restGrid: CapturedQuery
  readonly dashboard: {
    readonly sql: readonly CapturedQuery[]
    readonly body: string
    /** The same dashboard through the store's methods (SQL + row mapping). */
    readonly storeCalls: (s: ClickHouseStore) => Promise<unknown[]>
  }
}

async function captureReads(c: ClickHouseClient, data: Dataset): Promise<Reads> {
  const grid = async (category: string): Promise<GridRead> => {
    const args = { category, showOutOfStock: false, ranking: 'PRICE' } as const
    const sql = await gridQuery(c, DATABASE, args, LOW_STOCK, GRID)
    return { args, sql, body: JSON.stringify({ query: GRID, variables: { category } }), rows: await rowsOf(c, sql) }
  }
  const all = await grid('all')
  const to = new Date(data.now.getTime() + 60_000)
  const from = new Date(to.getTime() - 7 * 24 * 3600e3)
  const storeCalls = (s: ClickHouseStore) => dashboardCalls(s, data, from, to)
  const dashSql = await captureQueries(c, DATABASE, storeCalls)
  if (dashSql.length !== DIMENSIONS.length + 2) throw new Error(`dashboard ran ${dashSql.length} queries`)
  return {
    grid: all,
    gridCategory: await grid(data.categories[0]!),
    restGrid: await restGridQuery(c, DATABASE, all.args, LOW_STOCK),
    dashboard: {
      sql: dashSql,
      body: JSON.stringify({ query: DASHBOARD, variables: { ws: data.workspace, from: from.toISOString(), to: to.toISOString() } }),
      storeCalls,
    },
  }
}

/** The sides a read phase compares: the gateway over HTTP with a read token, the bare store in this process. */
interface ReadSides {
  readonly gateway: GatewayProcess
  readonly reader: GraphQLHttp
  readonly readToken: string
  readonly client: ClickHouseClient
  /** The store's methods in-process, measured beside them where given (locating overhead; not for the cache-on phase). */
  readonly store?: ClickHouseStore
}

type Iterations = Plan['grid']

/** Gateway and bare calls (and the store's method) interleaved in blocks after a warm-up, with the ratios of their p50s and p99s. */
async function compareRead(
  query: string,
  calls: { gateway: () => Promise<unknown>; bare: () => Promise<unknown>; storeApi: (() => Promise<unknown>) | undefined },
  it: Iterations,
): Promise<ReadComparison> {
  const contenders: Record<string, () => Promise<unknown>> = { gateway: calls.gateway, bare: calls.bare }
  if (calls.storeApi) contenders.storeApi = calls.storeApi
  const samples = await interleaved(contenders, it, (done, total) => done % 50 === 0 && progress(`${done}/${total}`))
  const gateway = summarize(samples.gateway!)
  const bare = summarize(samples.bare!)
  const storeApi = samples.storeApi && summarize(samples.storeApi)
  return { query, gateway, bare, ...(storeApi && { storeApi }), ratioP50: round(gateway.p50 / bare.p50, 3), ratioP99: round(gateway.p99 / bare.p99, 3) }
}

/** productGrid over GraphQL, its answer as bytes, vs the same statement's bytes on the bare store. */
async function compareGrid(s: ReadSides, g: GridRead, it: Iterations): Promise<ReadComparison & { rows: number }> {
  const items = (await s.reader.post<{ productGrid: unknown[] }>(g.body)).productGrid.length
  if (items !== g.rows) throw new Error(`productGrid(${g.args.category}): gateway returned ${items} rows, the bare SQL ${g.rows}`)
  progress(`category ${g.args.category}: ${g.rows} rows per request`)
  const store = s.store
  const calls = { gateway: () => s.reader.answer(g.body), bare: () => replayAnswer(s.client, g.sql), storeApi: store && (() => store.productGrid(g.args, LOW_STOCK)) }
  return { ...(await compareRead(`productGrid(category: "${g.args.category}") with every field, PRICE order`, calls, it)), rows: g.rows }
}

/** The analytics dashboard over GraphQL vs its statements replayed on the bare store, after checking both see the same data. */
async function compareDashboard(s: ReadSides, d: Reads['dashboard'], it: Iterations): Promise<ReadComparison> {
  const bare = () => Promise.all(d.sql.map((q) => replay(s.client, q)))
  checkDashboard(await s.reader.post<DashboardData>(d.body), await bare())
  const store = s.store
  const query = `analytics(CART): totals + ${DIMENSIONS.length} breakdowns + HOUR timeseries over 7 days (${d.sql.length} SQL queries)`
  return compareRead(query, { gateway: () => s.reader.post(d.body), bare, storeApi: store && (() => d.storeCalls(store)) }, it)
}

/**
 * REST `api_product_grid.json` (every product: the grid's rows in Tinybird's envelope), its answer as bytes, vs
 * the statement the store sends for it replayed on the bare store, its bytes.
 */
async function compareRestGrid(s: ReadSides, r: Reads, it: Iterations): Promise<ReadComparison & { rows: number }> {
  const url = pipeUrl(s.gateway.url, REST_GRID_PIPE, s.readToken)
  const rows = (await getJson<{ data: unknown[] }>(url)).data.length
  const bareRows = await rowsOf(s.client, r.restGrid)
  if (rows !== bareRows) throw new Error(`${REST_GRID_PIPE}.json: gateway returned ${rows} rows, the bare SQL ${bareRows}`)
  progress(`${REST_GRID_PIPE}.json: ${rows} rows per request`)
  const store = s.store
  const calls = { gateway: () => getBytes(url), bare: () => replayAnswer(s.client, r.restGrid), storeApi: store && (() => store.productGridJson(r.grid.args, LOW_STOCK, false)) }
  return { ...(await compareRead(`${REST_GRID_PIPE}.json (every product, PRICE order) as bytes`, calls, it)), rows }
}

/** The grid (every product) from concurrent clients in closed loops: the gateway's requests/s, then the bare store's. */
async function compareLoad(s: ReadSides, g: GridRead, o: Plan['concurrency']): Promise<PassReport['concurrency']> {
  const load = async (name: string, fn: () => Promise<unknown>) => {
    const { latencies, seconds } = await closedLoop(fn, o.clients, o.seconds * 1000)
    progress(`${name}: ${latencies.length} requests`)
    return { requests: latencies.length, rps: round(latencies.length / seconds, 1), latency: summarize(latencies) }
  }
  return { clients: o.clients, gateway: await load('gateway', () => s.reader.answer(g.body)), bare: await load('bare store', () => replayAnswer(s.client, g.sql)) }
}

/**
 * The reads again on a gateway started with `SIGHTLINE_READ_CACHE=1`: the grid of every product, the dashboard, the
 * REST grid and the grid's throughput against the bare store, each with what the read cache counted meanwhile (its
 * /metrics). Throws when a read recorded no hit: its figures would be the uncached gateway's.
 */
async function measureCachedReads(p: Plan, r: Reads, s: ReadSides): Promise<NonNullable<PassReport['cacheOn']>> {
  const counted = async <T>(name: string, measure: () => Promise<T>): Promise<[T, ReadCacheCounts]> => {
    const before = await s.gateway.readCache()
    const result = await measure()
    const after = await s.gateway.readCache()
    if (!before || !after) throw new Error('the gateway started with SIGHTLINE_READ_CACHE=1 shows no read cache counters on /metrics')
    const counts = { hits: after.hits - before.hits, misses: after.misses - before.misses, shared: after.shared - before.shared, bypassed: after.bypassed - before.bypassed }
    progress(`read cache during ${name}: ${fmt(counts.hits)} hits, ${fmt(counts.misses)} misses, ${fmt(counts.shared)} shared, ${fmt(counts.bypassed)} bypassed`)
    return [result, counts]
  }
  progress(`productGrid, every product (${p.grid.iterations} each, interleaved)`)
  const [productGrid, gridCounts] = await counted('productGrid', () => compareGrid(s, r.grid, p.grid))
  progress(`dashboard (${p.dashboard.iterations} each)`)
  const [dashboard, dashboardCounts] = await counted('dashboard', () => compareDashboard(s, r.dashboard, p.dashboard))
  progress(`${REST_GRID_PIPE}.json, every product (${p.grid.iterations} each, interleaved)`)
  const [restGrid, restCounts] = await counted('restGrid', () => compareRestGrid(s, r, p.grid))
  progress(`productGrid throughput, ${p.concurrency.clients} clients, ${p.concurrency.seconds} s each side`)
  const [concurrency, loadCounts] = await counted('throughput', () => compareLoad(s, r.grid, p.concurrency))
  const readCache = { productGrid: gridCounts, dashboard: dashboardCounts, restGrid: restCounts, concurrency: loadCounts }
  const uncached = (['productGrid', 'dashboard', 'restGrid', 'concurrency'] as const).filter((k) => readCache[k].hits === 0)
  if (uncached.length > 0) {
    throw new Error(`the read cache was on but answered none of ${uncached.join(', ')} (${JSON.stringify(readCache)}): those cache-on figures would be uncached ones`)
  }
  return { productGrid, dashboard, restGrid, concurrency, readCache, rssMb: s.gateway.memory()?.rssMb ?? null }
}

/** A token created through the gateway's `createToken` mutation; tokens are stored in the gateway's data directory. */
async function createToken(url: string, adminToken: string, name: string, scopes: string[]): Promise<string> {
  const admin = new GraphQLHttp(url, adminToken)
  const mutation = 'mutation T($input: TokenInput!) { createToken(input: $input) { token } }'
  return (await admin.request<{ createToken: { token: string } }>(mutation, { input: { name, scopes } })).createToken.token
}

function dashboardCalls(s: ClickHouseStore, data: Dataset, from: Date, to: Date): Promise<unknown[]> {
  const q = { app: 'cart', workspaceId: data.workspace, from, to, filter: {} } as const
  return Promise.all([
    s.analyticsTotals(q),
    ...DIMENSIONS.map(([, by]) => s.analyticsBreakdown({ ...q, by, limit: 50 })),
    s.analyticsTimeseries({ ...q, granularity: 'HOUR', timezone: 'UTC' }),
  ])
}

/** The gateway and the replayed SQL must see the same data: same totals and breakdown sizes. */
function checkDashboard(gw: DashboardData, bare: unknown[][]): void {
  const total = Number((bare[0]?.[0] as { events?: number } | undefined)?.events)
  if (gw.analytics.totals.events !== total) throw new Error(`dashboard totals differ: gateway ${gw.analytics.totals.events}, bare ${total}`)
  DIMENSIONS.forEach(([d], i) => {
    const rows = gw.analytics[d.toLowerCase()] as unknown[]
    if (rows.length !== bare[i + 1]!.length) throw new Error(`dashboard ${d}: gateway ${rows.length} rows, bare ${bare[i + 1]!.length}`)
  })
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

const METHOD = [
  'The dataset is generated once (SQL INSERT … SELECT FROM numbers(), deterministic per scale), every table is merged (OPTIMIZE FINAL), and the chDB directory is copied.',
  'The gateway runs as its own process (node dist/main.js start, log level warn) on one copy; this process opens the other copy through the same @clickhouse/client + chDB connection the store uses.',
  "Bare-store baselines replay the exact SQL text and parameters the store sends (captured by running ClickHouseStore over a recording client, i.e. sql/queries/*.sql rendered by QueryFiles), and read the answer as the store does: rows parsed where the store parses them, the grid's store-written JSON kept as bytes; 'storeApi' adds the store's row mapping.",
  'Reads interleave blocks of gateway and bare calls after a warm-up, so drift affects both alike; the two chDB processes never query at the same time.',
  'REST: api_product_grid.json (every product) read as bytes against the statement the store sends for it (its FORMAT JSON) replayed on the bare store, its bytes.',
  'Read cache on: before the rest of the pass, a gateway process with SIGHTLINE_READ_CACHE=1 on the same copy (then stopped: one process per chDB directory) measures the grid of every product, the dashboard, the REST grid and the grid throughput against the bare store again; its /metrics read-cache counters are recorded per measure, and the pass fails if a read recorded no hit. The cache-off gateway then starts on the copy and runs every other phase as before; tokens, stored in the copy, serve both.',
  'A read through the gateway is timed until its answer is received, as bytes (checked to open with its data), as the bare store returns its bytes: parsing either is the client\'s work.',
  'Ingest sends the same rows in 10,000-row batches, alternating batch by batch: ingestEcommEvents on the gateway copy (SIGHTLINE_DURABILITY=none) vs a direct JSONEachRow insert into the same table (same materialized views, no fsync) on the bare copy; each side includes its client serialising the batch. MB/s counts the rows as JSONEachRow.',
  'Ingest routes (bench:ingest, after the passes): a fresh store per durability, /v0/events, ingestEcommEvents and ingestEcommEventsNdjson against a direct insert, round by round; the fsync cost is each route\'s median batch time under fsync ÷ under none.',
  "Subscription latency: one WebSocket per subscriber, all subscribed to stockChanged; sequential one-sale mutations (measured before the ingest phase, so no earlier bulk writes are in the change log's window); the target uses the time from the write being stored (the update's `at`, stamped by the change log's materialized view inside the insert, same machine clock) to each subscriber receiving it; times from sending the mutation and from its response are reported too.",
  'Memory: VmRSS / VmHWM of the gateway process from /proc.',
].join(' ')

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
