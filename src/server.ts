import 'reflect-metadata'
import { pino, type Logger } from 'pino'
import { compose } from './composition.js'
import type { Config } from './config.js'
import type { Services } from './context.js'
import { Cors } from './cors.js'
import { sendJson } from './http.js'
import { restRoute } from './rest/index.js'
import { operationRunner } from './rest/operation.js'
import { domainOf } from './resolvers/domain.js'
import { productGridPassThrough } from './resolvers/ecommerce.resolver.js'
import { createSchema } from './schema/index.js'
import { LiveSchema, type ProjectHost } from './graphql-project/host.js'
import { createExecution, tableStatesOf, writesThrough } from './execution/index.js'
import type { Store } from './store/store.js'
import { Access } from './transport/access.js'
import { startApollo } from './transport/apollo.js'
import type { Gateway, HttpRoute } from './transport/gateway.js'
import { HttpServer } from './transport/http-server.js'
import { clientGone } from './transport/operation.js'
import { startWebSocket } from './transport/websocket.js'
import { webRoute } from './web.js'

export interface RunningServer {
  /** `http://host:port/graphql` */
  readonly url: string
  /** `ws://host:port/graphql` */
  readonly wsUrl: string
  readonly port: number
  readonly services: Services
  /** The loaded Tinybird project (`SIGHTLINE_PROJECT`), for `sightline dev` to reload. */
  readonly project?: ProjectHost | undefined
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
  /** The loaded project's `TOKEN` lines minted at this start: their secrets, to show once. */
  readonly onProjectTokens?: (minted: ReadonlyArray<{ name: string; secret: string; scopes: readonly string[] }>) => void
}

const GRAPHQL_PATH = '/graphql'

/** How long a stop waits for subscriptions to complete, then for sockets to close, before cutting them. */
const WS_GRACE_MS = 1000

/**
 * Starts Sightline: the services (composition.ts), then one HTTP server for GraphQL over HTTP (Apollo) and
 * WebSocket (graphql-ws), the Tinybird REST API, the web app, health, readiness and metrics. It listens
 * before migrating, so /healthz answers at once and /readyz turns 200 when the store is migrated; it
 * resolves once ready.
 */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: 'sightline' } })
  const app = await compose(config, log, options.store)
  const { services, metrics } = app
  const { store, feed, tokens } = services
  // The built-in schema, plus the loaded project's `pipes` once applied (and after each `sightline dev` reload).
  const base = await createSchema()
  // perf (src/execution): plain fields, the store-written grid, graphql-jit, and the read cache when SIGHTLINE_READ_CACHE is on.
  const execution = createExecution(base, config, log, tableStatesOf(store), metrics.registry, [productGridPassThrough])
  const schema = new LiveSchema(base, app.project, (s) => execution.executorFor(s))
  const access = new Access(tokens, app.limiter, services.telemetry, config.trustProxy)
  const http = new HttpServer(config.keepAliveMs, log)
  const ws = startWebSocket(GRAPHQL_PATH, config, services, access, schema, http.server, metrics, log)
  const apollo = await startApollo(config, services, access, schema, http.server, new Cors(config.corsOrigins), () => ws.dispose())
  let ready = false
  let beforeStop: (() => Promise<void>) | void = undefined

  // perf: every write through the REST surface answers once the cached reads it made stale are dropped.
  const domain = domainOf(services)
  const writing = new WeakMap<object, NonNullable<Gateway['project']>>()
  const writingProject = (project: NonNullable<Gateway['project']>) => {
    let proxy = writing.get(project)
    if (!proxy) writing.set(project, (proxy = writesThrough(project, ['append', 'copy', 'truncate', 'delete'], execution)))
    return proxy
  }
  const gateway: Gateway = {
    maxBodyBytes: config.maxBodyBytes,
    csvFormulaGuard: config.csvFormulaGuard,
    clientAddress: access.addressOf,
    log,
    maxBatch: config.maxBatch,
    datasources: writesThrough(app.datasources, ['truncate', 'delete'], execution),
    sql: app.sql,
    catalog: app.catalog,
    get project() {
      const project = app.projectReady ? app.project?.service : undefined
      return project && writingProject(project)
    },
    tokens,
    rateOf: access.rateOf,
    principalOf: access.principalOf,
    domain: { ...domain, ingest: writesThrough(domain.ingest, ['append', 'appendNdjson'], execution) },
    cache: execution.cache,
    run: operationRunner(services.telemetry, store),
    within: (scope, fn) => store.forRequest(scope, fn),
  }
  // Every request to a surface is cancelled (its queued store statements dropped) when its client goes away.
  const cancellable = (route: HttpRoute): HttpRoute => (req, res, url) => store.forRequest({ signal: clientGone(res) }, () => route(req, res, url))
  http.route({
    paths: {
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      '/readyz': async (_req, res) => {
        const ok = ready && (await store.ping().then(() => true, () => false))
        sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' })
      },
      '/metrics': async (_req, res) => {
        metrics.liveSubscriptions.set(feed.subscriberCount)
        res.writeHead(200, { 'content-type': metrics.contentType })
        res.end(await metrics.render())
      },
      [GRAPHQL_PATH]: apollo.serve,
    },
    surfaces: [cancellable(restRoute(gateway)), webRoute(gateway)],
  })
  const port = await http.listen(config.port, config.host)
  const host = config.host.includes(':') ? `[${config.host}]` : config.host

  // The stop order: nothing new is ready; start-up work ends; sockets stop being re-checked; the feed's
  // iterators end, so graphql-ws sends Complete for every subscription, and those frames go out before
  // Apollo's drain closes the sockets (1001), which would drop them; then HTTP and WebSocket close, and
  // last the services (the service log's last records, then the store).
  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      ready = false
      if (beforeStop) await beforeStop().catch((err: unknown) => log.warn({ err }, 'stopping start-up work failed'))
      ws.closeRegistry()
      feed.close()
      await ws.subscriptionsCompleted(WS_GRACE_MS)
      // The drain waits for every closing handshake; a client that stopped reading never answers.
      const cut = setTimeout(() => ws.terminate(), WS_GRACE_MS)
      try {
        await apollo.stop()
      } finally {
        clearTimeout(cut)
      }
      await ws.close()
      await http.close()
      execution.close() // perf
      await app.close()
    })())

  try {
    await app.start(options.onProjectTokens)
    if (options.beforeReady) beforeStop = await options.beforeReady(services)
    await execution.start() // perf: the read cache's first poll of the tables
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
  const url = `http://${host}:${port}${GRAPHQL_PATH}`
  log.info({ url, store: config.store.url ? 'remote' : 'embedded' }, 'sightline ready')
  return { url, wsUrl: `ws://${host}:${port}${GRAPHQL_PATH}`, port, services, project: app.project, stop }
}
