import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors'
import { GraphQLError, Kind, type GraphQLFormattedError } from 'graphql'
import { DomainError } from './domain/errors.js'
import { QueryLimitError, StoreBusyError, StoreInputError, StoreUnavailableError, StoreValueError } from './store/errors.js'

/** Every `extensions.code` Sightline answers with. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: ApolloServerErrorCode.BAD_USER_INPUT,
  RATE_LIMITED: 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  STORE_BUSY: 'STORE_BUSY',
  QUERY_TIMEOUT: 'QUERY_TIMEOUT',
  VALUE_OUT_OF_RANGE: 'VALUE_OUT_OF_RANGE',
  INTERNAL_SERVER_ERROR: ApolloServerErrorCode.INTERNAL_SERVER_ERROR,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class UnauthenticatedError extends GraphQLError {
  constructor(message = 'A valid bearer token is required') {
    super(message, { extensions: { code: ErrorCode.UNAUTHENTICATED } })
  }
}

export class ForbiddenError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: ErrorCode.FORBIDDEN } })
  }
}

export class BadUserInputError extends GraphQLError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code: ErrorCode.BAD_USER_INPUT } })
  }
}

/** A Retry-After header's whole seconds for a wait in ms (at least 1). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** Too many requests for this token; `retryAfterMs` says when the next one will be allowed. */
export class RateLimitedError extends GraphQLError {
  constructor(retryAfterMs: number, reason = 'Rate limit exceeded for this token') {
    const headers = new Map([['retry-after', String(retryAfterSeconds(retryAfterMs))]])
    super(`${reason}; retry in ${retryAfterMs} ms`, {
      extensions: { code: ErrorCode.RATE_LIMITED, retryAfterMs, http: { status: 429, headers } },
    })
  }
}

export class StoreUnavailableGraphQLError extends GraphQLError {
  constructor() {
    super('The data store is unavailable; try again shortly', { extensions: { code: ErrorCode.STORE_UNAVAILABLE } })
  }
}

/** The store's work queue is full (503 with Retry-After when it fails a whole request). */
export class StoreBusyGraphQLError extends GraphQLError {
  constructor(retryAfterMs: number) {
    const headers = new Map([['retry-after', String(retryAfterSeconds(retryAfterMs))]])
    super(`The data store is busy; retry in ${retryAfterMs} ms`, {
      extensions: { code: ErrorCode.STORE_BUSY, retryAfterMs, http: { status: 503, headers } },
    })
  }
}

/** A query ran over its time or memory limit. */
export class QueryTimeoutError extends GraphQLError {
  constructor(limit: 'time' | 'memory') {
    super(`The query ran over its ${limit} limit; narrow it (a shorter range, a smaller limit) and retry`, {
      extensions: { code: ErrorCode.QUERY_TIMEOUT },
    })
  }
}

/** A stored value does not fit the field's GraphQL type, or is not a finite number. */
export class ValueOutOfRangeError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: ErrorCode.VALUE_OUT_OF_RANGE } })
  }
}

/** graphql-js's refusal to serialize an integer outside Int's 32 bits (its message, graphql 16). */
const INT_OVERFLOW = /^Int cannot represent non 32-bit signed integer value: (.*)$/

/** Gives an error its HTTP status, for Apollo to answer with when it fails a whole request. */
export function withStatus<E extends GraphQLError>(error: E, status: number): E {
  Object.assign(error.extensions, { http: { status } })
  return error
}

/** Ours, and Apollo's own (parse, validation, bad request, persisted queries): safe to show as they are. */
const PASS_THROUGH = new Set<string>([...Object.values(ErrorCode), ...Object.values(ApolloServerErrorCode)])

/** Maps the store's typed errors to GraphQL errors; anything else is left for masking. */
export function toGraphQLError(err: unknown): GraphQLError | undefined {
  if (err instanceof GraphQLError && typeof err.extensions.code === 'string' && PASS_THROUGH.has(err.extensions.code)) {
    return err
  }
  if (err instanceof DomainError) return new GraphQLError(err.message, { extensions: { code: err.code } })
  if (err instanceof StoreInputError) return new BadUserInputError(err.message)
  if (err instanceof StoreUnavailableError) return new StoreUnavailableGraphQLError()
  if (err instanceof StoreBusyError) return new StoreBusyGraphQLError(err.retryAfterMs)
  if (err instanceof QueryLimitError) return new QueryTimeoutError(err.limit)
  if (err instanceof StoreValueError) return new ValueOutOfRangeError(err.message)
  const overflow = err instanceof GraphQLError ? INT_OVERFLOW.exec(err.message) : null
  if (overflow) {
    return new ValueOutOfRangeError(`The stored value ${overflow[1]} does not fit this field's type Int (32-bit); the REST API returns it exactly`)
  }
  return undefined
}

/**
 * Apollo's and graphql-ws's formatError. Request-level errors (parse, validation, variables: no path)
 * keep their message; errors raised while executing pass only when they carry one of our codes or map
 * from the store's typed errors. Everything else becomes a bare INTERNAL_SERVER_ERROR: no SQL, no
 * stack, no driver message.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code
  // Apollo labels any request-level failure without a code INTERNAL_SERVER_ERROR before it gets here
  // (e.g. "Context creation failed: <the driver's message>"), so that code never passes as it is.
  if (!formatted.path && typeof code === 'string' && PASS_THROUGH.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    return { message: formatted.message, locations: formatted.locations, extensions: { code, ...safeExtras(formatted.extensions) } }
  }
  if (!formatted.path && code === undefined && isVariableValueError(error)) {
    return { message: formatted.message, locations: formatted.locations, extensions: { code: ErrorCode.BAD_USER_INPUT } }
  }
  // A resolver's error is unwrapped by Apollo's rule; a request-level one (no path) may wrap one too.
  const unwrapped = unwrapResolverError(error)
  const original = unwrapped instanceof GraphQLError && unwrapped.originalError ? unwrapped.originalError : unwrapped
  const mapped = toGraphQLError(original)
  if (mapped) {
    const { code: mappedCode } = mapped.extensions
    return { message: mapped.message, locations: formatted.locations, path: formatted.path, extensions: { code: mappedCode, ...safeExtras(mapped.extensions) } }
  }
  return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }
}

/**
 * A variable the client sent that does not fit its type, as graphql-js reports it before executing
 * (Apollo's own test, which it answers BAD_USER_INPUT; graphql-ws leaves it without a code).
 */
function isVariableValueError(error: unknown): boolean {
  return (
    error instanceof GraphQLError &&
    error.nodes?.length === 1 &&
    error.nodes[0]?.kind === Kind.VARIABLE_DEFINITION &&
    /^Variable "\$[_A-Za-z][_0-9A-Za-z]*" (got invalid value|of required type|of non-null type)/.test(error.message)
  )
}

/** Extensions a client may see besides the code: hints that help it act, never internals. */
function safeExtras(extensions: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const retryAfterMs = extensions?.retryAfterMs
  return typeof retryAfterMs === 'number' ? { retryAfterMs } : {}
}
