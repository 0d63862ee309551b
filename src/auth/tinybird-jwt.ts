import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose'
import { StoreInputError } from '../store/errors.js'
import { scopeFor, type Principal } from './scopes.js'

/**
 * JWTs in Tinybird's shape, for clients that mint them as Tinybird documents: HS256, claims
 * `workspace_id`, `name`, `exp`, `scopes: [{type, resource, fixed_params?, filter?}]`, optional `limits.rps`.
 * Tinybird signs them with the workspace's admin token; Sightline has none, so they are signed with
 * SIGHTLINE_JWT_SECRET (`POST /v0/tokens` mints them). `workspace_id` names the deployment, not an
 * analytics workspace, and is not checked. `PIPES:READ` grants one pipe, with `fixed_params` that
 * override the request's parameters; `DATASOURCES:APPEND` grants appending to one datasource;
 * `DATASOURCES:READ` grants reading one datasource through `/v0/sql`, only its rows that match the
 * scope's `filter` when it has one (row-level security; the Query API checks the condition).
 */
export interface TinybirdScope {
  readonly type: string
  readonly resource: string
  readonly fixed_params?: Readonly<Record<string, unknown>>
  /** `DATASOURCES:READ`: a SQL condition on the datasource's rows; only the rows it holds for are read. */
  readonly filter?: string
}

export interface TinybirdJwtRequest {
  readonly name: string
  readonly scopes: readonly TinybirdScope[]
  readonly limits?: { readonly rps?: number }
  /** Unix seconds. */
  readonly expiresAt: number
}

const ALGORITHM = 'HS256'
const TYPES = new Set(['PIPES:READ', 'DATASOURCES:READ', 'DATASOURCES:APPEND'])
const RESOURCE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
/** The longest `filter` a scope may carry. */
const MAX_FILTER = 4_000
/** What `workspace_id` holds in the JWTs Sightline mints. */
export const DEPLOYMENT_ID = 'sightline'

/** True when a payload has Tinybird's shape (scopes as objects), not Sightline's (scopes as strings). */
export function isTinybirdPayload(payload: JWTPayload): boolean {
  const scopes = (payload as { scopes?: unknown }).scopes
  return Array.isArray(scopes) && scopes.length > 0 && scopes.every((s) => s !== null && typeof s === 'object' && !Array.isArray(s))
}

/** Fixed parameter values as request text: scalars as strings, arrays as repeated values. */
function fixedValue(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (Array.isArray(value)) {
    const items = value.map(fixedValue)
    return items.every((i): i is string => typeof i === 'string') ? items : undefined
  }
  return undefined
}

/** Checks the claims of a Tinybird JWT; the principal, or a reason it is refused. */
export function tinybirdPrincipal(payload: JWTPayload, maxSeconds: number, now = Date.now() / 1000): Principal | string {
  const { name, scopes, limits, exp, workspace_id: workspaceId } = payload as {
    name?: unknown
    scopes?: unknown
    limits?: unknown
    exp?: unknown
    workspace_id?: unknown
  }
  if (typeof name !== 'string' || name.trim() === '' || name.length > 128) return 'name must be a string of 1 to 128 characters'
  if (typeof workspaceId !== 'string' || workspaceId === '') return 'workspace_id is required'
  if (typeof exp !== 'number') return 'exp is required'
  if (exp - now > maxSeconds) return `exp is more than ${maxSeconds} seconds away`
  if (!Array.isArray(scopes)) return 'scopes must be a list'
  const granted: string[] = []
  const fixed = new Map<string, Record<string, string | readonly string[]>>()
  // Per datasource, its scopes' filters, or null once one scope reads it whole.
  const filters = new Map<string, string[] | null>()
  for (const scope of scopes as unknown[]) {
    const { type, resource, fixed_params: params, filter } = (scope ?? {}) as { type?: unknown; resource?: unknown; fixed_params?: unknown; filter?: unknown }
    if (typeof type !== 'string' || !TYPES.has(type)) return `unsupported scope type ${JSON.stringify(type)}; use PIPES:READ, DATASOURCES:READ or DATASOURCES:APPEND`
    if (typeof resource !== 'string' || !RESOURCE.test(resource)) return `scope resource ${JSON.stringify(resource)} is not a name`
    if (type === 'PIPES:READ') {
      granted.push(scopeFor.pipe(resource))
      const values: Record<string, string | readonly string[]> = {}
      if (params !== undefined) {
        if (params === null || typeof params !== 'object' || Array.isArray(params)) return 'fixed_params must be an object'
        for (const [key, value] of Object.entries(params)) {
          const text = fixedValue(value)
          if (text === undefined) return `fixed_params.${key} must be a string, number, boolean or a list of them`
          values[key] = text
        }
      }
      fixed.set(resource, { ...fixed.get(resource), ...values })
    }
    if (filter !== undefined && type !== 'DATASOURCES:READ') return 'filter is for DATASOURCES:READ scopes'
    if (type === 'DATASOURCES:APPEND') granted.push(`append:${resource}`)
    if (type === 'DATASOURCES:READ') {
      if (filter !== undefined && (typeof filter !== 'string' || filter.trim() === '' || filter.length > MAX_FILTER || filter.includes('\0'))) {
        return `filter must be a SQL condition of 1 to ${MAX_FILTER} characters`
      }
      granted.push(scopeFor.readDatasource(resource), 'sql')
      const held = filters.get(resource)
      filters.set(resource, filter === undefined || held === null ? null : [...(held ?? []), filter])
    }
  }
  // Two filtered scopes of one datasource read the rows either holds for.
  const rowFilters = new Map<string, string>()
  for (const [resource, conditions] of filters) if (conditions) rowFilters.set(resource, conditions.length === 1 ? conditions[0]! : conditions.map((c) => `(${c})`).join(' OR '))
  let rate: Principal['rate']
  if (limits !== undefined) {
    const rps = (limits as { rps?: unknown } | null)?.rps
    if (rps !== undefined && (typeof rps !== 'number' || !(rps > 0) || rps > 100_000)) return 'limits.rps must be a positive number'
    // The tenant is the fixed parameters and row filters: two JWTs of one name and tenant share a bucket.
    const tenant = JSON.stringify([...fixed].sort(([a], [b]) => (a < b ? -1 : 1))) + (rowFilters.size > 0 ? JSON.stringify([...rowFilters].sort()) : '')
    if (typeof rps === 'number') rate = { perSecond: rps, key: `jwt:${name}:${tenant}` }
  }
  return { name, scopes: [...new Set(granted)], workspaceId: null, fixedParams: fixed, ...(rowFilters.size > 0 && { rowFilters }), ...(rate && { rate }) }
}

/**
 * Verifies a Tinybird-shaped JWT signed with `key`; null when invalid, expired, issued in the future,
 * living longer than `maxSeconds`, or of an unsupported shape.
 */
export async function verifyTinybirdJwt(
  token: string,
  key: Uint8Array,
  maxSeconds: number,
  nowMs: number,
  /** Clock skew tolerated for `iat`: the JwtService's, the same for both shapes. */
  iatSkewSeconds: number,
): Promise<Principal | null> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], requiredClaims: ['exp'], currentDate: new Date(nowMs) })
    const now = nowMs / 1000
    if (payload.iat !== undefined && payload.iat > now + iatSkewSeconds) return null
    const from = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now
    const principal = tinybirdPrincipal(payload, maxSeconds, from)
    return typeof principal === 'string' ? null : principal
  } catch (err) {
    if (err instanceof errors.JOSEError) return null
    throw err
  }
}

/** Signs a Tinybird-shaped JWT (what `POST /v0/tokens` answers with a JSON body of scopes). */
export async function signTinybirdJwt(request: TinybirdJwtRequest, key: Uint8Array, maxSeconds: number, now = Date.now() / 1000): Promise<string> {
  const issuedAt = Math.floor(now)
  if (!Number.isInteger(request.expiresAt) || request.expiresAt <= issuedAt) throw new StoreInputError('expiration_time must be a future unix time in seconds')
  const payload = { workspace_id: DEPLOYMENT_ID, name: request.name, scopes: request.scopes, ...(request.limits && { limits: request.limits }) }
  const checked = tinybirdPrincipal({ ...payload, exp: request.expiresAt }, maxSeconds, now)
  if (typeof checked === 'string') throw new StoreInputError(checked)
  return new SignJWT(payload).setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' }).setIssuedAt(issuedAt).setExpirationTime(request.expiresAt).sign(key)
}
