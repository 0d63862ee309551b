import { createHash, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import { ProjectQueryError, TemplateError, type ProjectService } from '../domain/project.js'
import { sendBody, sendJson } from '../http.js'
import type { TemplateParam } from '../project/template.js'
import type { Gateway } from '../transport/gateway.js'
import { readEventsBody } from './events.js'
import { CONTENT_TYPE, FORMATS, render, type Format } from './format.js'
import { HttpError } from './http.js'
import { columnSchema } from './openapi.js'
import { bodyParams } from './params.js'
import { sqlOverPipe } from './sql.js'

/** Who is asking (the REST router's token check: header or `?token=`, rate limit headers). */
export type PrincipalOf = (operation: string) => Promise<Principal>

/**
 * The content type of a `.parquet` answer: the IANA registration for Parquet (2024). Tinybird's documents
 * do not say what it sends; clients read the body as bytes whatever the header.
 */
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet'

/** `/v0/pipes/<name>/copy` */
export const COPY_PATH = /^\/v0\/pipes\/([^/.]+)\/copy\/?$/

/**
 * `?builtin=true` reaches the built-in surface while a project is loaded: `/v0/pipes` and
 * `/v0/pipes/openapi.json` list the built-in pipes, `/v0/pipes/<name>.<format>` runs the built-in pipe and
 * `/v0/events?name=<ds>` appends to the built-in datasource, where the project has one of the same name.
 * Without it, a project's name wins (its pipes and datasources are what `/v0/*` serves); built-in names
 * the project does not use answer as always.
 */
export function wantsBuiltin(url: URL): boolean {
  return ['1', 'true'].includes(url.searchParams.get('builtin')?.toLowerCase() ?? '')
}

/** Query string and (for POST) body parameters, the query string's first. */
async function requestParams(gateway: Gateway, req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const search = new URLSearchParams(url.searchParams)
  if (req.method === 'POST') {
    for (const [key, value] of bodyParams(req.headers['content-type'], (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8'))) search.append(key, value)
  }
  return search
}

/** Template errors answer with Tinybird's own body and status; ClickHouse's refusal of the SQL is a 400. */
async function answering<T>(res: ServerResponse, work: () => Promise<T>): Promise<T | undefined> {
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
 * `GET|POST /v0/pipes/<name>.<format>` for an endpoint pipe of the loaded project: the pipe's SQL
 * rendered with the request's parameters (bound, never spliced) and Tinybird's envelope; `q=` runs SQL
 * over the answer (read as `_`). Returns false when no project is loaded or it has no endpoint pipe of
 * that name (the built-in pipes answer then).
 */
export async function serveProjectPipe(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
  extension: string,
  principalOf: PrincipalOf,
  requestId = '',
): Promise<boolean> {
  const project = gateway.project
  if (!project?.endpoint(name) || wantsBuiltin(url)) return false
  if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'Pipes are read with GET or POST', { allow: 'GET, POST, OPTIONS' })
  if (!FORMATS.includes(extension as Format) && extension !== 'parquet') {
    throw new HttpError(400, `Format '${extension}' is not supported; use ${[...FORMATS, 'parquet'].join(', ')}`)
  }
  const who = await principalOf(project.scopeName('pipe', name))
  const search = await requestParams(gateway, req, url)
  if (extension === 'parquet') {
    // ClickHouse's FORMAT Parquet, the pipe's rows as one file (no envelope: Parquet has its own schema).
    if (url.searchParams.has('q')) throw new HttpError(400, 'q= is not supported with .parquet; use .json, .csv or .ndjson')
    const bytes = await answering(res, () => project.readParquet(who, name, search, requestId))
    if (bytes !== undefined) sendBody(res, 200, PARQUET_CONTENT_TYPE, bytes)
    return true
  }
  const format = extension as Format
  const quote = url.searchParams.get('output_format_json_quote_64bit_integers') ?? '0'
  if (quote !== '0' && quote !== '1') throw new HttpError(400, 'output_format_json_quote_64bit_integers must be 0 or 1')
  const started = performance.now()
  const q = url.searchParams.get('q')
  if (format === 'json' && q === null) {
    // ClickHouse's FORMAT JSON is Tinybird's envelope: passed through as written.
    const text = await answering(res, () => project.readJson(who, name, search, requestId, quote === '1'))
    if (text !== undefined) sendBody(res, 200, CONTENT_TYPE.json, text)
    return true
  }
  const doc = await answering(res, () => project.read(who, name, search, requestId))
  if (!doc) return true
  const options = { quote64BitIntegers: quote === '1', csvFormulaGuard: gateway.csvFormulaGuard }
  let answer: string
  if (q === null) {
    const statistics = { elapsed: doc.statistics?.elapsed ?? 0, rows_read: doc.statistics?.rows_read ?? 0, bytes_read: doc.statistics?.bytes_read ?? 0 }
    answer = render(format, doc.meta, doc.data, statistics, { ...options, rowsBeforeLimit: doc.rows_before_limit_at_least })
  } else {
    // Tinybird's q=: SQL over the pipe's answer, read as `_`.
    const over = await sqlOverPipe(gateway, who, q, doc.meta, doc.data)
    answer = render(format, over.meta, over.data, { elapsed: (performance.now() - started) / 1000, ...over.statistics }, { ...options, rowsBeforeLimit: over.rowsBeforeLimit })
  }
  sendBody(res, 200, CONTENT_TYPE[format], answer)
  return true
}

/**
 * `POST /v0/pipes/<name>/copy` for a copy pipe of the loaded project (parameters as for an endpoint).
 * Tinybird answers with a queued job; Sightline runs the copy before answering, so the job it returns is
 * `done` (or the request fails): `{id, job_id, kind: "copy", status, pipe_name, datasource, mode, rows, …}`.
 */
export async function serveProjectCopy(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string, principalOf: PrincipalOf, requestId: string): Promise<void> {
  const project = gateway.project
  const pipe = project?.project.pipes.get(name)
  if (!project || pipe?.type !== 'copy') throw new HttpError(404, `The copy pipe '${name}' does not exist`)
  if (req.method !== 'POST') throw new HttpError(405, 'Copies are run with POST', { allow: 'POST, OPTIONS' })
  const who = await principalOf(`copy:${project.scopeName('pipe', name)}`)
  const search = await requestParams(gateway, req, url)
  const run = await answering(res, () => project.copy(who, name, search, requestId))
  if (!run) return
  const id = randomUUID()
  const at = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19)
  sendJson(res, 200, {
    id,
    job_id: id,
    kind: 'copy',
    status: 'done',
    pipe_id: stableId(name),
    pipe_name: name,
    datasource: { id: stableId(run.target), name: run.target },
    mode: run.mode,
    rows: run.rows,
    created_at: at(run.startedAt),
    started_at: at(run.startedAt),
    updated_at: at(run.finishedAt),
    job_url: null,
  })
}

/** A stable Tinybird-style id (`t_` + 32 hex) for a project resource. */
function stableId(...parts: string[]): string {
  return `t_${createHash('sha256').update(['project', ...parts].join('\0')).digest('hex').slice(0, 32)}`
}

/** Which of the project's pipes `who` may see listed: admin every pipe, others those they may read. */
function visiblePipes(project: ProjectService, who: Principal | null) {
  return [...project.project.pipes.values()].filter(
    (p) => who === null || grants(who.scopes, 'admin') || (p.type === 'endpoint' && (grants(who.scopes, scopeFor.pipe(project.scopeName('pipe', p.name))) || who.fixedParams?.has(p.name) === true)),
  )
}

function listedParameter(p: TemplateParam): Record<string, unknown> {
  return {
    name: p.name,
    type: p.type,
    default: p.default ?? null,
    required: p.required,
    description: p.description ?? null,
    ...(p.enum ? { enum: p.enum } : {}),
  }
}

/**
 * `GET /v0/pipes` and `GET /v0/pipes/openapi.json` over the loaded project (returns false without one, or
 * with `?builtin=true`). The list is Tinybird's shape (`{pipes: [{id, name, description, type, endpoint,
 * nodes: [{id, name, sql, params, node_type, materialized}], parameters, …}]}`); the OpenAPI document has
 * one GET operation per endpoint pipe with its template parameters.
 */
export async function serveProjectCatalog(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, who: Principal | null, openapi: boolean): Promise<boolean> {
  const project = gateway.project
  if (!project || wantsBuiltin(url)) return false
  if (req.method !== 'GET') throw new HttpError(405, `${url.pathname} is read with GET`, { allow: 'GET, OPTIONS' })
  const pipes = visiblePipes(project, who)
  if (!openapi) {
    sendJson(res, 200, {
      pipes: pipes.map((pipe) => {
        const parameters = pipe.type === 'endpoint' || pipe.type === 'copy' ? project.parameters(pipe.name).map(listedParameter) : []
        const nodes = pipe.nodes.map((n) => ({
          id: stableId(pipe.name, n.name),
          name: n.name,
          description: n.description ?? null,
          sql: n.sql,
          params: n.name === pipe.outputNode ? parameters : [],
          node_type: n.name === pipe.outputNode && pipe.type !== 'default' ? pipe.type : 'standard',
          materialized: n.name === pipe.outputNode && pipe.type === 'materialized' ? (pipe.datasource ?? null) : null,
        }))
        const output = nodes.find((n) => n.name === pipe.outputNode)
        return {
          id: stableId(pipe.name),
          name: pipe.name,
          description: pipe.description ?? null,
          type: pipe.type,
          endpoint: pipe.type === 'endpoint' ? (output?.id ?? null) : null,
          url: pipe.type === 'endpoint' ? `/v0/pipes/${pipe.name}.json` : null,
          ...(pipe.type === 'copy' && { copy: { target_datasource: pipe.targetDatasource, mode: pipe.copyMode ?? 'append', schedule: pipe.copySchedule ?? '@on-demand' } }),
          ...(pipe.type === 'materialized' && { datasource: pipe.datasource }),
          nodes,
          parameters,
          scope: scopeFor.pipe(project.scopeName('pipe', pipe.name)),
          created_at: null,
          updated_at: null,
        }
      }),
    })
    return true
  }
  const paths: Record<string, unknown> = {}
  for (const pipe of pipes.filter((p) => p.type === 'endpoint')) {
    paths[`/v0/pipes/${pipe.name}.{format}`] = {
      get: {
        operationId: pipe.name,
        summary: pipe.description ?? pipe.name,
        description: `${pipe.description ?? pipe.name}. Needs a token with ${scopeFor.pipe(project.scopeName('pipe', pipe.name))} (or admin).`,
        parameters: [
          { name: 'format', in: 'path', required: true, schema: { type: 'string', enum: [...FORMATS, 'parquet'], default: 'json' } },
          ...project.parameters(pipe.name).map((p) => ({
            name: p.name,
            in: 'query',
            required: p.required,
            description: `${p.description ?? p.name}. Tinybird type: ${p.type}.`,
            schema: parameterSchema(p),
            ...(p.type.startsWith('Array(') ? { style: 'form', explode: true } : {}),
          })),
          { name: 'q', in: 'query', required: false, description: 'SQL over the answer, which it reads as _', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: "The pipe's rows in the requested format",
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Envelope' } },
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
              [PARQUET_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } },
            },
          },
          ...Object.fromEntries(
            ['400', '403', '404', '429', '503', '504'].map((code) => [code, { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
          ),
        },
      },
    }
  }
  sendJson(res, 200, {
    openapi: '3.0.3',
    info: { title: `Sightline: Tinybird project ${project.database}`, version: '1.0.0', description: "Endpoint pipes of the loaded Tinybird project, with Tinybird's parameters and envelope." },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { tokenQuery: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer' },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, documentation: { type: 'string' } } },
        Envelope: {
          type: 'object',
          required: ['meta', 'data', 'rows', 'statistics'],
          properties: {
            meta: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } } },
            data: { type: 'array', items: { type: 'object', additionalProperties: true } },
            rows: { type: 'integer' },
            rows_before_limit_at_least: { type: 'integer' },
            statistics: { type: 'object', properties: { elapsed: { type: 'number' }, rows_read: { type: 'integer' }, bytes_read: { type: 'integer' } } },
          },
        },
      },
    },
  })
  return true
}

/** A template parameter's JSON Schema: its Tinybird type as the column type it renders to. */
function parameterSchema(p: TemplateParam): Record<string, unknown> {
  const element = /^Array\((.*)\)$/.exec(p.type)
  const schema =
    element !== null
      ? { type: 'array', items: columnSchema(element[1] === 'String' || !element[1] ? 'String' : element[1]) }
      : p.type === 'Boolean'
        ? { type: 'boolean' }
        : p.type === 'Int' || p.type === 'Integer'
          ? { type: 'integer' }
          : p.type === 'JSON'
            ? { type: 'string', description: 'JSON text' }
            : columnSchema(p.type)
  const fallback = p.default === undefined || Array.isArray(p.default) ? {} : { default: p.default }
  return { ...schema, ...fallback, ...(p.enum ? { enum: p.enum } : {}) }
}

/**
 * `POST /v0/events?name=<ds>` for a datasource of the loaded project: NDJSON (optionally gzip) mapped
 * by the `json:` paths, misfits to `<ds>_quarantine`. Returns false when the name is no project datasource.
 */
export async function ingestProject(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  const name = url.searchParams.get('name')
  if (!project || name === null || !project.datasource(name) || wantsBuiltin(url)) return false
  if (req.method !== 'POST') throw new HttpError(405, 'Events are sent with POST', { allow: 'POST, OPTIONS' })
  const who = await principalOf(`events_${project.scopeName('datasource', name)}`)
  // As for the built-in datasources: `Idempotency-Key` / `X-Idempotency-Key` or `?idempotency_key=`.
  const header = req.headers['idempotency-key'] ?? req.headers['x-idempotency-key']
  const key = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('idempotency_key') ?? undefined
  if (key !== undefined && (key.length === 0 || key.length > 200)) throw new HttpError(400, 'An idempotency key must be 1 to 200 characters')
  const body = await readEventsBody(req, gateway.maxBodyBytes)
  const result = await project.append(who, name, body.toString('utf8'), key)
  const wait = url.searchParams.get('wait')?.toLowerCase()
  sendJson(res, wait === 'true' || wait === '1' ? 200 : 202, { successful_rows: result.successful_rows, quarantined_rows: result.quarantined_rows })
  return true
}

/**
 * `GET /v0/datasources` and `GET /v0/datasources/<name>` over the loaded project (any valid token, as for
 * the built-in datasources). Returns false without a project, with `?builtin=true`, for a name the project
 * does not have, and for the routes that change data (append, replace, truncate, delete: built-in only).
 */
export async function serveProjectDatasources(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string | undefined, action: string | undefined, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  if (!project || wantsBuiltin(url) || req.method !== 'GET' || action !== undefined) return false
  const decoded = name === undefined ? undefined : decodeURIComponent(name)
  if (decoded !== undefined && !project.datasource(decoded)) return false
  await principalOf('datasources')
  const views = await project.describeDatasources(decoded)
  sendJson(res, 200, decoded === undefined ? { datasources: views } : views[0])
  return true
}
