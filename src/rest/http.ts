import type { GraphQLFormattedError } from 'graphql'
import { ErrorCode, retryAfterSeconds } from '../errors.js'

/** A REST answer other than success: its status, Tinybird's `{"error": message}` body and extra headers. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

/**
 * HTTP status per GraphQL error code, as Tinybird answers: a missing, bad or revoked token is 403
 * (Tinybird's "invalid token"), like a token without the scope.
 */
const STATUS: Readonly<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 403,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
  [ErrorCode.STORE_BUSY]: 503,
  [ErrorCode.QUERY_TIMEOUT]: 504,
  [ErrorCode.VALUE_OUT_OF_RANGE]: 500,
}

/** Whole seconds to wait, from the `retryAfterMs` a RATE_LIMITED or STORE_BUSY error carries. */
function retryAfter(extensions: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const ms = extensions?.retryAfterMs
  return typeof ms === 'number' && Number.isFinite(ms) ? String(retryAfterSeconds(ms)) : undefined
}

/** The REST form of a GraphQL error (already formatted, so masked where it must be). */
export function fromGraphQL(error: GraphQLFormattedError | { message: string; extensions?: Readonly<Record<string, unknown>> }): HttpError {
  const code = String(error.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR)
  const status = STATUS[code] ?? 500
  const wait = status === 429 || status === 503 ? retryAfter(error.extensions) : undefined
  const shown = status !== 500 || code === ErrorCode.VALUE_OUT_OF_RANGE
  return new HttpError(status, shown ? error.message : 'Internal server error', wait ? { 'retry-after': wait } : {})
}
