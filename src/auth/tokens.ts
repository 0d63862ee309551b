import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Store } from '../store/store.js'
import { StoreInputError } from '../store/errors.js'
import type { TokenRecord } from '../store/types.js'
import { RateLimitedError } from '../errors.js'
import { secretPrefix, type AuthFailureLimiter } from './auth-failures.js'
import { JwtService, looksLikeJwt } from './jwt.js'
import { checkGrant, type Principal } from './scopes.js'

export interface NewToken {
  readonly name: string
  readonly scopes: readonly string[]
  readonly workspaceId?: string | null | undefined
  readonly expiresAt?: Date | null | undefined
}

const PREFIX = 'sl_'
/** The principal name of SIGHTLINE_ADMIN_TOKEN. */
const BOOTSTRAP_NAME = 'admin (bootstrap)'

/** A new secret: 32 random bytes, URL-safe, with a recognisable prefix for secret scanners. */
export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url')
}

/** Tokens are high-entropy secrets, so one SHA-256 is enough to store them safely. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Reads `Bearer <token>` (case-insensitive scheme); undefined when absent or malformed. */
export function bearer(header: string | undefined | null): string | undefined {
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

/** A failed or refused authentication, for the log. */
export interface AuthFailure {
  readonly address: string
  /** The secret's first characters (see `secretPrefix`), never the secret. */
  readonly prefix: string
  /** True when refused unchecked because the address or prefix failed too often. */
  readonly throttled: boolean
}

export interface TokenServiceOptions {
  /** Most secrets the cache holds at once, known and unknown. @default 10000 */
  readonly maxCached?: number
  /** Limits failed authentications per client address and secret prefix. */
  readonly failures?: AuthFailureLimiter
  readonly onFailure?: (failure: AuthFailure) => void
}

/**
 * Resolves bearer secrets to principals: the bootstrap admin from config, a signed JWT, else a
 * stored token.
 * Lookups are cached briefly so a burst of requests costs one store query; revocations through this
 * process drop the cache at once, other replicas see them within the cache time.
 */
export class TokenService {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>()
  private readonly adminHash: Buffer | undefined

  constructor(
    private readonly store: Store,
    adminToken: string | undefined,
    private readonly cacheMs: number,
    readonly jwt: JwtService = new JwtService(undefined),
    private readonly options: TokenServiceOptions = {},
  ) {
    this.adminHash = adminToken === undefined ? undefined : Buffer.from(hashSecret(adminToken), 'hex')
  }

  private get maxCached(): number {
    return this.options.maxCached ?? 10_000
  }

  /**
   * The principal for a secret, or null when the secret is unknown, revoked or expired. With a client
   * `address`, failures count against it and the secret's prefix; once either has failed too often,
   * its attempts are refused with RATE_LIMITED before any lookup (a secret known good from the cache
   * still passes, so guessing near a real token does not lock it out).
   */
  async authenticate(secret: string, address?: string): Promise<Principal | null> {
    const hash = hashSecret(secret)
    if (this.adminHash && timingSafeEqual(this.adminHash, Buffer.from(hash, 'hex'))) {
      return { name: BOOTSTRAP_NAME, scopes: ['admin'], workspaceId: null }
    }
    const now = Date.now()
    const hit = this.cache.get(hash)
    if (hit && hit.until > now && hit.principal) return hit.principal
    const { failures, onFailure } = this.options
    if (failures && address !== undefined) {
      const decision = failures.check(address, secret)
      if (!decision.allowed) {
        onFailure?.({ address, prefix: secretPrefix(secret), throttled: true })
        throw new RateLimitedError(decision.retryAfterMs, `Too many failed authentications from this ${decision.by}`)
      }
    }
    const principal = await this.resolve(secret, hash, hit, now)
    if (!principal && address !== undefined) {
      failures?.fail(address, secret)
      onFailure?.({ address, prefix: secretPrefix(secret), throttled: false })
    }
    return principal
  }

  private async resolve(
    secret: string,
    hash: string,
    hit: { principal: Principal | null; until: number } | undefined,
    now: number,
  ): Promise<Principal | null> {
    if (looksLikeJwt(secret)) return this.jwt.verify(secret)
    if (hit && hit.until > now) return hit.principal
    const record = await this.store.findTokenByHash(hash)
    const live = record && (record.expiresAt === null || record.expiresAt.getTime() > now) ? record : null
    const principal = live && { name: live.name, scopes: live.scopes, workspaceId: live.workspaceId }
    const until = Math.min(now + this.cacheMs, live?.expiresAt?.getTime() ?? Infinity)
    if (this.cacheMs > 0) this.remember(hash, { principal, until })
    return principal
  }

  /** Validates and stores a new token; returns its secret, which is never kept. */
  async create(input: NewToken): Promise<{ secret: string; record: TokenRecord }> {
    const { name, scopes, workspaceId } = checkGrant(input)
    // Principal names key the rate limit and sign the service logs: a token must not share one with
    // the bootstrap admin or a JWT.
    if (name === BOOTSTRAP_NAME || /^jwt:/i.test(name)) throw new StoreInputError(`the name "${name}" is reserved`)
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw new StoreInputError('expiresAt is in the past')
    if (await this.store.tokenNameExists(name)) throw new StoreInputError(`a token named "${name}" already exists`)
    const secret = generateSecret()
    const record: TokenRecord = {
      name,
      hash: hashSecret(secret),
      scopes,
      workspaceId,
      createdAt: new Date(),
      expiresAt: input.expiresAt ?? null,
    }
    await this.store.insertToken(record)
    return { secret, record }
  }

  /** Resolved secrets held in the cache (unknown ones included). */
  get cachedCount(): number {
    return this.cache.size
  }

  /**
   * Caches a lookup. Unknown secrets are cached too (a client retrying a bad token costs no store
   * query), so a flood of made-up secrets must not grow the cache without bound: when full, the
   * oldest entry goes (entries live `cacheMs` at most, so the oldest is the first to expire anyway).
   */
  private remember(hash: string, entry: { principal: Principal | null; until: number }): void {
    this.cache.delete(hash)
    if (this.cache.size >= this.maxCached) {
      const oldest = this.cache.keys().next()
      if (!oldest.done) this.cache.delete(oldest.value)
    }
    this.cache.set(hash, entry)
  }

  /** Live stored tokens (the bootstrap admin and JWTs are not stored), without their hashes. */
  list(): Promise<Array<Omit<TokenRecord, 'hash'>>> {
    return this.store.listTokens()
  }

  /** True when some credential can authenticate: the bootstrap admin, a JWT secret, or a live stored token. */
  async anyCredential(): Promise<boolean> {
    if (this.adminHash || this.jwt.enabled) return true
    const now = Date.now()
    return (await this.store.listTokens()).some((t) => t.expiresAt === null || t.expiresAt.getTime() > now)
  }

  async revoke(name: string): Promise<boolean> {
    const revoked = await this.store.revokeToken(name)
    this.cache.clear()
    return revoked
  }
}
