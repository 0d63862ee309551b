import { createReadStream } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Gateway, HttpRoute } from './transport/gateway.js'

/** Where `vite build --config web/vite.config.ts` writes the page: `web/dist`, beside `src/` and `dist/`. */
export const WEB_DIST = fileURLToPath(new URL('../web/dist/', import.meta.url))

export interface WebOptions {
  /** The built web app. @default WEB_DIST */
  readonly root?: string
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
}

/** Pages by path; everything else the app needs is under /assets/ (hashed names) or a top-level public file. */
const PAGES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/graphiql': 'graphiql.html',
  '/graphiql/': 'graphiql.html',
  '/graphiql.html': 'graphiql.html',
}
const PUBLIC_FILES = new Set(['/favicon.svg'])

const NOT_BUILT = 'The web app is not built: run `npm run build` (or `npm run build:web`), then reload.\n'

/**
 * The web page at `/` and the GraphiQL playground at `/graphiql`, served from the Vite build in
 * `web/dist`. Both talk to /graphql like any other client. Hashed assets are cached for a year,
 * pages are revalidated; paths never leave the build directory.
 */
export function webRoute(gateway: Gateway, options: WebOptions = {}): HttpRoute {
  const root = resolve(options.root ?? WEB_DIST)
  return async (req, res, url) => {
    const path = url.pathname
    const photo = PHOTO.exec(path)
    if (photo && (req.method === 'GET' || req.method === 'HEAD')) return sendPhoto(res, photo[1]!, req.method === 'HEAD')
    const page = PAGES[path]
    const isAsset = path.startsWith('/assets/')
    if (!page && !isAsset && !PUBLIC_FILES.has(path)) return false

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      res.end('Method not allowed\n')
      return true
    }

    const file = page ? resolve(root, page) : inside(root, path)
    if (!file) return notFound(res)
    let size: number
    let mtime: Date
    try {
      const s = await stat(file)
      if (!s.isFile()) return notFound(res)
      size = s.size
      mtime = s.mtime
    } catch {
      if (page) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        res.end(NOT_BUILT)
        return true
      }
      return notFound(res)
    }

    const etag = `W/"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      etag,
      'last-modified': mtime.toUTCString(),
      // Vite puts a content hash in every name under /assets/: they never change, so cache them for good.
      'cache-control': isAsset ? 'public, max-age=31536000, immutable' : 'no-cache',
    }
    if (page) {
      headers['content-security-policy'] = contentSecurityPolicy(req.headers.host)
      headers['referrer-policy'] = 'no-referrer'
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return true
    }
    headers['content-length'] = String(size)
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return true
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(file)
      stream.on('error', (err) => {
        gateway.log.warn({ err, file }, 'web file read failed')
        res.destroy(err)
        done()
      })
      res.on('close', done)
      stream.pipe(res)
    })
    return true
  }
}

const PHOTO = /^\/photos\/([A-Za-z0-9_-]{1,64})\.svg$/
const PALETTE = ['#f97316', '#0ea5e9', '#22c55e', '#a855f7', '#ef4444', '#eab308', '#14b8a6', '#ec4899']

/**
 * A product photo drawn from its id (the demo's products point here), so the page needs no other host:
 * a colour per category and the id's category and number. The id is checked by PHOTO, so it is safe in SVG.
 */
function sendPhoto(res: ServerResponse, id: string, headOnly: boolean): true {
  const [category = id, number = ''] = id.split('_')
  let hash = 0
  for (const c of category) hash = (hash * 31 + c.charCodeAt(0)) >>> 0
  const colour = PALETTE[hash % PALETTE.length]!
  // Cards crop the photo to a wide band: everything sits on the middle line.
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">` +
    `<rect width="400" height="400" fill="${colour}"/>` +
    `<circle cx="200" cy="200" r="110" fill="#ffffff" fill-opacity="0.2"/>` +
    `<text x="200" y="222" font-family="sans-serif" font-size="60" font-weight="700" fill="#ffffff" text-anchor="middle">${category.slice(0, 5).toUpperCase()} ${number}</text></svg>`
  res.writeHead(200, {
    'content-type': 'image/svg+xml',
    'content-length': String(Buffer.byteLength(svg)),
    'cache-control': 'public, max-age=86400',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  })
  res.end(headOnly ? undefined : svg)
  return true
}

/** The file a URL path names under `root`, or null when it is malformed or escapes `root`. */
function inside(root: string, urlPath: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null
  const file = resolve(root, `.${decoded}`)
  return file.startsWith(root + sep) ? file : null
}

/**
 * Everything the page and the playground load comes from this origin: scripts, styles, Monaco's
 * workers and fonts (bundled or data: URLs), and /graphql over HTTP and WebSocket. Product photos
 * are data and may live anywhere.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const ws = host && /^[\w.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : ''
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: https: http:",
    "font-src 'self' data:",
    `connect-src 'self'${ws}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
}

function notFound(res: ServerResponse): true {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
  res.end('Not found\n')
  return true
}
