import { ApiError } from '../api.js'

/**
 * A GET on the gateway's Tinybird-compatible REST API with the console's token. REST answers
 * `{"error": …}` with an HTTP status; it becomes the same ApiError the GraphQL calls throw, so one
 * Notice explains both (a missing or bad token is 403 there, as in Tinybird).
 */
export async function rest<T>(path: string, token: string, init: RequestInit = {}): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } })
  } catch (err) {
    throw new ApiError(err instanceof Error ? err.message : String(err), 'NETWORK')
  }
  const text = await res.text()
  let body: unknown
  try {
    body = text === '' ? null : JSON.parse(text)
  } catch {
    if (res.ok) throw new ApiError(`HTTP ${res.status}: the answer is not JSON`, 'INTERNAL_SERVER_ERROR')
    body = { error: text }
  }
  if (res.ok) return body as T
  const message = typeof (body as { error?: unknown } | null)?.error === 'string' ? (body as { error: string }).error : `HTTP ${res.status}`
  throw restError(res.status, message)
}

/** The code a REST status stands for; the scope a 403 names, as `ApiError.explain` words it. */
export function restError(status: number, message: string): ApiError {
  const scope = /needs the scopes? "([^"]+)"/.exec(message)?.[1] ?? null
  if (status === 403) {
    const unauthenticated = scope === null && /token/i.test(message) && /invalid|expired|revoked|required/i.test(message)
    return new ApiError(message, unauthenticated ? 'UNAUTHENTICATED' : 'FORBIDDEN', scope)
  }
  const code = status === 400 ? 'BAD_USER_INPUT' : status === 404 ? 'NOT_FOUND' : status === 429 ? 'RATE_LIMITED' : status === 503 ? 'STORE_UNAVAILABLE' : status === 504 ? 'QUERY_TIMEOUT' : 'INTERNAL_SERVER_ERROR'
  return new ApiError(message, code, scope)
}

/** Tinybird's JSON envelope of a pipe or `/v0/sql` answer. */
export interface Envelope {
  readonly meta: ReadonlyArray<{ name: string; type: string }>
  readonly data: ReadonlyArray<Record<string, unknown>>
  readonly rows: number
  readonly rows_before_limit_at_least?: number
  readonly statistics?: { elapsed?: number; rows_read?: number; bytes_read?: number }
}

/** Read-only SQL through `/v0/sql` (needs the `sql` scope; admins have it). */
export function sql(statement: string, token: string): Promise<Envelope> {
  return rest<Envelope>(`/v0/sql?q=${encodeURIComponent(statement)}`, token)
}

/** A ClickHouse identifier, back-quoted (names come from /v0/datasources, never from typing). */
export function ident(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``
}
