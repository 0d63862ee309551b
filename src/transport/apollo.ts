import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server'
import { ApolloServerErrorCode } from '@apollo/server/errors'
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled'
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer'
import { GraphQLError, type GraphQLFormattedError } from 'graphql'
import { answerBytes, lengthOf, type AnswerBytes } from '../cache/read-cache.js'
import type { Config } from '../config.js'
import type { Cors } from '../cors.js'
import { createContext, type Context, type Services } from '../context.js'
import { ErrorCode, formatError, withStatus } from '../errors.js'
import { readBody, sendJson } from '../http.js'
import { introspectionGuard } from '../introspection.js'
import { queryLimitRules } from '../limits.js'
import { storeBusyStatus } from '../overload.js'
import { emptyQueryStats } from '../store/query-stats.js'
import type { Access } from './access.js'
import { clientGone, operationNameOf } from './operation.js'
import type { LiveSchema } from '../graphql-project/host.js'

export interface ApolloTransport {
  /** Answers a request to /graphql: CORS, then GET or POST through Apollo. */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>
  /** Drains the HTTP server (and, through `onDrain`, the WebSocket server), then stops. */
  stop(): Promise<void>
}

/**
 * GraphQL over HTTP: Apollo Server on the node:http server, its plugins (limits, introspection, overload
 * status, telemetry) and the request path that counts what ClickHouse read and cancels a request whose
 * client went away.
 */
export async function startApollo(
  config: Config,
  services: Services,
  access: Access,
  /** The built-in schema plus a loaded project's `pipes`, swapped on reload (Apollo's gateway hook). */
  schema: LiveSchema,
  httpServer: Server,
  cors: Cors,
  /** Runs when Apollo drains the server, after HTTP requests settle: closes the WebSocket transport. */
  onDrain: () => Promise<void>,
): Promise<ApolloTransport> {
  const { store, telemetry } = services
  const apollo = new ApolloServer<Context>({
    gateway: schema.gateway,
    validationRules: queryLimitRules(config.queryLimits),
    parseOptions: { maxTokens: config.queryLimits.maxTokens },
    allowBatchedHttpRequests: false,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // No "did you mean" hints: they would reveal field names while introspection is closed.
    hideSchemaDetailsFromClientErrors: !config.development,
    csrfPrevention: true,
    // An answer whose bytes are known (the store wrote it, or the read cache keeps it) goes out as those
    // bytes: `serve` writes them in place of this marker. Anything else as Apollo writes it.
    stringifyResult: (value) => {
      const bytes = answerBytes(value)
      const slot = bytes && answerSlot.getStore()
      if (!slot) return bytes ? Buffer.concat(bytes).toString('utf8') : `${JSON.stringify(value)}\n`
      slot.body = bytes
      return AS_BYTES
    },
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
          return { drainServer: onDrain }
        },
      } satisfies ApolloServerPlugin<Context>,
    ],
  })
  await apollo.start()

  return {
    async serve(req, res, url) {
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
          return sendGraphQLError(res, 400, 'The request body is not valid JSON', ApolloServerErrorCode.BAD_REQUEST)
        }
      }
      const headers = new HeaderMap()
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value)
      }
      const { method } = req
      const reads = emptyQueryStats()
      const slot: AnswerSlot = {}
      const response = await answerSlot.run(slot, () =>
        store.forRequest({ requestId, stats: reads, signal: clientGone(res) }, () =>
          apollo.executeHTTPGraphQLRequest({
            httpGraphQLRequest: { method, headers, search: url.search, body },
            context: async () => {
              const label = { requestId, operation: operationNameOf(body, url), address: access.addressOf(req) }
              const principal = await access.principalOf(req.headers.authorization, label)
              return createContext(services, principal, requestId, reads)
            },
          }),
        ),
      )
      for (const [key, value] of response.headers) {
        if (key === 'vary') res.appendHeader(key, value) // keeps CORS's Vary: Origin
        else res.setHeader(key, value)
      }
      res.statusCode = response.status ?? 200
      if (response.body.kind === 'complete') {
        // Bytes, not the string: Node would measure the string's UTF-8 length for Content-Length and then
        // encode it again to write it. A read-cache hit, or an answer the store wrote
        // (src/execution/pass-through.ts), is written from its bytes, never decoded: a 9,091-row grid is
        // 1.7 MB whose emoji make it a two-byte string, and decoding it cost ~6 ms and as much again in GC.
        const text = response.body.string
        if (text !== AS_BYTES || !slot.body) return void res.end(Buffer.from(text, 'utf8'))
        res.setHeader('content-length', lengthOf(slot.body))
        for (const part of slot.body) res.write(part)
        res.end()
        return
      }
      for await (const chunk of response.body.asyncIterator) res.write(chunk)
      res.end()
    },

    stop: () => apollo.stop(),
  }
}

/** Where `stringifyResult` leaves a request's answer when its bytes are known (it sees only the result). */
interface AnswerSlot {
  body?: AnswerBytes
}
const answerSlot = new AsyncLocalStorage<AnswerSlot>()
/** What `stringifyResult` returns for an answer left in the slot: not JSON, so never a real answer. */
const AS_BYTES = '\u0000answer-bytes'

/** Subscriptions run over graphql-ws; over HTTP one would never deliver an update. */
const httpSubscriptionGuard: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== 'subscription') return
        const error = new GraphQLError('Subscriptions run over WebSocket (graphql-ws) at the same path', { extensions: { code: ApolloServerErrorCode.BAD_REQUEST } })
        throw withStatus(error, 400)
      },
    }
  },
}

function sendGraphQLError(res: ServerResponse, status: number, message: string, code: string): void {
  const error: GraphQLFormattedError = { message, extensions: { code } }
  sendJson(res, status, { errors: [error] })
}
