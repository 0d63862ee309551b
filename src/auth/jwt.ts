import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose'
import { StoreInputError } from '../store/errors.js'
import { checkGrant, isKnownScope, type Principal } from './scopes.js'
import { isTinybirdPayload, signTinybirdJwt, verifyTinybirdJwt, type TinybirdJwtRequest } from './tinybird-jwt.js'

const ISSUER = 'sightline'
const ALGORITHM = 'HS256'
/** Longest lifetime a minted JWT may have: frontends renew, nothing lives forever. */
export const MAX_JWT_SECONDS = 31 * 86_400
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

  constructor(secret: string | undefined) {
    this.key = secret === undefined ? undefined : new TextEncoder().encode(secret)
  }

  get enabled(): boolean {
    return this.key !== undefined
  }

  async sign(request: JwtRequest, now = new Date()): Promise<{ token: string; expiresAt: Date; principal: Principal }> {
    if (!this.key) throw new StoreInputError('JWTs are disabled: set SIGHTLINE_JWT_SECRET')
    const { name, scopes, workspaceId } = checkGrant(request)
    const seconds = request.expiresInSeconds ?? 3600
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_JWT_SECONDS) {
      throw new StoreInputError(`expiresInSeconds must be a whole number from 1 to ${MAX_JWT_SECONDS}`)
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
    return signTinybirdJwt(request, this.key, MAX_JWT_SECONDS)
  }

  /** The principal a valid JWT carries; null when it is expired, tampered, malformed or JWTs are off. */
  async verify(token: string): Promise<Principal | null> {
    if (!this.key) return null
    try {
      // Tinybird's shape (scopes as objects) or Sightline's; the signature is checked either way.
      if (isTinybirdPayload(decodeJwt(token))) return await verifyTinybirdJwt(token, this.key, MAX_JWT_SECONDS)
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ['exp', 'sub'],
      })
      const { scopes, workspaceId, sub } = payload as { scopes?: unknown; workspaceId?: unknown; sub?: unknown }
      if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && isKnownScope(s))) return null
      if (workspaceId !== undefined && (typeof workspaceId !== 'string' || workspaceId === '')) return null
      return { name: `jwt:${String(sub)}`, scopes: scopes as string[], workspaceId: workspaceId ?? null }
    } catch (err) {
      if (err instanceof errors.JOSEError) return null
      throw err
    }
  }
}
