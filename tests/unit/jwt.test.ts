import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { JwtService, looksLikeJwt, MAX_JWT_SECONDS } from '../../src/auth/jwt.js'
import { StoreInputError } from '../../src/store/errors.js'

const SECRET = 'unit-test-secret-that-is-long-enough-0123'
const OTHER = 'another-secret-that-is-also-long-enough-99'
const key = (s: string) => new TextEncoder().encode(s)
const jwt = new JwtService(SECRET)
const nowSeconds = () => Math.floor(Date.now() / 1000)

/** A token signed with jose directly, to forge what JwtService itself would never sign. */
function forge(claims: Record<string, unknown>, opts: { secret?: string; exp?: number | null; iss?: string | null; sub?: string | null } = {}) {
  let b = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt()
  if (opts.iss !== null) b = b.setIssuer(opts.iss ?? 'sightline')
  if (opts.sub !== null) b = b.setSubject(opts.sub ?? 'forged')
  if (opts.exp !== null) b = b.setExpirationTime(opts.exp ?? nowSeconds() + 600)
  return b.sign(key(opts.secret ?? SECRET))
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')

describe('JwtService', () => {
  it('signs HS256 with sub, scopes, workspaceId, iss and exp, and verifies to the same principal', async () => {
    const before = nowSeconds()
    const { token, expiresAt, principal } = await jwt.sign({ name: 'shop-front', scopes: ['read:analytics:page', 'read:analytics:page'], workspaceId: 'ws1', expiresInSeconds: 120 })
    expect(looksLikeJwt(token)).toBe(true)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' })
    const claims = decodeJwt(token)
    expect(claims).toMatchObject({ sub: 'shop-front', iss: 'sightline', scopes: ['read:analytics:page'], workspaceId: 'ws1' })
    expect(claims.exp! - claims.iat!).toBe(120)
    expect(claims.iat!).toBeGreaterThanOrEqual(before)
    expect(expiresAt.getTime()).toBe(claims.exp! * 1000)
    expect(principal).toEqual({ name: 'jwt:shop-front', scopes: ['read:analytics:page'], workspaceId: 'ws1' })
    expect(await jwt.verify(token)).toEqual(principal)
  })

  it('leaves workspaceId out when unbound, and defaults to one hour', async () => {
    const { token, principal } = await jwt.sign({ name: 'n', scopes: ['read'] })
    const claims = decodeJwt(token)
    expect('workspaceId' in claims).toBe(false)
    expect(claims.exp! - claims.iat!).toBe(3600)
    expect(principal.workspaceId).toBeNull()
    expect((await jwt.verify(token))?.workspaceId).toBeNull()
  })

  it('refuses to sign bad requests with StoreInputError (BAD_USER_INPUT)', async () => {
    const bad: Array<Parameters<JwtService['sign']>[0]> = [
      { name: 'n', scopes: ['write:all'] },
      { name: 'n', scopes: [] },
      { name: 'n', scopes: ['read', 'nope'] },
      { name: '  ', scopes: ['read'] },
      { name: 'x'.repeat(129), scopes: ['read'] },
      { name: 'n', scopes: ['read'], workspaceId: ' ' },
      { name: 'n', scopes: ['read'], expiresInSeconds: 0 },
      { name: 'n', scopes: ['read'], expiresInSeconds: -5 },
      { name: 'n', scopes: ['read'], expiresInSeconds: 1.5 },
      { name: 'n', scopes: ['read'], expiresInSeconds: MAX_JWT_SECONDS + 1 },
      { name: 'n', scopes: ['read'], expiresInSeconds: Number.NaN },
    ]
    for (const request of bad) await expect(jwt.sign(request), JSON.stringify(request)).rejects.toBeInstanceOf(StoreInputError)
    await expect(jwt.sign({ name: 'n', scopes: ['read'], expiresInSeconds: MAX_JWT_SECONDS })).resolves.toBeDefined()
  })

  it('is off without a secret: signing is refused, every token is unknown', async () => {
    const off = new JwtService(undefined)
    expect(off.enabled).toBe(false)
    await expect(off.sign({ name: 'n', scopes: ['read'] })).rejects.toThrow(/SIGHTLINE_JWT_SECRET/)
    const { token } = await jwt.sign({ name: 'n', scopes: ['admin'] })
    expect(await off.verify(token)).toBeNull()
  })

  it('rejects expired, tampered, foreign and malformed tokens (null, never a throw)', async () => {
    const { token } = await jwt.sign({ name: 'n', scopes: ['read'] })
    const [h, p, s] = token.split('.') as [string, string, string]
    const payload = decodeJwt(token)
    const cases: Record<string, string> = {
      expired: await jwt.sign({ name: 'n', scopes: ['admin'], expiresInSeconds: 60 }, new Date(Date.now() - 3600_000)).then((t) => t.token),
      'expired (forged)': await forge({ scopes: ['admin'] }, { exp: nowSeconds() - 10 }),
      'signature changed': `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`,
      'signature dropped': `${h}.${p}.`,
      'payload escalated': `${h}.${b64({ ...payload, scopes: ['admin'] })}.${s}`,
      'workspace changed': `${h}.${b64({ ...payload, workspaceId: 'other' })}.${s}`,
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...payload, scopes: ['admin'] })}.`,
      'alg HS512 (not allowed)': await new SignJWT({ scopes: ['admin'] })
        .setProtectedHeader({ alg: 'HS512' })
        .setIssuer('sightline')
        .setSubject('x')
        .setExpirationTime('10m')
        .sign(key(SECRET)),
      'other secret': await new JwtService(OTHER).sign({ name: 'n', scopes: ['admin'] }).then((t) => t.token),
      'no exp': await forge({ scopes: ['admin'] }, { exp: null }),
      'no sub': await forge({ scopes: ['admin'] }, { sub: null }),
      'no iss': await forge({ scopes: ['admin'] }, { iss: null }),
      'other iss': await forge({ scopes: ['admin'] }, { iss: 'evil' }),
      'unknown scope': await forge({ scopes: ['admin', 'root'] }),
      'scopes not a list': await forge({ scopes: 'admin' }),
      'no scopes': await forge({}),
      'empty scopes': await forge({ scopes: [] }),
      'empty workspace': await forge({ scopes: ['read'], workspaceId: '' }),
      'numeric workspace': await forge({ scopes: ['read'], workspaceId: 7 }),
      'not before in the future': await new SignJWT({ scopes: ['read'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('sightline')
        .setSubject('x')
        .setNotBefore(nowSeconds() + 600)
        .setExpirationTime(nowSeconds() + 1200)
        .sign(key(SECRET)),
      garbage: 'a.b.c',
      'bad base64 header': `!!!.${p}.${s}`,
    }
    for (const [what, t] of Object.entries(cases)) expect(await jwt.verify(t), what).toBeNull()
    // The forger works: the same helper with good claims verifies.
    expect(await jwt.verify(await forge({ scopes: ['read'], workspaceId: 'w' }))).toEqual({ name: 'jwt:forged', scopes: ['read'], workspaceId: 'w' })
  })

  it('recognises JWT-shaped secrets and leaves stored tokens alone', () => {
    expect(looksLikeJwt('aaa.bbb.ccc')).toBe(true)
    expect(looksLikeJwt('sl_abc-def_ghi')).toBe(false)
    expect(looksLikeJwt('a.b')).toBe(false)
    expect(looksLikeJwt('a.b.c.d')).toBe(false)
    expect(looksLikeJwt('a..c')).toBe(false)
  })
})
