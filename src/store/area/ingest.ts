import { randomBytes } from 'node:crypto'
import { batchId, BatchLedger, keyedInsert, QUARANTINE_COLUMNS, quarantineId, slices, type Slice } from '../batches.js'
import { toChDateTime64 } from '../clickhouse.js'
import type { SharedExclusiveGate } from '../gate.js'
import type { IngestJournal } from '../journal.js'
import type { IngestOutcome, RecordSource } from '../store.js'
import type { IngestOptions, IngestTable, QuarantinedRow, RowError } from '../types.js'
import { StockBalance } from '../validate.js'
import { COLUMNS, LOGGED, monthOf, PARTITIONED, stockChangesOf, type RowCodec } from './codecs.js'
import { recordEncoder, type EncodedBatch } from './record-encoder.js'
import type { StoreQueries } from './queries.js'

/** What the one-pass path needs from the rest of the store: product versions and today's stock. */
export interface RecordEnv {
  readonly version: () => bigint
  stock(products: readonly string[]): Promise<ReadonlyArray<readonly [string, number]>>
}

/** What a keyed batch's answer reports, recorded in `ingest_batches`. */
interface BatchResult {
  readonly accepted: number
  readonly quarantined: number
  readonly errors: readonly RowError[]
}

/** A keyed batch ready to store, as the journal keeps it: every value already encoded. */
interface PreparedBatch {
  readonly table: IngestTable
  readonly key: string
  readonly id: string
  readonly parts: readonly Slice[]
  readonly quarantine: { readonly id: string; readonly rows: readonly unknown[][] }
  readonly result: BatchResult
}

/** The ids a keyed batch's rows carry: its slices' and its quarantine's. */
function traceIds(batch: PreparedBatch): string[] {
  return [...batch.parts.map((p) => p.id), batch.quarantine.id]
}

/**
 * The one write path of the datasources: validate every row, quarantine the bad ones with their reason,
 * store the good ones, and answer only after both are written.
 *
 * With an idempotency key the batch is exactly once under crashes (issue 17): its rows carry the
 * batch's id in the hidden `_batch` column (views keep it, or a marker row), and the batch's result
 * is recorded last. A retry whose record is missing counts what the first attempt left in the table,
 * the quarantine and every view, and fills in only what is missing (`BatchLedger`); it answers
 * `deduplicated` exactly when nothing was. ClickHouse's deduplication log is not relied upon: on a
 * local MergeTree it records a block before the part is renamed into place. One key is handled by
 * one call at a time in this process.
 */
export class IngestRepository {
  private readonly ledger: BatchLedger
  private readonly running = new Map<string, Promise<void>>()

  constructor(
    private readonly q: StoreQueries,
    /** Ingest holds it shared, the live feed's reads exclusively (see SharedExclusiveGate). */
    private readonly writes: SharedExclusiveGate,
    private readonly journal: IngestJournal | undefined,
  ) {
    this.ledger = new BatchLedger(q.exec.client, q.database)
  }

  /**
   * One pass over the batch: each good row becomes the array of values ClickHouse reads (in `COLUMNS`
   * order) as soon as it is checked, with no intermediate list of checked rows.
   */
  ingest<In, Valid>(table: IngestTable, input: readonly In[], options: IngestOptions, codec: RowCodec<In, Valid>): Promise<IngestOutcome> {
    return this.writes.runShared(() => this.ingestNow(table, options, () => this.encode(input, options, codec)))
  }

  /**
   * A source's records in one pass (see record-encoder.ts): each becomes its compact line, or its quarantine row,
   * as it is visited. Warehouse updates are checked against today's stock of the products they name, read
   * first (the records are visited twice).
   */
  async ingestRecords(table: IngestTable, source: RecordSource, options: IngestOptions, env: RecordEnv): Promise<IngestOutcome> {
    const now = new Date()
    let balance: StockBalance | undefined
    if (table === 'warehouse_stock') {
      const products = new Set<string>()
      const row: Record<string, unknown> = {}
      source.each((_raw, _line, record) => {
        if (record === undefined || source.read(record, row) !== undefined) return
        const product = typeof row.product === 'string' ? row.product.trim() : ''
        if (product !== '' && product.length <= 256) products.add(product)
      })
      balance = new StockBalance(await env.stock([...products]))
    }
    return this.writes.runShared(() =>
      this.ingestNow(table, options, () => {
        const encoder = recordEncoder(table, source, { now, workspace: options.workspaceId, version: env.version, balance })
        source.each(encoder.add)
        return encoder.done()
      }),
    )
  }

  async quarantine(table: IngestTable, limit: number): Promise<QuarantinedRow[]> {
    const rows = await this.q.rows<{ row: string; reason: string; at_ms: number }>('quarantine', { limit }, { table })
    return rows.map((r) => ({ table, row: r.row, reason: r.reason, at: new Date(Number(r.at_ms)) }))
  }

  /**
   * Completes the keyed batches an unclean stop left in the journal (embedded store), as their retry
   * would: afresh, in part, or not at all when their record is there. Returns how many were pending; a
   * batch that fails stays in the journal for the next start (and its client's retry still completes it).
   */
  async recover(): Promise<number> {
    if (!this.journal) return 0
    const pending = await this.journal.pending()
    for (const { id, entry } of pending) {
      const batch = entry as PreparedBatch
      try {
        await this.oneAtATime(`${batch.table}\n${batch.key}`, async () => {
          if (await this.previousBatch(batch.table, batch.key)) await this.journal?.end(id)
          else await this.commit(batch, true)
        })
      } catch {
        // Left for the next start or the client's retry.
      }
    }
    return pending.length
  }

  private async ingestNow(table: IngestTable, options: IngestOptions, encode: () => EncodedBatch): Promise<IngestOutcome> {
    const outcomeOf = (b: EncodedBatch): IngestOutcome => ({
      accepted: b.rows.length,
      quarantined: b.bad.length,
      errors: b.errors,
      deduplicated: false,
      stockChanges: b.stockChanges,
    })
    // A key names a batch of one caller (token): two callers that happen to choose the same key send
    // two batches, and neither is dropped as the other's retry nor answered with the other's result.
    const key = options.idempotencyKey === undefined ? undefined : JSON.stringify([options.tokenName ?? '', options.idempotencyKey])
    if (key === undefined) {
      const encoded = encode()
      // Two statements at most (an empty part sends none): the quarantine's rows, then the datasource's.
      await this.q.exec.insert(this.q.table(`${table}_quarantine`), encoded.bad)
      const logged = options.withWriteId && encoded.stockChanges.length > 0 ? LOGGED[table] : undefined
      if (!logged) {
        await this.q.exec.insert(this.q.table(table), encoded.rows, undefined, COLUMNS[table])
        return outcomeOf(encoded)
      }
      // The rows the change log reads carry the write's id (the others ''), for the live feed.
      const writeId = `w${randomBytes(8).toString('hex')}`
      for (const row of encoded.rows) row.push(logged(row) ? writeId : '')
      await this.q.exec.insert(this.q.table(table), encoded.rows, undefined, [...COLUMNS[table], '_batch'], { insert_allow_materialized_columns: 1 })
      return { ...outcomeOf(encoded), writeId }
    }
    return this.oneAtATime(`${table}\n${key}`, async () => {
      const encoded = encode()
      const { rows, bad, errors } = encoded
      const outcome = outcomeOf(encoded)
      const id = batchId(table, key)
      const batch: PreparedBatch = {
        table,
        key,
        id,
        parts: slices(id, rows, PARTITIONED[table] ? monthOf : undefined),
        quarantine: { id: quarantineId(id), rows: bad.map((b) => [b.row, b.reason, b.at, quarantineId(id)]) },
        result: { accepted: rows.length, quarantined: bad.length, errors },
      }
      // One statement answers both questions a keyed batch starts with: is its record stored (a retry of
      // a batch that landed), and else did an earlier attempt leave any of its rows (one cut short)?
      const { record, traces } = await this.ledger.lookup(table, key, traceIds(batch))
      if (record) {
        const { recovered, ...result } = record
        // Completed at start-up, not by the first attempt: this retry is the first to hear of it.
        if (recovered) await this.recordBatch(table, key, result, false)
        return { ...result, deduplicated: !recovered, stockChanges: [] }
      }
      await this.journal?.begin(id, batch)
      const repaired = await this.commit(batch, false, traces)
      // Stored afresh, its changes are all this write's; a repair's may have gone out with the first attempt.
      if (traces === 0) return { ...outcome, writeId: id }
      return repaired ? outcome : { ...outcome, deduplicated: true, stockChanges: [] }
    })
  }

  /**
   * One pass over the typed rows: each good row becomes the array of values ClickHouse reads (in `COLUMNS`
   * order) as soon as it is checked, with no intermediate list of checked rows; each bad row (and each record
   * the transport rejected) becomes a quarantine row with its reason.
   */
  private encode<In, Valid>(input: readonly In[], options: IngestOptions, codec: RowCodec<In, Valid>): EncodedBatch {
    const rows: unknown[][] = []
    const stock = new Map<string, number>()
    const errors: RowError[] = []
    const bad: Array<{ row: string; reason: string; at: string }> = []
    const at = toChDateTime64(new Date())
    for (let index = 0; index < input.length; index++) {
      const row = input[index] as In
      const checked = codec.check(row)
      if (checked.ok) {
        rows.push(codec.encode(checked.row))
        codec.move?.(checked.row, stock)
      } else {
        errors.push({ index, message: checked.reason })
        const source = options.sources?.[index]
        bad.push({ row: source?.row ?? JSON.stringify(row), reason: `${source?.label ?? `row ${index}`}: ${checked.reason}`, at })
      }
    }
    options.rejected?.forEach((record, i) => {
      const index = input.length + i
      errors.push({ index, message: record.reason })
      bad.push({ row: record.row, reason: `${options.sources?.[index]?.label ?? `row ${index}`}: ${record.reason}`, at })
    })
    return { rows, bad, errors, stockChanges: stockChangesOf(stock) }
  }

  /**
   * Stores a keyed batch: afresh when nothing of it is stored yet, else only its missing parts; then its
   * record, then ends its journal entry. Returns true when anything was written (the batch had not fully
   * landed before). `recovering`: start-up is completing it from the journal. `traces`: what the
   * batch's lookup counted of it already (else counted here).
   */
  private async commit(batch: PreparedBatch, recovering: boolean, traces?: number): Promise<boolean> {
    const { table, parts, quarantine } = batch
    const { exec } = this.q
    const columns: readonly [string, ...string[]] = [...COLUMNS[table], '_batch']
    let repaired = true
    if ((traces ?? (await this.ledger.traces(table, traceIds(batch)))) === 0) {
      await exec.insert(this.q.table(`${table}_quarantine`), quarantine.rows, undefined, QUARANTINE_COLUMNS, keyedInsert(quarantine.rows.length))
      for (const part of parts) await exec.insert(this.q.table(table), part.rows, undefined, columns, keyedInsert(part.rows.length))
    } else {
      // A previous attempt died part-way (or just before its record): complete it, one repair at a time.
      repaired = await this.oneAtATime(`repair\n${table}`, () => this.ledger.repair(table, columns, parts, quarantine))
    }
    await this.recordBatch(table, batch.key, batch.result, recovering && repaired)
    await this.journal?.end(batch.id)
    return repaired
  }

  private async recordBatch(table: IngestTable, key: string, result: BatchResult, recovered: boolean): Promise<void> {
    await this.q.exec.insert(this.q.table('ingest_batches'), [
      {
        table,
        key,
        accepted: result.accepted,
        quarantined: result.quarantined,
        errors: JSON.stringify(result.errors),
        at: toChDateTime64(new Date()),
        recovered: recovered ? 1 : 0,
      },
    ])
  }

  /** Runs `fn` after every earlier call with the same name has settled. */
  private async oneAtATime<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.running.get(name) ?? Promise.resolve()
    const mine = before.then(fn, fn)
    const settled = mine.then(
      () => undefined,
      () => undefined,
    )
    this.running.set(name, settled)
    try {
      return await mine
    } finally {
      if (this.running.get(name) === settled) this.running.delete(name)
    }
  }

  private async previousBatch(table: IngestTable, key: string): Promise<(BatchResult & { recovered: boolean }) | null> {
    const [row] = await this.q.rows<{ accepted: number; quarantined: number; errors: string; recovered: number }>('ingest_batch', { table, key })
    if (!row) return null
    return {
      accepted: Number(row.accepted),
      quarantined: Number(row.quarantined),
      errors: JSON.parse(row.errors) as RowError[],
      recovered: Number(row.recovered) === 1,
    }
  }
}
