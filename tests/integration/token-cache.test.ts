import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwtService } from '../../src/auth/jwt.js'
import { TokenService } from '../../src/auth/tokens.js'
import type { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { uid } from '../helpers/factories.js'
import { openTestStore } from '../helpers/store.js'

describe('TokenService cache', () => {
  let store: ClickHouseStore
  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(() => store?.close())

  it('stays bounded under a flood of made-up secrets, and still serves real tokens', async () => {
    const tokens = new TokenService(store, undefined, 60_000, new JwtService(undefined), { maxCached: 50 })
    const { secret, record } = await tokens.create({ name: uid('real'), scopes: ['read'] })
    expect(await tokens.authenticate(secret)).toMatchObject({ name: record.name, scopes: ['read'] })
    for (let i = 0; i < 200; i++) expect(await tokens.authenticate(`sl_${randomBytes(32).toString('base64url')}`)).toBeNull()
    expect(tokens.cachedCount).toBeLessThanOrEqual(50)
    // The real token was evicted along the way; it is looked up again and works.
    expect(await tokens.authenticate(secret)).toMatchObject({ name: record.name })
    expect(tokens.cachedCount).toBeLessThanOrEqual(50)
    // Revocation still wins over the cache.
    expect(await tokens.revoke(record.name)).toBe(true)
    expect(await tokens.authenticate(secret)).toBeNull()
  })

  it('caches nothing when the cache time is 0', async () => {
    const tokens = new TokenService(store, undefined, 0)
    const { secret } = await tokens.create({ name: uid('nocache'), scopes: ['read'] })
    await tokens.authenticate(secret)
    await tokens.authenticate('sl_unknown')
    expect(tokens.cachedCount).toBe(0)
  })
})
