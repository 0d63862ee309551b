import type { IncomingMessage, ServerResponse } from 'node:http'

/** True when the request declares a body over `limit`; the body is then discarded unread. */
export function declaresTooLarge(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers['content-length'])
  if (!Number.isFinite(declared) || declared <= limit) return false
  req.resume()
  return true
}

/** The body, or null once it passes `limit` bytes (reading stops there). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  if (declaresTooLarge(req, limit)) return null
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) {
      req.resume()
      return null
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

export function sendBody(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  sendBody(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers)
}
