import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql'
import { requirePrincipal, requireWorkspace } from '../auth/guard.js'
import type { Context } from '../context.js'
import { JwtInput, TokenInput } from '../schema/token.input.js'
import { CreatedToken, SignedJwt, TokenInfo } from '../schema/token.type.js'

/**
 * What a new token may be bound to: an admin bound to a workspace mints tokens for that workspace
 * only (unbound by default, another one refused), so minting never escapes a binding.
 */
function boundWorkspace(ctx: Context, requested: string | null | undefined): string | null | undefined {
  const { workspaceId } = requirePrincipal(ctx)
  if (workspaceId === null) return requested
  if (requested !== null && requested !== undefined) requireWorkspace(requirePrincipal(ctx), requested)
  return workspaceId
}

@Resolver()
export class TokenResolver {
  @Authorized('admin')
  @Query(() => [TokenInfo], { description: "Live stored tokens (admin); a workspace-bound admin sees its workspace's only" })
  async tokens(@Ctx() ctx: Context): Promise<TokenInfo[]> {
    const { workspaceId } = requirePrincipal(ctx)
    const now = Date.now()
    return (await ctx.tokens.list())
      .filter((t) => workspaceId === null || t.workspaceId === workspaceId)
      .map((t) => ({ ...t, scopes: [...t.scopes], expired: t.expiresAt !== null && t.expiresAt.getTime() <= now }))
  }

  @Authorized('admin')
  @Mutation(() => CreatedToken, { description: 'Creates a token (admin); its secret is shown only here' })
  async createToken(@Ctx() ctx: Context, @Arg('input', () => TokenInput) input: TokenInput): Promise<CreatedToken> {
    const { secret, record } = await ctx.tokens.create({ ...input, workspaceId: boundWorkspace(ctx, input.workspaceId) })
    return { name: record.name, token: secret, scopes: [...record.scopes], workspaceId: record.workspaceId }
  }

  @Authorized('admin')
  @Mutation(() => Boolean, { description: 'Revokes a token by name (admin); false when none is live' })
  revokeToken(@Ctx() ctx: Context, @Arg('name', () => String) name: string): Promise<boolean> {
    return ctx.tokens.revoke(name)
  }

  @Authorized('admin')
  @Mutation(() => SignedJwt, { description: 'Signs a JWT for a frontend (admin); needs SIGHTLINE_JWT_SECRET' })
  async createJwt(@Ctx() ctx: Context, @Arg('input', () => JwtInput) input: JwtInput): Promise<SignedJwt> {
    const { token, expiresAt, principal } = await ctx.tokens.jwt.sign({ ...input, workspaceId: boundWorkspace(ctx, input.workspaceId) })
    return { token, name: input.name.trim(), scopes: [...principal.scopes], workspaceId: principal.workspaceId, expiresAt }
  }
}
