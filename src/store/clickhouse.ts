import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { StoreUnavailableError } from './errors.js'
import { recordQuery } from './query-stats.js'

export type QueryParams = Record<string, unknown>

/**
 * Runs a query and returns its rows; every driver error becomes StoreUnavailableError. The JSON
 * format carries ClickHouse's read statistics (chDB sends no summary header), which go to
 * `recordQuery` for the operation log and metrics.
 */
export async function selectRows<T>(client: ClickHouseClient, query: string, params: QueryParams = {}): Promise<T[]> {
  const started = performance.now()
  try {
    const rs = await client.query({ query, query_params: params, format: 'JSON' })
    const body = await rs.json<T>()
    recordQuery(client, 'select', performance.now() - started, body.statistics)
    return body.data
  } catch (err) {
    throw new StoreUnavailableError('store query failed', { cause: err })
  }
}

/**
 * Inserts rows and resolves once ClickHouse has written them to parts.
 *
 * Rows are objects sent as JSONEachRow, or, when `columns` is given, arrays of values in that order
 * sent as JSONCompactEachRow: the large ingest batches then carry no key per value, which roughly
 * halves the text to build and parse.
 *
 * Every insert carries an explicit deduplication token: the caller's idempotency token, or a fresh
 * one. Without it, tables with a deduplication window drop a legitimately repeated identical block,
 * and chDB's connection keeps settings for the session, so a previous insert's token would leak
 * into this one. The other settings are pinned rather than left to a server profile: the answer
 * must mean "written" (no asynchronous insert), a token must deduplicate, and a retried token must
 * still reach the materialized views, each checking its own blocks, so that a view whose write was
 * lost (a crash between the table and its views) is refilled instead of skipped or doubled.
 */
export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: readonly object[],
  dedupToken?: string,
  columns?: readonly [string, ...string[]],
  settings: InsertSettings = {},
): Promise<void> {
  if (rows.length === 0) return
  const started = performance.now()
  try {
    await client.insert({
      table,
      values: rows as object[],
      ...(columns ? { format: 'JSONCompactEachRow', columns: [...columns] as [string, ...string[]] } : { format: 'JSONEachRow' }),
      clickhouse_settings: {
        insert_deduplication_token: dedupToken ?? randomUUID(),
        insert_deduplicate: 1,
        deduplicate_blocks_in_dependent_materialized_views: 1,
        async_insert: 0,
        insert_allow_materialized_columns: 0,
        input_format_parallel_parsing: 1,
        ...settings,
      },
    })
    recordQuery(client, 'insert', performance.now() - started)
  } catch (err) {
    throw new StoreUnavailableError(`insert into ${table} failed`, { cause: err })
  }
}

/**
 * Extra settings for one insert. Keyed batches set `insert_allow_materialized_columns` (to write the hidden
 * `_batch` column) and pin one block per insert, so that each table and view gets one part per partition.
 */
export type InsertSettings = Readonly<Record<string, string | number>>

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/**
 * `2024-05-01 12:00:00` in UTC, for DateTime columns (whole seconds). Built from the date's fields
 * (years 0 to 9999): ingest runs it per row, and this is a third of the cost of
 * `toISOString().slice().replace()`.
 */
export function toChDateTime(d: Date): string {
  const year = String(d.getUTCFullYear()).padStart(4, '0')
  return `${year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
}

/** `2024-05-01 12:00:00.123` in UTC, the text form ClickHouse parses for DateTime64(3). */
export function toChDateTime64(d: Date): string {
  const ms = d.getUTCMilliseconds()
  return `${toChDateTime(d)}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`
}
