import { toChDateTime64 } from '../clickhouse.js'
import type { ErrorLogEntry, IngestLogEntry, IngestTable, OperationStat, ServiceLogBatch } from '../types.js'
import type { StoreQueries } from './queries.js'

/** Sightline's own records: operations, ingests and errors, their retention and the reports over them. */
export class ServiceLogRepository {
  constructor(private readonly q: StoreQueries) {}

  async write({ operations, ingests, errors }: ServiceLogBatch): Promise<void> {
    const at = (d: Date) => toChDateTime64(d)
    const rows: Record<'operation_log' | 'ingest_log' | 'error_log', object[]> = {
      operation_log: operations.map((o) => ({
        at: at(o.at),
        request_id: o.requestId,
        operation: o.operation,
        token: o.token,
        duration_ms: o.durationMs,
        rows_read: o.rowsRead,
        bytes_read: o.bytesRead,
        error_code: o.errorCode,
      })),
      ingest_log: ingests.map((i) => ({
        at: at(i.at),
        table: i.table,
        rows: i.rows,
        quarantined: i.quarantined,
        duration_ms: i.durationMs,
        token: i.token,
        deduplicated: i.deduplicated ? 1 : 0,
      })),
      error_log: errors.map((e) => ({ at: at(e.at), request_id: e.requestId, operation: e.operation, code: e.code, message: e.message })),
    }
    await Promise.all(Object.entries(rows).map(([table, values]) => this.q.exec.insert(this.q.table(table), values)))
  }

  async setTtl(days: number): Promise<string[]> {
    const ttl = `toDateTime(at) + toIntervalDay(${Math.trunc(days)})`
    const tables = await this.q.rows<{ name: string; engine_full: string }>('service_log_tables', { db: this.q.database })
    const changed = tables.filter((t) => !t.engine_full.includes(`TTL ${ttl}`)).map((t) => t.name)
    for (const name of changed) await this.q.exec.command(`ALTER TABLE ${this.q.table(name)}${this.q.onCluster} MODIFY TTL ${ttl}`)
    return changed.sort()
  }

  async operationStats(from: Date, to: Date): Promise<OperationStat[]> {
    const rows = await this.q.rows<{ operation: string; calls: string; errors: string; p50_ms: number; p95_ms: number; rows_read: string }>(
      'operation_stats',
      { from: toChDateTime64(from), to: toChDateTime64(to) },
    )
    return rows.map((r) => ({
      operation: r.operation,
      calls: Number(r.calls),
      errors: Number(r.errors),
      p50Ms: Number(r.p50_ms),
      p95Ms: Number(r.p95_ms),
      rowsRead: Number(r.rows_read),
    }))
  }

  async ingestLog(limit: number): Promise<IngestLogEntry[]> {
    const rows = await this.q.rows<{
      table: IngestTable
      rows: number
      quarantined: number
      duration_ms: number
      token: string
      deduplicated: number
      at_ms: string
    }>('ingest_log', { limit })
    return rows.map((r) => ({
      at: new Date(Number(r.at_ms)),
      table: r.table,
      rows: Number(r.rows),
      quarantined: Number(r.quarantined),
      durationMs: Number(r.duration_ms),
      token: r.token,
      deduplicated: Number(r.deduplicated) === 1,
    }))
  }

  async errorLog(limit: number): Promise<ErrorLogEntry[]> {
    const rows = await this.q.rows<{ request_id: string; operation: string; code: string; message: string; at_ms: string }>('error_log', { limit })
    return rows.map((r) => ({ at: new Date(Number(r.at_ms)), requestId: r.request_id, operation: r.operation, code: r.code, message: r.message }))
  }
}
