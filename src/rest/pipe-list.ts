import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Principal } from '../auth/scopes.js'
import { sendJson } from '../http.js'
import type { Gateway } from '../transport/gateway.js'
import { HttpError } from './http.js'
import { openApiDocument, OPENAPI_PATH, OPENAPI_VERSION, pipeList } from './openapi.js'
import { builtinPipe, mayRead, type Pipe } from './pipes.js'
import { wantsBuiltin } from './params.js'
import { serveProjectCatalog } from './project-catalog.js'
import { pipePrincipal } from './tenancy.js'

/**
 * `GET /v0/pipes` (the pipes `who` may read) and `GET /v0/pipes/openapi.json` (those pipes, or every pipe
 * when `who` is null), from the catalog's listed entries: a loaded project's while one is served (its
 * pipes are what `/v0/*` answers; `?builtin=true` lists the built-in ones), else the built-in pipes.
 */
export function servePipeCatalog(gateway: Gateway, req: IncomingMessage, res: ServerResponse, url: URL, who: Principal | null): void {
  if (req.method !== 'GET') throw new HttpError(405, `${url.pathname} is read with GET`, { allow: 'GET, OPTIONS' })
  const project = gateway.project
  const builtin = wantsBuiltin(url) || !project
  const { pipes } = gateway.catalog.listed({ builtin })
  const openapi = url.pathname === OPENAPI_PATH
  if (!builtin) return serveProjectCatalog(res, project, pipes, who, openapi)
  const served = pipes.flatMap((entry): Pipe[] => {
    const pipe = builtinPipe(entry)
    return pipe && (who === null || mayRead(pipePrincipal(who, pipe), pipe)) ? [pipe] : []
  })
  sendJson(res, 200, openapi ? openApiDocument(served, OPENAPI_VERSION) : pipeList(served, ''))
}
