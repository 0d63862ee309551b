import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import type { Gauge } from 'prom-client'
import type { WebSocket } from 'ws'
import type { Principal } from './auth/scopes.js'
import { ErrorCode } from './errors.js'

/** A graphql-ws connection as the registry sees it: its socket, its token and its subscriptions. */
export interface TrackedConnection {
  readonly subscriptions: Readonly<Record<string, unknown>>
  readonly extra: { readonly socket: WebSocket; authorization?: string }
}

export interface SocketRegistryOptions {
  /** Open sockets one client address may hold. */
  readonly maxPerAddress: number
  /** How often the tokens of open connections are checked again, in ms. */
  readonly recheckMs: number
  /** Counts open sockets. */
  readonly gauge: Gauge
  /** A bearer header to its principal, null when invalid, revoked or expired; throws when it cannot tell. */
  readonly authenticate: (authorization: string) => Promise<Principal | null>
  readonly log: Logger
}

/** graphql-ws's close code for a connection that is not (or no longer) allowed. */
const FORBIDDEN = 4403

/**
 * The address a request came from, for per-address limits: the TCP peer, or with `trustProxy` the
 * address the proxy in front saw (the last entry of `X-Forwarded-For`, which that proxy appended).
 */
export function clientAddress(req: Pick<IncomingMessage, 'socket' | 'headers'>, trustProxy = false): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for']
    const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').at(-1)?.trim()
    if (last) return last
  }
  return req.socket.remoteAddress ?? 'unknown'
}

/**
 * The WebSocket side of fairness: counts open sockets (the gauge follows `open` and `close` of the
 * socket itself, so a socket that closes while its ConnectionInit is still being checked is not left
 * counted), caps them per client address, and re-checks the token of every authenticated connection
 * every `recheckMs`: a revoked token or an expired JWT gets an error frame for each of its
 * subscriptions, then the socket closes with 4403, as graphql-ws closes a refused ConnectionInit.
 */
export class SocketRegistry {
  private readonly perAddress = new Map<string, number>()
  private readonly connections = new Set<TrackedConnection>()
  private timer: NodeJS.Timeout | undefined
  private checking = false

  constructor(private readonly options: SocketRegistryOptions) {}

  /** Whether another socket from `address` may open (ws's verifyClient). */
  admits(address: string): boolean {
    return (this.perAddress.get(address) ?? 0) < this.options.maxPerAddress
  }

  /** Counts an open socket until it closes. */
  opened(socket: WebSocket, address: string): void {
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1)
    this.options.gauge.inc()
    socket.once('close', () => {
      const left = (this.perAddress.get(address) ?? 1) - 1
      if (left > 0) this.perAddress.set(address, left)
      else this.perAddress.delete(address)
      this.options.gauge.dec()
    })
  }

  /** Authenticated connections whose tokens are re-checked; false when the socket closed meanwhile. */
  add(connection: TrackedConnection): boolean {
    if (connection.extra.socket.readyState !== connection.extra.socket.OPEN) return false
    this.connections.add(connection)
    this.timer ??= setInterval(() => {
      this.recheck().catch((err: unknown) => this.options.log.error({ err }, 'websocket token re-check failed'))
    }, this.options.recheckMs).unref()
    return true
  }

  delete(connection: TrackedConnection): void {
    this.connections.delete(connection)
    if (this.connections.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  /** Connections being re-checked (authenticated and open). */
  get size(): number {
    return this.connections.size
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.connections.clear()
  }

  /** Checks each distinct token once; ends the connections of the ones no longer valid. */
  async recheck(): Promise<void> {
    if (this.checking) return
    this.checking = true
    try {
      const byToken = new Map<string, TrackedConnection[]>()
      for (const c of this.connections) {
        const header = c.extra.authorization
        if (header === undefined) continue
        const list = byToken.get(header)
        if (list) list.push(c)
        else byToken.set(header, [c])
      }
      for (const [header, connections] of byToken) {
        let principal: Principal | null
        try {
          principal = await this.options.authenticate(header)
        } catch (err) {
          // The store cannot tell (down or busy): keep the sockets, ask again next time.
          this.options.log.debug({ err }, 'websocket token re-check deferred')
          continue
        }
        if (principal) continue
        for (const c of connections) this.end(c)
      }
    } finally {
      this.checking = false
    }
  }

  private end(connection: TrackedConnection): void {
    this.delete(connection)
    const { socket } = connection.extra
    const error = { message: 'The bearer token was revoked or has expired', extensions: { code: ErrorCode.UNAUTHENTICATED } }
    for (const id of Object.keys(connection.subscriptions)) socket.send(JSON.stringify({ id, type: 'error', payload: [error] }))
    socket.close(FORBIDDEN, 'Forbidden')
    this.options.log.info({ subscriptions: Object.keys(connection.subscriptions).length }, 'websocket closed: token revoked or expired')
  }
}
