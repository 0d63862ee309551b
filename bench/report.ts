import type { Scale } from './data.js'
import type { ReadCacheCounts } from './gateway.js'
import type { IngestResult } from './ingest.js'
import type { IngestRoutesSummary } from './ingest-routes.js'
import type { SoakResult } from './soak.js'
import type { Summary } from './stats.js'
import type { SubscriptionResult } from './subscriptions.js'

export interface ReadComparison {
  readonly query: string
  readonly gateway: Summary
  /** The store's SQL replayed on the bare store. */
  readonly bare: Summary
  /** The store's method called in-process (SQL + row mapping), for locating overhead; not measured with the read cache on. */
  readonly storeApi?: Summary
  readonly ratioP50: number
  readonly ratioP99: number
}

interface Load {
  readonly requests: number
  readonly rps: number
  readonly latency: Summary
}

/** Requests/s of concurrent clients in closed loops, the gateway's then the bare store's. */
interface Throughput {
  clients: number
  gateway: Load
  bare: Load
}

/**
 * The reads again on the gateway restarted with `SIGHTLINE_READ_CACHE=1` (on the same copy, before the cache-off
 * gateway of the pass starts), against the same bare store.
 */
export interface CacheOnReads {
  productGrid: ReadComparison & { rows: number }
  dashboard: ReadComparison
  /**
   * REST `api_product_grid.json` with the cache on. Absent between 2026-12-01 07:40 UTC and the built-in pipes
   * going through the read cache (the row then repeated the cache-off one, with no hits).
   */
  restGrid?: ReadComparison & { rows: number }
  concurrency: Throughput
  /** What the read cache counted during each measure (its /metrics): the proof its answers came from the cache. */
  readCache: Record<'productGrid' | 'dashboard' | 'concurrency', ReadCacheCounts> & { restGrid?: ReadCacheCounts }
  /** That gateway's RSS after these reads (the cache's answers included). */
  rssMb: number | null
}

export interface TargetResult {
  readonly name: string
  readonly value: number | null
  readonly limit: string
  readonly met: boolean
}

/** Where and how long a run or pass ran. */
export interface RunEnvironment {
  machine: { cpus: number; cpuModel: string; memoryGb: number }
  node: string
  chdb: string
  clickhouseClient: string
  commit: string | null
  durationSeconds: number
  /** 1, 5 and 15 minute load averages when the run started and ended. */
  loadAverage: { start: number[]; end: number[] }
}

/** One pass at one scale (one gateway process and one bare store). */
export interface PassReport {
  meta: {
    date: string
    quick: boolean
    scaleName: 'small' | 'large'
    /** Which repetition (1…runs). */
    run?: number
    scale: Scale
  } & RunEnvironment
  method: string
  productGrid: ReadComparison & { rows: number }
  /** The same for one category (fewer rows): the gateway's cost grows with the rows it returns. */
  productGridCategory: ReadComparison & { rows: number }
  dashboard: ReadComparison
  /** REST `api_product_grid.json` (every product), as bytes, vs its statement's bytes on the bare store; absent from reports before it was measured. */
  restGrid?: ReadComparison & { rows: number }
  ingest: IngestResult
  concurrency: Throughput
  /** The reads with the read cache on; absent from reports before it was measured. */
  cacheOn?: CacheOnReads
  subscriptions: SubscriptionResult
  memory: {
    afterRunRssMb: number | null
    withSubscribersRssMb: number | null
    peakRssMb: number | null
    /** V8 heap after the run; the rest of RSS is mostly the embedded ClickHouse engine. */
    heapUsedMb: number | null
    heapTotalMb: number | null
    /** RSS after each phase. */
    trail: Record<string, number | null>
  }
  targets: TargetResult[]
}

/** Targets checked on each pass (2-core machine, chDB); the summary reports their medians. */
export const TARGETS: ReadonlyArray<{
  name: string
  limit: string
  value: (r: PassReport) => number | null
  met: (v: number) => boolean
}> = [
  { name: 'productGrid p50 ÷ bare store', limit: '≤ 1.2', value: (r) => r.productGrid.ratioP50, met: (v) => v <= 1.2 },
  { name: 'dashboard p50 ÷ bare store', limit: '≤ 1.1', value: (r) => r.dashboard.ratioP50, met: (v) => v <= 1.1 },
  { name: 'REST api_product_grid p50 ÷ bare store', limit: '≤ 1.1', value: (r) => r.restGrid?.ratioP50 ?? null, met: (v) => v <= 1.1 },
  { name: 'read cache on: productGrid p50 ÷ bare store', limit: '≤ 1.2', value: (r) => r.cacheOn?.productGrid.ratioP50 ?? null, met: (v) => v <= 1.2 },
  { name: 'read cache on: dashboard p50 ÷ bare store', limit: '≤ 1.1', value: (r) => r.cacheOn?.dashboard.ratioP50 ?? null, met: (v) => v <= 1.1 },
  { name: 'ingest rows/s ÷ direct insert', limit: '≥ 0.7', value: (r) => r.ingest.ratio, met: (v) => v >= 0.7 },
  { name: 'subscription p99, write stored → delivery (ms)', limit: '< 50', value: (r) => liveP99(r.subscriptions), met: (v) => v < 50 },
  { name: 'gateway RSS after the run (MB)', limit: '< 400', value: (r) => r.memory.afterRunRssMb, met: (v) => v < 400 },
]

/** A median with its spread over runs. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

/** One line of the summary table: medians over the runs of a scale, the ratio's spread, the target. */
export interface SummaryRow {
  readonly measure: string
  readonly scale: 'small' | 'large' | 'small → large' | 'soak' | 'fresh'
  readonly unit: string
  readonly gateway: number | null
  readonly bare: number | null
  readonly ratio: Spread | null
  readonly target: string | null
  readonly met: boolean | null
}

/** The shape of bench/results/latest.json: every pass's figures, the soak, and the summary of them. */
export interface BenchResults {
  meta: {
    date: string
    quick: boolean
    scales: Partial<Record<'small' | 'large', Scale>>
    runs: number
    soakMinutes: number
    histories: Record<string, { generatedSeconds: number; reused: boolean }>
  } & RunEnvironment
  method: string
  summary: SummaryRow[]
  targets: TargetResult[]
  passes: PassReport[]
  soak: SoakResult | null
  /** `npm run bench:ingest` on a fresh store (every ingest route, SIGHTLINE_DURABILITY none and fsync), or null when skipped. */
  ingestRoutes: IngestRoutesSummary | null
}

export function spread(values: ReadonlyArray<number | null>): Spread | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
  const r = (x: number) => Math.round(x * 1000) / 1000
  return { median: r(median), min: r(v[0]!), max: r(v[v.length - 1]!), n: v.length }
}

const median = (values: ReadonlyArray<number | null>) => spread(values)?.median ?? null

/** Fills `summary` and `targets` from the passes and the soak. */
export function summarizeRuns(res: BenchResults): void {
  const rows: SummaryRow[] = []
  const of = (scale: 'small' | 'large') => res.passes.filter((p) => p.meta.scaleName === scale)
  type Limit = [text: string, met: (v: number) => boolean]
  // A measure absent from a pass (a report from before it was measured) is left out of its medians.
  const readRow = (scale: 'small' | 'large', label: string, pick: (p: PassReport) => ReadComparison | undefined, limit: Limit) => {
    const cs = of(scale).flatMap((p) => pick(p) ?? [])
    if (cs.length === 0) return
    const ratio = spread(cs.map((c) => c.ratioP50))
    rows.push({
      measure: label,
      scale,
      unit: 'ms p50',
      gateway: median(cs.map((c) => c.gateway.p50)),
      bare: median(cs.map((c) => c.bare.p50)),
      ratio,
      target: limit[0],
      met: ratio ? limit[1](ratio.median) : null,
    })
  }
  const loadRow = (scale: 'small' | 'large', label: string, pick: (p: PassReport) => Throughput | undefined, suffix = '') => {
    const ls = of(scale).flatMap((p) => pick(p) ?? [])
    if (ls.length === 0) return
    const rps = spread(ls.map((l) => l.gateway.rps / l.bare.rps))
    rows.push({
      measure: `${label}, ${ls[0]!.clients} clients${suffix}`,
      scale,
      unit: 'req/s',
      gateway: median(ls.map((l) => l.gateway.rps)),
      bare: median(ls.map((l) => l.bare.rps)),
      ratio: rps,
      target: '≥ 1.0',
      met: rps ? rps.median >= 1 : null,
    })
  }
  const rowsText = (v: number) => v.toLocaleString('en-US')
  for (const scale of ['small', 'large'] as const) {
    const ps = of(scale)
    if (ps.length === 0) continue
    const gridRows = ps[0]!.productGrid.rows
    const gridLimit: Limit = gridRows > 5000 ? ['≤ 1.5', (v) => v <= 1.5] : ['≤ 1.2', (v) => v <= 1.2]
    const restRows = ps.find((p) => p.restGrid)?.restGrid?.rows ?? gridRows
    readRow(scale, `productGrid, ${rowsText(gridRows)} rows`, (p) => p.productGrid, gridLimit)
    readRow(scale, `productGrid, 1 category (${rowsText(ps[0]!.productGridCategory.rows)} rows)`, (p) => p.productGridCategory, ['≤ 1.2', (v) => v <= 1.2])
    readRow(scale, 'dashboard (8 queries)', (p) => p.dashboard, ['≤ 1.1', (v) => v <= 1.1])
    readRow(scale, `REST api_product_grid.json, ${rowsText(restRows)} rows`, (p) => p.restGrid, ['≤ 1.1', (v) => v <= 1.1])
    loadRow(scale, 'productGrid throughput', (p) => p.concurrency)
    // The same reads on a gateway restarted with the read cache on.
    readRow(scale, `productGrid, ${rowsText(gridRows)} rows, cache on`, (p) => p.cacheOn?.productGrid, gridLimit)
    readRow(scale, 'dashboard (8 queries), cache on', (p) => p.cacheOn?.dashboard, ['≤ 1.1', (v) => v <= 1.1])
    readRow(scale, `REST api_product_grid.json, ${rowsText(restRows)} rows, cache on`, (p) => p.cacheOn?.restGrid, ['≤ 1.1', (v) => v <= 1.1])
    loadRow(scale, 'productGrid throughput', (p) => p.cacheOn?.concurrency, ', cache on')
    const ingest = spread(ps.map((p) => p.ingest.ratio))
    rows.push({
      measure: `ingest, ${ps[0]!.ingest.batchSize.toLocaleString('en-US')}-row batches, mutation`,
      scale,
      unit: 'rows/s',
      gateway: median(ps.map((p) => p.ingest.gateway.rowsPerSec)),
      bare: median(ps.map((p) => p.ingest.direct.rowsPerSec)),
      ratio: ingest,
      target: '≥ 0.7',
      met: ingest ? ingest.median >= 0.7 : null,
    })
    const live = spread(ps.map((p) => liveP99(p.subscriptions)))
    rows.push({
      measure: `live p99 write stored → delivery, ${ps[0]!.subscriptions.subscribers.toLocaleString('en-US')} sockets`,
      scale,
      unit: 'ms',
      gateway: live?.median ?? null,
      bare: null,
      ratio: null,
      target: '< 50',
      met: live ? live.median < 50 : null,
    })
  }
  // Growth with data: the same ~1,800-row answer (the small scale's whole grid, one category of the large
  // scale's 5x products) over 10x the events; the same dashboard over 10x the app events in the same week.
  const pairs = of('small').flatMap((s) => {
    const l = of('large').find((x) => x.meta.run === s.meta.run)
    return l ? [[s, l] as const] : []
  })
  if (pairs.length > 0) {
    const growth = (label: string, pickS: (p: PassReport) => ReadComparison, pickL: (p: PassReport) => ReadComparison, limit: number) => {
      const ratio = spread(pairs.map(([s, l]) => pickL(l).gateway.p50 / pickS(s).gateway.p50))
      rows.push({
        measure: label,
        scale: 'small → large',
        unit: 'ms p50',
        gateway: median(pairs.map(([, l]) => pickL(l).gateway.p50)),
        bare: median(pairs.map(([s]) => pickS(s).gateway.p50)),
        ratio,
        target: `≤ ${limit}`,
        met: ratio ? ratio.median <= limit : null,
      })
    }
    const [s0, l0] = pairs[0]!
    growth(
      `productGrid at ${fmtM(l0.meta.scale.events)} ÷ at ${fmtM(s0.meta.scale.events)} events (${l0.productGridCategory.rows} vs ${s0.productGrid.rows} rows)`,
      (p) => p.productGrid,
      (p) => p.productGridCategory,
      1.2,
    )
    growth(`dashboard at ${fmtM(l0.meta.scale.appEvents)} ÷ at ${fmtM(s0.meta.scale.appEvents)} app events, same week`, (p) => p.dashboard, (p) => p.dashboard, 2)
  }
  const routes = res.ingestRoutes
  for (const [route, limit] of [['/v0/events', 0.9], ['mutation', 0.7], ['mutation NDJSON', 0.7]] as const) {
    const r = routes?.report.none?.[route]
    if (!routes || !r) continue
    const direct = routes.report.none!.direct
    const cost = routes.fsyncCost?.[route]
    rows.push({
      measure: `ingest, ${routes.batch.toLocaleString('en-US')}-row batches, ${route}, durability none (fsync costs ×${n(cost, 2)})`,
      scale: 'fresh',
      unit: 'rows/s',
      gateway: r.rowsPerSec,
      bare: direct.rowsPerSec,
      ratio: r.ratio,
      target: `≥ ${limit}`,
      met: r.ratio.median >= limit,
    })
  }
  if (res.soak) {
    const k = res.soak
    rows.push({ measure: `soak: max RSS over ${k.minutes} min`, scale: 'soak', unit: 'MB', gateway: k.rss.maxMb, bare: null, ratio: null, target: '< 400', met: k.rss.maxMb < 400 })
    rows.push({ measure: 'soak: median RSS', scale: 'soak', unit: 'MB', gateway: k.rss.medianMb, bare: null, ratio: null, target: null, met: null })
    rows.push({ measure: 'soak: max anonymous RSS (heaps)', scale: 'soak', unit: 'MB', gateway: k.rss.maxAnonMb, bare: null, ratio: null, target: null, met: null })
    for (const [kind, v] of Object.entries(k.kinds)) {
      rows.push({ measure: `soak: ${kind}, ${v.requests} requests, ${v.errors} errors, p99 ${n(v.latency.p99)} ms`, scale: 'soak', unit: 'ms p50', gateway: v.latency.p50, bare: null, ratio: null, target: null, met: null })
    }
    rows.push({ measure: 'soak: errors', scale: 'soak', unit: 'count', gateway: k.errors, bare: null, ratio: null, target: '0', met: k.errors === 0 })
  }
  res.summary = rows
  res.targets = rows
    .filter((r) => r.target !== null)
    .map((r) => ({ name: `${r.scale}: ${r.measure}`, value: r.ratio?.median ?? r.gateway, limit: r.target!, met: r.met === true }))
}

const fmtM = (v: number) => (v >= 1e6 ? `${v / 1e6}M` : v.toLocaleString('en-US'))

const n = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const int = (v: number) => v.toLocaleString('en-US')

function table(head: string[], rows: string[][], leftColumns = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function printPass(r: PassReport): void {
  const s = r.meta.scale
  const title = `${r.meta.scaleName} scale${r.meta.quick ? ' (--quick)' : ''}: ${int(s.events)} ecomm events, ${int(s.products)} products, ${int(s.appEvents)} app events`
  console.log(`\n${title}`)
  const load = (l: number[]) => l.map((v) => v.toFixed(1)).join(' ')
  console.log(
    `${r.meta.machine.cpus} × ${r.meta.machine.cpuModel}, node ${r.meta.node}, chdb ${r.meta.chdb}, ${r.meta.durationSeconds} s; load average ${load(r.meta.loadAverage.start)} → ${load(r.meta.loadAverage.end)}\n`,
  )

  const read = (label: string, c: ReadComparison | undefined): string[][] =>
    c
      ? [
          [`${label} p50 (ms)`, n(c.gateway.p50, 2), n(c.bare.p50, 2), n(c.storeApi?.p50, 2), n(c.ratioP50, 2)],
          [`${label} p99 (ms)`, n(c.gateway.p99, 2), n(c.bare.p99, 2), n(c.storeApi?.p99, 2), n(c.ratioP99, 2)],
        ]
      : []
  const throughput = (label: string, l: Throughput | undefined): string[][] =>
    l
      ? [
          [`${label} req/s, ${l.clients} clients`, n(l.gateway.rps), n(l.bare.rps), '', n(l.gateway.rps / l.bare.rps, 2)],
          [`  … p50 / p99 (ms) under load`, `${n(l.gateway.latency.p50)} / ${n(l.gateway.latency.p99)}`, `${n(l.bare.latency.p50)} / ${n(l.bare.latency.p99)}`, '', ''],
        ]
      : []
  const cached = r.cacheOn
  console.log(
    table(
      ['measure', 'gateway', 'bare store', 'store API', 'ratio'],
      [
        ...read(`productGrid (${r.productGrid.rows} rows)`, r.productGrid),
        ...read(`productGrid 1 category (${r.productGridCategory.rows} rows)`, r.productGridCategory),
        ...read('dashboard (8 queries)', r.dashboard),
        ...read(`REST api_product_grid.json (${r.restGrid?.rows} rows)`, r.restGrid),
        ...throughput('productGrid', r.concurrency),
        ...read(`cache on: productGrid (${cached?.productGrid.rows} rows)`, cached?.productGrid),
        ...read('cache on: dashboard (8 queries)', cached?.dashboard),
        ...read(`cache on: REST api_product_grid.json (${cached?.restGrid?.rows} rows)`, cached?.restGrid),
        ...throughput('cache on: productGrid', cached?.concurrency),
        [`ingest rows/s (${r.ingest.batches} × ${int(r.ingest.batchSize)})`, int(r.ingest.gateway.rowsPerSec), int(r.ingest.direct.rowsPerSec), '', n(r.ingest.ratio, 2)],
        ['ingest MB/s (rows as JSONEachRow)', n(r.ingest.gateway.mbPerSec, 2), n(r.ingest.direct.mbPerSec, 2), '', ''],
        ['ingest MB/s (GraphQL request bodies)', n(r.ingest.gateway.requestMbPerSec, 2), '', '', ''],
      ],
    ),
  )

  if (cached) {
    const names = { productGrid: 'productGrid', dashboard: 'dashboard', restGrid: 'REST grid', concurrency: 'throughput' } as const
    const counts = Object.entries(cached.readCache).map(([k, c]) => `${names[k as keyof typeof names]} ${int(c.hits)} hits, ${int(c.misses)} misses${c.shared ? `, ${int(c.shared)} shared` : ''}${c.bypassed ? `, ${int(c.bypassed)} bypassed` : ''}`)
    console.log(`\nRead cache during the "cache on" rows (a gateway process with SIGHTLINE_READ_CACHE=1 on the same copy, run before the cache-off one): ${counts.join('; ')}; its RSS after those reads ${n(cached.rssMb)} MB`)
  }

  const sub = r.subscriptions
  console.log(`\nLive stock: ${int(sub.subscribers)} subscribers × ${sub.writes} writes = ${int(sub.expected)} expected, ${int(sub.delivered)} delivered, ${sub.lost} lost, ${sub.duplicates} duplicated, ${sub.stray} stray`)
  console.log(
    table(
      ['latency (ms)', 'p50', 'p90', 'p99', 'max'],
      [
        ['write stored → delivery', n(sub.afterStoredMs?.p50), n(sub.afterStoredMs?.p90), n(sub.afterStoredMs?.p99), n(sub.afterStoredMs?.max)],
        ['update `at` → delivery', n(sub.afterCommitMs.p50), n(sub.afterCommitMs.p90), n(sub.afterCommitMs.p99), n(sub.afterCommitMs.max)],
        ['mutation sent → delivery', n(sub.afterSendMs.p50), n(sub.afterSendMs.p90), n(sub.afterSendMs.p99), n(sub.afterSendMs.max)],
        ['mutation response → delivery', n(sub.afterResponseMs.p50), n(sub.afterResponseMs.p90), n(sub.afterResponseMs.p99), n(sub.afterResponseMs.max)],
        ['mutation round trip', n(sub.mutationMs.p50), n(sub.mutationMs.p90), n(sub.mutationMs.p99), n(sub.mutationMs.max)],
      ],
    ),
  )
  console.log(
    `(${int(sub.deliveredBeforeResponse)} of ${int(sub.delivered)} deliveries arrived before the writer had its response: a write through the gateway is answered without waiting for its delivery, which follows it)`,
  )

  const m = r.memory
  console.log(`\nGateway memory: RSS ${n(m.afterRunRssMb)} MB after the run, ${n(m.withSubscribersRssMb)} MB with the subscribers connected, peak ${n(m.peakRssMb)} MB; V8 heap ${n(m.heapUsedMb)} MB used of ${n(m.heapTotalMb)} MB`)
  console.log(`  RSS by phase: ${Object.entries(m.trail).map(([k, v]) => `${k} ${n(v, 0)}`).join(', ')}`)

  console.log(
    `\n${table(
      ['target', 'value', 'limit', 'met'],
      r.targets.map((t) => [t.name, n(t.value, 2), t.limit, t.met ? 'yes' : 'NO']),
    )}`,
  )
}

const ratioText = (r: Spread | null) => (r === null ? '' : r.n > 1 ? `${n(r.median, 2)} (${n(r.min, 2)}–${n(r.max, 2)})` : n(r.median, 2))

/** The summary table: measure, gateway, bare, ratio (median, min–max over runs), target, met. */
export function printResults(res: BenchResults): void {
  const m = res.meta
  const load = (l: number[]) => l.map((v) => v.toFixed(1)).join(' ')
  console.log(`\nSightline benchmark${m.quick ? ' (--quick)' : ''}: ${m.runs} run(s) of ${Object.entries(m.scales).map(([k, s]) => `${k} (${int(s.events)} events, ${int(s.products)} products, ${int(s.appEvents)} app events)`).join(' and ')}${m.soakMinutes > 0 ? `, ${m.soakMinutes}-minute soak` : ''}`)
  console.log(`${m.machine.cpus} × ${m.machine.cpuModel}, node ${m.node}, chdb ${m.chdb}, ${m.durationSeconds} s; load average ${load(m.loadAverage.start)} → ${load(m.loadAverage.end)}\n`)
  console.log(
    table(
      ['scale', 'measure', 'unit', 'gateway', 'bare', 'ratio (spread)', 'target', 'met'],
      res.summary.map((r) => [r.scale, r.measure, r.unit, n(r.gateway, r.unit === 'MB' || r.unit.startsWith('ms') ? 1 : 0), n(r.bare, r.unit.startsWith('ms') ? 1 : 0), ratioText(r.ratio), r.target ?? '', r.met === null ? '' : r.met ? 'yes' : 'NO']),
      3,
    ),
  )
  if (res.summary.some((r) => r.scale === 'small → large')) console.log('(small → large rows: gateway = the large scale, bare = the small scale, ratio = large ÷ small)')
  if (res.summary.some((r) => r.measure.includes('cache on'))) console.log('(cache on rows: a gateway process with SIGHTLINE_READ_CACHE=1 on the same data, run before the cache-off one; every other row runs with the read cache off, the default)')
  if (res.soak) printSoak(res.soak)
}

export function printSoak(k: SoakResult): void {
  console.log(`\nSoak: ${k.minutes} min, ${int(k.subscribers)} live subscribers (${int(k.updates)} updates received), RSS every ${k.rss.everySeconds} s: max ${n(k.rss.maxMb)} MB, median ${n(k.rss.medianMb)} MB, start ${n(k.rss.startMb)} MB, end ${n(k.rss.endMb)} MB; ${k.errors} errors`)
  console.log(`  of which anonymous (V8 and engine heaps): max ${n(k.rss.maxAnonMb)} MB, median ${n(k.rss.medianAnonMb)} MB; file-backed at the end (mostly chDB's library code): ${n(k.rss.endFileMb)} MB`)
  if (k.engine && k.engine.length > 0) {
    const at = (e: NonNullable<SoakResult['engine']>[number]) =>
      Object.entries(e.mb).sort(([a], [b]) => (a === 'tracked' ? -1 : b === 'tracked' ? 1 : a.localeCompare(b))).map(([kind, mb]) => `${kind} ${n(mb)}`).join(', ')
    console.log(`  engine memory (MB), start: ${at(k.engine[0]!)}; end: ${at(k.engine[k.engine.length - 1]!)}`)
  }
  console.log(
    table(
      ['kind', 'requests', 'errors', 'p50 (ms)', 'p99 (ms)'],
      Object.entries(k.kinds).map(([name, v]) => [name, int(v.requests), int(v.errors), n(v.latency.p50), n(v.latency.p99)]),
    ),
  )
  if (k.memory) console.log(`  gateway at the end: heap ${n(k.memory.heapUsedMb)} MB used of ${n(k.memory.heapTotalMb)} MB, external ${n(k.memory.externalMb)} MB; the rest of RSS is native (mostly chDB)`)
  const cpu = k.gatewayCpuSeconds === undefined ? '' : `gateway CPU ${n(k.gatewayCpuSeconds)} s; `
  const env = k.env ? `; gateway env ${Object.entries(k.env).map(([name, value]) => `${name}=${value}`).join(' ')}` : ''
  console.log(`  ${cpu}load average ${k.loadAverage.start.join(' ')} at the start, ${k.loadAverage.end.join(' ')} at the end${env}`)
}

/**
 * The live target's figure: p99 from the gateway's store acknowledging a write (its ingest log) to each
 * delivery — the same instant whatever the feed does. Reports from before it was measured (and runs that
 * lost updates) fall back to the update's `at`, then the change log's stamp inside the insert; a gateway
 * write sent without a read of the log is stamped when it was stored, so that figure no longer spans the
 * rest of the insert.
 */
function liveP99(s: SubscriptionResult): number | null {
  if (s.lost > 0) return null
  return s.afterStoredMs?.n ? s.afterStoredMs.p99 : s.afterCommitMs.p99
}

