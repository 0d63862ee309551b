import { grants, type Principal, type Scope } from '../auth/scopes.js'

/**
 * What a use case refuses, with the code every transport answers it by (GraphQL's `extensions.code`,
 * REST's status): the domain knows no GraphQL; errors.ts and the REST layer map these.
 */
export class DomainError extends Error {
  override name = 'DomainError'
  constructor(
    readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT',
    message: string,
  ) {
    super(message)
  }
}

export const unauthenticated = (message = 'A valid bearer token is required') => new DomainError('UNAUTHENTICATED', message)
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message)
export const badInput = (message: string) => new DomainError('BAD_USER_INPUT', message)

/** The caller, or UNAUTHENTICATED. */
export function caller(who: Principal | null): Principal {
  if (!who) throw unauthenticated()
  return who
}

/** The caller holding `scope`, else UNAUTHENTICATED (no caller) or FORBIDDEN (no scope). */
export function withScope(who: Principal | null, scope: Scope): Principal {
  const principal = caller(who)
  if (!grants(principal.scopes, scope)) throw forbidden(`This operation needs the scope "${scope}"`)
  return principal
}

/** A workspace-bound token may only touch its own workspace. */
export function inWorkspace(principal: Principal, workspaceId: string): void {
  if (principal.workspaceId !== null && principal.workspaceId !== workspaceId) {
    throw forbidden(`This token is bound to another workspace than "${workspaceId}"`)
  }
}
