import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import { PipeParams } from './params.js'
import type { Pipe } from './pipes.js'

/**
 * Who a pipe request runs as. A principal holding `read:pipe:<pipe>` (a stored token with Tinybird's
 * PIPES:READ, or a Tinybird JWT) reads that pipe, and only it, through the scope its data needs; any
 * other principal runs as itself, so the operation's own scope check decides.
 */
export function pipePrincipal(who: Principal, pipe: Pick<Pipe, 'name' | 'scope'>): Principal {
  if (grants(who.scopes, pipe.scope)) return who
  if (!grants(who.scopes, scopeFor.pipe(pipe.name)) && !who.fixedParams?.has(pipe.name)) return who
  return { ...who, scopes: [...who.scopes, pipe.scope] }
}

/**
 * A pipe's parameters with a Tinybird JWT's `fixed_params` on top: a lookup that names a fixed
 * parameter, under any of the names the pipe reads it by, answers the fixed value whatever the request
 * sent (repeated keys, aliases, empty values), so a tenant can never be swapped.
 */
export class FixedPipeParams extends PipeParams {
  constructor(
    search: URLSearchParams,
    private readonly fixed: Readonly<Record<string, string | readonly string[]>>,
  ) {
    super(search)
  }

  override text(names: readonly string[]): string | undefined {
    for (const name of names) {
      const value = this.fixed[name]
      if (value !== undefined) return typeof value === 'string' ? value : value[0]
    }
    return super.text(names)
  }

  // Lists (`platforms`, `types`) too: a fixed list replaces every value the request sent under any name;
  // a fixed empty list stays a list, and matches nothing.
  override list(names: readonly string[]): string[] | undefined {
    for (const name of names) {
      const value = this.fixed[name]
      if (value !== undefined) return this.listOf(typeof value === 'string' ? [value] : value)
    }
    return super.list(names)
  }
}

/** The parameters a request reads a pipe with, as `who` may read them. */
export function pipeParams(who: Principal, pipe: string, search: URLSearchParams): PipeParams {
  const fixed = who.fixedParams?.get(pipe)
  return fixed ? new FixedPipeParams(search, fixed) : new PipeParams(search)
}
