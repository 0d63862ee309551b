import { DATASOURCES } from '../catalog/datasources.js'
import { SERVICE_VIEWS } from '../catalog/service-datasources.js'
import type { App, IngestTable } from '../store/types.js'
import { StoreInputError } from '../store/errors.js'
import { APPS, INGEST_TABLES } from '../store/types.js'

/**
 * Scopes are colon paths; a scope grants itself and everything below it (`read` grants
 * `read:analytics:cart`), and `admin` grants everything.
 */
export type Scope = string

export const KNOWN_SCOPES: readonly Scope[] = [
  'admin',
  'read',
  'read:ecommerce',
  'read:analytics',
  ...APPS.map((a) => `read:analytics:${a}`),
  'append',
  ...INGEST_TABLES.map((t) => `append:${t}`),
  'manage',
  ...DATASOURCES.map((d) => `manage:${d.name}`),
  'sql',
]

/**
 * Sightline's own tables that are no datasource (tokens, logs, the change log): never a scope's resource.
 * A loaded project's datasource of such a name is written `<database>.<name>` in scopes, like one that
 * shares its name with a built-in datasource.
 */
export const INTERNAL_TABLES: readonly string[] = [
  'tokens',
  'stock_changes',
  'ingest_batches',
  'operation_log',
  'ingest_log',
  'error_log',
  'schema_migrations',
  // The views that answer Tinybird's `tinybird.*` service datasources.
  ...SERVICE_VIEWS,
]

/** A resource name, optionally `<database>.`-qualified (a loaded project's resource that shares a built-in name). */
const RESOURCE = String.raw`(?:[A-Za-z_][A-Za-z0-9_]{0,127}\.)?([A-Za-z_][A-Za-z0-9_]{0,127})`

/**
 * `read:pipe:<pipe>` (Tinybird's PIPES:READ:<pipe>), `append:<datasource>` (DATASOURCES:APPEND:<ds>),
 * `read:datasource:<datasource>` (DATASOURCES:READ:<ds>: the datasource through `/v0/sql`) and
 * `manage:<datasource>` (truncate, replace, delete; DATASOURCES:DROP:<ds>). Which pipes and datasources exist
 * is the REST layer's to say (a loaded project adds its own), so any well-formed name is a scope, except
 * Sightline's internal tables.
 */
const RESOURCE_SCOPE = new RegExp(`^(?:read:pipe|append|read:datasource|manage):${RESOURCE}$`)

export function isKnownScope(scope: string): boolean {
  if (KNOWN_SCOPES.includes(scope)) return true
  const m = RESOURCE_SCOPE.exec(scope)
  if (!m) return false
  // A bare internal name is refused; `<db>.tokens` names a loaded project's own datasource.
  const qualified = scope.slice(scope.lastIndexOf(':') + 1).includes('.')
  return qualified || scope.startsWith('read:pipe:') || !INTERNAL_TABLES.includes(m[1] ?? '')
}

/** What a new token or JWT grants, checked: its trimmed name, its distinct known scopes, its workspace. */
export function checkGrant(input: {
  readonly name: string
  readonly scopes: readonly string[]
  readonly workspaceId?: string | null | undefined
}): { name: string; scopes: Scope[]; workspaceId: string | null } {
  const name = input.name.trim()
  if (name === '' || name.length > 128) throw new StoreInputError('name must be 1 to 128 characters')
  const unknown = input.scopes.filter((s) => !isKnownScope(s))
  if (input.scopes.length === 0 || unknown.length > 0) {
    throw new StoreInputError(`unknown scope(s): ${unknown.join(', ') || '(none given)'}; known: ${KNOWN_SCOPES.join(', ')}`)
  }
  const workspaceId = input.workspaceId ?? null
  if (workspaceId !== null && workspaceId.trim() === '') throw new StoreInputError('workspaceId must not be empty')
  return { name, scopes: [...new Set(input.scopes)], workspaceId }
}

export function grants(held: readonly Scope[], required: Scope): boolean {
  return held.some((s) => s === 'admin' || s === required || required.startsWith(`${s}:`))
}

export const scopeFor = {
  analytics: (app: App): Scope => `read:analytics:${app}`,
  append: (table: IngestTable): Scope => `append:${table}`,
  /** Truncate, replace and delete rows of a datasource. */
  manage: (datasource: string): Scope => `manage:${datasource}`,
  pipe: (pipe: string): Scope => `read:pipe:${pipe}`,
  /** A datasource through `/v0/sql` (with `sql`): Tinybird's DATASOURCES:READ:<ds>. */
  readDatasource: (datasource: string): Scope => `read:datasource:${datasource}`,
}

/**
 * Tinybird's static scope strings as Sightline scopes: `ADMIN`, `PIPES:READ:<pipe>`,
 * `DATASOURCES:APPEND:<ds>`, `DATASOURCES:READ:<ds>` (the datasource through `/v0/sql`), `DATASOURCES:CREATE` (what the seed frontend's truncate token holds: it may
 * append to, replace and truncate any datasource), `DATASOURCES:DROP:<ds>`. Sightline's own scope
 * strings pass through. Undefined for a Tinybird scope Sightline has no equivalent of.
 */
export function fromTinybirdScope(scope: string): Scope[] | undefined {
  const [kind, action, ...rest] = scope.split(':')
  const resource = rest.join(':')
  switch (`${kind}:${action ?? ''}`) {
    case 'ADMIN:':
      return ['admin']
    case 'PIPES:READ':
      return resource ? [scopeFor.pipe(resource)] : undefined
    case 'DATASOURCES:APPEND':
      return resource ? [`append:${resource}`] : undefined
    case 'DATASOURCES:READ':
      return resource ? [scopeFor.readDatasource(resource), 'sql'] : undefined
    case 'DATASOURCES:DROP':
      return resource ? [scopeFor.manage(resource)] : undefined
    case 'DATASOURCES:CREATE':
      return ['append', 'manage']
    default:
      return isKnownScope(scope) ? [scope] : undefined
  }
}

/** Who is calling: a named token with its scopes and, if bound, its workspace. */
export interface Principal {
  readonly name: string
  readonly scopes: readonly Scope[]
  readonly workspaceId: string | null
  /**
   * Tinybird JWTs: per pipe, parameters that override whatever the request says (row-level tenancy).
   * A pipe listed here is readable by this principal.
   */
  readonly fixedParams?: ReadonlyMap<string, Readonly<Record<string, string | readonly string[]>>>
  /**
   * Tinybird JWTs: per datasource, the SQL condition its rows must meet to be read (a `DATASOURCES:READ`
   * scope's `filter`); what the Query API reads of it. Its quarantine is not read.
   */
  readonly rowFilters?: ReadonlyMap<string, string>
  /** Tinybird JWTs: their own rate (`limits.rps`) and the bucket it is counted in (name and tenant). */
  readonly rate?: { readonly perSecond: number; readonly key: string }
}
