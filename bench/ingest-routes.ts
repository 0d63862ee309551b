/**
 * `npm run bench:ingest`: every ingest route of the gateway against a direct insert of the same rows into
 * the same table, for SIGHTLINE_DURABILITY=none and fsync.
 *
 * Each durability runs in its own child process (chDB opens one data directory per process): a server on a
 * fresh embedded store, and beside it a direct `@clickhouse/client` JSONEachRow insert into the same
 * `ecomm_events` (same materialized views; under fsync the table's fsync settings apply to it too).
 * Batches of 10,000 events go, round by round, through `/v0/events` (NDJSON), `ingestEcommEvents` (one
 * input object per row), `ingestEcommEventsNdjson` (one NDJSON String) and the direct insert, rotating
 * which goes first. Each round gives one ratio per route (direct ms ÷ route ms, i.e. rows/s ÷ rows/s);
 * the report is the median ratio with its min–max, wall clock and CPU time (process.cpuUsage, which
 * includes chDB's threads). The client runs in the same process as the server, so a route's time also
 * holds its HTTP client's send (node:http with a keep-alive agent: fetch's web streams cost a few ms of
 * this process's CPU per 10k rows that are the harness's, not the gateway's); request bodies are built
 * and encoded to bytes before the clock starts, as the direct side's rows are built.
 * The fsync cost is the route's median ms under fsync ÷ under none (separate processes, not interleaved).
 *
 *   npm run bench:ingest -- [--rounds 12] [--batch 10000] [--keyed 0|1] [--durability none,fsync] [--out file.json]
 */
import { spawnSync } from 'node:child_process'
import { Agent, request } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ClickHouseClient } from '@clickhouse/client'
import { loadConfig } from '../src/config.js'
import { prng } from '../src/random.js'
import { startServer } from '../src/server.js'
import { toChDateTime } from '../src/store/clickhouse.js'
import { createConnection } from '../src/store/connection.js'
import { median, round, spread } from './stats.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '12' },
    batch: { type: 'string', default: '10000' },
    keyed: { type: 'string', default: '0' },
    durability: { type: 'string', default: 'none,fsync' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
})
const ROUNDS = Number(values.rounds)
const BATCH = Number(values.batch)
const KEYED = values.keyed === '1'
const MUTATION = 'mutation Ingest($events: [EcommEventInput!]!, $key: String) { ingestEcommEvents(events: $events, idempotencyKey: $key) { accepted } }'
const NDJSON = 'mutation Ingest($data: String!, $key: String) { ingestEcommEventsNdjson(data: $data, idempotencyKey: $key) { accepted } }'
const ROUTES = ['direct', '/v0/events', 'mutation', 'mutation NDJSON'] as const
type Route = (typeof ROUTES)[number]

/** What `--out` writes (and `npm run bench` reads back into its report as `ingestRoutes`). */
export interface IngestRoutesSummary {
  readonly batch: number
  readonly rounds: number
  readonly keyed: boolean
  readonly loadAverage: { readonly start: number[]; readonly end: number[] }
  /** Per durability and route: batch times, rows/s and ratios to the direct insert over the rounds. */
  readonly report: Partial<Record<'none' | 'fsync', Record<Route, RouteFigures>>>
  /** Per route, its median batch time under fsync ÷ under none (both durabilities run). */
  readonly fsyncCost: Record<Route, number> | undefined
}

interface RouteFigures {
  readonly msPerBatch: ReturnType<typeof spread>
  readonly rowsPerSec: number
  readonly ratio: ReturnType<typeof spread>
  readonly cpuRatio: ReturnType<typeof spread>
  readonly mainThreadMs: number
}

interface Sample {
  readonly ms: number
  readonly cpuMs: number
  /** CPU of the main thread alone (the gateway's and the client's JavaScript, no chDB thread); NaN where /proc is absent. */
  readonly mainMs: number
}

/** This process's main-thread CPU in ms (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms); NaN elsewhere. */
function mainThreadMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}
type ChildResult = Record<Route, Sample[]>


async function child(durability: 'none' | 'fsync'): Promise<ChildResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ingest-bench-'))
  const admin = `admin_${randomBytes(12).toString('hex')}`
  const store = { url: undefined, user: 'default', password: '', database: 'bench', cluster: undefined, dataDir, durability }
  const config = loadConfig(
    { PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: admin, SIGHTLINE_DURABILITY: durability, SIGHTLINE_RATE_LIMIT: '0' },
    { store },
  )
  const server = await startServer(config)
  const direct: ClickHouseClient = createConnection(store)
  const base = server.url.replace(/\/graphql$/, '')
  const rand = prng(11)
  const events = () =>
    Array.from({ length: BATCH }, () => {
      const r = rand()
      return {
        timestamp: new Date(Date.now() - 3600e3 - Math.floor(rand() * 6 * 24 * 3600e3)),
        event: r < 0.75 ? 'view' : r < 0.93 ? 'cart' : 'sale',
        product: `p${Math.floor(rand() * 2000)}`,
      }
    })
  const ndjson = () => events().map((e) => JSON.stringify({ timestamp: e.timestamp.toISOString(), event: e.event, product: e.product })).join('\n')
  const agent = new Agent({ keepAlive: true })
  const post = (path: string, body: Buffer, headers: Record<string, string>, expect: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${base}${path}`, { method: 'POST', agent, headers: { authorization: `Bearer ${admin}`, 'content-length': String(body.length), ...headers } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (text.includes(expect)) resolve()
          else reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 300)}`))
        })
      })
      req.on('error', reject)
      req.end(body)
    })
  const key = () => (KEYED ? randomUUID() : null)
  // Each route: build its request (untimed), then the timed send.
  const routes: Record<Route, () => () => Promise<void>> = {
    direct: () => {
      const rows = events().map((e) => ({ ...e, timestamp: toChDateTime(e.timestamp) }))
      const token = key() ?? randomUUID()
      return async () => {
        await direct.insert({ table: 'bench.ecomm_events', values: rows, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: token } })
      }
    },
    '/v0/events': () => {
      const body = Buffer.from(ndjson())
      const k = key()
      return () => post('/v0/events?name=ecomm_events&wait=true', body, { 'content-type': 'application/x-ndjson', ...(k && { 'idempotency-key': k }) }, `"successful_rows":${BATCH}`)
    },
    mutation: () => {
      const vars = { events: events().map((e) => ({ timestamp: e.timestamp.toISOString(), event: e.event.toUpperCase(), product: e.product })), key: key() }
      const body = Buffer.from(JSON.stringify({ query: MUTATION, variables: vars }))
      return () => post('/graphql', body, { 'content-type': 'application/json' }, `"accepted":${BATCH}`)
    },
    'mutation NDJSON': () => {
      const body = Buffer.from(JSON.stringify({ query: NDJSON, variables: { data: ndjson(), key: key() } }))
      return () => post('/graphql', body, { 'content-type': 'application/json' }, `"accepted":${BATCH}`)
    },
  }
  for (const r of ROUTES) await routes[r]()() // warm-up
  const out = Object.fromEntries(ROUTES.map((r) => [r, [] as Sample[]])) as unknown as ChildResult
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < ROUTES.length; i++) {
      const route = ROUTES[(i + round) % ROUTES.length]!
      const send = routes[route]()
      const cpu = process.cpuUsage()
      const main = mainThreadMs()
      const t0 = performance.now()
      await send()
      const ms = performance.now() - t0
      const used = process.cpuUsage(cpu)
      out[route].push({ ms, cpuMs: (used.user + used.system) / 1000, mainMs: mainThreadMs() - main })
    }
  }
  agent.destroy()
  await direct.close()
  await server.stop()
  rmSync(dataDir, { recursive: true, force: true })
  return out
}

if (values.child) {
  const result = await child(values.child as 'none' | 'fsync')
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
} else {
  const load = loadavg().map((v) => round(v))
  const results: Partial<Record<'none' | 'fsync', ChildResult>> = {}
  for (const durability of values.durability.split(',') as Array<'none' | 'fsync'>) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', durability, '--rounds', String(ROUNDS), '--batch', String(BATCH), '--keyed', KEYED ? '1' : '0'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    })
    if (run.status !== 0) throw new Error(`${durability} run failed:\n${run.stdout}\n${run.stderr}`)
    results[durability] = JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult
  }
  const report = Object.fromEntries(
    Object.entries(results).map(([durability, r]) => [
      durability,
      Object.fromEntries(
        ROUTES.map((route) => [
          route,
          {
            msPerBatch: spread(r[route].map((s) => s.ms)),
            rowsPerSec: Math.round(BATCH / (median(r[route].map((s) => s.ms)) / 1000)),
            ratio: spread(r[route].map((s, i) => r.direct[i]!.ms / s.ms)),
            cpuRatio: spread(r[route].map((s, i) => r.direct[i]!.cpuMs / s.cpuMs)),
            // Ticks are 10 ms: the mean over the rounds, not a median of a few ticks.
            mainThreadMs: round(r[route].reduce((sum, s) => sum + s.mainMs, 0) / r[route].length, 1),
          },
        ]),
      ),
    ]),
  )
  const fsyncCost =
    results.none && results.fsync
      ? Object.fromEntries(ROUTES.map((route) => [route, round(median(results.fsync![route].map((s) => s.ms)) / median(results.none![route].map((s) => s.ms)), 3)]))
      : undefined
  const summary: IngestRoutesSummary = {
    batch: BATCH,
    rounds: ROUNDS,
    keyed: KEYED,
    loadAverage: { start: load, end: loadavg().map((v) => round(v)) },
    report: report as IngestRoutesSummary['report'],
    fsyncCost: fsyncCost as IngestRoutesSummary['fsyncCost'],
  }
  if (values.out) writeFileSync(values.out, `${JSON.stringify(summary, null, 2)}\n`)
  const s = (x: { median: number; min: number; max: number }) => `${x.median.toFixed(2)} (${x.min.toFixed(2)}–${x.max.toFixed(2)})`
  console.log(`ingest, ${ROUNDS} interleaved rounds of ${BATCH}-row batches${KEYED ? ', keyed' : ''}; load ${summary.loadAverage.start.join(' ')} → ${summary.loadAverage.end.join(' ')}`)
  for (const [durability, routes] of Object.entries(report)) {
    for (const [route, r] of Object.entries(routes)) {
      const cost = durability === 'fsync' && fsyncCost ? `  fsync cost ×${fsyncCost[route as Route]?.toFixed(2)}` : ''
      console.log(
        `${durability.padEnd(5)} ${route.padEnd(15)} ${String(r.rowsPerSec).padStart(7)} rows/s  ms ${s(r.msPerBatch)}  ÷direct ${s(r.ratio)}  cpu ÷direct ${s(r.cpuRatio)}  main thread ${r.mainThreadMs} ms${cost}`,
      )
    }
  }
}
