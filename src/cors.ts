import type { IncomingMessage, ServerResponse } from 'node:http'

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/
/** What a browser may send to /graphql: the token, JSON, and Apollo's CSRF-prevention headers. */
const ALLOWED_HEADERS = 'authorization, content-type, apollo-require-preflight, x-apollo-operation-name, x-request-id'
/** What a page's script may read of an answer besides the CORS-safelisted headers. */
const EXPOSED_HEADERS = 'x-request-id, retry-after'

/**
 * CORS for /graphql. `allowed` holds exact origins, `localhost` (any port on a loopback name) or `*`.
 * Credentials travel in the Authorization header, never in cookies, so no `allow-credentials`; Apollo's
 * CSRF prevention still refuses simple (preflight-free) requests, whatever the origin.
 */
export class Cors {
  private readonly any: boolean
  private readonly localhost: boolean
  private readonly exact: ReadonlySet<string>

  constructor(allowed: readonly string[]) {
    this.any = allowed.includes('*')
    this.localhost = allowed.includes('localhost')
    this.exact = new Set(allowed.filter((o) => o !== '*' && o !== 'localhost').map((o) => o.toLowerCase()))
  }

  allows(origin: string): boolean {
    const o = origin.toLowerCase()
    return this.any || this.exact.has(o) || (this.localhost && LOCALHOST.test(o))
  }

  /**
   * Sets the CORS headers an answer to `req` needs. For a preflight (OPTIONS) it answers the request
   * and returns true: 204 when the origin is allowed, 403 otherwise (a browser then refuses the call).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin
    res.appendHeader('vary', 'Origin')
    const allowed = origin !== undefined && this.allows(origin)
    if (allowed) {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS)
    }
    if (req.method !== 'OPTIONS') return false
    if (origin !== undefined && !allowed) {
      res.writeHead(403, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ errors: [{ message: `The origin ${origin} may not call this API (SIGHTLINE_CORS_ORIGINS)`, extensions: { code: 'FORBIDDEN' } }] }))
      return true
    }
    res.writeHead(204, {
      allow: 'GET, POST, OPTIONS',
      ...(allowed && {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
      }),
    })
    res.end()
    return true
  }
}
