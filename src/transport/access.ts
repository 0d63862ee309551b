import type { IncomingMessage } from 'node:http'
import { GraphQLError } from 'graphql'
import type { RateDecision, RateLimiter, RateState, KeyRate } from '../auth/rate-limit.js'
import type { Principal } from '../auth/scopes.js'
import { bearer, type TokenService } from '../auth/tokens.js'
import { RateLimitedError, StoreUnavailableGraphQLError, toGraphQLError, UnauthenticatedError, withStatus } from '../errors.js'
import { StoreUnavailableError } from '../store/errors.js'
import { clientAddress } from '../sockets.js'
import type { Telemetry } from '../telemetry.js'
import type { RequestLabel } from './gateway.js'

/**
 * Who is calling, as every transport asks it: a bearer header to a principal, the principal's rate
 * limit, and the refusals (a bad token, a rate limit) recorded in the error log. Shared by /graphql,
 * graphql-ws and REST, so a token means the same on each.
 */
export class Access {
  constructor(
    private readonly tokens: TokenService,
    private readonly limiter: RateLimiter,
    private readonly telemetry: Telemetry,
    private readonly trustProxy: boolean,
  ) {}

  /** The client's address, for per-address limits (the proxy's view when SIGHTLINE_TRUST_PROXY is on). */
  addressOf = (req: Pick<IncomingMessage, 'socket' | 'headers'>): string => clientAddress(req, this.trustProxy)

  /**
   * A bearer header to a principal; null when malformed, unknown, revoked or expired. A store that cannot
   * tell throws STORE_UNAVAILABLE (503), STORE_BUSY or QUERY_TIMEOUT; too many failures from `address`,
   * RATE_LIMITED.
   */
  async authenticate(header: string, address?: string): Promise<Principal | null> {
    const secret = bearer(header)
    if (!secret) return null
    try {
      return await this.tokens.authenticate(secret, address)
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw withStatus(new StoreUnavailableGraphQLError(), 503)
      const mapped = err instanceof GraphQLError ? undefined : toGraphQLError(err) // STORE_BUSY, QUERY_TIMEOUT
      if (mapped) throw mapped
      throw err
    }
  }

  /**
   * No header: anonymous (operations then answer UNAUTHENTICATED). A bad token fails the request
   * (401), and so does one over its rate limit (429 with Retry-After); both go to the error log.
   */
  principalOf = async (header: string | undefined, request: RequestLabel): Promise<Principal | null> => {
    if (header === undefined) return null
    try {
      const principal = await this.authenticate(header, request.address)
      if (!principal) throw withStatus(new UnauthenticatedError('The bearer token is invalid, expired or revoked'), 401)
      const decision = this.take(principal)
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs)
      return principal
    } catch (err) {
      if (err instanceof GraphQLError) this.telemetry.refused({ ...request, code: String(err.extensions.code), message: err.message })
      throw err
    }
  }

  /** Takes one request from the principal's rate. */
  take(principal: Principal): RateDecision {
    return this.limiter.take(rateKey(principal), ownRate(principal))
  }

  /** Where a principal stands with its rate limit (for X-RateLimit-* headers); undefined when unlimited. */
  rateOf = (principal: Principal): RateState | undefined => this.limiter.state(rateKey(principal), ownRate(principal))
}

/** A principal's rate-limit bucket: its name, or for a Tinybird JWT its name and tenant. */
function rateKey(principal: Principal): string {
  return principal.rate?.key ?? principal.name
}

/** A Tinybird JWT's `limits.rps` (burst of one second's worth), else the configured rate. */
function ownRate(principal: Principal): KeyRate | undefined {
  const perSecond = principal.rate?.perSecond
  return perSecond === undefined ? undefined : { rate: perSecond, burst: Math.max(1, Math.ceil(perSecond)) }
}
