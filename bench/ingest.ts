import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { prng } from '../src/random.js'
import { toChDateTime } from '../src/store/clickhouse.js'
import type { GraphQLHttp } from './gateway.js'
import { round } from './stats.js'

export const BATCH = 10_000
const INGEST = 'mutation Ingest($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted quarantined } }'
const HOUR_MS = 3600e3

export interface IngestSide {
  readonly rows: number
  readonly seconds: number
  readonly rowsPerSec: number
  /** The rows' JSONEachRow size per second (the same bytes for both sides). */
  readonly mbPerSec: number
  readonly batchMs: { readonly p50: number; readonly max: number }
}

export interface IngestResult {
  readonly batchSize: number
  readonly batches: number
  /** JSONEachRow size of all measured rows. */
  readonly dataMb: number
  readonly gateway: IngestSide & { readonly requestMb: number; readonly requestMbPerSec: number }
  readonly direct: IngestSide
  /** gateway rows/s ÷ direct rows/s */
  readonly ratio: number
}

interface Row {
  timestamp: Date
  event: 'view' | 'cart' | 'sale'
  product: string
}

function makeRows(n: number, products: readonly string[], now: number): Row[] {
  const rand = prng(7)
  return Array.from({ length: n }, () => {
    const r = rand()
    return {
      timestamp: new Date(now - HOUR_MS - Math.floor(rand() * 6 * 24 * HOUR_MS)),
      event: r < 0.75 ? 'view' : r < 0.93 ? 'cart' : 'sale',
      product: products[Math.floor(rand() * products.length)]!,
    }
  })
}

/**
 * The same rows in 10,000-row batches through `ingestEcommEvents` (gateway copy) and as a direct
 * `@clickhouse/client` JSONEachRow insert into the same table (bare copy), alternating batch by batch
 * and which side goes first. Each side's time includes its client serialising the batch. One warm-up
 * batch per side is not counted.
 */
export async function measureIngest(o: {
  http: GraphQLHttp
  client: ClickHouseClient
  database: string
  products: readonly string[]
  rows: number
  progress: (line: string) => void
}): Promise<IngestResult> {
  const batches = Math.max(1, Math.ceil(o.rows / BATCH))
  const rows = makeRows((batches + 1) * BATCH, o.products, Date.now())
  const chunks = Array.from({ length: batches + 1 }, (_, b) => rows.slice(b * BATCH, (b + 1) * BATCH))
  const asInput = chunks.map((c) =>
    c.map((r) => ({ timestamp: r.timestamp.toISOString(), event: r.event.toUpperCase(), product: r.product })),
  )
  const asRecord = chunks.map((c) => c.map((r) => ({ timestamp: toChDateTime(r.timestamp), event: r.event, product: r.product })))

  const requestBytes = { total: 0 }
  const viaGateway = async (b: number) => {
    const body = JSON.stringify({ query: INGEST, variables: { events: asInput[b] } })
    requestBytes.total += Buffer.byteLength(body)
    const data = await o.http.post<{ ingestEcommEvents: { accepted: number; quarantined: number } }>(body)
    if (data.ingestEcommEvents.accepted !== asInput[b]!.length) throw new Error(`batch ${b}: ${JSON.stringify(data)}`)
  }
  const direct = async (b: number) => {
    await o.client.insert({
      table: `${o.database}.ecomm_events`,
      values: asRecord[b]!,
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: randomUUID() },
    })
  }

  await viaGateway(0)
  await direct(0)
  requestBytes.total = 0
  const gatewayMs: number[] = []
  const directMs: number[] = []
  const time = async (fn: () => Promise<void>, into: number[]) => {
    const t0 = performance.now()
    await fn()
    into.push(performance.now() - t0)
  }
  for (let b = 1; b <= batches; b++) {
    if (b % 2 === 1) {
      await time(() => viaGateway(b), gatewayMs)
      await time(() => direct(b), directMs)
    } else {
      await time(() => direct(b), directMs)
      await time(() => viaGateway(b), gatewayMs)
    }
    if (b % 5 === 0 || b === batches) o.progress(`ingest batches: ${b}/${batches} per side`)
  }

  const measured = asRecord.slice(1).flat()
  const dataBytes = measured.reduce((s, r) => s + Buffer.byteLength(JSON.stringify(r)) + 1, 0)
  const side = (ms: number[]): IngestSide => {
    const seconds = ms.reduce((s, v) => s + v, 0) / 1000
    const sorted = [...ms].sort((a, b) => a - b)
    return {
      rows: measured.length,
      seconds: round(seconds, 3),
      rowsPerSec: Math.round(measured.length / seconds),
      mbPerSec: round(dataBytes / 1e6 / seconds),
      batchMs: { p50: round(sorted[Math.floor((sorted.length - 1) / 2)]!), max: round(sorted[sorted.length - 1]!) },
    }
  }
  const gateway = side(gatewayMs)
  const bare = side(directMs)
  return {
    batchSize: BATCH,
    batches,
    dataMb: round(dataBytes / 1e6),
    gateway: { ...gateway, requestMb: round(requestBytes.total / 1e6), requestMbPerSec: round(requestBytes.total / 1e6 / gateway.seconds) },
    direct: bare,
    ratio: round(gateway.rowsPerSec / bare.rowsPerSec, 3),
  }
}
