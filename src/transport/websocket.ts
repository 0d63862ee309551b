import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { ApolloServerErrorCode } from '@apollo/server/errors'
import { getOperationAST, GraphQLError, parse, type DocumentNode, type ExecutionResult } from 'graphql'
import { useServer } from 'graphql-ws/use/ws'
import type { Logger } from 'pino'
import { WebSocket, WebSocketServer } from 'ws'
import type { Principal } from '../auth/scopes.js'
import type { Config } from '../config.js'
import { createContext, type Context, type Services } from '../context.js'
import { ErrorCode, formatError, RateLimitedError, UnauthenticatedError } from '../errors.js'
import { introspectionRefusal } from '../introspection.js'
import { limitedValidate } from '../limits.js'
import { sharedSubscribe, type SubscriptionSink } from '../live/shared-execution.js'
import type { Metrics } from '../metrics.js'
import { SocketRegistry } from '../sockets.js'
import type { Access } from './access.js'
import type { LiveSchema } from '../graphql-project/host.js'

export interface WebSocketTransport {
  /** Stops re-checking tokens and accepting sockets' new work (the first step of a stop). */
  closeRegistry(): void
  /** Waits (at most `graceMs`) until every subscription has completed. */
  subscriptionsCompleted(graceMs: number): Promise<void>
  /** Closes every graphql-ws connection (Apollo's drain calls it). */
  dispose(): Promise<void>
  /** Cuts the sockets that are still open (clients that stopped reading never answer a close). */
  terminate(): void
  close(): Promise<void>
}

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server's /graphql path: per-address socket limits,
 * the token checked at ConnectionInit and again at every operation, the same parse, validation,
 * introspection and rate gates as HTTP, subscriptions shared between identical subscribers
 * (`sharedSubscribe`), and queries and mutations counted and recorded like HTTP operations.
 */
export function startWebSocket(
  path: string,
  config: Config,
  services: Services,
  access: Access,
  /** The built-in schema plus a loaded project's `pipes`, swapped on reload: each operation uses the current one. */
  schema: LiveSchema,
  httpServer: Server,
  metrics: Metrics,
  log: Logger,
): WebSocketTransport {
  const { store, telemetry } = services
  const sockets = new SocketRegistry({
    maxPerAddress: config.websocket.maxPerAddress,
    recheckMs: Math.max(100, Math.min(1000, config.tokenCacheMs)),
    gauge: metrics.subscriptions,
    authenticate: (header) => access.authenticate(header),
    log,
  })
  const wsServer = new WebSocketServer({
    server: httpServer,
    path,
    maxPayload: config.maxBodyBytes,
    verifyClient: ({ req }, done) => (sockets.admits(access.addressOf(req)) ? done(true) : done(false, 429, 'Too many connections from this address')),
  })
  // graphql-ws awaits each send, so a client that stops reading holds back only its own subscriptions
  // (their feed queues coalesce). A send fails only when the socket is gone (cut by keep-alive or stop,
  // or reset by the client; ws then closes it and graphql-ws ends its subscriptions): like graphql-ws's
  // sends after close, such a frame had no one to reach, not an internal error to log with a stack.
  wsServer.on('connection', (socket, req) => {
    sockets.opened(socket, access.addressOf(req))
    const send = socket.send.bind(socket) as (data: string, cb: (err?: Error) => void) => void
    socket.send = ((data: string, cb?: (err?: Error) => void) =>
      send(data, (err) => {
        if (err) log.debug({ err }, 'websocket frame not sent: the socket is gone')
        cb?.()
      })) as typeof socket.send
  })
  // Accepted graphql-ws connections, so a stop can wait for their subscriptions to complete.
  const connections = new Set<{ readonly subscriptions: Readonly<Record<string, unknown>> }>()
  const validate = limitedValidate(config.queryLimits)
  const started = new WeakMap<Context, number>()
  /** Each subscription's socket and id, by its context, for `sharedSubscribe` to write its messages to. */
  const sinks = new WeakMap<Context, SubscriptionSink>()
  const cleanup = useServer<Record<string, unknown> | undefined, { principal?: Principal | null; authorization?: string }>(
    {
      schema: () => schema.current,
      isProd: !config.development,
      connectionInitWaitTimeout: config.websocket.initTimeoutMs,
      // A subscription's result depends on its document, variables and the caller's effective scopes and
      // workspace binding, not on which token it came with: equal subscriptions share one execution and
      // one serialised payload per event, which `sharedSubscribe` writes to each socket behind its id.
      subscribe: sharedSubscribe({
        callerKey: (contextValue) => {
          const principal = (contextValue as Context).principal
          return principal ? JSON.stringify([[...principal.scopes].sort(), principal.workspaceId ?? null]) : ''
        },
        format: formatResult,
        sinkOf: (contextValue) => sinks.get(contextValue as Context),
      }),
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization
        let principal: Principal | null
        try {
          principal = typeof header === 'string' ? await access.authenticate(header, access.addressOf(ctx.extra.request)) : null
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
        connections.add(ctx)
        return true
      },
      // Every operation on a socket passes the same gates as an HTTP request: the token is checked
      // again (a revoked token or an expired JWT stops at its next operation), the rate limit, the
      // parse and validation limits, and introspection for admins only.
      onSubscribe: async (ctx, id, payload) => {
        let principal: Principal | null
        try {
          principal = ctx.extra.authorization ? await access.authenticate(ctx.extra.authorization) : null
        } catch (err) {
          if (err instanceof GraphQLError) return [err] // STORE_UNAVAILABLE
          throw err
        }
        if (!principal) return [new UnauthenticatedError('The bearer token is invalid, expired or revoked')]
        ctx.extra.principal = principal
        const decision = access.take(principal)
        if (!decision.allowed) return [new RateLimitedError(decision.retryAfterMs)]
        let document: DocumentNode
        try {
          document = parse(payload.query, { maxTokens: config.queryLimits.maxTokens })
        } catch (err) {
          return [new GraphQLError(err instanceof GraphQLError ? err.message : 'The document could not be parsed', { extensions: { code: ApolloServerErrorCode.GRAPHQL_PARSE_FAILED } })]
        }
        const invalid = validate(schema.current, document)
        if (invalid.length > 0) return invalid
        const refusal = introspectionRefusal(document, principal, config.development)
        if (refusal) return [refusal]
        const contextValue = createContext(services, principal, randomUUID())
        started.set(contextValue, performance.now())
        sinks.set(contextValue, socketSink(ctx.extra.socket, ctx.extra.request.socket, id))
        return { schema: schema.current, document, operationName: payload.operationName, variableValues: payload.variables, contextValue }
      },
      // Queries and mutations over the socket count what ClickHouse read, as over HTTP.
      execute: (args) => {
        const { requestId, reads } = args.contextValue as Context
        return store.forRequest({ requestId, stats: reads }, () => schema.execute(args))
      },
      // Recorded like HTTP operations: a query or mutation once answered, a subscription once started.
      onOperation: (_ctx, _id, payload, args, result) => {
        const context = args.contextValue as Context
        const durationMs = performance.now() - (started.get(context) ?? performance.now())
        const outcome = result as ExecutionResult | AsyncIterable<ExecutionResult> // graphql-ws awaited it
        const errors = Symbol.asyncIterator in outcome ? [] : (outcome.errors ?? []).map((e) => formatError(e.toJSON(), e))
        const name = payload.operationName ?? getOperationAST(args.document, args.operationName)?.name?.value
        telemetry.operation(context, name ?? undefined, durationMs, errors)
      },
      onClose: (ctx) => {
        connections.delete(ctx)
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

  return {
    closeRegistry: () => sockets.close(),
    async subscriptionsCompleted(graceMs) {
      const deadline = Date.now() + graceMs
      const running = () => [...connections].some((c) => Object.keys(c.subscriptions).length > 0)
      while (running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    },
    dispose: async () => {
      await cleanup.dispose()
    },
    terminate() {
      for (const client of wsServer.clients) client.terminate()
    },
    close: () => new Promise<void>((resolve) => wsServer.close(() => resolve())),
  }
}

/**
 * A subscription's messages written straight to its socket. A write the socket could not take at once
 * (more than `BACKED_UP_BYTES` wait to go out: its reader is behind) returns a promise of its flush, and
 * the subscription waits for it.
 */
function socketSink(socket: WebSocket, tcp: Socket, id: string): SubscriptionSink {
  return {
    id,
    write(message) {
      if (socket.readyState !== WebSocket.OPEN) return undefined
      let flushed = false
      let resume: (() => void) | undefined
      batchWrites(tcp)
      // The connection's `send` calls back once the frame is flushed, or failed because the socket is gone.
      socket.send(message, () => {
        flushed = true
        resume?.()
      })
      if (flushed || socket.bufferedAmount < BACKED_UP_BYTES) return undefined
      return new Promise<void>((resolve) => (resume = resolve))
    },
  }
}

/** Bytes a socket may hold unsent before its subscriptions wait for them to flush (Node's default high-water mark). */
const BACKED_UP_BYTES = 16 * 1024

/** Sockets written to since the event loop last reached its check phase. */
const writtenThisTurn = new Set<Socket>()

/**
 * A burst of updates to one socket goes out in one system call per turn of the event loop instead of one
 * each (a write costs ~25 µs of the main thread on this VM; 250 subscribers of a 2,000-event-a-second
 * ingest get ~45,000 updates a second). A socket's first write of a turn goes out at once, so a lone update
 * waits for nothing; the ones after it are corked until the check phase.
 */
function batchWrites(tcp: Socket): void {
  if (!writtenThisTurn.has(tcp)) {
    if (writtenThisTurn.size === 0) setImmediate(endTurn)
    writtenThisTurn.add(tcp)
    return
  }
  // ws corks and uncorks within each send, so between sends a socket is corked only by this.
  if (tcp.writableCorked === 0) tcp.cork()
}

function endTurn(): void {
  for (const tcp of writtenThisTurn) if (tcp.writableCorked > 0) tcp.uncork()
  writtenThisTurn.clear()
}

function formatResult(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result
  return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError) }
}
