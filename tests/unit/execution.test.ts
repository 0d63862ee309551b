import { execute, GraphQLError, isObjectType, parse, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { beforeAll, describe, expect, it } from 'vitest'
import { CompiledExecution } from '../../src/execution/compiled.js'
import { plainFields } from '../../src/execution/plain-fields.js'
import { createSchema } from '../../src/schema/index.js'
import { ForbiddenError } from '../../src/errors.js'

const GRID = 'query Grid($category: String) { productGrid(category: $category) { id name category photo price stock stockStatus hits trending rankStatus } }'

function gridRows(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    name: `Product ${i}`,
    category: i % 2 ? 'shoes' : 'hats',
    photo: `https://example.com/${i}.png`,
    price: 10 + i / 100,
    stock: i % 300,
    stockExact: String(i % 300),
    stockStatus: i % 3 === 0 ? 'OUT_OF_STOCK' : i % 3 === 1 ? 'LOW_STOCK' : 'IN_STOCK',
    hits: i % 7,
    trending: i < 3,
    rankStatus: i < 3 ? 'Trending 🔥' : null,
  }))
}

/** Every resolver left in the schema counts its calls; `productGrid` answers `rows` without a store. */
function instrument(schema: GraphQLSchema, rows: unknown[]): { calls: Map<string, number> } {
  const calls = new Map<string, number>()
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve
      if (!resolve) continue
      const name = `${type.name}.${field.name}`
      field.resolve = (...args) => {
        calls.set(name, (calls.get(name) ?? 0) + 1)
        if (name === 'Query.productGrid') return rows
        if (name === 'Query.product') throw new ForbiddenError('no')
        return resolve(...args)
      }
    }
  }
  return { calls }
}

describe('plain fields: access is checked on root fields, plain object fields have no resolver', () => {
  let schema: GraphQLSchema
  let plain: string[]
  beforeAll(async () => {
    schema = await createSchema()
    plain = plainFields(schema)
  })

  it('leaves no resolver on the grid row fields, and keeps root fields and field resolvers', () => {
    const item = schema.getType('ProductGridItem')
    if (!isObjectType(item)) throw new Error('ProductGridItem is not an object type')
    for (const field of Object.values(item.getFields())) expect(field.resolve, field.name).toBeUndefined()
    expect(plain).toContain('ProductGridItem.hits')
    expect(schema.getQueryType()?.getFields().productGrid?.resolve).toBeTypeOf('function')
    expect(schema.getMutationType()?.getFields().ingestEcommEvents?.resolve).toBeTypeOf('function')
    // @FieldResolver fields keep theirs (they load through DataLoaders).
    const product = schema.getType('Product')
    if (!isObjectType(product)) throw new Error('Product is not an object type')
    expect(product.getFields().stock?.resolve).toBeTypeOf('function')
    expect(product.getFields().recentSales?.resolve).toBeTypeOf('function')
    expect(product.getFields().name?.resolve).toBeUndefined()
  })

  it('a 1,818-row grid calls one resolver (the root field) on graphql-js and on the compiled executor', async () => {
    const rows = gridRows(1818)
    const { calls } = instrument(schema, rows)
    const document = parse(GRID)
    const args = { schema, document, contextValue: {}, variableValues: { category: 'all' } }
    const viaJs = (await execute(args)) as ExecutionResult
    expect(Object.fromEntries(calls)).toEqual({ 'Query.productGrid': 1 })
    calls.clear()
    const compiled = new CompiledExecution(schema)
    const viaJit = await compiled.execute(args)
    expect(Object.fromEntries(calls)).toEqual({ 'Query.productGrid': 1 })
    expect(compiled.counts).toMatchObject({ compiled: 1, fallback: 0 })
    expect(viaJit).toEqual(viaJs)
    expect((viaJit.data as { productGrid: unknown[] }).productGrid).toHaveLength(1818)
  })
})

describe('compiled execution', () => {
  let schema: GraphQLSchema
  beforeAll(async () => {
    schema = await createSchema()
    plainFields(schema)
    instrument(schema, gridRows(3))
  })

  it('compiles a document once and reuses it; a bounded number of documents is kept', async () => {
    const compiled = new CompiledExecution(schema, { maxDocuments: 2 })
    const run = (query: string) => compiled.execute({ schema, document: parse(query), contextValue: {} })
    for (let i = 0; i < 3; i++) await run('{ productGrid { id } }')
    expect(compiled.counts).toMatchObject({ compiled: 3, compilations: 1 })
    await run('{ productGrid { name } }')
    await run('{ productGrid { price } }')
    await run('{ productGrid { id } }') // evicted by the two above: compiled again
    expect(compiled.counts.compilations).toBe(4)
  })

  it('answers refused variables with graphql-js\'s exact errors', async () => {
    const compiled = new CompiledExecution(schema)
    const document = parse(GRID)
    const args = { schema, document, contextValue: {}, variableValues: { category: 12 } }
    const viaJit = await compiled.execute(args)
    const viaJs = (await execute(args)) as ExecutionResult
    expect(viaJit.errors?.map((e) => e.message)).toEqual(viaJs.errors?.map((e) => e.message))
    expect(viaJit.errors?.[0]?.message).toMatch(/^Variable "\$category" got invalid value 12/)
    expect(viaJit.data).toBeUndefined()
  })

  it('reports resolver errors as graphql-js does: a GraphQLError with path, locations, extensions and the thrown error', async () => {
    const compiled = new CompiledExecution(schema)
    const args = { schema, document: parse('{ product(id: "x") { id } }'), contextValue: {} }
    const viaJit = await compiled.execute(args)
    const viaJs = (await execute(args)) as ExecutionResult
    expect(viaJit).toEqual(viaJs)
    const [error] = viaJit.errors ?? []
    expect(error).toBeInstanceOf(GraphQLError)
    expect(error?.originalError).toBeInstanceOf(ForbiddenError)
    expect(error?.extensions.code).toBe('FORBIDDEN')
    expect(error?.path).toEqual(['product'])
    expect(error?.locations).toEqual(viaJs.errors?.[0]?.locations)
    expect(compiled.counts.compiled).toBe(1)
  })

  it('leaves subscriptions and documents without source text to graphql-js', async () => {
    const compiled = new CompiledExecution(schema)
    const document = parse('{ productGrid { id } }', { noLocation: true })
    const result = await compiled.execute({ schema, document, contextValue: {} })
    expect((result.data as { productGrid: unknown[] }).productGrid).toHaveLength(3)
    expect(compiled.counts).toMatchObject({ compiled: 0, fallback: 1, compilations: 0 })
  })
})
