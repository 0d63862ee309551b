import { buildSchema, graphql, GraphQLSchema, printType } from 'graphql'
import { describe, expect, it } from 'vitest'
import { graphqlName, withPipes, type PipeShape } from '../../src/graphql-project/schema.js'
import { inputType, Int64Scalar, outputType } from '../../src/graphql-project/types.js'

const base = buildSchema('type Query { hello: String }')
const principal = { name: 't', scopes: ['admin'], workspaceId: null }

describe('ClickHouse types as GraphQL types', () => {
  it.each([
    ['Int32', 'Int!'],
    ['UInt16', 'Int!'],
    ['UInt32', 'Float!'],
    ['UInt64', 'Int64!'],
    ['Int128', 'Int64!'],
    ['Float64', 'Float!'],
    ['Decimal(18, 2)', 'Float!'],
    ['Bool', 'Boolean!'],
    ['LowCardinality(String)', 'String!'],
    ['LowCardinality(Nullable(String))', 'String'],
    ['Nullable(DateTime)', 'String'],
    ["DateTime64(3, 'UTC')", 'String!'],
    ['Date', 'String!'],
    ['UUID', 'String!'],
    ["Enum8('a' = 1, 'b' = 2)", 'String!'],
    ['Array(UInt64)', '[Int64!]!'],
    ['Array(Nullable(Int32))', '[Int]!'],
    ['Array(Array(String))', '[[String!]!]!'],
    ['Map(String, UInt64)', 'JSON!'],
    ['Tuple(a String, b Int32)', 'JSON!'],
    ['AggregateFunction(uniq, String)', 'JSON!'],
  ])('%s → %s', (ch, gql) => {
    expect(String(outputType(ch))).toBe(gql)
  })

  it('maps template parameter types to input types', () => {
    expect(String(inputType('Int32'))).toBe('Int')
    expect(String(inputType('Int'))).toBe('Int')
    expect(String(inputType('UInt64'))).toBe('Int64')
    expect(String(inputType('DateTime'))).toBe('String')
    expect(String(inputType('Boolean'))).toBe('Boolean')
    expect(String(inputType('Array(Int32)'))).toBe('[Int!]')
    expect(String(inputType("Array('String')"))).toBe('[String!]')
  })

  it('keeps 64-bit integers exact as strings, both ways', () => {
    expect(Int64Scalar.serialize(18446744073709551615n)).toBe('18446744073709551615')
    expect(Int64Scalar.serialize(42)).toBe('42')
    expect(Int64Scalar.serialize('-9007199254740993')).toBe('-9007199254740993')
    expect(() => Int64Scalar.serialize(1.5)).toThrow(/Int64 cannot represent/)
    expect(Int64Scalar.parseValue(7)).toBe('7')
    expect(() => Int64Scalar.parseValue('12a')).toThrow(/Int64 must be/)
  })

  it('turns any text into a GraphQL name', () => {
    expect(graphqlName('count()')).toBe('count__')
    expect(graphqlName('1st')).toBe('_1st')
    expect(graphqlName('__x')).toBe('x__x')
    expect(graphqlName('a.b')).toBe('a_b')
  })
})

describe('the pipes namespace', () => {
  const pipes: PipeShape[] = [
    {
      name: 'top',
      description: 'Top rows.',
      params: [
        { name: 'limit', type: 'Int32', default: 10, required: false, description: 'rows to return', untyped: false, line: 1 },
        { name: 'id', type: 'UInt64', required: true, untyped: false, line: 1 },
        { name: 'tags', type: "Array(String)", default: 'a,b', required: false, untyped: false, line: 1 },
        { name: 'when', type: 'DateTime', default: 'not a number', required: false, untyped: false, line: 1 },
        { name: 'x', type: 'String', required: false, untyped: true, line: 1 },
      ],
      columns: [
        { name: 'page', type: 'String' },
        { name: 'count()', type: 'UInt64' },
        { name: 'count__', type: 'Nullable(Float64)' },
      ],
    },
    { name: 'opaque', params: [], columns: undefined },
  ]

  it('adds one typed field per pipe, with arguments, defaults and docs', () => {
    const schema = withPipes(base, pipes, async () => [], () => undefined)
    const printed = printType(schema.getType('Pipes')!)
    expect(printed).toContain('top(')
    expect(printed).toContain('"""rows to return. Template type: Int32."""\n    limit: Int = 10')
    expect(printed).toContain('id: Int64!')
    expect(printed).toContain('tags: [String!] = ["a", "b"]')
    expect(printed).toContain('when: String = "not a number"')
    expect(printed).toContain('"""Untyped in the template (passed as text)."""\n    x: String')
    expect(printed).toContain('): [TopRow!]')
    expect(printed).toContain('opaque: [JSON!]')
    const row = printType(schema.getType('TopRow')!)
    expect(row).toContain('count__: Int64!')
    expect(row).toContain('count__2: Float')
    expect(schema.getQueryType()!.getFields().hello).toBeDefined()
  })

  it('leaves the schema alone without endpoint pipes', () => {
    expect(withPipes(base, [], async () => [], () => undefined)).toBe(base)
  })

  it('passes arguments as the query string REST would receive, and maps rows to fields', async () => {
    const seen: string[] = []
    const schema: GraphQLSchema = withPipes(
      base,
      pipes,
      async (_who, pipe, params) => {
        seen.push(`${pipe}?${params.toString()}`)
        return [{ page: '/a', 'count()': 18446744073709551615n, count__: null }]
      },
      () => undefined,
    )
    const result = await graphql({ schema, source: '{ pipes { top(id: "5", tags: ["x", "y"]) { page count__ count__2 } } }', contextValue: { principal } })
    expect(result.errors).toBeUndefined()
    expect(result.data).toEqual({ pipes: { top: [{ page: '/a', count__: '18446744073709551615', count__2: null }] } })
    expect(seen).toEqual(['top?limit=10&id=5&tags=x&tags=y&when=not+a+number'])
    const anonymous = await graphql({ schema, source: '{ pipes { top(id: 1) { page } } }', contextValue: { principal: null } })
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })
})
