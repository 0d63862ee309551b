import { GraphQLError, Kind, parse, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql'
import { describe, expect, it } from 'vitest'
import { formatError, RateLimitedError } from '../../src/errors.js'
import { StoreInputError, StoreUnavailableError } from '../../src/store/errors.js'

const SQL = "Code: 60. DB::Exception: Table sightline.tokens does not exist. (UNKNOWN_TABLE) SELECT hash FROM sightline.tokens WHERE hash = {hash:String}"

/** What Apollo hands formatError: the error as JSON, with INTERNAL_SERVER_ERROR filled in when it had no code. */
function apolloFormatted(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON()
  return { ...json, extensions: { ...json.extensions, code: json.extensions?.code ?? 'INTERNAL_SERVER_ERROR' } }
}

describe('formatError masks everything unexpected', () => {
  it('masks a request-level failure Apollo labelled INTERNAL_SERVER_ERROR (e.g. context creation)', () => {
    const error = new GraphQLError(`Context creation failed: ${SQL}`, { originalError: new Error(SQL) })
    const out = formatError(apolloFormatted(error), error)
    expect(out).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })
  })

  it('masks an execution error from the driver, keeping only the path', () => {
    const error = new GraphQLError(SQL, { path: ['productGrid'], originalError: new Error(SQL) })
    const out = formatError(apolloFormatted(error), error)
    expect(out).toEqual({ message: 'Internal server error', path: ['productGrid'], extensions: { code: 'INTERNAL_SERVER_ERROR' } })
  })

  it("answers the store's typed errors with their codes and safe messages, never the cause", () => {
    const unavailable = new GraphQLError('x', { path: ['products'], originalError: new StoreUnavailableError('store query failed', { cause: new Error(SQL) }) })
    const u = formatError(apolloFormatted(unavailable), unavailable)
    expect(u.extensions?.code).toBe('STORE_UNAVAILABLE')
    expect(JSON.stringify(u)).not.toMatch(/DB::Exception|SELECT/)
    const input = new GraphQLError('x', { path: ['ecommTrend'], originalError: new StoreInputError('unknown timezone "Mars"') })
    expect(formatError(apolloFormatted(input), input)).toMatchObject({ message: 'unknown timezone "Mars"', extensions: { code: 'BAD_USER_INPUT' } })
  })

  it('keeps parse and validation messages, and the retry hint of a rate limit', () => {
    const v = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })
    expect(formatError(apolloFormatted(v), v)).toMatchObject({ message: v.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })
    const r = new RateLimitedError(250)
    const out = formatError(apolloFormatted(r), r)
    expect(out.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: 250 })
  })

  it('answers a variable of the wrong type BAD_USER_INPUT even without a code (graphql-ws)', () => {
    const operation = parse('query Q($f: DateTime) { __typename }').definitions[0] as OperationDefinitionNode
    const node = operation.variableDefinitions![0]!
    expect(node.kind).toBe(Kind.VARIABLE_DEFINITION)
    const error = new GraphQLError('Variable "$f" got invalid value "yesterday"; DateTime cannot represent an invalid date-time-string yesterday.', {
      nodes: [node],
      originalError: new TypeError('DateTime cannot represent an invalid date-time-string yesterday.'),
    })
    expect(formatError(error.toJSON(), error)).toMatchObject({ message: error.message, extensions: { code: 'BAD_USER_INPUT' } })
    // The same text without the variable node is not trusted.
    const lookalike = new GraphQLError(`Variable "$f" got invalid value ${SQL}`)
    expect(formatError(lookalike.toJSON(), lookalike).extensions?.code).toBe('INTERNAL_SERVER_ERROR')
  })
})
