import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { readEventsBody } from './events.js'
import { HttpError } from './http.js'
import { scopeFor } from '../auth/scopes.js'
import { csvRecords, type WritableDatasource } from './datasources.js'
import { bodyParams, idempotencyKey } from './params.js'
import { wantsBuiltin } from './params.js'
import { answering, type PrincipalOf } from './pipe-route.js'
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
  const key = idempotencyKey(req, url)
  checkKey(key)
  const body = await readEventsBody(req, gateway.maxBodyBytes)
  const result = await project.append(who, name, body.toString('utf8'), key)
  const wait = url.searchParams.get('wait')?.toLowerCase()
  sendJson(res, wait === 'true' || wait === '1' ? 200 : 202, { successful_rows: result.successful_rows, quarantined_rows: result.quarantined_rows })
  return true
}

/**
 * `GET /v0/datasources` and `GET /v0/datasources/<name>` over the loaded project (any valid token, as for
 * the built-in datasources). Returns false without a project, with `?builtin=true`, for a name the project
 * does not have, and for the routes that change data (index.ts serves them, with `projectWritable`).
 */
export async function serveProjectDatasources(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string | undefined, action: string | undefined, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  if (!project || wantsBuiltin(url) || req.method !== 'GET' || action !== undefined) return false
  const decoded = name === undefined ? undefined : decodeURIComponent(name)
  if (decoded !== undefined && !projectDatasource(gateway, url, decoded)) return false
  await principalOf('datasources')
  const views = await project.describeDatasources(decoded)
  sendJson(res, 200, decoded === undefined ? { datasources: views } : views[0])
  return true
}

/** The loaded project's datasource `name` as its datafile was read (INCLUDEs expanded), or undefined as below. */
export function projectDatasourceFile(gateway: Gateway, url: URL, name: string): string | undefined {
  return projectDatasource(gateway, url, name) ? gateway.project?.project.datasources.get(name)?.source : undefined
}

/**
 * The loaded project's datasource `name` as the Data Sources API writes it, or undefined (no project, no
 * such datasource, `?builtin=true`): NDJSON by the `json:` paths, CSV records by column, misfits to
 * `<ds>_quarantine`; truncate and delete need `manage:<ds>`.
 */
export function projectWritable(gateway: Gateway, url: URL, name: string): WritableDatasource | undefined {
  const project = gateway.project
  if (!project || !projectDatasource(gateway, url, name)) return undefined
  const scopeName = project.scopeName('datasource', name)
  return {
    id: stableId(name),
    name,
    appendScope: `append:${scopeName}`,
    manageScope: scopeFor.manage(scopeName),
    truncate: (who) => project.truncate(who, name),
    delete: (who, condition, dryRun) => project.delete(who, name, condition, dryRun),
    read: async (upload, delimiter, key) => {
      checkKey(key)
      const columns = project.datasource(name)?.columns.map((c) => c.name) ?? []
      // An empty cell is a missing value: the column's DEFAULT, NULL or zero, as a missing JSON field.
      const batch =
        upload.format === 'ndjson'
          ? upload.text
          : csvRecords(upload.text, columns, delimiter).map(({ raw, cells }) => ({ raw, record: cells && Object.fromEntries(Object.entries(cells).filter(([, cell]) => cell !== '')) }))
      return {
        append: async (who) => {
          const result = await project.append(who, name, batch, key)
          return { successful: result.successful_rows, quarantined: result.quarantined_rows, invalid: result.invalid_lines }
        },
      }
    },
  }
}

/** A project batch's idempotency key, as its journal keeps it: 1 to 200 characters (400 otherwise). */
function checkKey(key: string | undefined): void {
  if (key !== undefined && (key.length === 0 || key.length > 200)) throw new HttpError(400, 'An idempotency key must be 1 to 200 characters')
}
