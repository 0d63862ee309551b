import type { App, IngestTable } from '../store/types.js'
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
