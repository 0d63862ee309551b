import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Principal } from '../auth/scopes.js'
import { SqlInvalidError, SqlRefusedError } from '../domain/sql.js'
import { retryAfterSeconds } from '../errors.js'
import { sendBody } from '../http.js'
import type { Gateway } from '../server.js'
import { QueryLimitError, StoreBusyError, StoreUnavailableError } from '../store/errors.js'
import { readEventsBody } from './events.js'
import { CONTENT_TYPE, render, type Format } from './format.js'
import { HttpError } from './http.js'

export const SQL_PATH = '/v0/sql'

/** ClickHouse output formats `/v0/sql` answers, by their names in a `FORMAT` clause (case-insensitive). */
const SQL_FORMATS: Readonly<Record<string, Format>> = {
  json: 'json',
  jsoneachrow: 'ndjson',
  ndjson: 'ndjson',
  jsonlines: 'ndjson',
  csv: 'csv',
  csvwithnames: 'csvwithnames',
}

/**
 * The statement and its output format: a final `FORMAT <name>` clause is Sightline's to honour (JSON
 * when there is none, as the SDK expects), not ClickHouse's.
 */
export function splitFormat(sql: string): { statement: string; format: Format } {
  const match = /\bFORMAT\s+([A-Za-z]\w*)\s*;?\s*$/i.exec(sql)
  if (!match) return { statement: sql, format: 'json' }
  const format = SQL_FORMATS[(match[1] ?? '').toLowerCase()]
  if (!format) throw new HttpError(400, `FORMAT ${match[1]} is not supported; use JSON, JSONEachRow, CSV or CSVWithNames`)
  return { statement: sql.slice(0, match.index), format }
}

/** The SQL of a request: `q=` (query string or form body), else the POST body as text. */
async function readSql(gateway: Gateway, req: IncomingMessage, url: URL): Promise<string> {
  const q = url.searchParams.get('q')
  if (req.method === 'GET') return q ?? ''
  const body = (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8')
  if (q !== null) return q
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  return type === 'application/x-www-form-urlencoded' ? (new URLSearchParams(body).get('q') ?? '') : body
}

/**
 * Tinybird's Query API: `GET /v0/sql?q=<SQL>` or `POST /v0/sql` with the SQL as the body (or `q=`).
 * Tinybird's JSON envelope, or the `FORMAT` the query ends with; `output_format_json_quote_64bit_integers`.
 */
export async function serveSql(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, who: Principal): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, '/v0/sql takes GET or POST', { allow: 'GET, POST, OPTIONS' })
  if (url.searchParams.has('pipeline')) throw new HttpError(400, 'The pipeline parameter is not supported: query the datasources by name')
  const quote = url.searchParams.get('output_format_json_quote_64bit_integers') ?? '0'
  if (quote !== '0' && quote !== '1') throw new HttpError(400, 'output_format_json_quote_64bit_integers must be 0 or 1')
  const { statement, format } = splitFormat(await readSql(gateway, req, url))
  const started = performance.now()
  const answer = await gateway.sql.query(who, statement)
  const elapsed = (performance.now() - started) / 1000
  const body = render(format, answer.meta, answer.data, { elapsed, ...answer.statistics }, {
    quote64BitIntegers: quote === '1',
    rowsBeforeLimit: answer.rowsBeforeLimit,
    csvFormulaGuard: gateway.csvFormulaGuard,
  })
  sendBody(res, 200, CONTENT_TYPE[format], body)
}

/** The answer to a failed query: 403 refused, 400 invalid, 504 over a limit, 503 busy or down. */
export function sqlHttpError(err: unknown): HttpError | undefined {
  if (err instanceof SqlRefusedError) return new HttpError(403, err.message)
  if (err instanceof SqlInvalidError) return new HttpError(400, err.message)
  if (err instanceof QueryLimitError) return new HttpError(504, `The query ran over its ${err.limit} limit`)
  if (err instanceof StoreBusyError) return new HttpError(503, 'The store is busy; retry later', { 'retry-after': String(retryAfterSeconds(err.retryAfterMs)) })
  if (err instanceof StoreUnavailableError) return new HttpError(503, 'The store is unavailable')
  return undefined
}
