import type { IncomingMessage, ServerResponse } from 'node:http'
import { grants, type Principal } from '../auth/scopes.js'
import { TemplateError } from '../domain/project.js'
import { renderedQuery, SqlInvalidError, SqlRefusedError, type InlineSource, type SqlAnswer } from '../domain/sql.js'
import { retryAfterSeconds } from '../errors.js'
import { sendBody, sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { QueryLimitError, StoreBusyError, StoreUnavailableError } from '../store/errors.js'
import { readEventsBody } from './events.js'
import { wantsBuiltin } from './params.js'
import { CONTENT_TYPE, render, type Column, type Format, type Row } from './format.js'
import { HttpError } from './http.js'
import { isProject, servedPipe, type Pipe } from './pipes.js'
import { OperationError, runPipe } from './operation.js'
import { pipeParams, pipePrincipal } from './tenancy.js'

export const SQL_PATH = '/v0/sql'

/** The operation a `/v0/sql` request is logged as: Tinybird's name for the Query API in its service data. */
export const QUERY_API = 'query_api'

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

/**
 * The SQL of a request: `q=` (query string or form body), else the POST body as text; and the request's
 * parameters (the query string's, then a form body's), which a templated query (`%`) reads.
 */
async function readSql(gateway: Gateway, req: IncomingMessage, url: URL): Promise<{ sql: string; params: URLSearchParams }> {
  const q = url.searchParams.get('q')
  const params = new URLSearchParams(url.searchParams)
  if (req.method === 'GET') return { sql: q ?? '', params }
  const body = (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8')
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') return { sql: q ?? body, params }
  const form = new URLSearchParams(body)
  for (const [key, value] of form) params.append(key, value)
  return { sql: q ?? form.get('q') ?? '', params }
}

/**
 * Tinybird's Query API: `GET /v0/sql?q=<SQL>` or `POST /v0/sql` with the SQL as the body (or `q=`).
 * Tinybird's JSON envelope, or the `FORMAT` the query ends with; `output_format_json_quote_64bit_integers`.
 */
export async function serveSql(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, who: Principal, requestId: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, '/v0/sql takes GET or POST', { allow: 'GET, POST, OPTIONS' })
  const quote = url.searchParams.get('output_format_json_quote_64bit_integers') ?? '0'
  if (quote !== '0' && quote !== '1') throw new HttpError(400, 'output_format_json_quote_64bit_integers must be 0 or 1')
  // Checked before any pipe runs for the query.
  if (!grants(who.scopes, 'sql')) throw new HttpError(403, 'The Query API needs the scope "sql"')
  const request = await readSql(gateway, req, url)
  let sql: string
  try {
    sql = renderedQuery(request.sql, request.params)
  } catch (err) {
    // A template that does not render answers with Tinybird's own body and status, as a pipe's does.
    if (err instanceof TemplateError) return sendJson(res, err.status, err.body)
    throw err
  }
  const { statement, format } = splitFormat(sql)
  const started = performance.now()
  const builtin = wantsBuiltin(url)
  const sources = await pipeSources(gateway, who, statement, url.searchParams, requestId, builtin)
  // Tinybird's pipeline=<pipe>: the query reads that pipe's answer as `_` too.
  const pipeline = url.searchParams.get('pipeline')
  if (pipeline) {
    const answer = await pipeSource(gateway, who, pipeline, url.searchParams, requestId, builtin, '_')
    if (!answer) throw new HttpError(404, `The pipe '${pipeline}' does not exist`)
    sources.push(answer)
  }
  // One operation, Tinybird's `query_api` (pipe_stats_rt's name for it), in the service logs and metrics;
  // a failure answers as the query's own error (sqlHttpError), not as the operation's masked one.
  const answer = await gateway.run(QUERY_API, who, requestId, () => gateway.sql.query(who, statement, sources)).then(
    (done) => done.value,
    (err: unknown) => {
      throw err instanceof OperationError && err.cause !== undefined ? err.cause : err
    },
  )
  const elapsed = (performance.now() - started) / 1000
  const body = render(format, answer.meta, answer.data, { elapsed, ...answer.statistics }, {
    quote64BitIntegers: quote === '1',
    rowsBeforeLimit: answer.rowsBeforeLimit,
    csvFormulaGuard: gateway.csvFormulaGuard,
  })
  sendBody(res, 200, CONTENT_TYPE[format], body)
}

/**
 * The pipes a query names, each run (with the request's parameters, the token's scopes and a JWT's fixed
 * parameters, as `GET /v0/pipes/<pipe>` would) into rows the query reads by the pipe's name: a loaded
 * project's endpoint of that name (unless `builtin`), else the built-in pipe. A name that only appears in a string still runs
 * its pipe; it is then not read.
 */
async function pipeSources(gateway: Gateway, who: Principal, sql: string, search: URLSearchParams, requestId: string, builtin: boolean): Promise<InlineSource[]> {
  const sources: InlineSource[] = []
  for (const word of new Set(sql.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])) {
    const source = await pipeSource(gateway, who, word, search, requestId, builtin)
    if (source) sources.push(source)
  }
  return sources
}

/** The answer of the pipe `/v0/pipes/<name>` serves, as rows a query reads under `as`; undefined when there is none. */
async function pipeSource(gateway: Gateway, who: Principal, name: string, search: URLSearchParams, requestId: string, builtin: boolean, as = name): Promise<InlineSource | undefined> {
  const pipe = servedPipe(gateway.catalog, gateway.project, name, builtin)
  if (!pipe) return undefined
  if (isProject(pipe)) {
    const doc = await pipe.project.read(who, pipe.entry.name, search, requestId)
    return inlineSource(as, doc.meta, doc.data)
  }
  const { columns, rows } = await pipeAnswer(gateway, who, pipe, search, requestId)
  return inlineSource(as, columns, rows)
}

/** A pipe's columns and rows, read as `who` may read them. */
export async function pipeAnswer(
  gateway: Gateway,
  who: Principal,
  pipe: Pipe,
  search: URLSearchParams,
  requestId: string,
): Promise<{ columns: readonly Column[]; rows: Row[] }> {
  const reader = pipePrincipal(who, pipe)
  const params = pipeParams(reader, pipe.name, search)
  const { rows } = await runPipe(gateway, pipe, reader, params, requestId)
  return { columns: pipe.columns(params), rows }
}

function inlineSource(name: string, columns: readonly Column[], rows: readonly Row[]): InlineSource {
  return { name, columns, ndjson: render('ndjson', columns, rows, { elapsed: 0, rows_read: 0, bytes_read: 0 }) }
}

/** Tinybird's `q=` on a pipe: SQL over the pipe's answer, which it reads as `_` (and nothing else). */
export function sqlOverPipe(gateway: Gateway, who: Principal, q: string, columns: readonly Column[], rows: readonly Row[]): Promise<SqlAnswer> {
  return gateway.sql.query(who, q, [inlineSource('_', columns, rows)], { inlineOnly: true })
}

/** A built-in pipe's answer in one of ClickHouse's own formats (what a project's endpoints answer natively). */
export function pipeRowsAs(gateway: Gateway, columns: readonly Column[], rows: readonly Row[], format: 'Parquet' | 'Prometheus'): Promise<Buffer> {
  return gateway.sql.encode(inlineSource('_', columns, rows), format)
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
