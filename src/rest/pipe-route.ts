import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Principal } from '../auth/scopes.js'
import { grantsOf, type PipeAnswer } from '../cache/read-cache.js'
import { ProjectQueryError, TemplateError, type ProjectService } from '../domain/project.js'
import { sendBody, sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { readEventsBody } from './events.js'
import { CONTENT_TYPE, FORMATS, render, type Format } from './format.js'
import { HttpError } from './http.js'
import { runPipe } from './operation.js'
import { bodyParams, wantsBuiltin } from './params.js'
import { isProject, servedPipe, type Pipe, type ProjectPipe } from './pipes.js'
import { pipeRowsAs, sqlOverPipe } from './sql.js'
import { pipeParams, pipePrincipal } from './tenancy.js'

/** Who is asking (the REST router's token check: header or `?token=`, rate limit headers), as `operation`. */
export type PrincipalOf = (operation: string) => Promise<Principal>

/** `/v0/pipes/<name>.<format>` */
export const PIPE_PATH = /^\/v0\/pipes\/([^/]+)\.(\w+)$/

/**
 * The content type of a `.parquet` answer: the IANA registration for Parquet (2024). Tinybird's documents
 * do not say what it sends; clients read the body as bytes whatever the header.
 */
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet'

/** The content type of a `.prometheus` answer: Prometheus's text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** ClickHouse's own output formats, no envelope: a project's endpoints answer them natively, built-in pipes through their rows. */
const ENGINE_FORMATS = { parquet: ['Parquet', PARQUET_CONTENT_TYPE], prometheus: ['Prometheus', PROMETHEUS_CONTENT_TYPE] } as const

/** What a pipe request asks for, read once for either executor. */
interface PipeRequest {
  readonly format: Format | keyof typeof ENGINE_FORMATS
  readonly search: URLSearchParams
  readonly quote: boolean
  /** Tinybird's `q=`: SQL over the pipe's answer, read as `_`. */
  readonly q: string | null
}

/**
 * `GET|POST /v0/pipes/<name>.<format>`, one route for the built-in pipes and a loaded project's endpoints:
 * the method, the pipe (404), the format (400), the token, then the parameters (query string, then a POST
 * body's form or JSON fields) and `q=`, and the answer from the pipe's executor — the built-in use case
 * (domain layer) or the project's rendered SQL — in Tinybird's envelope.
 */
export async function servePipeRoute(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string, extension: string, principalOf: PrincipalOf, requestId: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'Pipes are read with GET or POST', { allow: 'GET, POST, OPTIONS' })
  const pipe = servedPipe(gateway.catalog, gateway.project, name, wantsBuiltin(url))
  if (!pipe) throw new HttpError(404, `The pipe '${name}' does not exist`)
  const formats: readonly string[] = [...FORMATS, ...Object.keys(ENGINE_FORMATS)]
  if (!formats.includes(extension)) throw new HttpError(400, `Format '${extension}' is not supported; use ${formats.join(', ')}`)
  const who = await principalOf(isProject(pipe) ? pipe.entry.source.scopeName : pipe.name)
  // POST carries the parameters in its body too (a form or a JSON object), after the query string's.
  const search = new URLSearchParams(url.searchParams)
  if (req.method === 'POST') {
    for (const [key, value] of bodyParams(req.headers['content-type'], (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8'))) search.append(key, value)
  }
  const q = url.searchParams.get('q')
  if (q !== null && extension in ENGINE_FORMATS) throw new HttpError(400, `q= is not supported with .${extension}; use .json, .csv or .ndjson`)
  const quote = extension in ENGINE_FORMATS ? '0' : (url.searchParams.get('output_format_json_quote_64bit_integers') ?? '0')
  if (quote !== '0' && quote !== '1') throw new HttpError(400, 'output_format_json_quote_64bit_integers must be 0 or 1')
  const request: PipeRequest = { format: extension as PipeRequest['format'], search, quote: quote === '1', q }
  const compute = () => (isProject(pipe) ? projectAnswer(gateway, pipe.project, pipe.entry.name, who, request, requestId) : builtinAnswer(gateway, pipe, who, request, requestId))
  const cache = gateway.cache
  // A project pipe's keeping time: its template's cache_ttl for this request, else its CACHE.
  const ttlMs = cache?.ttlFor(isProject(pipe) ? (pipe.project.cacheTtlSeconds(who, pipe.entry.name, search) ?? pipe.entry.source.cacheSeconds) : undefined)
  let hit = false
  const answer = await answering(res, () => {
    if (!cache || ttlMs === undefined) return compute()
    cache.wake()
    const headers = {
      set: (header: string, value: string) => {
        res.setHeader(header, value)
        hit = value === 'hit'
      },
    }
    // The tables its statements name are noted for the cache, in every scope the pipe's work opens.
    return cache.answer(answerKey(pipe, who, request), ttlMs, headers, (tables) => gateway.within({ tables }, compute))
  })
  // A hit is a read of the pipe too (service logs, metrics), one that read nothing.
  if (hit) await gateway.run(isProject(pipe) ? pipe.entry.source.scopeName : pipe.name, who, requestId, async () => undefined)
  if (answer) sendBody(res, 200, answer.contentType, answer.body)
}

/**
 * What determines a pipe's answer: the pipe (a project's, by the project it was loaded as), the format,
 * `q=` and the parameters (the token aside), and the caller's grants (scopes, workspace binding, a JWT's
 * fixed parameters): two callers with different grants never share an answer.
 */
function answerKey(pipe: ProjectPipe | Pipe, who: Principal, request: PipeRequest): string {
  const params = [...request.search].filter(([k]) => k !== 'token').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const source = isProject(pipe) ? `${pipe.project.database}#${loadOf(pipe.project)}` : ''
  const name = isProject(pipe) ? pipe.entry.name : pipe.name
  return JSON.stringify([source, name, request.format, request.quote, request.q, params, grantsOf(who)])
}

/** A number per loaded project (a reload of the folder is another): answers of an earlier load are not served. */
const loads = new WeakMap<ProjectService, number>()
let lastLoad = 0
function loadOf(project: ProjectService): number {
  let n = loads.get(project)
  if (n === undefined) loads.set(project, (n = ++lastLoad))
  return n
}

/** A built-in pipe: parameters checked after the token (an unauthorised caller learns nothing about them), then its use case. */
async function builtinAnswer(gateway: Gateway, pipe: Pipe, caller: Principal, request: PipeRequest, requestId: string): Promise<PipeAnswer> {
  const format = request.format
  const who = pipePrincipal(caller, pipe)
  const params = pipeParams(who, pipe.name, request.search)
  if (format === 'parquet' || format === 'prometheus') {
    const { rows } = await runPipe(gateway, pipe, who, params, requestId)
    const [engineFormat, contentType] = ENGINE_FORMATS[format]
    return { contentType, body: await pipeRowsAs(gateway, pipe.columns(params), rows, engineFormat) }
  }
  if (pipe.json && format === 'json' && request.q === null) {
    // The store writes the envelope itself (FORMAT JSON's keys): passed through as written.
    const json = pipe.json.bind(pipe)
    pipe.variables(params) // parameters are checked before anything runs
    const { value } = await gateway.run(pipe.name, who, requestId, () => json(gateway.domain, who, params, request.quote))
    return { contentType: CONTENT_TYPE.json, body: value }
  }
  const started = performance.now()
  const { rows, rowsBeforeLimit, statistics } = await runPipe(gateway, pipe, who, params, requestId)
  const elapsed = (performance.now() - started) / 1000
  const options = { quote64BitIntegers: request.quote, csvFormulaGuard: gateway.csvFormulaGuard }
  const body =
    request.q === null
      ? render(format, pipe.columns(params), rows, { elapsed, ...statistics }, { ...options, rowsBeforeLimit })
      : await sqlOverPipe(gateway, who, request.q, pipe.columns(params), rows).then((over) =>
          render(format, over.meta, over.data, { elapsed: (performance.now() - started) / 1000, ...over.statistics }, { ...options, rowsBeforeLimit: over.rowsBeforeLimit }),
        )
  return { contentType: CONTENT_TYPE[format], body }
}

/** Template errors answer with Tinybird's own body and status; ClickHouse's refusal of the SQL is a 400. */
export async function answering<T>(res: ServerResponse, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof TemplateError) {
      sendJson(res, err.status, err.body)
      return undefined
    }
    if (err instanceof ProjectQueryError) throw new HttpError(400, `[Error] ${err.message}`)
    throw err
  }
}

/**
 * A project endpoint: the pipe's SQL rendered with the request's parameters (bound, never spliced). `.json`
 * without `q=` passes ClickHouse's `FORMAT JSON` document (Tinybird's envelope) through as written;
 * `.parquet` and `.prometheus` are ClickHouse's own formats, without an envelope.
 */
async function projectAnswer(gateway: Gateway, project: ProjectService, name: string, who: Principal, request: PipeRequest, requestId: string): Promise<PipeAnswer> {
  const { format, q } = request
  const started = performance.now()
  if (format === 'parquet' || format === 'prometheus') {
    const [engineFormat, contentType] = ENGINE_FORMATS[format]
    return { contentType, body: await project.readFormat(who, name, request.search, engineFormat, requestId) }
  }
  if (format === 'json' && q === null) {
    return { contentType: CONTENT_TYPE.json, body: await project.readJson(who, name, request.search, requestId, request.quote) }
  }
  const doc = await project.read(who, name, request.search, requestId)
  const options = { quote64BitIntegers: request.quote, csvFormulaGuard: gateway.csvFormulaGuard }
  let body: string
  if (q === null) {
    const statistics = { elapsed: doc.statistics?.elapsed ?? 0, rows_read: doc.statistics?.rows_read ?? 0, bytes_read: doc.statistics?.bytes_read ?? 0 }
    body = render(format, doc.meta, doc.data, statistics, { ...options, rowsBeforeLimit: doc.rows_before_limit_at_least })
  } else {
    const over = await sqlOverPipe(gateway, who, q, doc.meta, doc.data)
    body = render(format, over.meta, over.data, { elapsed: (performance.now() - started) / 1000, ...over.statistics }, { ...options, rowsBeforeLimit: over.rowsBeforeLimit })
  }
  return { contentType: CONTENT_TYPE[format], body }
}
