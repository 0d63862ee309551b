import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose'
import { StoreInputError } from '../store/errors.js'
import { checkGrant, isKnownScope, type Principal } from './scopes.js'
import { isTinybirdPayload, signTinybirdJwt, verifyTinybirdJwt, type TinybirdJwtRequest } from './tinybird-jwt.js'

const ISSUER = 'sightline'
const ALGORITHM = 'HS256'
/** Longest lifetime a JWT may have by default: frontends renew, nothing lives forever. */
export const MAX_JWT_SECONDS = 31 * 86_400
/** Clock skew allowed for an `iat` slightly ahead of this server's clock. */
const IAT_SKEW_SECONDS = 5
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/

export interface JwtRequest {
  readonly name: string
  readonly scopes: readonly string[]
  readonly workspaceId?: string | null | undefined
  /** @default 3600 */
  readonly expiresInSeconds?: number | null | undefined
}

/** True when a bearer secret has a JWT's shape (three base64url parts). */
export function looksLikeJwt(secret: string): boolean {
  return JWT_SHAPE.test(secret)
}

/**
 * Signed JWTs for frontends (Tinybird's JWTs with fixed parameters): HS256 with the configured
 * secret, claims `sub` (a name for logs), `scopes`, optional `workspaceId`, and a required `exp`.
 * They are not stored, so they cannot be revoked one by one: keep them short-lived, and rotate the
 * secret to revoke them all.
 */
export class JwtService {
  private readonly key: Uint8Array | undefined

  constructor(
    secret: string | undefined,
    /** Longest lifetime (exp − iat, or exp − now without iat) accepted and minted, in seconds. */
    readonly maxLifetimeSeconds: number = MAX_JWT_SECONDS,
  ) {
    this.key = secret === undefined ? undefined : new TextEncoder().encode(secret)
  }

  get enabled(): boolean {
    return this.key !== undefined
  }

  async sign(request: JwtRequest, now = new Date()): Promise<{ token: string; expiresAt: Date; principal: Principal }> {
    if (!this.key) throw new StoreInputError('JWTs are disabled: set SIGHTLINE_JWT_SECRET')
    const { name, scopes, workspaceId } = checkGrant(request)
    const seconds = request.expiresInSeconds ?? 3600
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > this.maxLifetimeSeconds) {
      throw new StoreInputError(`expiresInSeconds must be a whole number from 1 to ${this.maxLifetimeSeconds}`)
    }
    const issuedAt = Math.floor(now.getTime() / 1000)
    const token = await new SignJWT({ scopes, ...(workspaceId === null ? {} : { workspaceId }) })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(name)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + seconds)
      .sign(this.key)
    return { token, expiresAt: new Date((issuedAt + seconds) * 1000), principal: { name: `jwt:${name}`, scopes, workspaceId } }
  }

  /** Signs a JWT in Tinybird's shape (`POST /v0/tokens`). */
  signTinybird(request: TinybirdJwtRequest): Promise<string> {
    if (!this.key) throw new StoreInputError('JWTs are disabled: set SIGHTLINE_JWT_SECRET')
    return signTinybirdJwt(request, this.key, this.maxLifetimeSeconds)
  }

  /**
   * The principal a valid JWT carries; null when it is expired, tampered, malformed or JWTs are off,
   * when it lives longer than the maximum lifetime, was issued in the future, or its `sub` is not a
   * non-empty string.
   */
  async verify(token: string, now = Date.now()): Promise<Principal | null> {
    if (!this.key) return null
    try {
      // Tinybird's shape (scopes as objects) or Sightline's; the signature is checked either way.
      if (isTinybirdPayload(decodeJwt(token))) return await verifyTinybirdJwt(token, this.key, this.maxLifetimeSeconds, now, IAT_SKEW_SECONDS)
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(now),
      })
      const { scopes, workspaceId, sub, iat, exp } = payload as {
        scopes?: unknown
        workspaceId?: unknown
        sub?: unknown
        iat?: unknown
        exp?: unknown
      }
      if (typeof sub !== 'string' || sub === '') return null
      const nowSeconds = Math.floor(now / 1000)
      if (iat !== undefined && (typeof iat !== 'number' || iat > nowSeconds + IAT_SKEW_SECONDS)) return null
      const from = typeof iat === 'number' ? iat : nowSeconds
      if (typeof exp !== 'number' || exp - from > this.maxLifetimeSeconds) return null
      if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && isKnownScope(s))) return null
      if (workspaceId !== undefined && (typeof workspaceId !== 'string' || workspaceId === '')) return null
      return { name: `jwt:${sub}`, scopes: scopes as string[], workspaceId: workspaceId ?? null }
    } catch (err) {
      if (err instanceof errors.JOSEError) return null
      throw err
    }
  }
}
