import type { Scale } from './data.js'
import type { IngestResult } from './ingest.js'
import type { Summary } from './stats.js'
import type { SubscriptionResult } from './subscriptions.js'

interface ReadComparison {
  readonly query: string
  readonly gateway: Summary
  /** The store's SQL replayed on the bare store. */
  readonly bare: Summary
  /** The store's method called in-process (SQL + row mapping), for locating overhead. */
  readonly storeApi: Summary
  readonly ratioP50: number
  readonly ratioP99: number
}

interface Load {
  readonly requests: number
  readonly rps: number
  readonly latency: Summary
}

export interface TargetResult {
  readonly name: string
  readonly value: number | null
  readonly limit: string
  readonly met: boolean
}

/** The shape of bench/results/*.json. */
export interface Report {
  meta: {
    date: string
    quick: boolean
    scale: Scale
    machine: { cpus: number; cpuModel: string; memoryGb: number }
    node: string
    chdb: string
    clickhouseClient: string
    commit: string | null
    durationSeconds: number
    /** 1, 5 and 15 minute load averages when the run started and ended. */
    loadAverage: { start: number[]; end: number[] }
  }
  method: string
  productGrid: ReadComparison & { rows: number }
  /** The same for one category (fewer rows): the gateway's cost grows with the rows it returns. */
  productGridCategory: ReadComparison & { rows: number }
  dashboard: ReadComparison
  ingest: IngestResult
  concurrency: { clients: number; gateway: Load; bare: Load }
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

/** The issue's targets (2-core machine, chDB). */
export const TARGETS: ReadonlyArray<{
  name: string
  limit: string
  value: (r: Report) => number | null
  met: (v: number) => boolean
}> = [
  { name: 'productGrid p50 ÷ bare store', limit: '≤ 1.2', value: (r) => r.productGrid.ratioP50, met: (v) => v <= 1.2 },
  { name: 'dashboard p50 ÷ bare store', limit: '≤ 1.2', value: (r) => r.dashboard.ratioP50, met: (v) => v <= 1.2 },
  { name: 'ingest rows/s ÷ direct insert', limit: '≥ 0.7', value: (r) => r.ingest.ratio, met: (v) => v >= 0.7 },
  {
    name: 'subscription p99, write → delivery (ms)',
    limit: '< 50',
    value: (r) => (r.subscriptions.lost > 0 ? null : r.subscriptions.afterCommitMs.p99),
    met: (v) => v < 50,
  },
  { name: 'gateway RSS after the run (MB)', limit: '< 500', value: (r) => r.memory.afterRunRssMb, met: (v) => v < 500 },
]

const n = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const int = (v: number) => v.toLocaleString('en-US')

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function printReport(r: Report): void {
  const s = r.meta.scale
  const title = `Sightline benchmark${r.meta.quick ? ' (--quick)' : ''}: ${int(s.events)} ecomm events, ${int(s.products)} products, ${int(s.appEvents)} app events`
  console.log(`\n${title}`)
  const load = (l: number[]) => l.map((v) => v.toFixed(1)).join(' ')
  console.log(
    `${r.meta.machine.cpus} × ${r.meta.machine.cpuModel}, node ${r.meta.node}, chdb ${r.meta.chdb}, ${r.meta.durationSeconds} s; load average ${load(r.meta.loadAverage.start)} → ${load(r.meta.loadAverage.end)}\n`,
  )

  const read = (label: string, c: ReadComparison) => [
    [`${label} p50 (ms)`, n(c.gateway.p50, 2), n(c.bare.p50, 2), n(c.storeApi.p50, 2), n(c.ratioP50, 2)],
    [`${label} p99 (ms)`, n(c.gateway.p99, 2), n(c.bare.p99, 2), n(c.storeApi.p99, 2), n(c.ratioP99, 2)],
  ]
  console.log(
    table(
      ['measure', 'gateway', 'bare store', 'store API', 'ratio'],
      [
        ...read(`productGrid (${r.productGrid.rows} rows)`, r.productGrid),
        ...read(`productGrid 1 category (${r.productGridCategory.rows} rows)`, r.productGridCategory),
        ...read('dashboard (8 queries)', r.dashboard),
        [`productGrid req/s, ${r.concurrency.clients} clients`, n(r.concurrency.gateway.rps), n(r.concurrency.bare.rps), '', n(r.concurrency.gateway.rps / r.concurrency.bare.rps, 2)],
        [`  … p50 / p99 (ms) under load`, `${n(r.concurrency.gateway.latency.p50)} / ${n(r.concurrency.gateway.latency.p99)}`, `${n(r.concurrency.bare.latency.p50)} / ${n(r.concurrency.bare.latency.p99)}`, '', ''],
        [`ingest rows/s (${r.ingest.batches} × ${int(r.ingest.batchSize)})`, int(r.ingest.gateway.rowsPerSec), int(r.ingest.direct.rowsPerSec), '', n(r.ingest.ratio, 2)],
        ['ingest MB/s (rows as JSONEachRow)', n(r.ingest.gateway.mbPerSec, 2), n(r.ingest.direct.mbPerSec, 2), '', ''],
        ['ingest MB/s (GraphQL request bodies)', n(r.ingest.gateway.requestMbPerSec, 2), '', '', ''],
      ],
    ),
  )

  const sub = r.subscriptions
  console.log(`\nLive stock: ${int(sub.subscribers)} subscribers × ${sub.writes} writes = ${int(sub.expected)} expected, ${int(sub.delivered)} delivered, ${sub.lost} lost, ${sub.duplicates} duplicated, ${sub.stray} stray`)
  console.log(
    table(
      ['latency (ms)', 'p50', 'p90', 'p99', 'max'],
      [
        ['store write → delivery', n(sub.afterCommitMs.p50), n(sub.afterCommitMs.p90), n(sub.afterCommitMs.p99), n(sub.afterCommitMs.max)],
        ['mutation sent → delivery', n(sub.afterSendMs.p50), n(sub.afterSendMs.p90), n(sub.afterSendMs.p99), n(sub.afterSendMs.max)],
        ['mutation response → delivery', n(sub.afterResponseMs.p50), n(sub.afterResponseMs.p90), n(sub.afterResponseMs.p99), n(sub.afterResponseMs.max)],
        ['mutation round trip', n(sub.mutationMs.p50), n(sub.mutationMs.p90), n(sub.mutationMs.p99), n(sub.mutationMs.max)],
      ],
    ),
  )
  console.log(
    `(${int(sub.deliveredBeforeResponse)} of ${int(sub.delivered)} deliveries arrived before the writer had its response: the gateway answers a write after pushing it to subscribers)`,
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
