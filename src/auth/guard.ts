import type { AuthChecker } from 'type-graphql'
import type { Context } from '../context.js'
import { ForbiddenError, UnauthenticatedError } from '../errors.js'
import { grants, type Principal, type Scope } from './scopes.js'

/** The caller, or UNAUTHENTICATED. */
export function requirePrincipal(ctx: Pick<Context, 'principal'>): Principal {
  if (!ctx.principal) throw new UnauthenticatedError()
  return ctx.principal
}

/** The caller holding `scope`, else UNAUTHENTICATED (no caller) or FORBIDDEN (no scope). */
export function requireScope(ctx: Pick<Context, 'principal'>, scope: Scope): Principal {
  const principal = requirePrincipal(ctx)
  if (!grants(principal.scopes, scope)) throw new ForbiddenError(`This operation needs the scope "${scope}"`)
  return principal
}

/** A workspace-bound token may only touch its own workspace. */
export function requireWorkspace(principal: Principal, workspaceId: string): void {
  if (principal.workspaceId !== null && principal.workspaceId !== workspaceId) {
    throw new ForbiddenError(`This token is bound to another workspace than "${workspaceId}"`)
  }
}

/**
 * type-graphql's check for `@Authorized(scope)`: every listed scope is required. An empty list
 * only requires a caller; the resolver then checks the scope that depends on its arguments.
 */
export const authChecker: AuthChecker<Context, Scope> = ({ context }, scopes) => {
  requirePrincipal(context)
  for (const scope of scopes) requireScope(context, scope)
  return true
}
