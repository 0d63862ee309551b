import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { prng } from '../src/random.js'
import { toChDateTime } from '../src/store/clickhouse.js'
import type { GraphQLHttp } from './gateway.js'
import { round } from './stats.js'

export const BATCH = 10_000
const INGEST = 'mutation Ingest($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted quarantined } }'
const INGEST_NDJSON = 'mutation Ingest($data: String!) { ingestEcommEventsNdjson(data: $data) { accepted quarantined } }'
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
  /** The same batches through `ingestEcommEventsNdjson` (one NDJSON String variable), interleaved with the two others. */
  readonly ndjson: IngestSide & { readonly ratio: number; readonly pairRatio: { readonly median: number; readonly min: number; readonly max: number } }
  /** The mutation's per-batch ratios (direct ms ÷ mutation ms of the same round): median and min–max. */
  readonly pairRatio: { readonly median: number; readonly min: number; readonly max: number }
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
 * The same rows in 10,000-row batches through `ingestEcommEvents` and `ingestEcommEventsNdjson` (gateway copy) and as a direct
 * `@clickhouse/client` JSONEachRow insert into the same table (bare copy), alternating batch by batch
 * and rotating which side goes first. Each side's time includes its client serialising the batch. One warm-up
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
  const asNdjson = chunks.map((c) => c.map((r) => JSON.stringify({ timestamp: r.timestamp.toISOString(), event: r.event, product: r.product })).join('\n'))
  const asRecord = chunks.map((c) => c.map((r) => ({ timestamp: toChDateTime(r.timestamp), event: r.event, product: r.product })))

  const requestBytes = { total: 0 }
  const viaGateway = async (b: number) => {
    const body = JSON.stringify({ query: INGEST, variables: { events: asInput[b] } })
    requestBytes.total += Buffer.byteLength(body)
    const data = await o.http.post<{ ingestEcommEvents: { accepted: number; quarantined: number } }>(body)
    if (data.ingestEcommEvents.accepted !== asInput[b]!.length) throw new Error(`batch ${b}: ${JSON.stringify(data)}`)
  }
  const viaNdjson = async (b: number) => {
    const body = JSON.stringify({ query: INGEST_NDJSON, variables: { data: asNdjson[b] } })
    const data = await o.http.post<{ ingestEcommEventsNdjson: { accepted: number; quarantined: number } }>(body)
    if (data.ingestEcommEventsNdjson.accepted !== asInput[b]!.length) throw new Error(`batch ${b} (NDJSON): ${JSON.stringify(data)}`)
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
  await viaNdjson(0)
  await direct(0)
  requestBytes.total = 0
  const gatewayMs: number[] = []
  const ndjsonMs: number[] = []
  const directMs: number[] = []
  const time = async (fn: () => Promise<void>, into: number[]) => {
    const t0 = performance.now()
    await fn()
    into.push(performance.now() - t0)
  }
  for (let b = 1; b <= batches; b++) {
    // Rotate which side goes first, so drift on a shared machine hits all three alike.
    const sides: Array<[() => Promise<void>, number[]]> = [
      [() => viaGateway(b), gatewayMs],
      [() => viaNdjson(b), ndjsonMs],
      [() => direct(b), directMs],
    ]
    for (let i = 0; i < sides.length; i++) {
      const [fn, into] = sides[(i + b) % sides.length]!
      await time(fn, into)
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
  const ndjson = side(ndjsonMs)
  const bare = side(directMs)
  const pairs = (ms: number[]) => {
    const ratios = ms.map((v, i) => directMs[i]! / v).sort((a, b) => a - b)
    return { median: round(ratios[Math.floor((ratios.length - 1) / 2)]!, 3), min: round(ratios[0]!, 3), max: round(ratios[ratios.length - 1]!, 3) }
  }
  return {
    batchSize: BATCH,
    batches,
    dataMb: round(dataBytes / 1e6),
    gateway: { ...gateway, requestMb: round(requestBytes.total / 1e6), requestMbPerSec: round(requestBytes.total / 1e6 / gateway.seconds) },
    direct: bare,
    ratio: round(gateway.rowsPerSec / bare.rowsPerSec, 3),
    pairRatio: pairs(gatewayMs),
    ndjson: { ...ndjson, ratio: round(ndjson.rowsPerSec / bare.rowsPerSec, 3), pairRatio: pairs(ndjsonMs) },
  }
}
