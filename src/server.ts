import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server'
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer'
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled'
import { execute, getOperationAST, GraphQLError, parse, type DocumentNode, type ExecutionResult, type GraphQLFormattedError } from 'graphql'
import { useServer } from 'graphql-ws/use/ws'
import { pino, type Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { AuthFailureLimiter } from './auth/auth-failures.js'
import { JwtService } from './auth/jwt.js'
import { RateLimiter, type KeyRate } from './auth/rate-limit.js'
import { DatasourceService } from './domain/datasources.js'
import { ProjectService } from './domain/project.js'
import { DATASOURCES } from './catalog/datasources.js'
import { SqlService } from './domain/sql.js'
import { bearer, TokenService } from './auth/tokens.js'
import type { Principal } from './auth/scopes.js'
import type { Config } from './config.js'
import { createContext, type Context, type Services } from './context.js'
import { ErrorCode, formatError, RateLimitedError, StoreUnavailableGraphQLError, toGraphQLError, UnauthenticatedError, withStatus } from './errors.js'
import { limitedValidate, queryLimitRules } from './limits.js'
import { sharedSubscribe } from './live/shared-execution.js'
import { StockFeed } from './live/stock-feed.js'
import { Metrics } from './metrics.js'
import { ServiceLog } from './service-log.js'
import { emptyQueryStats } from './store/query-stats.js'
import { Telemetry } from './telemetry.js'
import { createSchema } from './schema/index.js'
import { ClickHouseStore } from './store/clickhouse-store.js'
import type { Store } from './store/store.js'
import { StoreUnavailableError } from './store/errors.js'
import { readBody, sendJson } from './http.js'
import { introspectionGuard, introspectionRefusal } from './introspection.js'
import { PIPES, restRoute } from './rest/index.js'
import { operationRunner } from './rest/operation.js'
import { domainOf } from './resolvers/domain.js'
import { webRoute } from './web.js'
import { Cors } from './cors.js'
import { clientAddress, SocketRegistry } from './sockets.js'
import { storeBusyStatus } from './overload.js'
import type { Gateway, HttpRoute, RequestLabel } from './transport/gateway.js'

export interface RunningServer {
  /** `http://host:port/graphql` */
  readonly url: string
  /** `ws://host:port/graphql` */
  readonly wsUrl: string
  readonly port: number
  readonly services: Services
  /** Drains HTTP and WebSocket, completes subscriptions, then closes the store. */
  stop(): Promise<void>
}

export interface ServerOptions {
  /** A store to serve instead of opening one from config (it is still migrated and closed). */
  readonly store?: Store
  readonly logger?: Logger
  /**
   * Work to finish after migrations and before /readyz turns 200 (the demo's data and tokens). What it
   * returns runs first when the server stops.
   */
  readonly beforeReady?: (services: Services) => Promise<(() => Promise<void>) | void>
}

/** Builds the extra HTTP surfaces once the gateway is up; they are tried in order before /graphql. */
const ROUTES: ReadonlyArray<(gateway: Gateway) => HttpRoute> = [restRoute, webRoute]

const GRAPHQL_PATH = '/graphql'

/**
 * Starts Sightline: one http.Server for GraphQL over HTTP and WebSocket, health, readiness and
 * metrics. It listens before migrating, so /healthz answers at once and /readyz turns 200 when the
 * store is migrated; it resolves once ready.
 */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: 'sightline' } })
  // A Tinybird project is parsed before anything opens: a bad datafile stops the start with file:line.
  if (config.project && config.project.database === config.store.database) {
    throw new Error(`SIGHTLINE_PROJECT_DATABASE must differ from CLICKHOUSE_DATABASE (both are "${config.store.database}")`)
  }
  const parsedProject = config.project ? ProjectService.parse(config.project.dir, config.project.database) : undefined
  const metrics = new Metrics()
  const store =
    options.store ?? ClickHouseStore.open(config.store, ({ kind, ms }) => metrics.storeDuration.observe({ kind }, ms / 1000), config.workload)
  let project: ProjectService | undefined
  let projectReady = false
  if (config.project && parsedProject) {
    if (!(store instanceof ClickHouseStore)) {
      await store.close()
      throw new Error('SIGHTLINE_PROJECT needs the ClickHouse store')
    }
    project = new ProjectService(parsedProject, store.project(config.project.database), {
      builtinPipes: new Set(PIPES.keys()),
      builtinDatasources: new Set(DATASOURCES.flatMap((d) => [d.name, ...(d.aliases ?? [])])),
      secrets: config.project.secrets,
      vars: config.project.vars,
    })
  }
  if (store instanceof ClickHouseStore) metrics.observeWorkload(store.workload)
  const serviceLog = new ServiceLog(store, { onError: (err, dropped) => log.warn({ err, dropped }, 'service log write failed') })
  const telemetry = new Telemetry(metrics, serviceLog, log)
  const feed = new StockFeed(store, {
    pollMs: config.pollMs,
    lowStockThreshold: config.lowStockThreshold,
    onError: (err) => log.warn({ err }, 'stock feed poll failed'),
  })
  const tokens = new TokenService(store, config.adminToken, config.tokenCacheMs, new JwtService(config.jwtSecret, config.jwtMaxLifetimeSeconds), {
    failures: new AuthFailureLimiter(config.authFailures.perMinute, config.authFailures.burst),
    onFailure: ({ address, prefix, throttled }) =>
      throttled ? log.debug({ address, prefix }, 'authentication refused: too many failures') : log.warn({ address, prefix }, 'authentication failed'),
  })
  const services: Services = { config, store, tokens, feed, telemetry }
  const limiter = new RateLimiter(config.rateLimit, config.rateBurst)
  const schema = await createSchema()
  const cors = new Cors(config.corsOrigins)
  let ready = false
  let beforeStop: (() => Promise<void>) | void = undefined

  const addressOf = (req: IncomingMessage) => clientAddress(req, config.trustProxy)
  const httpServer = createServer({ keepAliveTimeout: config.keepAliveMs, headersTimeout: config.keepAliveMs + 1000 })
  const sockets = new SocketRegistry({
    maxPerAddress: config.websocket.maxPerAddress,
    recheckMs: Math.max(100, Math.min(1000, config.tokenCacheMs)),
    gauge: metrics.subscriptions,
    authenticate: (header) => authenticate(services, header),
    log,
  })
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: GRAPHQL_PATH,
    maxPayload: config.maxBodyBytes,
    verifyClient: ({ req }, done) => (sockets.admits(addressOf(req)) ? done(true) : done(false, 429, 'Too many connections from this address')),
  })
  // graphql-ws awaits each send, so a client that stops reading holds back only its own subscriptions
  // (their feed queues coalesce). A send fails only when the socket is gone (cut by keep-alive or stop,
  // or reset by the client; ws then closes it and graphql-ws ends its subscriptions): like graphql-ws's
  // sends after close, such a frame had no one to reach, not an internal error to log with a stack.
  wsServer.on('connection', (socket, req) => {
    sockets.opened(socket, addressOf(req))
    const send = socket.send.bind(socket) as (data: string, cb: (err?: Error) => void) => void
    socket.send = ((data: string, cb?: (err?: Error) => void) =>
      send(data, (err) => {
        if (err) log.debug({ err }, 'websocket frame not sent: the socket is gone')
        cb?.()
      })) as typeof socket.send
  })
  // Accepted graphql-ws connections, so stop() can wait for their subscriptions to complete.
  const wsConnections = new Set<{ readonly subscriptions: Readonly<Record<string, unknown>> }>()
  const validateWs = limitedValidate(config.queryLimits)
  const wsStarted = new WeakMap<Context, number>()
  const wsCleanup = useServer<Record<string, unknown> | undefined, { principal?: Principal | null; authorization?: string }>(
    {
      schema,
      isProd: !config.development,
      connectionInitWaitTimeout: config.websocket.initTimeoutMs,
      subscribe: sharedSubscribe((contextValue) => {
        const principal = (contextValue as Context).principal
        return principal ? JSON.stringify([principal.name, [...principal.scopes].sort(), principal.workspaceId]) : ''
      }),
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization
        let principal: Principal | null
        try {
          principal = typeof header === 'string' ? await authenticate(services, header, addressOf(ctx.extra.request)) : null
        } catch (err) {
          // Too many failed authentications from this address: refused like a bad token, unchecked.
          if (err instanceof GraphQLError && err.extensions.code === ErrorCode.RATE_LIMITED) return false
          throw err
        }
        if (!principal) return false // graphql-ws closes with 4403 Forbidden
        ctx.extra.principal = principal
        ctx.extra.authorization = header as string
        // A socket that closed while its token was checked is not kept (its onClose has run already).
        if (!sockets.add(ctx)) return false
        wsConnections.add(ctx)
        return true
      },
      // Every operation on a socket passes the same gates as an HTTP request: the token is checked
      // again (a revoked token or an expired JWT stops at its next operation), the rate limit, the
      // parse and validation limits, and introspection for admins only.
      onSubscribe: async (ctx, _id, payload) => {
        let principal: Principal | null
        try {
          principal = ctx.extra.authorization ? await authenticate(services, ctx.extra.authorization) : null
        } catch (err) {
          if (err instanceof GraphQLError) return [err] // STORE_UNAVAILABLE
          throw err
        }
        if (!principal) return [new UnauthenticatedError('The bearer token is invalid, expired or revoked')]
        ctx.extra.principal = principal
        const decision = limiter.take(rateKey(principal), ownRate(principal))
        if (!decision.allowed) return [new RateLimitedError(decision.retryAfterMs)]
        let document: DocumentNode
        try {
          document = parse(payload.query, { maxTokens: config.queryLimits.maxTokens })
        } catch (err) {
          return [new GraphQLError(err instanceof GraphQLError ? err.message : 'The document could not be parsed', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })]
        }
        const invalid = validateWs(schema, document)
        if (invalid.length > 0) return invalid
        const refusal = introspectionRefusal(document, principal, config.development)
        if (refusal) return [refusal]
        const contextValue = createContext(services, principal, randomUUID())
        wsStarted.set(contextValue, performance.now())
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue }
      },
      // Queries and mutations over the socket count what ClickHouse read, as over HTTP.
      execute: (args) => {
        const { requestId, reads } = args.contextValue as Context
        return store.forRequest({ requestId, stats: reads }, () => execute(args))
      },
      // Recorded like HTTP operations: a query or mutation once answered, a subscription once started.
      onOperation: (_ctx, _id, payload, args, result) => {
        const context = args.contextValue as Context
        const durationMs = performance.now() - (wsStarted.get(context) ?? performance.now())
        const outcome = result as ExecutionResult | AsyncIterable<ExecutionResult> // graphql-ws awaited it
        const errors = Symbol.asyncIterator in outcome ? [] : (outcome.errors ?? []).map((e) => formatError(e.toJSON(), e))
        const name = payload.operationName ?? getOperationAST(args.document, args.operationName)?.name?.value
        telemetry.operation(context, name ?? undefined, durationMs, errors)
      },
      onClose: (ctx) => {
        wsConnections.delete(ctx)
        sockets.delete(ctx)
      },
      onNext: (_ctx, _id, _payload, _args, result) => formatResult(result as ExecutionResult),
      onError: (_ctx, _id, payload, errors) => {
        for (const e of errors) if (!e.extensions.code) log.error({ err: e.originalError ?? e }, 'subscription failed')
        const formatted = errors.map((e) => formatError(e.toJSON(), e))
        telemetry.subscriptionErrors(payload.operationName ?? undefined, formatted)
        return formatted
      },
    },
    wsServer,
  )

  const apollo = new ApolloServer<Context>({
    schema,
    validationRules: queryLimitRules(config.queryLimits),
    parseOptions: { maxTokens: config.queryLimits.maxTokens },
    allowBatchedHttpRequests: false,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // No "did you mean" hints: they would reveal field names while introspection is closed.
    hideSchemaDetailsFromClientErrors: !config.development,
    csrfPrevention: true,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      // Sightline sets no cache hints; the default plugin would wrap every field resolver (thousands per grid).
      ApolloServerPluginCacheControlDisabled(),
      introspectionGuard(config.development),
      httpSubscriptionGuard,
      storeBusyStatus,
      telemetry.apolloPlugin(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose()
            },
          }
        },
      } satisfies ApolloServerPlugin<Context>,
    ],
  })
  await apollo.start()

  const gateway: Gateway = {
    maxBodyBytes: config.maxBodyBytes,
    csvFormulaGuard: config.csvFormulaGuard,
    clientAddress: addressOf,
    log,
    maxBatch: config.maxBatch,
    datasources: new DatasourceService(store, () => feed.nudge()),
    sql: new SqlService(store),
    get project() {
      return projectReady ? project : undefined
    },
    tokens,
    domain: domainOf(services),
    run: operationRunner(telemetry, store),
    rateOf: (principal) => limiter.state(rateKey(principal), ownRate(principal)),
    principalOf,
    async execute(request, principal, requestId, rowSources) {
      const reads = emptyQueryStats()
      const contextValue = createContext(services, principal, requestId, reads, rowSources)
      const response = await store.forRequest({ requestId, stats: reads }, () => apollo.executeOperation(request, { contextValue }))
      if (response.body.kind !== 'single') throw new Error('incremental delivery is not supported here')
      const { singleResult } = response.body
      // What ClickHouse read for this operation, as Tinybird's `statistics` reports it.
      const statistics = { rows_read: reads.rowsRead, bytes_read: reads.bytesRead }
      return { ...singleResult, extensions: { ...singleResult.extensions, statistics } }
    },
  }
  const routes = ROUTES.map((build) => build(gateway))

  httpServer.on('request', (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'request failed')
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] })
      else res.end()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' })
    if (url.pathname === '/readyz') {
      const ok = ready && (await store.ping().then(() => true, () => false))
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' })
    }
    if (url.pathname === '/metrics') {
      metrics.liveSubscriptions.set(feed.subscriberCount)
      res.writeHead(200, { 'content-type': metrics.contentType })
      res.end(await metrics.render())
      return
    }
    if (url.pathname !== GRAPHQL_PATH) {
      for (const route of routes) if (await route(req, res, url)) return
      return sendJson(res, 404, { error: 'not found' })
    }
    if (cors.handle(req, res)) return
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST, OPTIONS')
      return sendJson(res, 405, { error: 'method not allowed' })
    }
    const requestId = randomUUID()
    res.setHeader('x-request-id', requestId)

    let body: unknown
    if (req.method === 'POST') {
      const raw = await readBody(req, config.maxBodyBytes)
      if (raw === null) {
        return sendGraphQLError(res, 413, `The request body exceeds ${config.maxBodyBytes} bytes`, ErrorCode.PAYLOAD_TOO_LARGE)
      }
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'))
      } catch {
        return sendGraphQLError(res, 400, 'The request body is not valid JSON', 'BAD_REQUEST')
      }
    }

    const headers = new HeaderMap()
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value)
    }
    const { method } = req
    const reads = emptyQueryStats()
    // A client that goes away before its answer cancels the statements still queued or running for it.
    const cancelled = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) cancelled.abort()
    })
    const response = await store.forRequest({ requestId, stats: reads, signal: cancelled.signal }, () =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search: url.search, body },
        context: async () => {
          const label = { requestId, operation: operationNameOf(body, url), address: addressOf(req) }
          const principal = await principalOf(req.headers.authorization, label)
          return createContext(services, principal, requestId, reads)
        },
      }),
    )
    for (const [key, value] of response.headers) {
      if (key === 'vary') res.appendHeader(key, value) // keeps CORS's Vary: Origin
      else res.setHeader(key, value)
    }
    res.statusCode = response.status ?? 200
    if (response.body.kind === 'complete') {
      res.end(response.body.string)
      return
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk)
    res.end()
  }

  /**
   * No header: anonymous (operations then answer UNAUTHENTICATED). A bad token fails the request
   * (401), and so does one over its rate limit (429 with Retry-After).
   */
  async function principalOf(header: string | undefined, request: RequestLabel): Promise<Principal | null> {
    if (header === undefined) return null
    try {
      const principal = await authenticate(services, header, request.address)
      if (!principal) throw withStatus(new UnauthenticatedError('The bearer token is invalid, expired or revoked'), 401)
      const decision = limiter.take(rateKey(principal), ownRate(principal))
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs)
      return principal
    } catch (err) {
      if (err instanceof GraphQLError) telemetry.refused({ ...request, code: String(err.extensions.code), message: err.message })
      throw err
    }
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject)
    // A deep accept backlog: a connect storm (thousands of sockets at once) must queue, not be reset.
    httpServer.listen({ port: config.port, host: config.host, backlog: 4096 }, () => resolve())
  })
  const { port } = httpServer.address() as AddressInfo
  const host = config.host.includes(':') ? `[${config.host}]` : config.host

  // How long stop() waits for subscriptions to complete, then for sockets to close, before cutting them.
  const wsGraceMs = 1000
  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      ready = false
      if (beforeStop) await beforeStop().catch((err: unknown) => log.warn({ err }, 'stopping start-up work failed'))
      sockets.close()
      // Ending the feed's iterators makes graphql-ws send Complete for every subscription; let those
      // frames go out before Apollo's drain closes the sockets (1001), which would drop them.
      feed.close()
      const deadline = Date.now() + wsGraceMs
      const running = () => [...wsConnections].some((c) => Object.keys(c.subscriptions).length > 0)
      while (running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
      // The drain waits for every closing handshake; a client that stopped reading never answers.
      const cut = setTimeout(() => {
        for (const client of wsServer.clients) client.terminate()
      }, wsGraceMs)
      try {
        await apollo.stop()
      } finally {
        clearTimeout(cut)
      }
      await new Promise<void>((resolve) => wsServer.close(() => resolve()))
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
      await serviceLog.close()
      await store.close()
    })())

  try {
    const report = await store.migrate()
    if (report.applied.length > 0) log.info({ applied: report.applied }, 'migrations applied')
    await store.setServiceLogTtl(config.serviceLogTtlDays)
    if (project) {
      const { changes } = await project.apply()
      projectReady = true
      log.info({ project: config.project?.dir, database: project.database, changes }, 'Tinybird project loaded')
    }
    if (options.beforeReady) beforeStop = await options.beforeReady(services)
    ready = true
  } catch (err) {
    await stop()
    throw err
  }
  if (!(await tokens.anyCredential().catch(() => true))) {
    log.warn(
      'no credential can authenticate: every request will answer UNAUTHENTICATED. Set SIGHTLINE_ADMIN_TOKEN, ' +
        'or create a token with `npx sightline token create --name NAME --scope SCOPE`, or start the demo (npm run demo)',
    )
  }
  log.info({ url: `http://${host}:${port}${GRAPHQL_PATH}`, store: config.store.url ? 'remote' : 'embedded' }, 'sightline ready')
  return { url: `http://${host}:${port}${GRAPHQL_PATH}`, wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`, port, services, stop }
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

/** Subscriptions run over graphql-ws; over HTTP one would never deliver an update. */
const httpSubscriptionGuard: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== 'subscription') return
        const error = new GraphQLError('Subscriptions run over WebSocket (graphql-ws) at the same path', { extensions: { code: 'BAD_REQUEST' } })
        throw withStatus(error, 400)
      },
    }
  },
}

/** A bearer header to a principal; null when malformed, unknown, revoked or expired. */
async function authenticate(services: Services, header: string, address?: string): Promise<Principal | null> {
  const secret = bearer(header)
  if (!secret) return null
  try {
    return await services.tokens.authenticate(secret, address)
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw withStatus(new StoreUnavailableGraphQLError(), 503)
    const mapped = err instanceof GraphQLError ? undefined : toGraphQLError(err) // STORE_BUSY, QUERY_TIMEOUT
    if (mapped) throw mapped
    throw err
  }
}

/** The operation a client asked for, for logs of requests refused before parsing: its given name, else the document's first. */
function operationNameOf(body: unknown, url: URL): string | undefined {
  const request = (body ?? {}) as { operationName?: unknown; query?: unknown }
  const name = request.operationName ?? url.searchParams.get('operationName')
  if (typeof name === 'string' && name.length > 0) return name
  const query = request.query ?? url.searchParams.get('query')
  return typeof query === 'string' ? /^\s*(?:query|mutation|subscription)\s+([_A-Za-z]\w*)/.exec(query)?.[1] : undefined
}

function formatResult(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result
  return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError) }
}

function sendGraphQLError(res: ServerResponse, status: number, message: string, code: string): void {
  const error: GraphQLFormattedError = { message, extensions: { code } }
  sendJson(res, status, { errors: [error] })
}
