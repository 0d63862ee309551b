import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { readEventsBody } from './events.js'
import { HttpError } from './http.js'
import { grants } from '../auth/scopes.js'
import { csvRecords, readUpload } from './datasources.js'
import { bodyParams, formField, idempotencyKey } from './params.js'
import { answering, wantsBuiltin, type PrincipalOf } from './pipe-route.js'
import { stableId } from './project-catalog.js'

/**
 * A loaded project's REST routes besides its endpoints (which `pipe-route.ts` serves with the built-in
 * pipes): copy pipes, the Events API and the Data Sources API over its datasources.
 */

/** A project datasource of that name in the catalog (what `/v0/*` serves under it), unless `?builtin=true`. */
function projectDatasource(gateway: Gateway, url: URL, name: string): boolean {
  const project = gateway.project
  return project !== undefined && !wantsBuiltin(url) && gateway.catalog.datasource(name)?.database === project.database
}

/** `/v0/pipes/<name>/copy` */
export const COPY_PATH = /^\/v0\/pipes\/([^/.]+)\/copy\/?$/

/** Query string and (for POST) body parameters, the query string's first. */
async function requestParams(gateway: Gateway, req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const search = new URLSearchParams(url.searchParams)
  if (req.method === 'POST') {
    for (const [key, value] of bodyParams(req.headers['content-type'], (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8'))) search.append(key, value)
  }
  return search
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

/**
 * `POST /v0/events?name=<ds>` for a datasource of the loaded project: NDJSON (optionally gzip) mapped
 * by the `json:` paths, misfits to `<ds>_quarantine`. Returns false when the name is no project datasource.
 */
export async function ingestProject(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  const name = url.searchParams.get('name')
  if (!project || name === null || !projectDatasource(gateway, url, name)) return false
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
 * Tinybird's Data Sources API over the loaded project's datasources: `GET /v0/datasources[/<name>]` (any
 * valid token, as for the built-in datasources), `POST /v0/datasources?name=<ds>&mode=append|replace`
 * (NDJSON by the `json:` paths or CSV by column, raw or multipart, gzip; misfits to `<ds>_quarantine`),
 * `POST /v0/datasources/<ds>/truncate` (205) and `POST /v0/datasources/<ds>/delete` (`delete_condition`,
 * `dry_run`). Returns false without a project, with `?builtin=true`, and for a name the project does not have.
 */
export async function serveProjectDatasources(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string | undefined, action: string | undefined, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  if (!project || wantsBuiltin(url)) return false
  const decoded = name === undefined ? undefined : decodeURIComponent(name)
  if (decoded !== undefined && !projectDatasource(gateway, url, decoded)) return false
  if (req.method === 'GET' && action === undefined) {
    await principalOf('datasources')
    const views = await project.describeDatasources(decoded)
    sendJson(res, 200, decoded === undefined ? { datasources: views } : views[0])
    return true
  }
  if (req.method !== 'POST') return false // the built-in route answers 405
  if (decoded !== undefined && action === 'truncate') {
    const who = await principalOf('datasources_truncate')
    req.resume()
    await project.truncate(who, decoded)
    res.writeHead(205)
    res.end()
    return true
  }
  if (decoded !== undefined && action === 'delete') {
    const who = await principalOf('datasources_delete')
    const contentType = req.headers['content-type'] ?? ''
    const body = (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8')
    const condition = formField(url, body, contentType, 'delete_condition')
    if (!condition?.trim()) throw new HttpError(400, 'The delete_condition parameter is required')
    const dryRun = ['true', '1'].includes(formField(url, body, contentType, 'dry_run')?.toLowerCase() ?? '')
    const { rows } = await project.delete(who, decoded, condition, dryRun)
    if (dryRun) sendJson(res, 200, { rows_to_be_deleted: rows })
    else {
      const id = randomUUID()
      sendJson(res, 200, { id, job_id: id, delete_id: id, status: 'done', job_url: null, rows_affected: rows })
    }
    return true
  }
  const target = url.searchParams.get('name')
  if (decoded !== undefined || target === null || !projectDatasource(gateway, url, target)) return false
  const mode = (url.searchParams.get('mode') ?? 'create').toLowerCase()
  if (mode !== 'append' && mode !== 'replace') return false // the built-in route refuses other modes
  const key = idempotencyKey(req, url)
  if (key !== undefined && (key.length === 0 || key.length > 200)) throw new HttpError(400, 'An idempotency key must be 1 to 200 characters')
  const who = await principalOf(`datasources_${mode}`)
  const upload = await readUpload(req, url, gateway.maxBodyBytes)
  const delimiter = url.searchParams.get('dialect_delimiter') ?? ','
  if (delimiter.length !== 1) throw new HttpError(400, 'dialect_delimiter must be one character')
  const columns = project.datasource(target)?.columns.map((c) => c.name) ?? []
  const batch = upload.format === 'ndjson' ? upload.text : csvRecords(upload.text, columns, delimiter).map(({ raw, cells }) => ({ raw, record: cells && nonEmpty(cells) }))
  // Replace empties the datasource first (needs manage:<ds>), then appends: not atomic (see the README).
  // Whether the rows may be appended is checked before anything is emptied.
  if (mode === 'replace') {
    const append = `append:${project.scopeName('datasource', target)}`
    if (!grants(who.scopes, append)) throw new HttpError(403, `Replacing needs the scopes "${append}" and "manage:${project.scopeName('datasource', target)}"`)
    await project.truncate(who, target)
  }
  const requestId = String(res.getHeader('x-request-id') ?? randomUUID())
  const result = await project.append(who, target, batch, key)
  sendJson(res, 200, {
    id: requestId,
    import_id: requestId,
    datasource: { id: stableId(target), name: target },
    successful_rows: result.successful_rows,
    quarantined_rows: result.quarantined_rows,
    quarantine_rows: result.quarantined_rows,
    invalid_lines: result.invalid_lines,
    error: false,
  })
  return true
}

/** A CSV record's non-empty cells: an empty cell is a missing value (the column's DEFAULT, NULL or zero). */
function nonEmpty(cells: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(cells).filter(([, cell]) => cell !== ''))
}
