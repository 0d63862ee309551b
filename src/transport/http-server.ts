import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { ErrorCode } from '../errors.js'
import { sendJson } from '../http.js'
import type { HttpRoute } from './gateway.js'

/** Answers one request to an exact path. */
export type PathHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void

/**
 * What the HTTP server answers: exact paths first (health, metrics, /graphql), then each surface in
 * order (REST under /v0/, the web app), else 404.
 */
export interface Routing {
  readonly paths: Readonly<Record<string, PathHandler>>
  readonly surfaces: readonly HttpRoute[]
}

/**
 * The one node:http server every transport shares (graphql-ws upgrades on it too). Keep-alive outlives
 * load balancers' idle timeouts (SIGHTLINE_KEEP_ALIVE_MS); a deep accept backlog lets a connect storm
 * queue instead of being reset. A request that fails unexpectedly answers 500 and is logged.
 */
export class HttpServer {
  readonly server: Server
  private routing: Routing = { paths: {}, surfaces: [] }

  constructor(
    keepAliveMs: number,
    private readonly log: Logger,
  ) {
    this.server = createServer({ keepAliveTimeout: keepAliveMs, headersTimeout: keepAliveMs + 1000 })
    this.server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'request failed')
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] })
        else res.end()
      })
    })
  }

  /** Sets what the server answers (before it listens). */
  route(routing: Routing): void {
    this.routing = routing
  }

  /** Listens; resolves with the port once it does. */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ port, host, backlog: 4096 }, () => resolve())
    })
    return (this.server.address() as AddressInfo).port
  }

  /** Stops listening and resolves once every connection has closed. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const exact = Object.hasOwn(this.routing.paths, url.pathname) ? this.routing.paths[url.pathname] : undefined
    if (exact) return exact(req, res, url)
    for (const surface of this.routing.surfaces) if (await surface(req, res, url)) return
    sendJson(res, 404, { error: 'not found' })
  }
}
