import type { IncomingMessage } from 'node:http'
import { createGunzip } from 'node:zlib'
import { declaresTooLarge, readBody } from '../http.js'
import { HttpError } from './http.js'

/**
 * The request body, decompressed when `Content-Encoding: gzip`. The limit applies to the bytes received
 * and to the decompressed bytes, and reading stops as soon as either passes it (413), so a gzip bomb
 * costs at most `limit` bytes of memory.
 */
export async function readEventsBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `The request body exceeds ${limit} bytes`)
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (encoding === 'identity' || encoding === '') {
    const body = await readBody(req, limit)
    if (body === null) throw tooLarge()
    return body
  }
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    req.resume()
    throw new HttpError(415, `Content-Encoding "${encoding}" is not supported; send gzip or an uncompressed body`)
  }
  if (declaresTooLarge(req, limit)) throw tooLarge()
  const gunzip = createGunzip()
  let received = 0
  let over = false
  const onData = (chunk: Buffer) => {
    received += chunk.length
    if (received > limit && !over) {
      over = true
      gunzip.destroy()
    }
  }
  req.on('data', onData)
  req.pipe(gunzip)
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of gunzip) {
      size += (chunk as Buffer).length
      if (size > limit) {
        over = true
        break
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (!over) throw new HttpError(400, `The gzip body cannot be read: ${(err as Error).message}`)
  } finally {
    req.off('data', onData)
    req.unpipe(gunzip)
    gunzip.destroy()
    req.resume()
  }
  if (over) throw tooLarge()
  return Buffer.concat(chunks)
}
