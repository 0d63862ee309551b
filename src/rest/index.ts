import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GraphQLError } from 'graphql'
import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import { UnauthenticatedError } from '../errors.js'
import type { Gateway, HttpRoute, RequestLabel } from '../transport/gateway.js'
import { sendJson } from '../http.js'
import { datasourceHttpError, ingestTarget, parseUpload, readUpload, type WritableDatasource } from './datasources.js'
import { DATASOURCES, type Datasource, type ParsedBatch } from '../domain/records.js'
import { readEventsBody } from './events.js'
import { fromGraphQL, HttpError } from './http.js'
import { PIPES_PATH, OPENAPI_PATH } from './openapi.js'
import { formField, idempotencyKey, ParamError } from './params.js'
import { servePipeCatalog } from './pipe-list.js'
import { PIPE_PATH, servePipeRoute, type PrincipalOf } from './pipe-route.js'
import { COPY_PATH, ingestProject, projectDatasourceFile, projectWritable, serveProjectCopy, serveProjectDatasources } from './project.js'
import { serveSql, SQL_PATH, sqlHttpError } from './sql.js'
import { OperationError } from './operation.js'
import { DomainError } from '../domain/errors.js'
import { createTokens } from './tokens.js'
import { DATAFILE, datasourceDatafile, PIPE_RESOURCE_PATH, sendText, servePipeResource, wantsDatafile } from './resources.js'

export { PIPES } from './pipes.js'

const EVENTS_PATH = '/v0/events'
const DATASOURCE_PATH = /^\/v0\/datasources(?:\/([^/]+))?(?:\/(truncate|delete))?\/?$/
const TOKENS_PATH = /^\/v0\/tokens\/?$/

/** Browsers call Tinybird directly with a read token, so its API answers any origin, errors included. */
const CORS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, content-encoding, idempotency-key, x-idempotency-key',
  'access-control-expose-headers': 'x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset',
  'access-control-max-age': '86400',
}

/**
 * Tinybird's REST API over the gateway: every path under `/v0/` (unknown ones answer 404, with CORS).
 * Pipes and ingest call the domain's use cases directly, each as one named operation (`gateway.run`),
 * so scopes, limits, logging, metrics and error masking are those of /graphql.
 */
export function restRoute(gateway: Gateway): HttpRoute {
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/v0/') && url.pathname !== '/v0') return false
    const requestId = randomUUID()
    res.setHeader('x-request-id', requestId)
    for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value)
    if (req.method === 'OPTIONS') {
      res.writeHead(204)
      res.end()
      return true
    }
    const pipe = PIPE_PATH.exec(url.pathname)
    const datasource = DATASOURCE_PATH.exec(url.pathname)
    try {
      if (url.pathname === PIPES_PATH || url.pathname === OPENAPI_PATH) {
        // The catalog's list: a loaded project's pipes (`?builtin=true` lists the built-in ones).
        servePipeCatalog(gateway, req, res, url, await catalogReader(gateway, req, res, url, requestId))
      } else if (COPY_PATH.test(url.pathname)) {
        const who: PrincipalOf = (operation) => principal(gateway, req, url, { requestId, operation }, res)
        await serveProjectCopy(gateway, req, res, url, COPY_PATH.exec(url.pathname)?.[1] ?? '', who, requestId)
      } else if (PIPE_RESOURCE_PATH.test(url.pathname) || pipe?.[2] === DATAFILE.pipe) {
        // One pipe described, or its datafile (`.pipe`, `?format=pipe`).
        const name = decodeURIComponent(PIPE_RESOURCE_PATH.exec(url.pathname)?.[1] ?? pipe?.[1] ?? '')
        const who: PrincipalOf = (operation) => principal(gateway, req, url, { requestId, operation }, res)
        await servePipeResource(gateway, req, res, url, name, pipe !== null || wantsDatafile(url, 'pipe'), who)
      } else if (pipe) {
        // One route for every pipe in the catalog: a loaded project's endpoint of that name first, else the built-in pipe.
        const who: PrincipalOf = (operation) => principal(gateway, req, url, { requestId, operation }, res)
        await servePipeRoute(gateway, req, res, url, pipe[1] ?? '', pipe[2] ?? '', who, requestId)
      } else if (url.pathname === EVENTS_PATH) {
        const who: PrincipalOf = (operation) => principal(gateway, req, url, { requestId, operation }, res)
        if (!(await ingestProject(gateway, req, res, url, who))) await ingest(gateway, req, res, url, requestId)
      } else if (url.pathname === SQL_PATH) await serveSql(gateway, req, res, url, await principal(gateway, req, url, { requestId, operation: 'sql' }, res), requestId)
      else if (datasource && req.method === 'GET' && datasource[2] === undefined && (datasource[1]?.endsWith(`.${DATAFILE.datasource}`) || wantsDatafile(url, 'datasource'))) {
        const name = decodeURIComponent(datasource[1] ?? '').replace(/\.datasource$/, '')
        await principal(gateway, req, url, { requestId, operation: 'datasources' }, res) // any valid token, as the description
        sendText(res, await datasourceFile(gateway, url, name))
      } else if (datasource) {
        const who: PrincipalOf = (operation) => principal(gateway, req, url, { requestId, operation }, res)
        if (!(await serveProjectDatasources(gateway, req, res, url, datasource[1], datasource[2], who))) await serveDatasources(gateway, req, res, url, datasource[1], datasource[2], requestId)
      }
      else if (TOKENS_PATH.test(url.pathname)) {
        if (req.method !== 'POST') throw new HttpError(405, 'Tokens are created with POST', { allow: 'POST, OPTIONS' })
        const who = await principal(gateway, req, url, { requestId, operation: 'tokens' })
        const body = await readEventsBody(req, gateway.maxBodyBytes)
        const created = await createTokens(gateway, who, req.headers['content-type'] ?? '', body.toString('utf8'), url)
        sendJson(res, 200, created)
      } else throw new HttpError(404, `Not found: ${req.method ?? 'GET'} ${url.pathname}`)
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
  // decodeURIComponent of a path segment that is not valid percent-encoding.
  if (err instanceof URIError) return new HttpError(400, 'The path is not valid percent-encoded UTF-8')
  if (err instanceof ParamError) return new HttpError(400, err.message)
  if (err instanceof OperationError) return fromGraphQL(err)
  if (err instanceof DomainError) return fromGraphQL({ message: err.message, extensions: { code: err.code } })
  const domain = datasourceHttpError(err) ?? sqlHttpError(err)
  if (domain) return domain
  // principalOf's refusals (bad token, store down) carry a code like any GraphQL error.
  if (err instanceof GraphQLError) return fromGraphQL(err)
  return new HttpError(500, 'Internal server error')
}

/**
 * A datasource's datafile: a loaded project's as it was read (unless `?builtin=true`), else one written
 * from the built-in datasource's table (404 when there is neither).
 */
async function datasourceFile(gateway: Gateway, url: URL, name: string): Promise<string> {
  return projectDatasourceFile(gateway, url, name) ?? datasourceDatafile(await gateway.datasources.get(name))
}

/**
 * `Authorization: Bearer …` or Tinybird's `?token=`. Every pipe and datasource needs a token, so none
 * is refused here, before parameters are read; what the token may do is the operation's to decide.
 */
async function principal(gateway: Gateway, req: IncomingMessage, url: URL, label: RequestLabel, res?: ServerResponse): Promise<Principal> {
  const header = req.headers.authorization
  const token = url.searchParams.get('token')
  const who = await gateway.principalOf(header ?? (token ? `Bearer ${token}` : undefined), { ...label, address: gateway.clientAddress(req) })
  if (!who) throw fromGraphQL(new UnauthenticatedError('A token is required: Authorization: Bearer <token> or ?token=<token>'))
  const rate = gateway.rateOf(who)
  if (rate && res) {
    res.setHeader('x-ratelimit-limit', String(rate.limit))
    res.setHeader('x-ratelimit-remaining', String(rate.remaining))
    res.setHeader('x-ratelimit-reset', String(rate.resetSeconds))
  }
  return who
}

/**
 * Who reads the pipe list or the OpenAPI document: the list needs a token, the OpenAPI document is public
 * (null: every pipe, as the README documents them) unless a token is sent (then the pipes it may read).
 */
async function catalogReader(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<Principal | null> {
  const label = { requestId, operation: url.pathname }
  if (url.pathname === OPENAPI_PATH && !req.headers.authorization && !url.searchParams.get('token')) return null
  return principal(gateway, req, url, label, res)
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
  const who = await principal(gateway, req, url, { requestId, operation: datasource.operationName }, res)
  const body = (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8')
  // One pass from the lines to the insert: the store reads, checks and encodes each line (domain/ingest.ts).
  const { value: result } = await gateway.run(datasource.operationName, who, requestId, () =>
    gateway.domain.ingest.appendNdjson(who, datasource.name, body, { idempotencyKey: key }),
  )
  const wait = url.searchParams.get('wait')?.toLowerCase()
  sendJson(res, wait === 'true' || wait === '1' ? 200 : 202, { successful_rows: result.accepted, quarantined_rows: result.quarantined })
}

/**
 * Stores a parsed batch through the one append path (scope, limits, validation, quarantine,
 * idempotency, ingest log, live stock), as the operation `events_<datasource>`. With `chunk`, a large
 * upload goes in appends of at most that many rows, each keyed `<key>:<n>`.
 */
async function append(
  gateway: Gateway,
  datasource: Datasource,
  batch: ParsedBatch,
  key: string | undefined,
  who: Principal,
  requestId: string,
  chunk = Infinity,
): Promise<{ accepted: number; quarantined: number }> {
  const total = { accepted: 0, quarantined: 0 }
  const parts = Math.max(1, Math.ceil(batch.rows.length / chunk))
  for (let i = 0; i < parts; i++) {
    const [from, to] = parts === 1 ? [0, batch.rows.length] : [i * chunk, Math.min((i + 1) * chunk, batch.rows.length)]
    const rows = parts === 1 ? batch.rows : batch.rows.slice(from, to)
    const rejected = i === 0 ? batch.rejected : []
    // The quarantine keeps each line as sent, its reason numbered by the line: this part's rows, then
    // (with the first part) the records that could not be read.
    const sources = parts === 1 ? batch.sources : [...batch.sources.slice(from, to), ...(i === 0 ? batch.sources.slice(batch.rows.length) : [])]
    const idempotencyKey = key === undefined || parts === 1 ? key : `${key}:${i}`
    const { value: result } = await gateway.run(datasource.operationName, who, requestId, () =>
      // The rows are typed by the catalog's columns (events.ts); the store validates each against its rules.
      gateway.domain.ingest.append(who, datasource.name, rows as never, { idempotencyKey, rejected, sources }),
    )
    total.accepted += result.accepted
    total.quarantined += result.quarantined
  }
  return total
}

/**
 * Tinybird's Data Sources API: `GET /v0/datasources[/<name>]`, `POST /v0/datasources?name&mode=append|replace`
 * (NDJSON or CSV, raw or multipart, gzip), `POST /v0/datasources/<name>/truncate` (205) and
 * `POST /v0/datasources/<name>/delete` (`delete_condition`, `dry_run`).
 */
async function serveDatasources(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string | undefined,
  action: string | undefined,
  requestId: string,
): Promise<void> {
  const decoded = name === undefined ? undefined : decodeURIComponent(name)
  const label = { requestId, operation: action ? `datasources_${action}` : 'datasources' }
  if (req.method === 'GET' && action === undefined) {
    await principal(gateway, req, url, label, res) // any valid token may see the datasources and their columns
    if (decoded === undefined) return sendJson(res, 200, { datasources: await gateway.datasources.list() })
    return sendJson(res, 200, await gateway.datasources.get(decoded))
  }
  if (req.method !== 'POST') throw new HttpError(405, 'Use GET to read datasources and POST to change them', { allow: 'GET, POST, OPTIONS' })
  // The project's datasource of that name first (unless ?builtin=true), else the built-in one.
  const writable = (ds: string, forAppend: boolean) => projectWritable(gateway, url, ds) ?? builtinWritable(gateway, ds, forAppend)
  if (decoded !== undefined && action === 'truncate') {
    const who = await principal(gateway, req, url, label, res)
    req.resume()
    await writable(decoded, false).truncate(who)
    res.writeHead(205)
    res.end()
    return
  }
  if (decoded !== undefined && action === 'delete') {
    const who = await principal(gateway, req, url, label, res)
    const contentType = req.headers['content-type'] ?? ''
    const body = (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8')
    const condition = formField(url, body, contentType, 'delete_condition')
    if (!condition?.trim()) throw new HttpError(400, 'The delete_condition parameter is required')
    const dryRun = ['true', '1'].includes(formField(url, body, contentType, 'dry_run')?.toLowerCase() ?? '')
    const { rows } = await writable(decoded, false).delete(who, condition, dryRun)
    if (dryRun) return sendJson(res, 200, { rows_to_be_deleted: rows })
    const id = randomUUID()
    return sendJson(res, 200, { id, job_id: id, delete_id: id, status: 'done', job_url: null, rows_affected: rows })
  }
  if (decoded !== undefined) throw new HttpError(404, `Not found: POST ${url.pathname}`)
  // POST /v0/datasources: append or replace.
  const targetName = url.searchParams.get('name')
  if (!targetName) throw new HttpError(400, 'The name parameter (the datasource) is required')
  const mode = (url.searchParams.get('mode') ?? 'create').toLowerCase()
  if (mode !== 'append' && mode !== 'replace') {
    throw new HttpError(400, `mode=${mode} is not supported: datasources are defined by the server; use mode=append or mode=replace`)
  }
  const target = writable(targetName, true)
  // A replace is idempotent by itself (a retry empties and fills again); its key would wrongly drop the
  // retried rows as a duplicate after emptying the datasource, so only appends use one.
  const key = mode === 'append' ? idempotencyKey(req, url) : undefined
  const who = await principal(gateway, req, url, { requestId, operation: `datasources_${mode}` }, res)
  const upload = await readUpload(req, url, gateway.maxBodyBytes)
  const delimiter = url.searchParams.get('dialect_delimiter') ?? ','
  if (delimiter.length !== 1) throw new HttpError(400, 'dialect_delimiter must be one character')
  const rows = await target.read(upload, delimiter, key)
  // Replace empties the datasource first (needs manage:<ds>), then appends: not atomic (see the README).
  // Whether the rows may be appended is checked before anything is emptied.
  if (mode === 'replace') {
    if (!grants(who.scopes, target.appendScope)) throw new HttpError(403, `Replacing needs the scopes "${target.appendScope}" and "${target.manageScope}"`)
    await target.truncate(who)
  }
  const result = await rows.append(who, requestId)
  sendJson(res, 200, {
    id: requestId,
    import_id: requestId,
    datasource: { id: target.id, name: target.name },
    successful_rows: result.successful,
    quarantined_rows: result.quarantined,
    quarantine_rows: result.quarantined,
    invalid_lines: result.invalid,
    error: false,
  })
}

/**
 * A built-in datasource as the Data Sources API writes it (404 when there is none of that name; for an
 * append, also when it takes no rows): appends go through the one append path, in parts of `maxBatch`.
 */
function builtinWritable(gateway: Gateway, name: string, forAppend: boolean): WritableDatasource {
  const entry = gateway.datasources.entry(name)
  const ingestAs = forAppend ? ingestTarget(name) : undefined
  return {
    id: entry.name,
    name: entry.name,
    appendScope: `append:${entry.name}`,
    manageScope: scopeFor.manage(entry.name),
    truncate: (who) => gateway.datasources.truncate(who, entry.name),
    delete: (who, condition, dryRun) => gateway.datasources.delete(who, entry.name, condition, dryRun),
    read: async (upload, delimiter, key) => {
      const target = ingestAs ?? ingestTarget(name)
      const batch = parseUpload(upload, target, await gateway.datasources.columns(entry.name), delimiter)
      return {
        append: async (who, requestId) => {
          const result = await append(gateway, target, batch, key, who, requestId, gateway.maxBatch)
          return { successful: result.accepted, quarantined: result.quarantined, invalid: batch.rejected.length }
        },
      }
    },
  }
}
