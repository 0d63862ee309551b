import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Principal } from '../auth/scopes.js'
import { ProjectQueryError, TemplateError } from '../domain/project.js'
import { sendBody, sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { readEventsBody } from './events.js'
import { CONTENT_TYPE, FORMATS, render, type Format } from './format.js'
import { HttpError } from './http.js'
import { bodyParams } from './params.js'

/** Who is asking (the REST router's token check: header or `?token=`, rate limit headers). */
export type PrincipalOf = (operation: string) => Promise<Principal>

/**
 * `GET|POST /v0/pipes/<name>.<format>` for an endpoint pipe of the loaded project: the pipe's SQL
 * rendered with the request's parameters (bound, never spliced) and Tinybird's envelope. Returns false
 * when no project is loaded or it has no endpoint pipe of that name (the built-in pipes answer then).
 */
export async function serveProjectPipe(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
  extension: string,
  principalOf: PrincipalOf,
): Promise<boolean> {
  const project = gateway.project
  if (!project?.endpoint(name)) return false
  if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'Pipes are read with GET or POST', { allow: 'GET, POST, OPTIONS' })
  if (!FORMATS.includes(extension as Format)) throw new HttpError(400, `Format '${extension}' is not supported; use ${FORMATS.join(', ')}`)
  const format = extension as Format
  const who = await principalOf(name)
  const search = new URLSearchParams(url.searchParams)
  if (req.method === 'POST') {
    for (const [key, value] of bodyParams(req.headers['content-type'], (await readEventsBody(req, gateway.maxBodyBytes)).toString('utf8'))) search.append(key, value)
  }
  const quote = url.searchParams.get('output_format_json_quote_64bit_integers') ?? '0'
  if (quote !== '0' && quote !== '1') throw new HttpError(400, 'output_format_json_quote_64bit_integers must be 0 or 1')
  let doc
  try {
    doc = await project.read(who, name, search)
  } catch (err) {
    // Tinybird's own body for template errors (`{"error": …, "documentation": …}`), with its status.
    if (err instanceof TemplateError) {
      sendJson(res, err.status, err.body)
      return true
    }
    if (err instanceof ProjectQueryError) throw new HttpError(400, `[Error] ${err.message}`)
    throw err
  }
  const statistics = { elapsed: doc.statistics?.elapsed ?? 0, rows_read: doc.statistics?.rows_read ?? 0, bytes_read: doc.statistics?.bytes_read ?? 0 }
  const answer = render(format, doc.meta, doc.data, statistics, {
    quote64BitIntegers: quote === '1',
    csvFormulaGuard: gateway.csvFormulaGuard,
    rowsBeforeLimit: doc.rows_before_limit_at_least,
  })
  sendBody(res, 200, CONTENT_TYPE[format], answer)
  return true
}

/**
 * `POST /v0/events?name=<ds>` for a datasource of the loaded project: NDJSON (optionally gzip) mapped
 * by the `json:` paths, misfits to `<ds>_quarantine`. Returns false when the name is no project datasource.
 */
export async function ingestProject(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, principalOf: PrincipalOf): Promise<boolean> {
  const project = gateway.project
  const name = url.searchParams.get('name')
  if (!project || name === null || !project.datasource(name)) return false
  if (req.method !== 'POST') throw new HttpError(405, 'Events are sent with POST', { allow: 'POST, OPTIONS' })
  const who = await principalOf(`events_${name}`)
  const body = await readEventsBody(req, gateway.maxBodyBytes)
  const result = await project.append(who, name, body.toString('utf8'))
  const wait = url.searchParams.get('wait')?.toLowerCase()
  sendJson(res, wait === 'true' || wait === '1' ? 200 : 202, result)
  return true
}
