import type { ClickHouseClient } from '@clickhouse/client'
import { StoreValueError } from './errors.js'
import { executorOf, type Executor, type JsonDocument, type QueryParams } from './executor.js'

export type { InsertSettings, JsonDocument, QueryParams } from './executor.js'

/*
 * Statements by client, for code that holds a connection rather than an Executor (migrations, the
 * project repository, tools and tests): each runs through the client's executor (see executor.ts), so
 * it is admitted, limited, tagged and counted like any other.
 */

export function selectRows<T>(client: ClickHouseClient, query: string, params: QueryParams = {}): Promise<T[]> {
  return executorOf(client).select<T>(query, params)
}

export function selectDocument<T>(client: ClickHouseClient, ...args: Parameters<Executor['document']>): Promise<JsonDocument<T>> {
  return executorOf(client).document<T>(...args)
}

export function selectBytes(client: ClickHouseClient, ...args: Parameters<Executor['bytes']>): ReturnType<Executor['bytes']> {
  return executorOf(client).bytes(...args)
}

export function runCommand(client: ClickHouseClient, query: string): Promise<void> {
  return executorOf(client).command(query)
}

export function insertRows(client: ClickHouseClient, ...args: Parameters<Executor['insert']>): Promise<void> {
  return executorOf(client).insert(...args)
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
