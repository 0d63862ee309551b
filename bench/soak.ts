/**
 * `npm run bench:soak -- [--minutes M]` (and the last part of `npm run bench`): the built gateway on a copy
 * of the small scale's history, under a steady mix of grid, dashboard and REST reads, ingest batches and
 * a few hundred live subscribers, for minutes. Its resident memory is sampled every few seconds; the
 * report gives max and median RSS, errors, and p50/p99 per kind of request.
 */
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { prng } from '../src/random.js'
import { addRecent, cachedHistory, DATABASE, fmt, openBenchClient, type CachedHistory, type Scale } from './data.js'
import { closeHttp, getJson, GraphQLHttp, pipeUrl, startGateway } from './gateway.js'
import { startSubscribers, type SoakSubscribers } from './soak-subscribers.js'
import { round, summarize, timed, type Summary } from './stats.js'

export const GRID = 'query Grid($category: String) { productGrid(category: $category) { id name category photo price stock stockStatus hits trending rankStatus } }'

/** The dashboard's breakdowns: GraphQL dimension and the store's field. */
export const DASHBOARD_DIMENSIONS = [
  ['BROWSER', 'browser'],
  ['OS', 'os'],
  ['DEVICE', 'device'],
  ['COUNTRY', 'country'],
  ['REFERER', 'referer'],
  ['PLATFORM', 'platform'],
] as const

export const DASHBOARD = `query Dashboard($ws: ID!, $from: DateTime!, $to: DateTime!) {
  analytics(app: CART, workspaceId: $ws, from: $from, to: $to) {
    totals { ...M }
${DASHBOARD_DIMENSIONS.map(([d]) => `    ${d.toLowerCase()}: breakdown(by: ${d}) { value metrics { ...M } }`).join('\n')}
    timeseries(granularity: HOUR) { start metrics { ...M } }
  }
}
fragment M on AppMetrics { events sessions visitors ... on CartMetrics { views addToCarts purchases revenue } }`

const INGEST = 'mutation Ingest($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted } }'

export interface SoakKind {
  readonly requests: number
  readonly errors: number
  readonly latency: Summary
}

export interface SoakResult {
  readonly minutes: number
  readonly scale: Scale
  readonly subscribers: number
  /** stockChanged updates received by all subscribers together. */
  readonly updates: number
  /** Request errors of every kind, plus subscriptions that errored or closed early. */
  readonly errors: number
  readonly firstErrors: string[]
  readonly kinds: Record<string, SoakKind>
  /**
   * VmRSS of the gateway. `anon*` is its anonymous part (heaps: V8's and the engine's); the rest is mostly
   * file-backed: the pages of chDB's ~550 MB library the process has touched (clean, shared, reclaimable).
   */
  readonly rss: {
    everySeconds: number
    maxMb: number
    medianMb: number
    startMb: number
    endMb: number
    maxAnonMb: number
    medianAnonMb: number
    endFileMb: number
    samples: Array<[seconds: number, rssMb: number, anonMb: number]>
  }
  /**
   * The engine's own memory every 30 s (its system.metrics through the gateway's /metrics), in MB: `tracked`
   * (all it accounts for) and each non-empty cache. Absent in reports from before it was sampled.
   */
  readonly engine?: Array<{ readonly seconds: number; readonly mb: Readonly<Record<string, number>> }>
  /** The gateway's V8 heap at the end (its /metrics); the rest of RSS is native, mostly chDB. */
  readonly memory: { heapUsedMb: number; heapTotalMb: number; externalMb: number } | null
  readonly loadAverage: { start: number[]; end: number[] }
  /** CPU time the gateway process used during the mix (user + system, from /proc), in seconds. */
  readonly gatewayCpuSeconds?: number
  /** Gateway variables the run set on top of the soak's own (`--env`). */
  readonly env?: Readonly<Record<string, string>>
}

export interface SoakOptions {
  readonly repo: string
  readonly history: CachedHistory
  readonly scale: Scale
  readonly minutes: number
  readonly quick: boolean
  readonly keep: boolean
  readonly subscribers?: number
  /** Gateway variables on top of the soak's own (`--env NAME=VALUE`), to compare a knob's settings. */
  readonly env?: Readonly<Record<string, string>>
  /** A directory for the gateway's CPU profile (`node --cpu-prof`), written when it stops. */
  readonly profile?: string
  readonly progress: (line: string) => void
}

const RSS_EVERY_S = 2
const INGEST_BATCH = 2_000
const INGEST_EVERY_MS = 1_000

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const root = mkdtempSync(join(tmpdir(), 'sightline-soak-'))
  const stage = join(root, 'stage')
  const dataDir = join(root, 'gateway')
  const adminToken = `soak_admin_${randomBytes(16).toString('hex')}`
  const subscribersWanted = o.subscribers ?? (o.quick ? 20 : 250)
  const loadStart = loadavg().map((v) => round(v))
  // A fresh last hour on a staged copy; the gateway gets a copy of that (this process never opens its directory).
  cpSync(o.history.dir, stage, { recursive: true })
  const client = openBenchClient(stage)
  await addRecent(client, DATABASE, o.scale, new Date(), o.progress)
  await client.close()
  cpSync(stage, dataDir, { recursive: true })

  const gateway = await startGateway({
    repo: o.repo,
    dataDir,
    database: DATABASE,
    adminToken,
    lowStock: 100,
    nodeArgs: o.profile ? ['--cpu-prof', '--cpu-prof-dir', o.profile] : [],
    // Hundreds of sockets of one token subscribe at once; the per-token rate limit is not what this measures.
    env: { SIGHTLINE_RATE_LIMIT: '0', SIGHTLINE_DURABILITY: 'none', ...o.env },
  })
  let subs: SoakSubscribers | undefined
  try {
    o.progress(`gateway pid ${gateway.pid} at ${gateway.url}`)
    const admin = new GraphQLHttp(gateway.url, adminToken)
    const token = async (name: string, scopes: string[]) =>
      (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } }))
        .createToken.token
    const readToken = await token('soak_read', ['read'])
    const reader = new GraphQLHttp(gateway.url, readToken)
    const writer = new GraphQLHttp(gateway.url, await token('soak_append', ['append:ecomm_events']))
    const data = o.history.dataset

    const kinds: Record<string, { ms: number[]; errors: number }> = {}
    const firstErrors: string[] = []
    const failed = (kind: string, err: unknown) => {
      kinds[kind]!.errors++
      if (firstErrors.length < 10) firstErrors.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300))
    }
    const run = async (kind: string, fn: () => Promise<unknown>) => {
      kinds[kind] ??= { ms: [], errors: 0 }
      try {
        kinds[kind].ms.push(await timed(fn))
      } catch (err) {
        failed(kind, err)
      }
    }

    // ---- live subscribers, in a process of their own (see bench/soak-subscribers.ts)
    kinds.subscription = { ms: [], errors: 0 }
    subs = await startSubscribers({ wsUrl: gateway.wsUrl, token: readToken, count: subscribersWanted })
    const updates = subs.updates
    o.progress(`${subscribersWanted} subscribers connected`)

    // ---- the mix, until the deadline
    const rss: Array<[number, number, number]> = []
    const t0 = performance.now()
    const deadline = t0 + o.minutes * 60_000
    const live = () => performance.now() < deadline
    let fileMb = Number.NaN
    const sample = () => {
      const m = procStatus(gateway.pid)
      if (m) {
        rss.push([round((performance.now() - t0) / 1000, 1), m.rssMb, m.anonMb])
        fileMb = m.fileMb
      }
    }
    sample()
    const cpuStart = procCpuSeconds(gateway.pid)
    const engine: Array<{ seconds: number; mb: Record<string, number> }> = []
    const sampleEngine = async () => {
      const mb = await gateway.engine()
      if (mb) engine.push({ seconds: round((performance.now() - t0) / 1000, 1), mb })
    }
    void sampleEngine()
    const sampler = setInterval(() => {
      sample()
      const last = rss[rss.length - 1]
      if (last && Math.round(last[0]) % 30 < RSS_EVERY_S) {
        o.progress(`${Math.round(last[0])} s: RSS ${last[1]} MB, ${fmt(updates())} updates delivered`)
        void sampleEngine()
      }
    }, RSS_EVERY_S * 1000)

    const categories = ['all', ...data.categories]
    const to = new Date(data.now.getTime() + 60_000)
    const from = new Date(to.getTime() - 7 * 24 * 3600e3)
    const dashBody = JSON.stringify({ query: DASHBOARD, variables: { ws: data.workspace, from: from.toISOString(), to: to.toISOString() } })
    const rand = prng(11)
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
    const loops: Array<Promise<void>> = []
    const loop = (fn: () => Promise<void>) => loops.push((async () => {
      while (live()) await fn()
    })())
    // Two grid readers, one dashboard reader, one REST reader, back to back; one writer at a steady rate.
    for (let i = 0; i < 2; i++) loop(() => run('grid', () => reader.post(JSON.stringify({ query: GRID, variables: { category: pick(categories) } }))))
    loop(() => run('dashboard', () => reader.post(dashBody)))
    loop(() => run('rest', () => getJson(pipeUrl(gateway.url, 'api_product_grid', readToken, { category: pick(categories) }))))
    loop(async () => {
      const started = performance.now()
      const now = Date.now()
      const events = Array.from({ length: INGEST_BATCH }, () => {
        const r = rand()
        return { event: r < 0.7 ? 'VIEW' : r < 0.9 ? 'CART' : 'SALE', product: pick(data.productIds), timestamp: new Date(now - Math.floor(rand() * 60_000)).toISOString() }
      })
      await run('ingest', () => writer.request(INGEST, { events }))
      const wait = INGEST_EVERY_MS - (performance.now() - started)
      if (wait > 0 && live()) await new Promise((r) => setTimeout(r, Math.min(wait, deadline - performance.now())))
    })
    await Promise.all(loops)
    clearInterval(sampler)
    sample()
    await sampleEngine()
    // The subscribers' final counts; their errors count with the requests'.
    await subs.stop()
    for (const err of subs.errors()) failed('subscription', new Error(err))
    const cpuSeconds = round(procCpuSeconds(gateway.pid) - cpuStart, 1)
    const heap = await gateway.heap()

    const mbs = rss.map(([, mb]) => mb).sort((a, b) => a - b)
    const anon = rss.map(([, , mb]) => mb).sort((a, b) => a - b)
    const result: SoakResult = {
      minutes: o.minutes,
      scale: o.scale,
      subscribers: subscribersWanted,
      updates: updates(),
      errors: Object.values(kinds).reduce((s, k) => s + k.errors, 0),
      firstErrors,
      kinds: Object.fromEntries(
        Object.entries(kinds)
          .filter(([name]) => name !== 'subscription')
          .map(([name, k]) => [name, { requests: k.ms.length + k.errors, errors: k.errors, latency: summarize(k.ms) }]),
      ),
      rss: {
        everySeconds: RSS_EVERY_S,
        maxMb: mbs[mbs.length - 1] ?? Number.NaN,
        medianMb: mbs[Math.floor((mbs.length - 1) / 2)] ?? Number.NaN,
        startMb: rss[0]?.[1] ?? Number.NaN,
        endMb: rss[rss.length - 1]?.[1] ?? Number.NaN,
        maxAnonMb: anon[anon.length - 1] ?? Number.NaN,
        medianAnonMb: anon[Math.floor((anon.length - 1) / 2)] ?? Number.NaN,
        endFileMb: fileMb,
        samples: rss,
      },
      engine,
      memory: heap ? { heapUsedMb: heap.usedMb, heapTotalMb: heap.totalMb, externalMb: heap.externalMb } : null,
      loadAverage: { start: loadStart, end: loadavg().map((v) => round(v)) },
      gatewayCpuSeconds: cpuSeconds,
      ...(o.env && Object.keys(o.env).length > 0 && { env: o.env }),
    }
    return result
  } catch (err) {
    process.stderr.write(`\ngateway log tail:\n${gateway.logTail()}\n`)
    throw err
  } finally {
    await subs?.stop()
    await gateway.stop()
    closeHttp()
    if (!o.keep) rmSync(root, { recursive: true, force: true })
    else process.stderr.write(`kept ${root}\n`)
  }
}

function procStatus(pid: number): { rssMb: number; anonMb: number; fileMb: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const mb = (key: string) => Math.round(Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 102.4) / 10
    return { rssMb: mb('VmRSS'), anonMb: mb('RssAnon'), fileMb: mb('RssFile') }
  } catch {
    return null
  }
}

/** utime + stime of a process, in seconds (NaN when it cannot be read). */
function procCpuSeconds(pid: number): number {
  try {
    // The fields after the command name (which may hold spaces) start after its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      minutes: { type: 'string', default: '5' },
      subscribers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true },
      out: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(`Usage: npm run bench:soak -- [--minutes M (default 5)] [--subscribers N (default 250)] [--quick] [--env NAME=VALUE ...] [--out PATH] [--profile DIR] [--keep]

The built gateway on the small scale's history (1M events; --quick: 50k), under grid, dashboard and REST
readers, 2,000-event ingest batches every second and N live subscribers; RSS sampled every ${RSS_EVERY_S} s.
--env sets a gateway variable (e.g. --env SIGHTLINE_CHDB_TRIM_MS=0 to compare a memory knob's settings).
--profile DIR writes the gateway's CPU profile (node --cpu-prof) there when it stops.`)
    return
  }
  const minutes = Number(values.minutes)
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes is a number > 0, not "${values.minutes}"`)
  const subscribers = values.subscribers === undefined ? undefined : Number(values.subscribers)
  const env = Object.fromEntries(
    (values.env ?? []).map((pair) => {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new Error(`--env takes NAME=VALUE, not "${pair}"`)
      return [pair.slice(0, eq), pair.slice(eq + 1)]
    }),
  )
  const scale: Scale = values.quick ? { events: 50_000, products: 500, appEvents: 15_000 } : { events: 1_000_000, products: 2_000, appEvents: 300_000 }
  const progress = (line: string) => process.stderr.write(`  ${line}\n`)
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
  const history = await cachedHistory(scale, progress)
  const result = await runSoak({ repo, history, scale, minutes, quick: values.quick, keep: values.keep, progress, env, ...(subscribers !== undefined && { subscribers }), ...(values.profile && { profile: resolve(values.profile) }) })
  const { printSoak } = await import('./report.js')
  printSoak(result)
  if (values.out) {
    const out = resolve(values.out)
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
    console.log(`\nWritten ${out}`)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}
