import type { ServerResponse } from 'node:http'

/**
 * A signal that aborts when the response closes before it was finished: the client went away, so the
 * store statements still queued (or, on a server, running) for its request are cancelled.
 */
export function clientGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) gone.abort()
  })
  return gone.signal
}

/** The operation a client asked for, for logs of requests refused before parsing: its given name, else the document's first. */
export function operationNameOf(body: unknown, url: URL): string | undefined {
  const request = (body ?? {}) as { operationName?: unknown; query?: unknown }
  const name = request.operationName ?? url.searchParams.get('operationName')
  if (typeof name === 'string' && name.length > 0) return name
  const query = request.query ?? url.searchParams.get('query')
  return typeof query === 'string' ? /^\s*(?:query|mutation|subscription)\s+([_A-Za-z]\w*)/.exec(query)?.[1] : undefined
}
