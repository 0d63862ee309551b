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
]

export function isKnownScope(scope: string): boolean {
  return KNOWN_SCOPES.includes(scope)
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
}

/** Who is calling: a named token with its scopes and, if bound, its workspace. */
export interface Principal {
  readonly name: string
  readonly scopes: readonly Scope[]
  readonly workspaceId: string | null
}
