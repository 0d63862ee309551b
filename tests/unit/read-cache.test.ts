import { parse, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { describe, expect, it } from 'vitest'
import { ReadCache } from '../../src/cache/read-cache.js'
import type { Principal } from '../../src/auth/scopes.js'

const schema = {} as GraphQLSchema
const reader: Principal = { name: 'r', scopes: ['read'], workspaceId: null }

/** A cache over a counter "store": each execution answers the current `data` and counts itself. */
function setup(options: { pollMs?: number; ttlMs?: number; maxBytes?: number } = {}) {
  let clock = 0
  let tables = new Map([['db.products', 'a']])
  let probeFails = false
  const world = { data: 1, executions: 0 }
  const cache = new ReadCache({
    maxBytes: options.maxBytes ?? 1_000_000,
    ttlMs: options.ttlMs ?? 60_000,
    pollMs: options.pollMs ?? 100,
    now: () => clock,
    probe: async () => {
      if (probeFails) throw new Error('store down')
      return tables
    },
  })
  const run = cache.wrap((): ExecutionResult => {
    world.executions++
    return { data: { products: [{ id: String(world.data) }] } }
  })
  const read = async (principal: Principal | null = reader, query = '{ products { id } }', variables: Record<string, unknown> = {}) => {
    const args: ExecutionArgs = { schema, document: parse(query), contextValue: { principal }, variableValues: variables }
    return ((await run(args)).data as { products: Array<{ id: string }> }).products[0]!.id
  }
  return {
    cache,
    world,
    read,
    tick: (ms: number) => (clock += ms),
    setTables: (t: Map<string, string>) => (tables = t),
    failProbe: (fails: boolean) => (probeFails = fails),
  }
}

describe('ReadCache', () => {
  it('serves repeated reads, and a write through the gateway (a mutation) drops them', async () => {
    const t = setup()
    await t.cache.poll()
    expect(await t.read()).toBe('1')
    expect(await t.read()).toBe('1')
    expect(t.world.executions).toBe(1)
    t.world.data = 2
    await t.cache.wrap(() => ({ data: { ingest: true } }))({ schema, document: parse('mutation { ingest }'), contextValue: { principal: reader } })
    expect(await t.read()).toBe('2')
  })

  it('a table change seen by the poll drops every answer; service tables do not', async () => {
    const t = setup()
    await t.cache.poll()
    await t.read()
    t.setTables(new Map([['db.products', 'a'], ['db.operation_log', 'x']]))
    await t.cache.poll()
    expect(await t.read()).toBe('1')
    expect(t.world.executions).toBe(1)
    t.world.data = 3
    t.setTables(new Map([['db.products', 'b'], ['db.operation_log', 'x']]))
    await t.cache.poll()
    expect(await t.read()).toBe('3')
  })

  it('serves nothing from the cache while the poll is late or failing (never older than its promise)', async () => {
    const t = setup({ pollMs: 100 })
    await t.cache.poll()
    await t.read()
    t.failProbe(true)
    t.tick(150)
    await t.cache.poll()
    expect(await t.read()).toBe('1') // 150 ms after the last good poll: within 2 × pollMs, served
    expect(t.world.executions).toBe(1)
    t.tick(100)
    t.world.data = 4 // a write the failing poll cannot see
    expect(await t.read()).toBe('4') // 250 ms: past 2 × pollMs, bypassed
    expect(t.cache.stats.bypassed).toBe(1)
  })

  it('keys by the caller: other scopes, another workspace, no caller; and by variables', async () => {
    const t = setup()
    await t.cache.poll()
    await t.read(reader)
    await t.read({ ...reader, scopes: ['read:ecommerce'] })
    await t.read({ ...reader, workspaceId: 'w' })
    await t.read({ ...reader, name: 'other' }) // same grants: shares
    await t.read(null)
    await t.read(null)
    await t.read(reader, 'query Q($c: String) { products(category: $c) { id } }', { c: 'a' })
    await t.read(reader, 'query Q($c: String) { products(category: $c) { id } }', { c: 'b' })
    expect(t.world.executions).toBe(7)
  })

  it('does not cache other root fields, and ages answers out after the TTL', async () => {
    const t = setup({ ttlMs: 1000 })
    await t.cache.poll()
    await t.read(reader, '{ products { id } tokens { id } }')
    await t.read(reader, '{ products { id } tokens { id } }')
    expect(t.world.executions).toBe(2)
    await t.read()
    t.tick(150)
    await t.cache.poll()
    await t.read()
    expect(t.world.executions).toBe(3)
    for (let i = 0; i < 10; i++) {
      t.tick(100)
      await t.cache.poll()
    }
    await t.read()
    expect(t.world.executions).toBe(4)
  })

  it('keeps at most maxBytes of answers, least recently used going first', async () => {
    const t = setup({ maxBytes: 80 }) // two answers of 35 bytes
    await t.cache.poll()
    const q = (n: number) => `query Q${n} { products { id } }`
    for (const n of [1, 2, 3]) await t.read(reader, q(n))
    const before = t.world.executions
    await t.read(reader, q(3))
    expect(t.world.executions).toBe(before)
    await t.read(reader, q(1))
    expect(t.world.executions).toBe(before + 1)
  })
})
