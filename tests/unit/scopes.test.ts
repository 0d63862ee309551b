import { GraphQLError, type GraphQLSchema } from 'graphql'
import { getMetadataStorage } from 'type-graphql'
import { beforeAll, describe, expect, it } from 'vitest'
import { authChecker, requireScope, requireWorkspace } from '../../src/auth/guard.js'
import { grants, isKnownScope, KNOWN_SCOPES, type Principal } from '../../src/auth/scopes.js'
import type { Context } from '../../src/context.js'
import { createSchema } from '../../src/schema/index.js'

/**
 * The scope each root field declares with @Authorized. `[]` means "a caller is required, and the
 * resolver checks a scope that depends on its arguments" (analytics: read:analytics:<app>).
 * A new root field fails the walk below until it is added here (and to the matrix in
 * tests/e2e/access.test.ts).
 */
const DECLARED: Record<string, readonly string[]> = {
  'Query.productGrid': ['read:ecommerce'],
  'Query.uiFilters': ['read:ecommerce'],
  'Query.products': ['read:ecommerce'],
  'Query.product': ['read:ecommerce'],
  'Query.stock': ['read:ecommerce'],
  'Query.ecommTrend': ['read:ecommerce'],
  'Query.analytics': [],
  'Query.quarantine': ['admin'],
  'Query.operationStats': ['admin'],
  'Query.ingestLog': ['admin'],
  'Query.errorLog': ['admin'],
  'Query.tokens': ['admin'],
  'Mutation.ingestEcommEvents': ['append:ecomm_events'],
  'Mutation.ingestEcommEventsNdjson': ['append:ecomm_events'],
  'Mutation.ingestWarehouseStock': ['append:warehouse_stock'],
  'Mutation.upsertProducts': ['append:products'],
  'Mutation.ingestAppEvents': ['append:app_events'],
  'Mutation.ingestAppEventsNdjson': ['append:app_events'],
  'Mutation.createToken': ['admin'],
  'Mutation.revokeToken': ['admin'],
  'Mutation.createJwt': ['admin'],
  'Subscription.stockChanged': ['read:ecommerce'],
}

/** Every root field of the built schema, as `Type.field`. */
function rootFields(schema: GraphQLSchema): string[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
    type ? Object.keys(type.getFields()).map((f) => `${type.name}.${f}`) : [],
  )
}

/** The roles type-graphql recorded for a root field, or undefined when it has no @Authorized. */
function declaredRoles(key: string): readonly string[] | undefined {
  const [type, field] = key.split('.') as [string, string]
  const storage = getMetadataStorage()
  const resolvers = type === 'Query' ? storage.queries : type === 'Mutation' ? storage.mutations : storage.subscriptions
  const resolver = resolvers.find((r) => r.schemaName === field)
  if (!resolver) throw new Error(`no type-graphql resolver metadata for ${key}`)
  const authorized = storage.authorizedFields.find((a) => a.target === resolver.target && a.fieldName === resolver.methodName)
  const onClass = storage.authorizedResolver.find((a) => a.target === resolver.target)
  const roles = authorized?.roles ?? onClass?.roles
  return roles as string[] | undefined
}

describe('every root field declares its scope', () => {
  let schema: GraphQLSchema
  beforeAll(async () => {
    schema = await createSchema()
  })

  it('walks the whole schema: each Query, Mutation and Subscription field carries @Authorized', () => {
    const fields = rootFields(schema)
    expect(fields.length).toBeGreaterThanOrEqual(19)
    const missing = fields.filter((f) => declaredRoles(f) === undefined)
    expect(missing, 'root fields without @Authorized').toEqual([])
  })

  it('declares exactly the scopes of the table (a new field needs a row here and in the access matrix)', () => {
    const fields = rootFields(schema)
    expect(fields.filter((f) => !(f in DECLARED)), 'root fields missing from DECLARED').toEqual([])
    expect(Object.keys(DECLARED).filter((f) => !fields.includes(f)), 'DECLARED rows for fields that no longer exist').toEqual([])
    for (const f of fields) expect([...(declaredRoles(f) ?? ['(none)'])].sort(), f).toEqual([...(DECLARED[f] ?? [])].sort())
  })

  it('declares only known scopes', () => {
    for (const f of rootFields(schema)) {
      for (const role of declaredRoles(f) ?? []) expect(isKnownScope(role), `${f}: ${role}`).toBe(true)
    }
  })
})

const who = (scopes: string[], workspaceId: string | null = null): Principal => ({ name: 't', scopes, workspaceId })
const ctx = (principal: Principal | null) => ({ principal }) as Pick<Context, 'principal'>
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err
    return String(err.extensions.code)
  }
}

describe('scope hierarchy', () => {
  it('a scope grants itself and what lies below it, on colon boundaries only', () => {
    expect(grants(['read'], 'read:analytics:cart')).toBe(true)
    expect(grants(['read'], 'read:ecommerce')).toBe(true)
    expect(grants(['read:analytics'], 'read:analytics:fm')).toBe(true)
    expect(grants(['read:analytics'], 'read:ecommerce')).toBe(false)
    expect(grants(['read:analytics:cart'], 'read:analytics:page')).toBe(false)
    expect(grants(['read:analytics:cart'], 'read:analytics')).toBe(false)
    expect(grants(['read:e'], 'read:ecommerce')).toBe(false)
    expect(grants(['rea'], 'read')).toBe(false)
    expect(grants(['append'], 'append:products')).toBe(true)
    expect(grants(['append:products'], 'append:app_events')).toBe(false)
    expect(grants(['append'], 'read:ecommerce')).toBe(false)
    expect(grants(['read'], 'append:products')).toBe(false)
    expect(grants([], 'read')).toBe(false)
  })

  it('admin grants every known scope; no other scope grants admin', () => {
    for (const s of KNOWN_SCOPES) expect(grants(['admin'], s), s).toBe(true)
    expect(grants(KNOWN_SCOPES.filter((s) => s !== 'admin'), 'admin')).toBe(false)
  })

  it('knows exactly the scopes of the spec', () => {
    expect([...KNOWN_SCOPES].sort()).toEqual(
      [
        'admin',
        'read',
        'read:ecommerce',
        'read:analytics',
        'read:analytics:cart',
        'read:analytics:fm',
        'read:analytics:link',
        'read:analytics:page',
        'append',
        'append:ecomm_events',
        'append:warehouse_stock',
        'append:products',
        'append:app_events',
        'manage',
        ...['ecomm_events', 'warehouse_stock', 'products', 'app_events', 'mv_latest_availability', 'ecomm_rollup_minute', 'ecomm_rollup_hour', 'ecomm_rollup_day', 'cart_events_mv', 'fm_events_mv', 'link_events_mv', 'page_events_mv'].map((d) => `manage:${d}`),
        'sql',
      ].sort(),
    )
    // read:pipe:<pipe> names any pipe (the REST layer decides which exist).
    expect(isKnownScope('read:pipe:api_product_grid')).toBe(true)
    // A loaded project's resources: any datasource for append and read:datasource, `<database>.<name>` for
    // one that shares a built-in name; Sightline's own tables only qualified (a project's datasource).
    for (const good of ['append:clicks', 'append:project.ecomm_events', 'read:datasource:clicks', 'read:pipe:project.api_product_grid', 'append:project.tokens', 'manage:clicks', 'manage:project.products']) {
      expect(isKnownScope(good), good).toBe(true)
    }
    for (const bad of ['append:a.b.c', 'append:1x', 'read:datasource:tokens', 'read:datasource:', 'append:x;y', 'manage:a.b.c', 'manage:']) expect(isKnownScope(bad), bad).toBe(false)
    for (const bad of ['', 'READ', 'read:', 'read:analytics:shop', 'append:tokens', 'admin:all', ' read', 'manage:tokens', 'read:pipe:', 'read:pipe:a b', 'read:pipe:x;y']) {
      expect(isKnownScope(bad), bad).toBe(false)
    }
  })
})

describe('guard', () => {
  const checker = authChecker as (data: { context: Context; root: object; args: object; info: never }, roles: string[]) => boolean
  const check = (principal: Principal | null, roles: string[]) => () => checker({ context: ctx(principal) as Context, root: {}, args: {}, info: {} as never }, roles)

  it('no caller is UNAUTHENTICATED, a caller without the scope FORBIDDEN', () => {
    expect(codeOf(check(null, []))).toBe('UNAUTHENTICATED')
    expect(codeOf(check(null, ['read']))).toBe('UNAUTHENTICATED')
    expect(codeOf(check(who(['append']), ['read:ecommerce']))).toBe('FORBIDDEN')
    expect(codeOf(check(who(['read']), ['read:ecommerce']))).toBeUndefined()
    expect(codeOf(check(who(['append']), []))).toBeUndefined()
    expect(codeOf(() => requireScope(ctx(null), 'admin'))).toBe('UNAUTHENTICATED')
    expect(codeOf(() => requireScope(ctx(who(['read'])), 'admin'))).toBe('FORBIDDEN')
  })

  it('every listed scope is required', () => {
    expect(codeOf(check(who(['read:ecommerce']), ['read:ecommerce', 'append:products']))).toBe('FORBIDDEN')
    expect(codeOf(check(who(['read:ecommerce', 'append:products']), ['read:ecommerce', 'append:products']))).toBeUndefined()
  })

  it('a bound principal only reaches its workspace; an unbound one reaches all', () => {
    expect(codeOf(() => requireWorkspace(who(['read'], 'w1'), 'w1'))).toBeUndefined()
    expect(codeOf(() => requireWorkspace(who(['read'], 'w1'), 'w2'))).toBe('FORBIDDEN')
    expect(codeOf(() => requireWorkspace(who(['read'], 'w1'), 'W1'))).toBe('FORBIDDEN')
    expect(codeOf(() => requireWorkspace(who(['read'], 'w1'), ''))).toBe('FORBIDDEN')
    expect(codeOf(() => requireWorkspace(who(['read']), 'anything'))).toBeUndefined()
    // Admin scope does not lift a workspace binding.
    expect(codeOf(() => requireWorkspace(who(['admin'], 'w1'), 'w2'))).toBe('FORBIDDEN')
  })
})
