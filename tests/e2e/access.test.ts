import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLFormattedError,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql'
import type { Client } from 'graphql-ws'
import { SignJWT } from 'jose'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwtService } from '../../src/auth/jwt.js'
import { hashSecret } from '../../src/auth/tokens.js'
import { loadConfig } from '../../src/config.js'
import { createSchema } from '../../src/schema/index.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import type { Store } from '../../src/store/store.js'
import { AppTotalsDocument, CreateJwtDocument, CreateTokenDocument, RevokeTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { subscribers } from '../helpers/wait.js'
import { gql, gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'
import { filesHolding, storeFilesDir, testStoreConfig } from '../helpers/store.js'

const SECRET = `access-test-jwt-secret-${randomBytes(16).toString('hex')}`
const OTHER_SECRET = `another-jwt-secret-${randomBytes(16).toString('hex')}`
const key = (s: string) => new TextEncoder().encode(s)
const nowSeconds = () => Math.floor(Date.now() / 1000)

// ---------------------------------------------------------------------------------------------
// HTTP and WebSocket helpers
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number
  headers: Headers
  data?: Record<string, unknown> | null
  errors?: GraphQLFormattedError[]
  text: string
}

async function post(
  server: Pick<RunningServer, 'url'>,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, ...(JSON.parse(text) as Pick<Answer, 'data' | 'errors'>) }
}

const codesOf = (a: { errors?: readonly GraphQLFormattedError[] }) => (a.errors ?? []).map((e) => String(e.extensions?.code))

/** What one subscribe led to first: a result, GraphQL errors, or the socket closing with a code. */
type WsOutcome = { next: Record<string, unknown> } | { errors: GraphQLFormattedError[] } | { close: number } | { timeout: true }

function subscribeOnce(client: Client, query: string, variables: Record<string, unknown> = {}, ms = 10_000) {
  let dispose = () => {}
  const outcome = new Promise<WsOutcome>((resolve) => {
    const timer = setTimeout(() => resolve({ timeout: true }), ms)
    const done = (o: WsOutcome) => {
      clearTimeout(timer)
      resolve(o)
    }
    dispose = client.subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (msg) => done(msg.errors ? { errors: msg.errors as GraphQLFormattedError[] } : { next: msg.data ?? {} }),
        error: (err) => {
          if (Array.isArray(err)) done({ errors: err as GraphQLFormattedError[] })
          else if (err && typeof err === 'object' && 'code' in err) done({ close: Number((err as { code: unknown }).code) })
          else done({ errors: [{ message: String(err) }] })
        },
        complete: () => {},
      },
    )
  })
  return { outcome, dispose: () => dispose() }
}

/**
 * Writes until the subscription sees an update. The feed counts a subscriber before its poller has
 * started, and a change written in that window is taken for one that predates the subscription, so
 * one write right after subscribing may legitimately go unseen; a second one may not.
 */
async function writeUntilDelivered(outcome: Promise<WsOutcome>, write: () => Promise<void>, tries = 4): Promise<WsOutcome> {
  for (let i = 0; i < tries; i++) {
    await write()
    const got = await Promise.race([outcome, new Promise<null>((r) => setTimeout(() => r(null), 1500))])
    if (got) return got
  }
  return outcome
}

const SUBSCRIPTION = 'subscription S($products: [ID!], $category: String) { stockChanged(products: $products, category: $category) { product available } }'

/** Walks a directory and returns every file path. */
/** Root fields of the built schema as `Type.field`. */
function rootFields(schema: GraphQLSchema): Array<{ key: string; operation: 'query' | 'mutation' | 'subscription'; field: GraphQLField<unknown, unknown> }> {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const
  return roots.flatMap(([operation, type]) =>
    type ? Object.values(type.getFields()).map((field) => ({ key: `${type.name}.${field.name}`, operation, field })) : [],
  )
}

// ---------------------------------------------------------------------------------------------
// Values for any argument, derived from the schema (for the anonymous walk and the injection run)
// ---------------------------------------------------------------------------------------------

const INJ_WORKSPACE = 'inj_ws'
const INJ_CATEGORY = 'inj_category'

/** Values that make a row valid, so injected strings travel all the way into the tables. */
const FILLERS: Record<string, () => unknown> = {
  'AppEventInput.app': () => 'PAGE',
  'AppEventInput.action': () => 'view',
  'AppEventInput.workspaceId': () => INJ_WORKSPACE,
  'ProductInput.category': () => INJ_CATEGORY,
  'TokenInput.name': () => uid('inj'),
  'TokenInput.scopes': () => ['read:ecommerce'],
  'JwtInput.name': () => 'inj',
  'JwtInput.scopes': () => ['read:ecommerce'],
  'JwtInput.expiresInSeconds': () => 60,
  'Query.quarantine.table': () => 'products',
  'Query.analytics.app': () => 'PAGE',
  'Query.analytics.workspaceId': () => INJ_WORKSPACE,
  'Query.uiFilters.filter': () => 'PRODUCT',
}

/** A GraphQL type as written in a variable definition. */
function typeString(type: GraphQLInputType): string {
  return String(type)
}

/**
 * A value for `type` at `where` ("Input.field" or "Root.field.arg"): the payload when `path` is
 * empty, else a filler, descending along `path` (field names; lists take one element).
 */
function valueFor(type: GraphQLInputType, where: string, path: readonly string[] | null, payload: unknown): unknown {
  if (path !== null && path.length === 0) return isListType(getNullableType(type)) ? [payload] : payload
  const filler = FILLERS[where]
  if (filler && path === null) return filler()
  const t = getNullableType(type) as GraphQLInputType
  if (isListType(t)) return [valueFor(t.ofType as GraphQLInputType, where, path, payload)]
  if (isInputObjectType(t)) {
    const out: Record<string, unknown> = {}
    for (const f of Object.values(t.getFields())) {
      const onPath = path !== null && path[0] === f.name
      if (onPath) out[f.name] = valueFor(f.type, `${t.name}.${f.name}`, path.slice(1), payload)
      else if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = valueFor(f.type, `${t.name}.${f.name}`, null, payload)
    }
    return out
  }
  if (isEnumType(t)) return t.getValues()[0]!.name
  if (isScalarType(t)) {
    switch (t.name) {
      case 'String':
        return 'inj'
      case 'ID':
        return uid('inj')
      case 'Int':
      case 'Float':
        return 1
      case 'Boolean':
        return false
      case 'DateTime':
        return new Date().toISOString()
    }
  }
  throw new Error(`no filler for ${String(type)} at ${where}`)
}

/** Every place a string can be given to a root field: String/ID arguments and input fields, at any depth. */
function stringPositions(field: GraphQLField<unknown, unknown>, owner: string): Array<{ arg: GraphQLArgument; path: string[]; label: string }> {
  const out: Array<{ arg: GraphQLArgument; path: string[]; label: string }> = []
  const visit = (arg: GraphQLArgument, type: GraphQLInputType, path: string[], depth: number) => {
    const named = getNamedType(type)
    if (isScalarType(named) && (named.name === 'String' || named.name === 'ID')) {
      out.push({ arg, path, label: `${owner}.${field.name}(${[arg.name, ...path].join('.')})` })
    } else if (isInputObjectType(named) && depth < 5) {
      for (const f of Object.values(named.getFields())) visit(arg, f.type, [...path, f.name], depth + 1)
    }
  }
  for (const arg of field.args) visit(arg, arg.type, [], 0)
  return out
}

/** A document calling one root field with every argument as a variable, and its variables. */
function documentFor(
  operation: 'query' | 'mutation' | 'subscription',
  owner: string,
  field: GraphQLField<unknown, unknown>,
  inject?: { arg: string; path: string[]; payload: unknown },
): { query: string; variables: Record<string, unknown> } {
  const defs: string[] = []
  const args: string[] = []
  const variables: Record<string, unknown> = {}
  for (const arg of field.args) {
    const targeted = inject?.arg === arg.name
    if (!targeted && !(isNonNullType(arg.type) && arg.defaultValue === undefined)) continue
    defs.push(`$${arg.name}: ${typeString(arg.type)}`)
    args.push(`${arg.name}: $${arg.name}`)
    variables[arg.name] = valueFor(arg.type, `${owner}.${field.name}.${arg.name}`, targeted ? inject.path : null, inject?.payload)
  }
  const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : ''
  const query = `${operation} Q${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`
  return { query, variables }
}

// ---------------------------------------------------------------------------------------------
// The scope matrix
// ---------------------------------------------------------------------------------------------

const KINDS = [
  'none',
  'garbage',
  'revoked',
  'expiredJwt',
  'tamperedJwt',
  'foreignJwt',
  'read',
  'append',
  'admin',
  'bootstrap',
  'bound',
  'appBound',
  'jwtBound',
] as const
type Kind = (typeof KINDS)[number]

/** Credentials that are not credentials: refused before any operation runs (HTTP 401; WebSocket 4403). */
const BAD_CREDENTIALS: readonly Kind[] = ['garbage', 'revoked', 'expiredJwt', 'tamperedJwt', 'foreignJwt']

// Who may call what. bound/jwtBound hold read + append:app_events for workspace W; appBound holds
// read:analytics:page; read holds read; append holds append; admin and bootstrap hold admin.
const ADMINS: readonly Kind[] = ['admin', 'bootstrap']
const READERS: readonly Kind[] = [...ADMINS, 'read', 'bound', 'jwtBound']
const PAGE_READERS: readonly Kind[] = [...READERS, 'appBound']
const APPENDERS: readonly Kind[] = [...ADMINS, 'append']
const APP_EVENT_APPENDERS: readonly Kind[] = [...APPENDERS, 'bound', 'jwtBound']

const W = uid('ws')

interface Row {
  readonly query: string
  readonly variables?: () => Record<string, unknown>
  readonly ok: readonly Kind[]
  /** Checks the data of an allowed call. */
  readonly check?: (data: Record<string, unknown>) => void
}

const ingested = (field: string) => (data: Record<string, unknown>) =>
  expect(data[field]).toMatchObject({ accepted: 1, quarantined: 0 })

/** One row per root field; the first test fails when the schema has a field without a row. */
const MATRIX: Record<string, Row> = {
  'Query.productGrid': { query: '{ productGrid { id } }', ok: READERS },
  'Query.uiFilters': { query: '{ uiFilters(filter: PRODUCT) { value } }', ok: READERS },
  'Query.products': { query: '{ products(limit: 5) { id stock { available } recentSales } }', ok: READERS },
  'Query.product': { query: '{ product(id: "nope") { id } }', ok: READERS, check: (d) => expect(d.product).toBeNull() },
  'Query.stock': { query: '{ stock(products: ["nope"]) { available status } }', ok: READERS },
  'Query.ecommTrend': { query: '{ ecommTrend(granularity: DAY) { start views } }', ok: READERS },
  'Query.analytics': {
    query: 'query Q($w: ID!) { analytics(app: PAGE, workspaceId: $w) { app workspaceId totals { events } } }',
    variables: () => ({ w: W }),
    ok: PAGE_READERS,
    check: (d) => expect(d.analytics).toMatchObject({ app: 'PAGE', workspaceId: W }),
  },
  'Query.quarantine': { query: '{ quarantine(table: "products", limit: 1) { reason } }', ok: ADMINS },
  'Query.operationStats': { query: '{ operationStats { operation calls } }', ok: ADMINS },
  'Query.ingestLog': { query: '{ ingestLog(limit: 1) { table } }', ok: ADMINS },
  'Query.errorLog': { query: '{ errorLog(limit: 1) { code } }', ok: ADMINS },
  'Query.tokens': { query: '{ tokens { name scopes expired } }', ok: ADMINS },
  'Mutation.ingestEcommEvents': {
    query: 'mutation Q($p: ID!) { ingestEcommEvents(events: [{ event: VIEW, product: $p }]) { accepted quarantined } }',
    variables: () => ({ p: uid('p') }),
    ok: APPENDERS,
    check: ingested('ingestEcommEvents'),
  },
  'Mutation.ingestWarehouseStock': {
    query: 'mutation Q($p: ID!) { ingestWarehouseStock(updates: [{ product: $p, store: "main", amount: 1 }]) { accepted quarantined } }',
    variables: () => ({ p: uid('p') }),
    ok: APPENDERS,
    check: ingested('ingestWarehouseStock'),
  },
  'Mutation.upsertProducts': {
    query: 'mutation Q($p: ID!) { upsertProducts(products: [{ id: $p, category: "matrix", name: "n", price: 1 }]) { accepted quarantined } }',
    variables: () => ({ p: uid('p') }),
    ok: APPENDERS,
    check: ingested('upsertProducts'),
  },
  'Mutation.ingestAppEvents': {
    query: 'mutation Q($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted quarantined } }',
    variables: () => ({ e: [{ app: 'PAGE', action: 'view', workspaceId: W, sessionId: uid('s'), visitorId: uid('v') }] }),
    ok: APP_EVENT_APPENDERS,
    check: ingested('ingestAppEvents'),
  },
  'Mutation.ingestEcommEventsNdjson': {
    query: 'mutation Q($d: String!) { ingestEcommEventsNdjson(data: $d) { accepted quarantined } }',
    variables: () => ({ d: JSON.stringify({ event: 'view', product: uid('p') }) }),
    ok: APPENDERS,
    check: ingested('ingestEcommEventsNdjson'),
  },
  'Mutation.ingestAppEventsNdjson': {
    query: 'mutation Q($d: String!) { ingestAppEventsNdjson(data: $d) { accepted quarantined } }',
    variables: () => ({ d: JSON.stringify({ app: 'page', action: 'view', workspace_id: W, session_id: uid('s'), visitor_id: uid('v') }) }),
    ok: APP_EVENT_APPENDERS,
    check: ingested('ingestAppEventsNdjson'),
  },
  'Mutation.createToken': {
    query: 'mutation Q($n: String!) { createToken(input: { name: $n, scopes: ["read:ecommerce"] }) { name } }',
    variables: () => ({ n: uid('matrix') }),
    ok: ADMINS,
  },
  'Mutation.revokeToken': { query: 'mutation { revokeToken(name: "nobody-by-this-name") }', ok: ADMINS, check: (d) => expect(d.revokeToken).toBe(false) },
  'Mutation.createJwt': {
    query: 'mutation { createJwt(input: { name: "matrix", scopes: ["read:ecommerce"], expiresInSeconds: 60 }) { expiresAt } }',
    ok: ADMINS,
  },
  // Over WebSocket (graphql-ws), below; an allowed subscriber must receive a real update.
  'Subscription.stockChanged': { query: SUBSCRIPTION, ok: READERS },
}

type Expected = 'OK' | 'UNAUTHENTICATED' | 'FORBIDDEN'
function expected(kind: Kind, row: Row): Expected {
  if (kind === 'none' || BAD_CREDENTIALS.includes(kind)) return 'UNAUTHENTICATED'
  return row.ok.includes(kind) ? 'OK' : 'FORBIDDEN'
}

function flipSignature(jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string]
  return `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`
}

describe('access: the scope matrix', () => {
  let server: TestServer
  let schema: GraphQLSchema
  const token = {} as Record<Kind, string | undefined>
  const clients: Client[] = []
  const client = (t?: string) => {
    const c = wsClient(server, t)
    clients.push(c)
    return c
  }

  const createToken = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, server.adminToken)).createToken
  const createJwt = async (scopes: string[], workspaceId?: string, expiresInSeconds?: number) =>
    (await gqlOk(server, CreateJwtDocument, { input: { name: uid('jwt'), scopes, workspaceId, expiresInSeconds } }, server.adminToken)).createJwt

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_JWT_SECRET: SECRET })
    schema = await createSchema()
    token.none = undefined
    token.garbage = `sl_${randomBytes(32).toString('base64url')}`
    token.read = (await createToken(['read'])).token
    token.append = (await createToken(['append'])).token
    token.admin = (await createToken(['admin'])).token
    token.bootstrap = server.adminToken
    token.bound = (await createToken(['read', 'append:app_events'], W)).token
    token.appBound = (await createToken(['read:analytics:page'])).token
    token.jwtBound = (await createJwt(['read', 'append:app_events'], W)).token

    // Each bad credential is a working admin credential but for one defect; prove the working twin works.
    const adminOp = '{ ingestLog(limit: 1) { table } }'
    const works = async (t: string) => expect((await post(server, adminOp, {}, t)).errors).toBeUndefined()
    const revoked = await createToken(['admin'])
    await works(revoked.token)
    await gqlOk(server, RevokeTokenDocument, { name: revoked.name }, server.adminToken)
    token.revoked = revoked.token
    const adminJwt = (await createJwt(['admin'])).token
    await works(adminJwt)
    token.tamperedJwt = flipSignature(adminJwt)
    const sign = (secret: string, exp: number) =>
      new SignJWT({ scopes: ['admin'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer('sightline').setSubject('old').setIssuedAt(Math.min(exp - 60, nowSeconds())).setExpirationTime(exp).sign(key(secret))
    await works(await sign(SECRET, nowSeconds() + 600))
    token.expiredJwt = await sign(SECRET, nowSeconds() - 10)
    token.foreignJwt = (await new JwtService(OTHER_SECRET).sign({ name: 'foreign', scopes: ['admin'] })).token
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  it('has a row for every root field of the schema, and no row for a field that is gone', () => {
    const fields = rootFields(schema).map((f) => f.key)
    expect(fields.filter((f) => !(f in MATRIX)), 'root fields without a matrix row').toEqual([])
    expect(Object.keys(MATRIX).filter((f) => !fields.includes(f)), 'matrix rows for unknown fields').toEqual([])
  })

  const httpRows = Object.entries(MATRIX).filter(([k]) => !k.startsWith('Subscription.'))
  describe.each(httpRows)('%s', (_field, row) => {
    it.each(KINDS)('as %s', async (kind) => {
      const res = await post(server, row.query, row.variables?.() ?? {}, token[kind])
      const want = expected(kind, row)
      if (want === 'OK') {
        expect(res.errors, res.text).toBeUndefined()
        expect(res.status).toBe(200)
        expect(res.data).toBeTruthy()
        row.check?.(res.data!)
      } else {
        expect(codesOf(res), res.text).toEqual([want])
        expect(res.status).toBe(BAD_CREDENTIALS.includes(kind) ? 401 : 200)
        if (res.data) expect(Object.values(res.data).every((v) => v === null)).toBe(true)
      }
    })
  })

  describe('Subscription.stockChanged (graphql-ws)', () => {
    it.each(KINDS)('as %s', async (kind) => {
      const row = MATRIX['Subscription.stockChanged']!
      const want = expected(kind, row)
      const product = uid('p')
      // Only this test subscribes on this server; the previous cell's subscription is gone first.
      await subscribers(server.services.feed, (n) => n === 0)
      const sub = subscribeOnce(client(token[kind]), row.query, { products: [product] })
      if (want === 'OK') {
        await subscribers(server.services.feed, (n) => n === 1)
        const write = async () => {
          const res = await post(
            server,
            'mutation Q($p: ID!) { ingestWarehouseStock(updates: [{ product: $p, store: "main", amount: 3 }]) { accepted } }',
            { p: product },
            server.adminToken,
          )
          expect(res.errors).toBeUndefined()
        }
        expect(await writeUntilDelivered(sub.outcome, write)).toMatchObject({ next: { stockChanged: { product } } })
      } else if (want === 'UNAUTHENTICATED') {
        // graphql-ws refuses the connection itself: onConnect answers false, the socket closes 4403.
        expect(await sub.outcome).toEqual({ close: 4403 })
      } else {
        const outcome = await sub.outcome
        expect('errors' in outcome ? outcome.errors.map((e) => e.extensions?.code) : outcome).toEqual(['FORBIDDEN'])
      }
      sub.dispose()
    })
  })

  it('answers every root field, called anonymously with arguments derived from the schema, UNAUTHENTICATED (subscriptions: BAD_REQUEST over HTTP)', async () => {
    const fields = rootFields(schema)
    for (const { key: k, operation, field } of fields) {
      const { query, variables } = documentFor(operation, k.split('.')[0]!, field)
      const res = await post(server, query, variables)
      // Subscriptions belong on the WebSocket: over HTTP they are refused before anything runs.
      const expected = operation === 'subscription' ? 'BAD_REQUEST' : 'UNAUTHENTICATED'
      expect(codesOf(res), `${k}: ${query} ${res.text}`).toEqual([expected])
    }
    // And a subscription without a token never gets a socket.
    const sub = subscribeOnce(client(), SUBSCRIPTION)
    expect(await sub.outcome).toEqual({ close: 4403 })
  })

  it('reads the bearer scheme case-insensitively and refuses any other Authorization header with 401', async () => {
    const op = '{ productGrid { id } }'
    const raw = async (authorization: string) => post(server, op, {}, undefined, { authorization })
    expect((await raw(`bearer ${token.read!}`)).errors).toBeUndefined()
    expect((await raw(`BEARER   ${token.read!}  `)).errors).toBeUndefined()
    for (const header of ['Bearer', 'Bearer ', `Basic ${token.read!}`, token.read!, `Bearer ${token.read!} extra`, `Bearer ${token.read!}x`]) {
      const res = await raw(header)
      expect(res.status, header).toBe(401)
      expect(codesOf(res)).toEqual(['UNAUTHENTICATED'])
    }
  })

  describe('workspace-bound tokens', () => {
    const boundKinds = ['bound', 'jwtBound'] as const

    it.each(boundKinds)('%s: analytics of its workspace are served, of another FORBIDDEN', async (kind) => {
      const mine = await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: W }, token[kind])
      expect(mine.errors).toBeUndefined()
      expect(mine.data?.analytics.workspaceId).toBe(W)
      for (const app of ['CART', 'FM', 'LINK', 'PAGE'] as const) {
        const other = await gql(server, AppTotalsDocument, { app, workspaceId: uid('ws') }, token[kind])
        expect(codesOf(other), app).toEqual(['FORBIDDEN'])
        expect(other.data).toBeNull()
      }
    })

    it.each(boundKinds)('%s: app events of another workspace are quarantined and none of them is written', async (kind) => {
      const X = uid('ws')
      const totals = async (workspaceId: string) =>
        (await gqlOk(server, AppTotalsDocument, { app: 'PAGE', workspaceId }, server.adminToken)).analytics.totals.events
      const beforeW = await totals(W)
      const foreignSession = uid('foreign')
      const ev = (workspaceId: string, sessionId = uid('s')) => ({ app: 'PAGE', action: 'view', workspaceId, sessionId, visitorId: uid('v') })
      const res = await post(
        server,
        'mutation Q($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted quarantined errors { index message } } }',
        { e: [ev(W), ev(X, foreignSession), ev(W), ev(X)] },
        token[kind],
      )
      expect(res.errors, res.text).toBeUndefined()
      const result = res.data!.ingestAppEvents as { accepted: number; quarantined: number; errors: Array<{ index: number; message: string }> }
      expect(result).toMatchObject({ accepted: 2, quarantined: 2 })
      expect(result.errors.map((e) => e.index)).toEqual([1, 3])
      for (const e of result.errors) expect(e.message).toMatch(/workspace/)
      expect(await totals(X)).toBe(0)
      expect(await totals(W)).toBe(beforeW + 2)
      // The refused row is kept in the quarantine with its reason, for an admin to see.
      const q = await post(server, '{ quarantine(table: "app_events", limit: 1000) { row reason } }', {}, server.adminToken)
      const rows = q.data!.quarantine as Array<{ row: string; reason: string }>
      const mine = rows.filter((r) => r.row.includes(foreignSession))
      expect(mine).toHaveLength(1)
      expect(mine[0]!.reason).toMatch(/workspace/)
    })

    it('an unbound token reaches every workspace', async () => {
      for (const kind of ['read', 'admin', 'bootstrap', 'appBound'] as const) {
        const res = await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: uid('ws') }, token[kind])
        expect(res.errors, kind).toBeUndefined()
      }
    })

    it('binds an admin token too: a bound admin reads only its workspace', async () => {
      const boundAdmin = (await createToken(['admin'], W)).token
      expect((await gql(server, AppTotalsDocument, { app: 'CART', workspaceId: W }, boundAdmin)).errors).toBeUndefined()
      expect(codesOf(await gql(server, AppTotalsDocument, { app: 'CART', workspaceId: uid('ws') }, boundAdmin))).toEqual(['FORBIDDEN'])
    })
  })

  describe('app-bound tokens', () => {
    it('read:analytics:page reads page analytics of any workspace, and no other app', async () => {
      const t = token.appBound!
      expect((await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: uid('ws') }, t)).errors).toBeUndefined()
      for (const app of ['CART', 'FM', 'LINK'] as const) {
        const res = await gql(server, AppTotalsDocument, { app, workspaceId: W }, t)
        expect(codesOf(res), app).toEqual(['FORBIDDEN'])
        expect(res.errors?.[0]?.message).toContain(`read:analytics:${app.toLowerCase()}`)
      }
    })

    it('read:analytics reads every app, read:analytics:cart only the cart', async () => {
      const all = (await createToken(['read:analytics'])).token
      const cart = (await createToken(['read:analytics:cart'])).token
      for (const app of ['CART', 'FM', 'LINK', 'PAGE'] as const) {
        expect((await gql(server, AppTotalsDocument, { app, workspaceId: W }, all)).errors, app).toBeUndefined()
        const res = await gql(server, AppTotalsDocument, { app, workspaceId: W }, cart)
        expect(codesOf(res), app).toEqual(app === 'CART' ? [] : ['FORBIDDEN'])
      }
      expect(codesOf(await post(server, '{ productGrid { id } }', {}, all))).toEqual(['FORBIDDEN'])
    })
  })

  describe('signed JWTs', () => {
    it('createJwt answers the token and its claims; the token works like a stored one with the same scopes', async () => {
      const before = Date.now()
      const jwt = await createJwt(['read:ecommerce', 'read:analytics:fm'], W, 120)
      expect(jwt.token.split('.')).toHaveLength(3)
      expect(jwt).toMatchObject({ scopes: ['read:ecommerce', 'read:analytics:fm'], workspaceId: W })
      const exp = new Date(jwt.expiresAt).getTime()
      expect(exp).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000)
      expect(exp).toBeLessThanOrEqual(Date.now() + 121_000)
      expect((await post(server, '{ productGrid { id } }', {}, jwt.token)).errors).toBeUndefined()
      expect((await gql(server, AppTotalsDocument, { app: 'FM', workspaceId: W }, jwt.token)).errors).toBeUndefined()
      expect(codesOf(await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: W }, jwt.token))).toEqual(['FORBIDDEN'])
      expect(codesOf(await gql(server, AppTotalsDocument, { app: 'FM', workspaceId: uid('ws') }, jwt.token))).toEqual(['FORBIDDEN'])
      expect(codesOf(await post(server, '{ ingestLog { table } }', {}, jwt.token))).toEqual(['FORBIDDEN'])
    })

    it('refuses bad createJwt input with BAD_USER_INPUT', async () => {
      const bad = [
        { name: 'x', scopes: ['read', 'write:everything'] },
        { name: 'x', scopes: [] },
        { name: ' ', scopes: ['read'] },
        { name: 'x', scopes: ['read'], expiresInSeconds: 0 },
        { name: 'x', scopes: ['read'], expiresInSeconds: 31 * 86_400 + 1 },
        { name: 'x', scopes: ['read'], workspaceId: '' },
      ]
      for (const input of bad) {
        const res = await gql(server, CreateJwtDocument, { input }, server.adminToken)
        expect(codesOf(res), JSON.stringify(input)).toEqual(['BAD_USER_INPUT'])
      }
    })

    it('refuses createJwt to every non-admin, JWTs included (a JWT cannot mint JWTs)', async () => {
      const readJwt = (await createJwt(['read', 'append'])).token
      for (const t of [token.read, token.append, token.bound, token.jwtBound, token.appBound, readJwt]) {
        expect(codesOf(await gql(server, CreateJwtDocument, { input: { name: 'x', scopes: ['admin'] } }, t))).toEqual(['FORBIDDEN'])
      }
    })

    it('a JWT expires: createJwt with a 1 s lifetime is refused (401) 2 s later', async () => {
      const jwt = await createJwt(['read'], undefined, 1)
      expect((await post(server, '{ productGrid { id } }', {}, jwt.token)).errors).toBeUndefined()
      await new Promise((r) => setTimeout(r, 2100))
      const late = await post(server, '{ productGrid { id } }', {}, jwt.token)
      expect(late.status).toBe(401)
      expect(codesOf(late)).toEqual(['UNAUTHENTICATED'])
    })

    it('refuses a JWT whose claims were edited (scopes escalated) and one with alg "none"', async () => {
      const jwt = (await createJwt(['read:analytics:page'], W)).token
      const [h, p, s] = jwt.split('.') as [string, string, string]
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const forged = [
        `${h}.${enc({ ...claims, scopes: ['admin'] })}.${s}`,
        `${h}.${enc({ ...claims, workspaceId: 'other' })}.${s}`,
        `${h}.${enc({ ...claims, exp: nowSeconds() + 10 * 365 * 86_400 })}.${s}`,
        `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ ...claims, scopes: ['admin'] })}.`,
      ]
      for (const t of forged) {
        const res = await post(server, '{ ingestLog { table } }', {}, t)
        expect(res.status).toBe(401)
        expect(codesOf(res)).toEqual(['UNAUTHENTICATED'])
      }
    })

    it('the CLI `token jwt` mints a JWT the server accepts, with its scopes and workspace', async () => {
      const run = promisify(execFile)
      const cli = (args: string[], env: Record<string, string | undefined>) =>
        run('node_modules/.bin/tsx', ['src/main.ts', 'token', 'jwt', ...args], {
          cwd: process.cwd(),
          env: { PATH: process.env.PATH, HOME: process.env.HOME, SIGHTLINE_LOG_LEVEL: 'silent', ...env },
          timeout: 60_000,
        })
      const { stdout } = await cli(['--name', 'cli-front', '--scope', 'read:ecommerce,read:analytics:page', '--workspace', W, '--ttl', '300'], {
        SIGHTLINE_JWT_SECRET: SECRET,
      })
      const jwt = stdout.trim()
      expect(jwt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect((await post(server, '{ productGrid { id } }', {}, jwt)).errors).toBeUndefined()
      expect((await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: W }, jwt)).errors).toBeUndefined()
      expect(codesOf(await gql(server, AppTotalsDocument, { app: 'PAGE', workspaceId: uid('ws') }, jwt))).toEqual(['FORBIDDEN'])
      expect(codesOf(await gql(server, AppTotalsDocument, { app: 'CART', workspaceId: W }, jwt))).toEqual(['FORBIDDEN'])
      // Without a secret, or with an unknown scope, it fails with a clear message and prints no token.
      for (const [args, env, message] of [
        [['--name', 'x', '--scope', 'read'], {}, /SIGHTLINE_JWT_SECRET/],
        [['--name', 'x', '--scope', 'read,superuser'], { SIGHTLINE_JWT_SECRET: SECRET }, /unknown scope/],
      ] as const) {
        const failed = await cli([...args], env).then(
          () => null,
          (err: { code?: number; stdout?: string; stderr?: string }) => err,
        )
        expect(failed, args.join(' ')).not.toBeNull()
        expect(failed!.code).toBe(1)
        expect(failed!.stdout).toBe('')
        expect(failed!.stderr).toMatch(message)
      }
    })
  })

  describe('stored tokens', () => {
    it('an expired stored token is refused (401)', async () => {
      const t = await gqlOk(
        server,
        CreateTokenDocument,
        { input: { name: uid('short'), scopes: ['read'], expiresAt: new Date(Date.now() + 1500).toISOString() } },
        server.adminToken,
      )
      expect((await post(server, '{ productGrid { id } }', {}, t.createToken.token)).errors).toBeUndefined()
      await new Promise((r) => setTimeout(r, 2000))
      expect((await post(server, '{ productGrid { id } }', {}, t.createToken.token)).status).toBe(401)
    })

    it('revoking answers true once, and the token is refused over HTTP and for new sockets at once', async () => {
      const t = await createToken(['read'])
      expect((await post(server, '{ productGrid { id } }', {}, t.token)).errors).toBeUndefined()
      expect((await gqlOk(server, RevokeTokenDocument, { name: t.name }, server.adminToken)).revokeToken).toBe(true)
      expect((await gqlOk(server, RevokeTokenDocument, { name: t.name }, server.adminToken)).revokeToken).toBe(false)
      expect((await post(server, '{ productGrid { id } }', {}, t.token)).status).toBe(401)
      expect(await subscribeOnce(client(t.token), SUBSCRIPTION).outcome).toEqual({ close: 4403 })
    })

    it('reserves the names other principals use, so a token cannot pose as the bootstrap admin or a JWT', async () => {
      for (const name of ['admin (bootstrap)', 'jwt:front', 'JWT:front']) {
        const res = await gql(server, CreateTokenDocument, { input: { name, scopes: ['read'] } }, server.adminToken)
        expect(codesOf(res), name).toEqual(['BAD_USER_INPUT'])
      }
    })

    it('a socket opened before its token was revoked cannot start new operations', async () => {
      const t = await createToken(['admin'])
      const c = client(t.token)
      const first = await subscribeOnce(c, '{ ingestLog(limit: 1) { table } }').outcome
      expect(first).toMatchObject({ next: { ingestLog: expect.any(Array) } })
      await gqlOk(server, RevokeTokenDocument, { name: t.name }, server.adminToken)
      // graphql-ws runs queries and mutations too: a revoked admin could keep minting tokens here.
      const after = await subscribeOnce(c, 'mutation { createToken(input: { name: "after-revoke", scopes: ["admin"] }) { token } }').outcome
      expect(after).not.toHaveProperty('next.createToken.token')
    })

    it('revokeToken with an injection payload revokes nothing', async () => {
      for (const name of ["' OR 1=1 --", "x' OR name != '", '%', '*']) {
        expect((await gqlOk(server, RevokeTokenDocument, { name }, server.adminToken)).revokeToken).toBe(false)
      }
      for (const kind of ['read', 'append', 'admin', 'bound', 'appBound'] as const) {
        expect((await post(server, '{ __typename }', {}, token[kind])).status, kind).toBe(200)
      }
    })
  })

  describe('with the default rate limit (100 per second, burst 200)', () => {
    it('serves many concurrent requests of one token', async () => {
      const answers = await Promise.all(Array.from({ length: 60 }, () => post(server, '{ productGrid { id } }', {}, token.read)))
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
      expect(answers.flatMap(codesOf)).toEqual([])
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------------

describe('access: rate limits (SIGHTLINE_RATE_LIMIT=5, SIGHTLINE_RATE_BURST=5)', () => {
  let server: TestServer
  const clients: Client[] = []
  let tokens: string[] = []

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_RATE_LIMIT: '5', SIGHTLINE_RATE_BURST: '5' })
    // The bootstrap admin is limited too: three creations stay within its burst.
    for (let i = 0; i < 3; i++) {
      tokens.push((await gqlOk(server, CreateTokenDocument, { input: { name: uid('rl'), scopes: ['read'] } }, server.adminToken)).createToken.token)
    }
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
    tokens = []
  })

  /**
   * Fires n requests at once; their answers and how long the volley took. The query touches no store
   * (the limit is checked before anything runs), so even a loaded machine sends the volley faster than
   * the bucket refills.
   */
  async function volley(t: string, n: number) {
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: n }, () => post(server, '{ __typename }', {}, t)))
    return { answers, ms: performance.now() - started }
  }

  it('lets the burst through, then answers 429 RATE_LIMITED with Retry-After and retryAfterMs', async () => {
    const { answers, ms } = await volley(tokens[0]!, 15)
    const ok = answers.filter((a) => a.status === 200)
    const limited = answers.filter((a) => a.status === 429)
    expect(ok.length + limited.length).toBe(15)
    // Exactly the burst, plus whatever refilled (5/s) while the volley was in flight.
    expect(ok.length).toBeGreaterThanOrEqual(5)
    expect(ok.length).toBeLessThanOrEqual(5 + Math.floor(ms / 200))
    expect(limited.length).toBeGreaterThan(0)
    for (const a of ok) expect(a.errors).toBeUndefined()
    for (const a of limited) {
      expect(codesOf(a)).toEqual(['RATE_LIMITED'])
      const retryAfterMs = a.errors![0]!.extensions!.retryAfterMs as number
      expect(retryAfterMs).toBeGreaterThan(0)
      expect(retryAfterMs).toBeLessThanOrEqual(200)
      expect(a.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
      expect(a.errors![0]!.message).toMatch(/rate limit/i)
    }
  })

  it('does not slow another token down, and serves the limited one again after retryAfterMs', async () => {
    const { answers } = await volley(tokens[1]!, 10)
    const refused = answers.filter((a) => a.status === 429)
    expect(refused.length).toBeGreaterThan(0)
    expect((await post(server, '{ productGrid { id } }', {}, tokens[2])).status).toBe(200)
    // Drain what refilled meanwhile with volleys (concurrent, so a slow machine cannot refill faster
    // than they drain), then wait as the last refusal says.
    let last = refused[refused.length - 1]!
    for (let i = 0; i < 20; i++) {
      const limited = (await volley(tokens[1]!, 10)).answers.filter((a) => a.status === 429)
      if (limited.length === 0) continue
      last = limited[limited.length - 1]!
      break
    }
    expect(last.status).toBe(429)
    // Waiting as told is enough to be served; a request of the volley that the server took after the
    // refusal may have spent the refill first, in which case the next refusal says how long again.
    let again = last
    for (let i = 0; i < 10 && again.status === 429; i++) {
      await new Promise((r) => setTimeout(r, (again.errors![0]!.extensions!.retryAfterMs as number) + 30))
      again = await post(server, '{ productGrid { id } }', {}, tokens[1])
    }
    expect(again.status).toBe(200)
    expect(again.errors).toBeUndefined()
  })

  it('refuses subscriptions over the limit with RATE_LIMITED', async () => {
    const t = tokens[0]!
    await volley(t, 8)
    const c = wsClient(server, t)
    clients.push(c)
    const subs = Array.from({ length: 8 }, () => subscribeOnce(c, SUBSCRIPTION, { products: [uid('p')] }, 1500))
    const outcomes = await Promise.all(subs.map((s) => s.outcome))
    for (const s of subs) s.dispose()
    const limited = outcomes.filter((o) => 'errors' in o && o.errors[0]?.extensions?.code === 'RATE_LIMITED')
    expect(limited.length).toBeGreaterThan(0)
    const first = limited[0] as { errors: GraphQLFormattedError[] }
    expect(first.errors[0]!.extensions!.retryAfterMs).toBeGreaterThan(0)
    // The others are live subscriptions (no update yet), not other errors.
    for (const o of outcomes) expect('timeout' in o || ('errors' in o && o.errors[0]?.extensions?.code === 'RATE_LIMITED'), JSON.stringify(o)).toBe(true)
  })

  it('JWTs are refused when SIGHTLINE_JWT_SECRET is unset, and createJwt says why', async () => {
    const jwt = (await new JwtService(SECRET).sign({ name: 'x', scopes: ['admin'] })).token
    expect((await post(server, '{ __typename }', {}, jwt)).status).toBe(401)
    await new Promise((r) => setTimeout(r, 400)) // the admin's bucket refills a little
    const res = await gql(server, CreateJwtDocument, { input: { name: 'x', scopes: ['read'] } }, server.adminToken)
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT'])
    expect(res.errors?.[0]?.message).toMatch(/SIGHTLINE_JWT_SECRET/)
  })
})

// ---------------------------------------------------------------------------------------------
// GraphQL hardening
// ---------------------------------------------------------------------------------------------

describe('access: GraphQL hardening with the default limits', () => {
  let server: TestServer
  let read: string
  const clients: Client[] = []
  beforeAll(async () => {
    server = await startTestServer()
    read = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('h'), scopes: ['read'] } }, server.adminToken)).createToken.token
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  const aliases = (n: number, field = 'productGrid { id }') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`

  it('refuses 51 aliases (SIGHTLINE_MAX_ALIASES=50) with a validation error naming the limit; 50 pass', async () => {
    const over = await post(server, aliases(51), {}, read)
    expect(over.status).toBe(400)
    expect(codesOf(over)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(over.errors?.[0]?.message).toMatch(/Aliases limit of 50 exceeded, found 51/)
    const ok = await post(server, aliases(50), {}, read)
    expect(ok.errors).toBeUndefined()
    // Aliases count across the whole document, nested ones included.
    const nested = `{ analytics(app: PAGE, workspaceId: "w") { ${Array.from({ length: 51 }, (_, i) => `b${i}: breakdown(by: BROWSER) { value }`).join(' ')} } }`
    expect(codesOf(await post(server, nested, {}, read))).toEqual(['GRAPHQL_VALIDATION_FAILED'])
  })

  it('refuses more than 50 directives', async () => {
    const directives = (n: number) => `{ productGrid { ${'... @include(if: true) { id } '.repeat(n)}} }`
    const over = await post(server, directives(51), {}, read)
    expect(over.status).toBe(400)
    expect(codesOf(over)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(over.errors?.[0]?.message).toMatch(/Directives limit of 50/i)
    expect((await post(server, directives(50), {}, read)).errors).toBeUndefined()
  })

  it('refuses a batched (array) HTTP body', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${read}` },
      body: JSON.stringify([{ query: '{ productGrid { id } }' }, { query: '{ productGrid { id } }' }]),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { errors: GraphQLFormattedError[] }
    expect(body.errors.map((e) => e.extensions?.code)).toEqual(['BAD_REQUEST'])
    expect(body.errors[0]!.message).toMatch(/batching/i)
  })

  it('refuses a document over SIGHTLINE_MAX_TOKENS (100,000) at parse time', async () => {
    const huge = `{ ${'__typename '.repeat(100_001)}}`
    const res = await post(server, huge, {}, read)
    expect(res.status).toBe(400)
    expect(codesOf(res)).toEqual(['GRAPHQL_PARSE_FAILED'])
    expect(res.errors?.[0]?.message).toMatch(/100000 tokens/)
  })

  it('introspection in production: admins only (403 FORBIDDEN for others); __typename stays open', async () => {
    const appOnly = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('h'), scopes: ['read:analytics:page'] } }, server.adminToken)).createToken.token
    const admin = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('h'), scopes: ['admin'] } }, server.adminToken)).createToken.token
    const documents = [
      '{ __schema { queryType { name } } }',
      '{ __type(name: "Query") { name } }',
      '{ s: __schema { types { name } } }',
      '{ productGrid { id } ...F } fragment F on Query { __schema { queryType { name } } }',
      '{ productGrid { id ... on ProductGridItem { __type: __typename } } }',
    ]
    for (const q of documents.slice(0, 4)) {
      for (const t of [undefined, read, appOnly]) {
        const res = await post(server, q, {}, t)
        expect(codesOf(res), q).toEqual(['FORBIDDEN'])
        expect(res.status).toBe(403)
        expect(res.data ?? null).toBeNull()
      }
      for (const t of [admin, server.adminToken]) expect((await post(server, q, {}, t)).errors, q).toBeUndefined()
    }
    // An alias named like an introspection field is not one.
    expect((await post(server, documents[4]!, {}, read)).errors).toBeUndefined()
    expect((await post(server, '{ __typename }')).data).toEqual({ __typename: 'Query' })
  })

  it('with introspection closed, validation errors do not suggest field names ("Did you mean …?")', async () => {
    const res = await post(server, '{ productGrd { id } }')
    expect(codesOf(res)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(res.errors?.[0]?.message).not.toMatch(/Did you mean/)
  })

  it('CSRF: GET without a preflight header and text/plain or form POSTs are refused with 400', async () => {
    const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`
    const bare = await fetch(url)
    expect(bare.status).toBe(400)
    expect(await bare.text()).toMatch(/CSRF/)
    expect((await fetch(url, { headers: { 'apollo-require-preflight': 'true' } })).status).toBe(200)
    expect((await fetch(url, { headers: { 'content-type': 'application/json' } })).status).toBe(200)
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${server.adminToken}` },
        body: JSON.stringify({ query: 'mutation { revokeToken(name: "csrf") }' }),
      })
      expect(res.status, contentType).toBe(400)
      expect(await res.text()).toMatch(/CSRF/)
    }
    // A mutation never runs over GET, even with the preflight header.
    const mutation = `${server.url}?query=${encodeURIComponent('mutation { revokeToken(name: "csrf") }')}`
    const viaGet = await fetch(mutation, { headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${server.adminToken}` } })
    expect(viaGet.status).toBe(405)
  })

  it('over WebSocket, validation errors keep their code and message (not a masked internal error)', async () => {
    const c = wsClient(server, read)
    clients.push(c)
    const bad = await subscribeOnce(c, 'subscription { stockChanged { nope } }').outcome
    expect(bad).toMatchObject({ errors: [{ message: expect.stringMatching(/Cannot query field "nope"/), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] })
    const tooMany = await subscribeOnce(c, aliases(51)).outcome
    expect(tooMany).toMatchObject({ errors: [{ message: expect.stringMatching(/Aliases limit of 50/), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] })
    const badVariable = await subscribeOnce(c, 'query Q($f: DateTime) { ecommTrend(from: $f) { start } }', { f: 'yesterday' }).outcome
    expect(badVariable).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] })
  })

  // ---- Found while testing #7, then fixed in src/server.ts ----

  it('introspection over WebSocket is refused to non-admins in production, as over HTTP', async () => {
    const c = wsClient(server, read)
    clients.push(c)
    const outcome = await subscribeOnce(c, '{ __schema { queryType { name } } }').outcome
    expect(outcome).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] })
  })

  it('a document over SIGHTLINE_MAX_TOKENS is refused over WebSocket too, and bad syntax answers an error, not close 4500', async () => {
    const c = wsClient(server, read)
    clients.push(c)
    const syntax = await subscribeOnce(c, '{ productGrid { id }').outcome
    expect(syntax).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] })
    const huge = await subscribeOnce(c, `{ ${'__typename '.repeat(100_001)}}`).outcome
    expect(huge).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] })
  })

  it('a subscription sent over HTTP answers a clear error, not INTERNAL_SERVER_ERROR', async () => {
    const res = await post(server, SUBSCRIPTION, { products: ['x'] }, read)
    expect(codesOf(res)).toEqual(['BAD_REQUEST'])
    expect(res.status).toBe(400)
  })
})

describe('access: depth and cost limits (SIGHTLINE_MAX_DEPTH=2, SIGHTLINE_MAX_COST=15)', () => {
  let server: TestServer
  const clients: Client[] = []
  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_MAX_DEPTH: '2', SIGHTLINE_MAX_COST: '15' })
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  const productExists = async (id: string) =>
    ((await post(server, 'query Q($id: ID!) { product(id: $id) { id } }', { id }, server.adminToken)).data?.product ?? null) !== null
  const upsert = (id: string, selection: string, times = 1) =>
    `mutation { ${Array.from({ length: times }, (_, i) => `u${i}: upsertProducts(products: [{ id: "${id}_${i}", category: "limits", name: "n", price: 1 }]) ${selection}`).join(' ')} }`

  it('refuses a query deeper than the limit with a message naming it, and runs nothing', async () => {
    const deep = await post(server, '{ analytics(app: PAGE, workspaceId: "w") { totals { events } } }', {}, server.adminToken)
    expect(deep.status).toBe(400)
    expect(codesOf(deep)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(deep.errors?.[0]?.message).toMatch(/depth limit of 2 exceeded, found 3/i)
    const id = uid('deep')
    const mutation = await post(server, upsert(id, '{ errors { index } }'), {}, server.adminToken)
    expect(codesOf(mutation)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(await productExists(`${id}_0`)).toBe(false)
    // At the limit it runs.
    expect((await post(server, upsert(id, '{ accepted }'), {}, server.adminToken)).errors).toBeUndefined()
    expect(await productExists(`${id}_0`)).toBe(true)
  })

  it('refuses a document over the cost limit with a message naming it, and runs nothing', async () => {
    const id = uid('cost')
    const costly = await post(server, upsert(id, '{ accepted quarantined deduplicated }', 3), {}, server.adminToken)
    expect(costly.status).toBe(400)
    expect(codesOf(costly)).toEqual(['GRAPHQL_VALIDATION_FAILED'])
    expect(costly.errors?.[0]?.message).toMatch(/Cost limit of 15 exceeded/i)
    for (let i = 0; i < 3; i++) expect(await productExists(`${id}_${i}`)).toBe(false)
    expect((await post(server, upsert(id, '{ accepted quarantined deduplicated }', 1), {}, server.adminToken)).errors).toBeUndefined()
  })

  it('applies the same limits over WebSocket', async () => {
    const c = wsClient(server, server.adminToken)
    clients.push(c)
    const deep = await subscribeOnce(c, '{ analytics(app: PAGE, workspaceId: "w") { totals { events } } }').outcome
    expect(deep).toMatchObject({ errors: [{ message: expect.stringMatching(/depth limit of 2/i), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] })
    const id = uid('wscost')
    const costly = await subscribeOnce(c, upsert(id, '{ accepted quarantined deduplicated }', 3)).outcome
    expect(costly).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] })
    expect(await productExists(`${id}_0`)).toBe(false)
  })
})

describe('access: introspection in development (NODE_ENV=development)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ NODE_ENV: 'development' })
  })
  afterAll(() => server?.stop())

  it('is open to everyone, anonymous included', async () => {
    const res = await post(server, '{ __schema { queryType { name } } }')
    expect(res.errors).toBeUndefined()
    expect(res.data).toEqual({ __schema: { queryType: { name: 'Query' } } })
  })
})

// ---------------------------------------------------------------------------------------------
// Errors never carry SQL, stacks or ClickHouse messages
// ---------------------------------------------------------------------------------------------

const LEAK = /DB::Exception|Code: \d+\.|clickhouse|chdb|\bSELECT\b|\bINSERT\b|\bFROM\b|system\.|\.sql\b|\bat \S+:\d+:\d+|node_modules|stack/i

/** The message with every occurrence of the payload taken out, so echoing it back is not a leak. */
function leakIn(message: string, payload?: string): RegExpMatchArray | null {
  let m = message
  if (payload) for (const p of [payload, JSON.stringify(payload).slice(1, -1)]) m = m.split(p).join('')
  return LEAK.exec(m)
}

describe('access: errors are masked', () => {
  let server: RunningServer
  let failTokenLookups = false
  const adminToken = `admin_${randomBytes(16).toString('hex')}`
  const storeConfig = testStoreConfig()
  let raw: ReturnType<typeof createConnection>
  const SQL_ERROR = `Code: 60. DB::Exception: Unknown table expression identifier '${storeConfig.database}.tokens' in scope SELECT hash FROM ${storeConfig.database}.tokens. (UNKNOWN_TABLE)`

  beforeAll(async () => {
    raw = createConnection(storeConfig)
    const real = new ClickHouseStore(createConnection(storeConfig), storeConfig)
    // A raw driver error where the store would normally wrap it: the last line of defence.
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'findTokenByHash' && failTokenLookups) return async () => Promise.reject(new Error(SQL_ERROR))
        const value = Reflect.get(target, prop, receiver) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    }) as Store
    const config = loadConfig({ PORT: '0', SIGHTLINE_LOG_LEVEL: 'silent', SIGHTLINE_ADMIN_TOKEN: adminToken }, { store: storeConfig })
    server = await startServer(config, { store })
  })
  afterAll(async () => {
    await server?.stop()
    await raw?.close()
  })

  it('a raw driver error while authenticating is a bare INTERNAL_SERVER_ERROR', async () => {
    failTokenLookups = true
    try {
      const res = await post(server, '{ productGrid { id } }', {}, `sl_${randomBytes(32).toString('base64url')}`)
      expect(res.status).toBe(500)
      expect(codesOf(res)).toEqual(['INTERNAL_SERVER_ERROR'])
      expect(res.errors?.[0]?.message).toBe('Internal server error')
      expect(leakIn(res.text)).toBeNull()
    } finally {
      failTokenLookups = false
    }
  })

  it('a store failure (a dropped table) answers STORE_UNAVAILABLE without SQL or ClickHouse text', async () => {
    await raw.command({ query: `DROP TABLE IF EXISTS ${storeConfig.database}.products` })
    const res = await post(server, '{ products { id name } }', {}, adminToken)
    expect(codesOf(res)).toEqual(['STORE_UNAVAILABLE'])
    expect(res.errors?.[0]).not.toHaveProperty('extensions.stacktrace')
    expect(leakIn(res.text)).toBeNull()
    // A token lookup against a broken store: 503, still nothing of the driver's message.
    await raw.command({ query: `DROP TABLE IF EXISTS ${storeConfig.database}.tokens` })
    const auth = await post(server, '{ productGrid { id } }', {}, `sl_${randomBytes(32).toString('base64url')}`)
    expect(auth.status).toBe(503)
    expect(codesOf(auth)).toEqual(['STORE_UNAVAILABLE'])
    expect(leakIn(auth.text)).toBeNull()
  })
})

// ---------------------------------------------------------------------------------------------
// SQL injection through every string argument
// ---------------------------------------------------------------------------------------------

const PAYLOADS: readonly string[] = [
  "' OR 1=1 --",
  "'; DROP TABLE products; --",
  "\\'",
  '\\',
  '{{db}}',
  '{name:String}',
  '" UNION SELECT * FROM system.tables --',
  "') OR ('1'='1",
  '`products`',
  '%00',
  'a\u0000b',
  '$1 ? :name',
  'ünïcødé 🔥 \u202e ﷽ 日本語',
  "\n\r\t'\"",
  `${"' OR '1'='1".repeat(5000)}`,
]
const ALLOWED_REFUSALS = new Set(['BAD_USER_INPUT', 'FORBIDDEN'])

/** Field arguments below the root that take strings; each needs a document here. */
const NESTED_STRING_ARGS: Record<string, string> = {
  'AppAnalytics.timeseries(timezone)': 'query Q($p: String) { analytics(app: PAGE, workspaceId: "inj_ws") { timeseries(timezone: $p) { start } } }',
}

describe('access: SQL injection through every string argument', () => {
  let server: TestServer
  let schema: GraphQLSchema
  let read: string
  const clients: Client[] = []
  const category = uid('intact')
  const workspace = uid('intact_ws')

  const snapshot = async () => {
    const grid = await post(server, 'query Q($c: String) { productGrid(category: $c) { id name price stock hits } }', { c: category }, read)
    const products = await post(server, 'query Q($c: String) { products(category: $c) { id name category price stock { available } } }', { c: category }, read)
    const totals = await post(server, 'query Q($w: ID!) { analytics(app: PAGE, workspaceId: $w) { totals { events sessions } } }', { w: workspace }, read)
    const tokenStillWorks = (await post(server, '{ __typename }', {}, read)).status
    return { grid: grid.data, products: products.data, totals: totals.data, tokenStillWorks }
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_JWT_SECRET: SECRET, SIGHTLINE_RATE_LIMIT: '0' }) // hundreds of requests of one token, at once
    schema = await createSchema()
    read = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('inj'), scopes: ['read'] } }, server.adminToken)).createToken.token
    const ids = [uid('p'), uid('p'), uid('p')]
    const seed = await post(
      server,
      `mutation Q($p: [ProductInput!]!, $s: [WarehouseStockInput!]!, $e: [EcommEventInput!]!, $a: [AppEventInput!]!) {
        upsertProducts(products: $p) { accepted } ingestWarehouseStock(updates: $s) { accepted }
        ingestEcommEvents(events: $e) { accepted } ingestAppEvents(events: $a) { accepted } }`,
      {
        p: ids.map((id, i) => ({ id, category, name: `product ${i}`, price: 10 + i })),
        s: ids.map((product, i) => ({ product, store: 'main', amount: 100 * (i + 1) })),
        e: ids.flatMap((product) => [{ event: 'VIEW', product }, { event: 'SALE', product }]),
        a: [0, 1, 2].map((i) => ({ app: 'PAGE', action: 'view', workspaceId: workspace, sessionId: `s${i}`, visitorId: `v${i}` })),
      },
      server.adminToken,
    )
    expect(seed.errors).toBeUndefined()
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()))
    await server?.stop()
  })

  it('finds every string argument: the nested ones are listed', () => {
    const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((t) => t?.name))
    const nested: string[] = []
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || roots.has(type.name) || type.name.startsWith('__')) continue
      for (const field of Object.values(type.getFields())) {
        for (const arg of field.args) {
          const named = getNamedType(arg.type)
          if (isInputObjectType(named) || named.name === 'String' || named.name === 'ID') nested.push(`${type.name}.${field.name}(${arg.name})`)
        }
      }
    }
    expect(nested.sort()).toEqual(Object.keys(NESTED_STRING_ARGS).sort())
  })

  it('answers data or BAD_USER_INPUT/FORBIDDEN, never an internal or ClickHouse error, and the data stays intact', async () => {
    const before = await snapshot()
    expect(before.tokenStillWorks).toBe(200)
    expect((before.grid as { productGrid: unknown[] }).productGrid).toHaveLength(3)
    expect((before.totals as { analytics: { totals: { events: number } } }).analytics.totals.events).toBe(3)

    const cases: Array<{ label: string; query: string; variables: Record<string, unknown>; payload: string }> = []
    for (const { key: k, operation, field } of rootFields(schema)) {
      if (operation === 'subscription') continue
      for (const pos of stringPositions(field, k.split('.')[0]!)) {
        for (const payload of PAYLOADS) {
          const { query, variables } = documentFor(operation, k.split('.')[0]!, field, { arg: pos.arg.name, path: pos.path, payload })
          cases.push({ label: pos.label, query, variables, payload })
        }
      }
    }
    for (const [label, query] of Object.entries(NESTED_STRING_ARGS)) for (const payload of PAYLOADS) cases.push({ label, query, variables: { p: payload }, payload })
    expect(cases.length).toBeGreaterThan(PAYLOADS.length * 40)

    const problems: string[] = []
    const queue = [...cases]
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const res = await post(server, c.query, c.variables, server.adminToken)
        const short = `${c.label} <- ${JSON.stringify(c.payload.slice(0, 40))}`
        if (res.status >= 500) problems.push(`${short}: HTTP ${res.status} ${res.text.slice(0, 300)}`)
        for (const e of res.errors ?? []) {
          const code = String(e.extensions?.code)
          if (!ALLOWED_REFUSALS.has(code)) problems.push(`${short}: ${code} ${e.message.slice(0, 300)}`)
          const leak = leakIn(e.message, c.payload)
          if (leak) problems.push(`${short}: message leaks "${leak[0]}": ${e.message.slice(0, 300)}`)
        }
        if (!res.errors && !res.data) problems.push(`${short}: neither data nor errors`)
      }
    }
    await Promise.all([worker(), worker(), worker()])
    expect(problems).toEqual([])
    expect(await snapshot()).toEqual(before)
  })

  it('subscription arguments: an injected product id or category still matches only itself', async () => {
    const c = wsClient(server, read)
    clients.push(c)
    for (const payload of PAYLOADS) {
      // By product id: the payload is the id of the product whose stock moves (ids are stored trimmed).
      const id = payload.trim()
      const byId = subscribeOnce(c, SUBSCRIPTION, { products: [id] })
      const other = subscribeOnce(c, SUBSCRIPTION, { products: [`${id}x`] }, 600)
      await subscribers(server.services.feed, (n) => n >= 2)
      let accepted = 0
      const write = async () => {
        const w = await post(server, 'mutation Q($p: ID!) { ingestWarehouseStock(updates: [{ product: $p, store: "m", amount: 1 }]) { accepted } }', { p: payload }, server.adminToken)
        expect(w.errors, JSON.stringify(payload.slice(0, 40))).toBeUndefined()
        accepted = (w.data!.ingestWarehouseStock as { accepted: number }).accepted
      }
      await write()
      // An id the store refuses (too long) is quarantined: no stock moves, nothing to deliver.
      if (accepted === 1) {
        const first = await Promise.race([byId.outcome, new Promise<null>((r) => setTimeout(() => r(null), 1500))])
        expect(first ?? (await writeUntilDelivered(byId.outcome, write))).toMatchObject({ next: { stockChanged: { product: id } } })
      }
      byId.dispose()
      expect(await other.outcome).toEqual({ timeout: true })
      other.dispose()
      await subscribers(server.services.feed, (n) => n === 0)
    }
    // By category: a product in a category named like an injection.
    const cat = "' OR 1=1 --"
    const sub = subscribeOnce(c, SUBSCRIPTION, { category: cat })
    await subscribers(server.services.feed, (n) => n >= 1)
    const id = uid('p')
    const up = await post(server, 'mutation Q($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }', { p: [{ id, category: cat, name: 'n', price: 1 }] }, server.adminToken)
    expect(up.errors).toBeUndefined()
    const write = async () => {
      await post(server, 'mutation Q($p: ID!) { ingestWarehouseStock(updates: [{ product: $p, store: "m", amount: 2 }]) { accepted } }', { p: id }, server.adminToken)
    }
    expect(await writeUntilDelivered(sub.outcome, write)).toMatchObject({ next: { stockChanged: { product: id } } })
    sub.dispose()
  })
})

// ---------------------------------------------------------------------------------------------
// Secrets never leak: logs, errors, service data, data directory
// ---------------------------------------------------------------------------------------------

describe('access: token secrets never leak', () => {
  let server: RunningServer
  const lines: string[] = []
  const consoleLines: string[] = []
  const answers: string[] = []
  const adminToken = `admin_${randomBytes(24).toString('hex')}`
  const storeConfig = testStoreConfig()
  const spies: Array<{ mockRestore(): void }> = []

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[method].bind(console)
      spies.push(
        vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
          consoleLines.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
          original(...args)
        }),
      )
    }
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString())
        cb()
      },
    })
    const config = loadConfig(
      { PORT: '0', SIGHTLINE_LOG_LEVEL: 'info', SIGHTLINE_ADMIN_TOKEN: adminToken, SIGHTLINE_JWT_SECRET: SECRET, SIGHTLINE_TOKEN_CACHE_MS: '0' },
      { store: storeConfig },
    )
    server = await startServer(config, { logger: pino({ level: 'trace', base: { service: 'sightline' } }, sink) })
  })
  afterAll(async () => {
    await server?.stop()
    for (const s of spies) s.mockRestore()
  })

  it('keeps every secret out of logs, errors, service data and the data directory', async () => {
    const call = async (query: string, variables: Record<string, unknown>, t?: string) => {
      const res = await post(server, query, variables, t)
      answers.push(res.text)
      return res
    }
    const mint = async (scopes: string[], workspaceId?: string) => {
      const res = await call('mutation Q($i: TokenInput!) { createToken(input: $i) { name token } }', { i: { name: uid('leak'), scopes, workspaceId } }, adminToken)
      answers.pop() // this answer is meant to hold the secret
      return res.data!.createToken as { name: string; token: string }
    }
    const read = await mint(['read'])
    const admin = await mint(['admin'])
    const revoked = await mint(['read'])
    const appender = await mint(['append'], 'leak_ws')
    const jwtRes = await call('mutation { createJwt(input: { name: "leak-front", scopes: ["read"], workspaceId: "leak_ws" }) { token } }', {}, adminToken)
    answers.pop()
    const jwt = (jwtRes.data!.createJwt as { token: string }).token
    const tampered = flipSignature(jwt)
    const foreign = (await new JwtService(OTHER_SECRET).sign({ name: 'x', scopes: ['admin'] })).token
    const expired = (await new JwtService(SECRET).sign({ name: 'old', scopes: ['admin'], expiresInSeconds: 1 }, new Date(Date.now() - 60_000))).token

    // Good calls, refused calls, failing calls, with every credential.
    await call('mutation Q($n: String!) { revokeToken(name: $n) }', { n: revoked.name }, admin.token)
    for (const t of [read.token, admin.token, adminToken, jwt, appender.token]) {
      await call('{ productGrid { id } }', {}, t)
      await call('{ ingestLog { table token } }', {}, t)
      await call('{ ecommTrend(timezone: "Nowhere/Never") { start } }', {}, t)
      await call('{ nope }', {}, t)
    }
    for (const t of [revoked.token, tampered, foreign, expired, `${read.token}x`, 'sl_garbage']) {
      const res = await call('{ productGrid { id } }', {}, t)
      expect(res.status).toBe(401)
    }
    await call('mutation Q($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted quarantined errors { message } } }', {
      e: [{ app: 'PAGE', action: 'view', workspaceId: 'other_ws', sessionId: 's', visitorId: 'v' }],
    }, appender.token)
    // WebSocket: a good socket and refused ones.
    for (const t of [read.token, jwt, tampered, revoked.token]) {
      const c = wsClient(server, t)
      const sub = subscribeOnce(c, SUBSCRIPTION, { products: ['x'] }, 800)
      answers.push(JSON.stringify(await sub.outcome))
      sub.dispose()
      await c.dispose()
    }
    // What admins can read back: service logs and quarantine.
    for (const q of ['{ errorLog(limit: 1000) { operation code message } }', '{ ingestLog(limit: 1000) { table token } }', '{ operationStats { operation } }', '{ quarantine(table: "app_events") { row reason } }']) {
      const res = await call(q, {}, adminToken)
      expect(res.errors, q).toBeUndefined()
    }

    const secrets: Record<string, string> = {
      'bootstrap admin token': adminToken,
      'JWT secret': SECRET,
      'read token': read.token,
      'admin token': admin.token,
      'revoked token': revoked.token,
      'append token': appender.token,
      JWT: jwt,
      'JWT signature': jwt.split('.')[2]!,
      'tampered JWT': tampered,
      'foreign JWT': foreign,
      'expired JWT': expired,
    }
    await new Promise((r) => setTimeout(r, 200)) // let pino's sink and the service log settle
    const logs = [...lines, ...consoleLines].join('\n')
    expect(lines.length).toBeGreaterThan(5) // the capture works: requests were logged
    const allAnswers = answers.join('\n')
    for (const [what, secret] of Object.entries(secrets)) {
      expect(logs.includes(secret), `${what} in the logs`).toBe(false)
      expect(allAnswers.includes(secret), `${what} in an answer`).toBe(false)
    }

    // The tokens table holds hashes only.
    const rawClient = createConnection(storeConfig)
    try {
      const rs = await rawClient.query({ query: `SELECT * FROM ${storeConfig.database}.tokens`, format: 'JSONEachRow' })
      const rows = await rs.json<Record<string, unknown>>()
      expect(rows.length).toBeGreaterThanOrEqual(4)
      const dump = JSON.stringify(rows)
      for (const [what, secret] of Object.entries(secrets)) expect(dump.includes(secret), `${what} in the tokens table`).toBe(false)
      expect(dump).toContain(hashSecret(read.token))
    } finally {
      await rawClient.close()
    }

    // And no file of the data directory holds any secret's bytes.
    await server.stop()
    for (const [what, secret] of Object.entries(secrets)) {
      const { scanned, found } = filesHolding(storeFilesDir(storeConfig), Buffer.from(secret))
      expect(scanned).toBeGreaterThan(0)
      expect(found, `${what} in the data directory`).toEqual([])
    }
  })
})
