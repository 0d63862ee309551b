import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { StoreUnavailableError } from './errors.js'

export type QueryParams = Record<string, unknown>

/** Runs a query and returns its rows; every driver error becomes StoreUnavailableError. */
export async function selectRows<T>(client: ClickHouseClient, query: string, params: QueryParams = {}): Promise<T[]> {
  try {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return await rs.json<T>()
  } catch (err) {
    throw new StoreUnavailableError('store query failed', { cause: err })
  }
}

/**
 * Inserts rows as JSONEachRow and resolves once ClickHouse has written them.
 *
 * Every insert carries an explicit deduplication token: the caller's idempotency token, or a fresh
 * one. Without it, tables with a deduplication window drop a legitimately repeated identical block,
 * and chDB's connection keeps settings for the session, so a previous insert's token would leak
 * into this one.
 */
export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: readonly object[],
  dedupToken?: string,
): Promise<void> {
  if (rows.length === 0) return
  try {
    await client.insert({
      table,
      values: rows as object[],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: dedupToken ?? randomUUID() },
    })
  } catch (err) {
    throw new StoreUnavailableError(`insert into ${table} failed`, { cause: err })
  }
}

/** `2024-05-01 12:00:00.123` in UTC, the text form ClickHouse parses for DateTime64(3). */
export function toChDateTime64(d: Date): string {
  return d.toISOString().slice(0, 23).replace('T', ' ')
}

/** `2024-05-01 12:00:00` in UTC, for DateTime columns (whole seconds). */
export function toChDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ')
}
