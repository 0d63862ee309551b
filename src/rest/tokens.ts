import { fromTinybirdScope, grants, type Principal } from '../auth/scopes.js'
import type { TinybirdScope } from '../auth/tinybird-jwt.js'
import { StoreInputError } from '../store/errors.js'
import type { Gateway } from '../transport/gateway.js'
import { HttpError } from './http.js'

/** One hour, when `expiration_time` is not given. */
const DEFAULT_JWT_SECONDS = 3600

/**
 * `POST /v0/tokens` (admins): a JSON body whose `scopes` are objects mints a Tinybird-shaped JWT
 * (`?expiration_time=<unix seconds>`, default one hour) and answers `{token}`; otherwise `name` and
 * `scope` (query, form or JSON) create a stored token, the scopes in Tinybird's form (`PIPES:READ:<pipe>`,
 * `DATASOURCES:APPEND:<ds>`, `DATASOURCES:CREATE`, `ADMIN`) or Sightline's, and answer its secret once.
 */
export async function createTokens(gateway: Gateway, who: Principal, contentType: string, body: string, url: URL): Promise<Record<string, unknown>> {
  if (!grants(who.scopes, 'admin')) throw new HttpError(403, 'Creating tokens needs the admin scope')
  let json: Record<string, unknown> | undefined
  if (contentType.toLowerCase().startsWith('application/json') && body.trim() !== '') {
    try {
      json = JSON.parse(body) as Record<string, unknown>
    } catch {
      throw new HttpError(400, 'The body is not valid JSON')
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new HttpError(400, 'The body must be a JSON object')
  }
  try {
    if (json && Array.isArray(json.scopes) && json.scopes.some((s) => s !== null && typeof s === 'object')) {
      const expiration = url.searchParams.get('expiration_time')
      const expiresAt = expiration === null ? Math.floor(Date.now() / 1000) + DEFAULT_JWT_SECONDS : Number(expiration)
      const token = await gateway.tokens.jwt.signTinybird({
        name: String(json.name ?? ''),
        scopes: json.scopes as TinybirdScope[],
        expiresAt,
        ...(json.limits !== undefined && { limits: json.limits as { rps?: number } }),
      })
      return { token }
    }
    const form = contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams()
    const name = url.searchParams.get('name') ?? form.get('name') ?? (typeof json?.name === 'string' ? json.name : '')
    const requested = [...url.searchParams.getAll('scope'), ...form.getAll('scope'), ...(Array.isArray(json?.scopes) ? json.scopes.map(String) : [])]
    if (!name) throw new HttpError(400, 'The name parameter is required')
    if (requested.length === 0) throw new HttpError(400, 'At least one scope parameter is required')
    const scopes: string[] = []
    for (const scope of requested) {
      const mapped = fromTinybirdScope(scope)
      if (!mapped) throw new HttpError(400, `The scope "${scope}" is not supported`)
      scopes.push(...mapped)
    }
    const workspaceId = who.workspaceId
    const { secret, record } = await gateway.tokens.create({ name, scopes, workspaceId })
    return { name: record.name, token: secret, scopes: requested, sightline_scopes: [...record.scopes], workspace_id: record.workspaceId }
  } catch (err) {
    if (err instanceof StoreInputError) throw new HttpError(400, err.message)
    throw err
  }
}
