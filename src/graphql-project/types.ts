/**
 * ClickHouse and Tinybird template types as GraphQL types, for the generated `pipes` namespace.
 *
 * Choices:
 * - Integers up to 32 bits signed (Int8–Int32, UInt8, UInt16; the template's `Int`/`Integer`) are `Int`.
 *   UInt32 does not fit GraphQL's Int: it is `Float`, which holds it exactly.
 * - 64-bit and wider integers (Int64, UInt64, Int128, UInt128, Int256, UInt256) are `Int64`, a decimal
 *   string, so no value is rounded (JSON numbers lose digits past 2^53). Inputs accept a string or an Int.
 * - Floats and Decimals are `Float` (Decimals past 15 significant digits are rounded, as in JSON).
 * - Date, Date32, DateTime and DateTime64 are `String` in ClickHouse's text (`2026-01-31 10:00:00`), the
 *   same text the REST API answers and Tinybird's test files hold; inputs are what the template takes.
 *   (The `DateTime` scalar of the built-in schema is an RFC 3339 instant; a pipe's DateTime has no zone.)
 * - Nullable(T) is nullable, everything else non-null; LowCardinality(T) is T; Array(T) is a list.
 * - Map, Tuple, JSON, Object, AggregateFunction and anything unknown are `JSON`.
 */
import {
  GraphQLBoolean,
  GraphQLError,
  GraphQLFloat,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  GraphQLString,
  Kind,
  type GraphQLInputType,
  type GraphQLOutputType,
  type ValueNode,
} from 'graphql'

const INT64_TEXT = /^-?\d+$/

/** 64-bit (and wider) integers as decimal strings, without loss. */
export const Int64Scalar = new GraphQLScalarType<string, string>({
  name: 'Int64',
  description:
    'A 64-bit (or wider) integer as a decimal string, e.g. "9007199254740993": exact where a JSON number would be rounded. Inputs may be a string or an Int.',
  serialize(value) {
    if (typeof value === 'bigint') return value.toString()
    if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value).toString()
    if (typeof value === 'string' && INT64_TEXT.test(value)) return value
    throw new GraphQLError(`Int64 cannot represent ${JSON.stringify(String(value)).slice(0, 64)}`)
  },
  parseValue(value) {
    if (typeof value === 'number' && Number.isInteger(value)) return String(value)
    if (typeof value === 'string' && INT64_TEXT.test(value.trim())) return value.trim()
    throw new GraphQLError(`Int64 must be an integer or a string of digits; got ${JSON.stringify(value)?.slice(0, 64)}`)
  },
  parseLiteral(ast) {
    if ((ast.kind === Kind.INT || ast.kind === Kind.STRING) && INT64_TEXT.test(ast.value)) return ast.value
    throw new GraphQLError('Int64 must be an integer or a string of digits', { nodes: ast })
  },
})

function literalValue(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value)
    case Kind.STRING:
    case Kind.ENUM:
      return ast.value
    case Kind.BOOLEAN:
      return ast.value
    case Kind.NULL:
      return null
    case Kind.LIST:
      return ast.values.map(literalValue)
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalValue(f.value)]))
    default:
      throw new GraphQLError('JSON literals cannot hold variables', { nodes: ast })
  }
}

/** Any JSON value (maps, tuples, JSON columns, aggregate states): 64-bit integers inside are strings. */
export const JsonScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value (a Map, Tuple or JSON column, or a row of a pipe whose columns could not be described).',
  serialize: (value) => toJson(value),
  parseValue: (value) => value,
  parseLiteral: literalValue,
})

function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(toJson)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]))
  return value
}

/** `Wrapper(inner)` → inner, when the type is that wrapper. */
function unwrap(type: string, wrapper: string): string | undefined {
  const t = type.trim()
  return t.startsWith(`${wrapper}(`) && t.endsWith(')') ? t.slice(wrapper.length + 1, -1).trim() : undefined
}

type Scalar = GraphQLScalarType

/** The scalar for a ClickHouse (or template) base type, without wrappers. */
function scalarOf(type: string): Scalar {
  const t = type.trim()
  const name = /^[A-Za-z0-9]+/.exec(t)?.[0] ?? ''
  if (/^(Int8|Int16|Int32|UInt8|UInt16|Int|Integer)$/.test(name)) return GraphQLInt
  if (name === 'UInt32') return GraphQLFloat
  if (/^U?Int(64|128|256)$/.test(name)) return Int64Scalar
  if (/^(Float32|Float64|BFloat16|Decimal|Decimal32|Decimal64|Decimal128|Decimal256)$/.test(name)) return GraphQLFloat
  if (/^(Bool|Boolean)$/.test(name)) return GraphQLBoolean
  if (/^(String|FixedString|UUID|IPv4|IPv6|Enum8|Enum16|Enum|Date|Date32|DateTime|DateTime64)$/.test(name)) return GraphQLString
  return JsonScalar
}

/** A ClickHouse column type (`Nullable(Array(LowCardinality(String)))`, …) as a GraphQL output type. */
export function outputType(chType: string): GraphQLOutputType {
  let t = chType.trim()
  const lc = unwrap(t, 'LowCardinality')
  if (lc !== undefined) t = lc
  const nullable = unwrap(t, 'Nullable')
  if (nullable !== undefined) return nullableOutput(nullable)
  return new GraphQLNonNull(nullableOutput(t))
}

function nullableOutput(chType: string): Exclude<GraphQLOutputType, GraphQLNonNull<never>> {
  let t = chType.trim()
  const lc = unwrap(t, 'LowCardinality')
  if (lc !== undefined) t = lc
  const inner = unwrap(t, 'Nullable')
  if (inner !== undefined) return nullableOutput(inner)
  const element = unwrap(t, 'Array')
  if (element !== undefined) return new GraphQLList(outputType(element))
  return scalarOf(t)
}

/**
 * A template parameter's type (`Int32`, `DateTime`, `Array(Int32)`, `JSON`, `Boolean`…) as a GraphQL
 * input type, nullable (required-ness is decided by the caller).
 */
export function inputType(templateType: string): Exclude<GraphQLInputType, GraphQLNonNull<never>> {
  const t = templateType.trim()
  const element = unwrap(t, 'Array')
  if (element !== undefined) return new GraphQLList(new GraphQLNonNull(inputType(element.replace(/^['"]|['"]$/g, '') || 'String')))
  return scalarOf(t)
}
