import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DatasourceEngineView } from '../domain/datasources.js'
import { sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { HttpError } from './http.js'
import { pipeList } from './openapi.js'
import { builtinPipe, mayRead } from './pipes.js'
import { wantsBuiltin } from './params.js'
import type { PrincipalOf } from './pipe-route.js'
import { mayDescribe, projectPipeView } from './project-catalog.js'
import { pipePrincipal } from './tenancy.js'

/**
 * Tinybird's resource reads, which the official SDK's `tinybird pull` and its code generation call:
 * `GET /v0/pipes/<name>` (one pipe described), `GET /v0/pipes/<name>.pipe` or `?format=pipe` and
 * `GET /v0/datasources/<name>.datasource` or `?format=datasource` (the datafile as text). A loaded
 * project's datafiles are answered as they were read (INCLUDEs expanded); a built-in datasource's is
 * written from its table; a built-in pipe is Sightline's own code and has no datafile (404).
 */

/** `/v0/pipes/<name>` with no format: the pipe's description (or, with `?format=pipe`, its datafile). */
export const PIPE_RESOURCE_PATH = /^\/v0\/pipes\/([^/.]+)\/?$/

/** The suffix and the `format` value that ask for a datafile's text. */
export const DATAFILE = { pipe: 'pipe', datasource: 'datasource' } as const

/** Whether the request asks for the datafile rather than JSON (`?format=<kind>`). */
export function wantsDatafile(url: URL, kind: keyof typeof DATAFILE): boolean {
  return url.searchParams.get('format')?.toLowerCase() === DATAFILE[kind]
}

/**
 * `GET /v0/pipes/<name>` and its datafile. Who may see a pipe listed (`GET /v0/pipes`) may read it here:
 * admin every project pipe, others the endpoints they may read; 403 otherwise.
 */
export async function servePipeResource(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, name: string, datafile: boolean, principalOf: PrincipalOf): Promise<void> {
  if (req.method !== 'GET') throw new HttpError(405, "A pipe is read with GET; it changes with the project's datafiles", { allow: 'GET, OPTIONS' })
  const project = gateway.project
  const builtin = wantsBuiltin(url)
  const entry = gateway.catalog.pipe(name, { builtin })
  const own = !builtin && entry?.source.kind === 'project' && entry.source.project === project?.database ? project?.project.pipes.get(name) : undefined
  const pipe = own ? undefined : builtinPipe(gateway.catalog.pipe(name, { builtin: true }))
  if (!entry || (!own && !pipe)) throw new HttpError(404, `The pipe '${name}' does not exist`)
  const who = await principalOf('pipes')
  if (own && project) {
    if (!mayDescribe(entry, who)) throw new HttpError(403, `Reading the pipe '${name}' needs the scope "${entry.scope}" (or admin)`)
    if (datafile) return sendText(res, own.source)
    return sendJson(res, 200, projectPipeView(project, own, entry))
  }
  if (!pipe || !mayRead(pipePrincipal(who, pipe), pipe)) throw new HttpError(403, `Reading the pipe '${name}' needs the scope "${entry.scope}"`)
  if (datafile) throw new HttpError(404, `The pipe '${name}' is built into Sightline and has no datafile`)
  sendJson(res, 200, pipeList([pipe], '').pipes[0])
}

/** A column as a datasource's description lists it. */
export interface DescribedColumn {
  readonly name: string
  readonly type: string
  readonly jsonpath?: string | null
  readonly default_value?: string | null
}

/** A datasource's description (`GET /v0/datasources/<name>`), as far as its datafile needs it. */
export interface DescribedDatasource {
  readonly name: string
  readonly description?: string | null
  readonly columns: readonly DescribedColumn[]
  /** The domain's engine view (keys and arguments by the SDK's names); a TTL when the description has one. */
  readonly engine: Pick<DatasourceEngineView, 'engine'> & Partial<DatasourceEngineView> & { readonly ttl?: string | null }
}

/**
 * A `.datasource` datafile for a described datasource: DESCRIPTION, SCHEMA (each column's type, `json:`
 * path and DEFAULT) and the engine's keys, in Tinybird's grammar, so that parsing it gives the same table.
 */
export function datasourceDatafile(ds: DescribedDatasource): string {
  const out: string[] = []
  if (ds.description) out.push('DESCRIPTION >', ...ds.description.split('\n').map((line) => `    ${line}`), '')
  out.push('SCHEMA >')
  ds.columns.forEach((c, i) => {
    const path = c.jsonpath ?? `$.${c.name}`
    const fallback = c.default_value ? ` DEFAULT ${c.default_value}` : ''
    out.push(`    ${backquoted(c.name)} ${c.type} \`json:${path}\`${fallback}${i < ds.columns.length - 1 ? ',' : ''}`)
  })
  out.push('', `ENGINE "${ds.engine.engine}"`)
  const keys: Array<[string, string | null | undefined]> = [
    ['ENGINE_PARTITION_KEY', ds.engine.partition_key],
    ['ENGINE_SORTING_KEY', ds.engine.sorting_key],
    ['ENGINE_PRIMARY_KEY', ds.engine.primary_key],
    ['ENGINE_TTL', ds.engine.ttl],
    ['ENGINE_VER', ds.engine.engine_ver],
    ['ENGINE_IS_DELETED', ds.engine.engine_is_deleted],
    ['ENGINE_SIGN', ds.engine.engine_sign],
    ['ENGINE_VERSION', ds.engine.engine_version],
    ['ENGINE_SUMMING_COLUMNS', ds.engine.engine_summing_columns],
  ]
  // A datafile's value is what lies between its outer quotes (nothing inside is escaped).
  for (const [key, value] of keys) if (value) out.push(`${key} "${value}"`)
  return `${out.join('\n')}\n`
}

function backquoted(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`'
}

/** A datafile's text, as Tinybird answers it. */
export function sendText(res: ServerResponse, text: string): void {
  const body = Buffer.from(text.endsWith('\n') ? text : `${text}\n`, 'utf8')
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length })
  res.end(body)
}
