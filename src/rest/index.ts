import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GraphQLError, type FormattedExecutionResult } from 'graphql'
import type { Principal } from '../auth/scopes.js'
import { UnauthenticatedError } from '../errors.js'
import type { Gateway, HttpRoute, OperationRequest, RequestLabel } from '../server.js'
import { sendBody, sendJson } from '../http.js'
import { DATASOURCES, parseNdjson, readEventsBody } from './events.js'
import { CONTENT_TYPE, FORMATS, render, type Format } from './format.js'
import { fromGraphQL, HttpError } from './http.js'
import { ParamError, PipeParams } from './params.js'
import { PIPES } from './pipes.js'

export { PIPES } from './pipes.js'

const PIPE_PATH = /^\/v0\/pipes\/([^/]+)\.(\w+)$/
const EVENTS_PATH = '/v0/events'

/** Browsers call Tinybird directly with a read token, so its API answers any origin. */
const CORS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, content-encoding, idempotency-key, x-idempotency-key',
  'access-control-expose-headers': 'x-request-id, retry-after',
  'access-control-max-age': '86400',
}

/**
 * Tinybird's REST API over the gateway: `GET /v0/pipes/<name>.{json,csv,ndjson}` and
 * `POST /v0/events?name=<datasource>`. A transport only: each request runs one GraphQL operation through
 * `gateway.execute`, so scopes, limits, logging, metrics and error masking are those of /graphql.
 */
export function restRoute(gateway: Gateway): HttpRoute {
  return async (req, res, url) => {
    const pipe = PIPE_PATH.exec(url.pathname)
    if (!pipe && url.pathname !== EVENTS_PATH) return false
    const requestId = randomUUID()
    res.setHeader('x-request-id', requestId)
    for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value)
    if (req.method === 'OPTIONS') {
      res.writeHead(204)
      res.end()
      return true
    }
    try {
      if (pipe) await servePipe(gateway, req, res, url, pipe[1] ?? '', pipe[2] ?? '', requestId)
      else await ingest(gateway, req, res, url, requestId)
    } catch (err) {
      const error = toHttpError(err)
      if (error.status >= 500) gateway.log.error({ err, requestId, path: url.pathname }, 'REST request failed')
      req.resume() // whatever of the body is still coming is discarded
      if (!res.headersSent) sendJson(res, error.status, { error: error.message }, error.headers)
      else res.end()
    }
    return true
  }
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof ParamError) return new HttpError(400, err.message)
  // principalOf's refusals (bad token, store down) carry a code like any GraphQL error.
  if (err instanceof GraphQLError) return fromGraphQL(err)
  return new HttpError(500, 'Internal server error')
}

/**
 * `Authorization: Bearer …` or Tinybird's `?token=`. Every pipe and datasource needs a token, so none
 * is refused here, before parameters are read; what the token may do is the operation's to decide.
 */
async function principal(gateway: Gateway, req: IncomingMessage, url: URL, label: RequestLabel): Promise<Principal> {
  const header = req.headers.authorization
  const token = url.searchParams.get('token')
  const who = await gateway.principalOf(header ?? (token ? `Bearer ${token}` : undefined), { ...label, address: gateway.clientAddress(req) })
  if (!who) throw fromGraphQL(new UnauthenticatedError('A token is required: Authorization: Bearer <token> or ?token=<token>'))
  return who
}

/** Runs the operation; any error becomes the HTTP answer (the first one decides the status). */
async function run(
  gateway: Gateway,
  operation: OperationRequest,
  who: Principal,
  requestId: string,
): Promise<{ data: Record<string, unknown>; extensions: FormattedExecutionResult['extensions'] }> {
  const result: FormattedExecutionResult = await gateway.execute(operation, who, requestId)
  const [error] = result.errors ?? []
  if (error) throw fromGraphQL(error)
  if (!result.data) throw new HttpError(500, 'Internal server error')
  return { data: result.data, extensions: result.extensions }
}

/**
 * What ClickHouse read for the operation, when the gateway reports it in the result's
 * `extensions.statistics` (`rows_read`, `bytes_read`); otherwise 0 rather than a guess.
 */
function readStatistics(extensions: FormattedExecutionResult['extensions']): { rows_read: number; bytes_read: number } {
  const stats = extensions?.statistics as { rows_read?: unknown; bytes_read?: unknown } | undefined
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
  return { rows_read: count(stats?.rows_read), bytes_read: count(stats?.bytes_read) }
}

async function servePipe(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
  extension: string,
  requestId: string,
): Promise<void> {
  if (req.method !== 'GET') throw new HttpError(405, 'Pipes are read with GET', { allow: 'GET, OPTIONS' })
  const pipe = PIPES.get(name)
  if (!pipe) throw new HttpError(404, `The pipe '${name}' does not exist`)
  if (!FORMATS.includes(extension as Format)) throw new HttpError(400, `Format '${extension}' is not supported; use ${FORMATS.join(', ')}`)
  if (url.searchParams.has('q')) throw new HttpError(400, 'The q parameter (SQL over a pipe) is not supported')
  const format = extension as Format
  const params = new PipeParams(url.searchParams)
  const who = await principal(gateway, req, url, { requestId, operation: pipe.name })
  // Parameters are checked after the token, so an unauthorised caller learns nothing about them.
  const variables = pipe.variables(params)
  const started = performance.now()
  const { data, extensions } = await run(gateway, { query: pipe.query, variables, operationName: pipe.name }, who, requestId)
  const elapsed = (performance.now() - started) / 1000
  const body = render(format, pipe.columns(params), pipe.rows(data, params), { elapsed, ...readStatistics(extensions) }, {
    csvFormulaGuard: gateway.csvFormulaGuard,
  })
  sendBody(res, 200, CONTENT_TYPE[format], body)
}

/** `Idempotency-Key` / `X-Idempotency-Key` header or `?idempotency_key=`; the mutation checks its length. */
function idempotencyKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['idempotency-key'] ?? req.headers['x-idempotency-key']
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('idempotency_key') ?? undefined
}

/**
 * Tinybird's Events API: NDJSON (optionally gzip) into a datasource. Every line is accounted for: a
 * typed row is stored or quarantined by the store's validation, an untypeable line is quarantined raw.
 * The answer comes after the rows are durable: 200 with `wait=true`, else 202, as Tinybird.
 */
async function ingest(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, 'Events are sent with POST', { allow: 'POST, OPTIONS' })
  const name = url.searchParams.get('name')
  if (!name) throw new HttpError(400, 'The name parameter (the datasource) is required')
  const datasource = DATASOURCES.get(name)
  if (!datasource) {
    throw new HttpError(404, `The datasource '${name}' does not exist; use ${[...DATASOURCES.keys()].join(', ')}`)
  }
  const key = idempotencyKey(req, url)
  const who = await principal(gateway, req, url, { requestId, operation: datasource.operationName })
  const body = await readEventsBody(req, gateway.maxBodyBytes)
  const { rows, rejected } = parseNdjson(body.toString('utf8'), datasource)
  const { data } = await run(
    gateway,
    { query: datasource.mutation, variables: { rows, key, rejected }, operationName: datasource.operationName },
    who,
    requestId,
  )
  const result = data.result as { accepted: number; quarantined: number }
  const wait = url.searchParams.get('wait')?.toLowerCase()
  sendJson(res, wait === 'true' || wait === '1' ? 200 : 202, { successful_rows: result.accepted, quarantined_rows: result.quarantined })
}
