import { randomUUID } from 'node:crypto'
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client'
import { limitErrorOf, StoreUnavailableError, StoreValueError } from './errors.js'
import { recordQuery } from './query-stats.js'
import { currentWork, limitSettings, workloadOf } from './workload.js'

export type QueryParams = Record<string, unknown>

/**
 * Runs `fn` as the current kind of work: admitted by the client's scheduler (which may refuse it with
 * StoreBusyError) and given that kind's time and memory limits as settings for its one statement.
 * A driver error that reports a limit becomes QueryLimitError; any other becomes `orElse`.
 *
 * `fn` gets the client to run on: an `unbound` statement (no query parameters: inserts, `SELECT 1`)
 * goes to the workload's lane when it has one — a second chDB session, which runs such statements
 * beside a running read, in its own priority queue (ingest before service logs). Bound statements are
 * serialised process-wide by chdb-node whatever the session, so they stay in the main queue.
 */
async function admitted<T>(
  client: ClickHouseClient,
  fn: (settings: ClickHouseSettings, target: ClickHouseClient) => Promise<T>,
  orElse: (err: unknown) => Error,
  unbound = false,
  /** Flush after any failure, not only a limit: a caller's SQL can fail mid-answer in many ways (throwIf). */
  flushAlways = false,
): Promise<T> {
  const workload = workloadOf(client)
  const kind = currentWork()
  const settings = workload ? limitSettings(workload.limitOf(kind)) : {}
  const lane = unbound ? workload?.lane : undefined
  const target = lane?.client ?? client
  const guarded = async () => {
    try {
      return await fn(settings, target)
    } catch (err) {
      const limited = limitErrorOf(err)
      if (!limited && !flushAlways) throw orElse(err)
      // chDB 3.4 keeps what a query that failed on a limit had written and prepends it to the next
      // answer (two JSON documents, unparseable): a throwaway query takes it, inside this slot.
      await target.query({ query: 'SELECT {flush:UInt8} AS flush', query_params: { flush: 1 }, format: 'JSON' }).then((rs) => rs.text(), () => '')
      throw limited ?? orElse(err)
    }
  }
  if (!workload) return guarded()
  return (lane ?? workload).scheduler.run(kind, guarded)
}

/**
 * Runs a query and returns its rows; a driver error becomes QueryLimitError (over its limits) or
 * StoreUnavailableError. The JSON format carries ClickHouse's read statistics (chDB sends no summary
 * header), which go to `recordQuery` for the operation log and metrics.
 */
export async function selectRows<T>(client: ClickHouseClient, query: string, params: QueryParams = {}): Promise<T[]> {
  const unavailable = (err: unknown) => new StoreUnavailableError('store query failed', { cause: err })
  const unbound = Object.keys(params).length === 0
  return (await queryJson<T>(client, query, params, { orElse: unavailable, parse: JSON.parse, unbound, flushAlways: false })).data
}

/** ClickHouse's whole `FORMAT JSON` answer: columns, rows and what the query read. */
export interface JsonDocument<T> {
  readonly meta: ReadonlyArray<{ name: string; type: string }>
  readonly data: T[]
  readonly rows: number
  readonly rows_before_limit_at_least?: number
  readonly statistics?: { elapsed?: number; rows_read?: number; bytes_read?: number }
}

/**
 * Like selectRows, with the whole JSON document, and `orElse` deciding what a failure that is not a
 * limit becomes (a caller's own SQL fails with its own message, not as an unavailable store). Always
 * bound (`params` must not be empty), so it runs in the main queue.
 */
export async function selectDocument<T>(
  client: ClickHouseClient,
  query: string,
  params: QueryParams,
  orElse: (err: unknown) => Error,
  parse: (text: string) => unknown = JSON.parse,
): Promise<JsonDocument<T>> {
  return queryJson<T>(client, query, params, { orElse, parse, unbound: false, flushAlways: true })
}

/** One `FORMAT JSON` query under the current kind's limits and queue (see `admitted`). */
async function queryJson<T>(
  client: ClickHouseClient,
  query: string,
  params: QueryParams,
  how: { orElse: (err: unknown) => Error; parse: (text: string) => unknown; unbound: boolean; flushAlways: boolean },
): Promise<JsonDocument<T>> {
  return admitted(
    client,
    async (settings, target) => {
      const started = performance.now()
      const rs = await target.query({ query, query_params: params, format: 'JSON', clickhouse_settings: settings })
      const text = await rs.text()
      let body: JsonDocument<T>
      try {
        body = how.parse(text) as JsonDocument<T>
      } catch (err) {
        // A limit hit after the first rows were written ends the output with ClickHouse's exception text.
        throw limitErrorOf(new Error(text.slice(-1000))) ?? err
      }
      recordQuery(client, 'select', performance.now() - started, body.statistics)
      return body
    },
    how.orElse,
    how.unbound,
    how.flushAlways,
  )
}

/**
 * A bound query's `FORMAT JSON` answer as ClickHouse wrote it, unparsed, under the current kind's limits
 * and queue (a loaded Tinybird pipe's answer is ClickHouse's JSON document, passed through). A limit hit
 * after the first rows were written ends the text with ClickHouse's exception: that is an error here.
 */
export async function selectJsonText(client: ClickHouseClient, query: string, params: QueryParams, orElse: (err: unknown) => Error): Promise<string> {
  return admitted(
    client,
    async (settings, target) => {
      const started = performance.now()
      const rs = await target.query({ query, query_params: params, format: 'JSON', clickhouse_settings: settings })
      const text = await rs.text()
      const tail = text.slice(-400)
      if (!/"statistics":\s*\{[^{}]*\}\s*\}\s*$/.test(tail)) throw limitErrorOf(new Error(text.slice(-1000))) ?? orElse(new Error(text.slice(-1000)))
      recordQuery(client, 'select', performance.now() - started, undefined)
      return text
    },
    orElse,
    false,
    true,
  )
}

/** Runs a statement without rows (DDL, ALTER) under the current kind's limits and queue. */
export async function runCommand(client: ClickHouseClient, query: string): Promise<void> {
  await admitted(
    client,
    (settings) => client.command({ query, clickhouse_settings: settings }),
    (err) => new StoreUnavailableError('store command failed', { cause: err }),
  )
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
  await admitted(
    client,
    async (limits, target) => {
      const started = performance.now()
      await target.insert({
        table,
        values: rows as object[],
        ...(columns ? { format: 'JSONCompactEachRow', columns: [...columns] as [string, ...string[]] } : { format: 'JSONEachRow' }),
        clickhouse_settings: {
          ...limits,
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
    },
    (err) => new StoreUnavailableError(`insert into ${table} failed`, { cause: err }),
    true,
  )
}

/**
 * A Float column or aggregate as a number. ClickHouse's JSON writes a non-finite value (a sum that
 * overflowed to infinity) as null: that is an error here, never read as 0.
 */
export function finite(value: unknown, what: string): number {
  const n = value === null || value === undefined ? NaN : Number(value)
  if (!Number.isFinite(n)) throw new StoreValueError(`The stored ${what} is not a finite number`)
  return n
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
