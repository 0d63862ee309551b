import { GraphQLError, GraphQLScalarType, Kind } from 'graphql'
import { instantDate } from '../time/parse-instant.js' // perf: one parser; refuses Feb 30 (new Date rolled it over)

/** RFC 3339 date-time with an offset: `2026-11-22T10:00:00Z`, `…T10:00:00.123+01:00`. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !RFC3339.test(value)) {
    throw new GraphQLError(`DateTime must be an RFC 3339 date-time with an offset, e.g. 2026-11-22T10:00:00Z; got ${JSON.stringify(value)?.slice(0, 64)}`)
  }
  const date = instantDate(value) ?? new Date(Number.NaN)
  if (Number.isNaN(date.getTime())) throw new GraphQLError(`DateTime ${JSON.stringify(value)} is not a real instant`)
  return date
}

/**
 * `DateTime`: inputs are RFC 3339 strings with any offset, outputs UTC with "Z". One regex and one
 * `Date` per value: ingest parses one per row, and graphql-scalars' DateTime costs several times that.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant as an RFC 3339 string: inputs may carry any offset, outputs are UTC ("Z").',
  serialize(value) {
    const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date')
    return date.toISOString()
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string', { nodes: ast })
    return parse(ast.value)
  },
})
