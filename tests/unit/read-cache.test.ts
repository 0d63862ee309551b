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

describe('ReadCache dependencies', () => {
  /** Two root fields over two tables; each execution notes the table it reads, as the store's executor does. */
  function setup() {
    let tables = new Map([['db.products', 'a'], ['db.app_events', 'a']])
    const data = { products: 1, analytics: 1 }
    const runs = { products: 0, analytics: 0 }
    let during: (() => Promise<void>) | undefined
    const cache = new ReadCache({ maxBytes: 1_000_000, ttlMs: 60_000, pollMs: 100_000, now: () => 0, databases: ['db'], probe: async () => tables })
    const run = cache.wrap((args): ExecutionResult | Promise<ExecutionResult> => {
      const field = (args.document.definitions[0] as unknown as { selectionSet: { selections: Array<{ name: { value: string } }> } }).selectionSet.selections[0]!.name.value
      const reads = (args.contextValue as { reads: { tables?: Set<string> } }).reads
      if (field === 'mutate') return { data: { mutate: true } }
      const which = field === 'products' ? 'products' : 'analytics'
      reads.tables?.add(which === 'products' ? 'db.products' : 'db.app_events').add('p.id') // an alias, not a table
      runs[which]++
      const result = { data: { [field]: data[which] } }
      const pending = during?.()
      return pending ? pending.then(() => result) : result
    })
    const exec = (query: string) => run({ schema, document: parse(query), contextValue: { principal: reader, reads: { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 } } })
    const read = async (field: 'products' | 'analytics') => (await exec(`{ ${field} }`)).data![field]
    return {
      cache,
      data,
      runs,
      read,
      mutate: () => exec('mutation { mutate }'),
      change: (table: string) => (tables = new Map([...tables, [table, `${tables.get(table) ?? ''}+`]])),
      whileRunning: (fn: (() => Promise<void>) | undefined) => (during = fn),
    }
  }

  it('a change seen by the poll drops only the answers that read the changed table', async () => {
    const t = setup()
    await t.cache.poll()
    await t.read('products')
    await t.read('analytics')
    t.data.products = 2
    t.change('db.products')
    await t.cache.poll()
    expect(await t.read('products')).toBe(2)
    expect(await t.read('analytics')).toBe(1)
    expect(t.runs).toEqual({ products: 2, analytics: 1 })
    expect(t.cache.stats.evictions.write).toBe(1)
  })

  it('a mutation answers after the answers reading what it changed are dropped; an unchanged table keeps its answers', async () => {
    const t = setup()
    await t.cache.poll()
    await t.read('products')
    await t.read('analytics')
    t.data.analytics = 2
    t.change('db.app_events')
    await t.mutate()
    expect(await t.read('analytics')).toBe(2)
    expect(await t.read('products')).toBe(1)
    expect(t.runs).toEqual({ products: 1, analytics: 2 })
  })

  it('does not keep an answer whose table changed while it was computed', async () => {
    const t = setup()
    await t.cache.poll()
    t.whileRunning(async () => {
      t.whileRunning(undefined)
      t.change('db.products')
      await t.cache.poll()
    })
    await t.read('products')
    expect(t.cache.size.entries).toBe(0)
    await t.read('products')
    await t.read('products')
    expect(t.runs.products).toBe(2)
    expect(t.cache.size.entries).toBe(1)
  })
})

describe('ReadCache, concurrent misses', () => {
  it('computes an answer once for requests that miss it together, unless a table changed in between', async () => {
    let tables = new Map([['db.products', 'a']])
    let executions = 0
    let release: () => void = () => undefined
    const cache = new ReadCache({ maxBytes: 1_000_000, ttlMs: 60_000, pollMs: 100_000, now: () => 0, databases: ['db'], probe: async () => tables })
    const run = cache.wrap(async (args): Promise<ExecutionResult> => {
      const n = ++executions
      ;(args.contextValue as { reads: { tables?: Set<string> } }).reads.tables?.add('db.products')
      await new Promise<void>((r) => (release = r))
      return { data: { products: n } }
    })
    const read = () => run({ schema, document: parse('{ products }'), contextValue: { principal: reader, reads: { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 } } })
    await cache.poll()
    const first = read()
    const second = read()
    await Promise.resolve()
    release()
    expect((await first).data).toEqual({ products: 1 })
    expect((await second).data).toEqual({ products: 1 })
    expect(executions).toBe(1)
    expect(cache.stats.shared).toBe(1)
    // A change between two misses: the later one computes its own answer.
    tables = new Map([['db.products', 'b']])
    await cache.poll() // drops the kept answer
    const third = read()
    await new Promise((r) => setTimeout(r, 0))
    const releaseThird = release
    tables = new Map([['db.products', 'c']])
    await cache.poll()
    const fourth = read()
    await new Promise((r) => setTimeout(r, 0))
    release()
    releaseThird()
    expect((await third).data).toEqual({ products: 2 })
    expect((await fourth).data).toEqual({ products: 3 })
    expect(executions).toBe(3)
  })
})

describe('ReadCache, REST pipe answers', () => {
  function setup(everyRead: boolean) {
    let clock = 0
    let tables = new Map([['db.events', 'a'], ['db.users', 'a']])
    const cache = new ReadCache({ maxBytes: 1_000_000, ttlMs: 5_000, pollMs: 100_000, now: () => clock, databases: ['db'], probe: async () => tables, everyRead })
    let runs = 0
    /** A pipe over `db.events`: answers its run number, or throws when `fail`. */
    const answer = (key: string, ttlMs: number, fail = false) =>
      cache.answer(key, ttlMs, undefined, async (named) => {
        runs++
        named.add('db.events').add('e.amount')
        if (fail) throw new Error('bad parameter')
        return { contentType: 'application/json', body: `{"run":${runs}}` }
      })
    return {
      cache,
      answer,
      runs: () => runs,
      tick: (ms: number) => (clock += ms),
      change: (table: string) => (tables = new Map([...tables, [table, `${tables.get(table) ?? ''}+`]])),
    }
  }

  it('keeps a pipe for its CACHE, every built-in pipe only when every read is kept', () => {
    expect(setup(false).cache.ttlFor(30)).toBe(30_000)
    expect(setup(false).cache.ttlFor(0)).toBeUndefined()
    expect(setup(false).cache.ttlFor(undefined)).toBeUndefined()
    expect(setup(true).cache.ttlFor(undefined)).toBe(5_000)
    expect(setup(true).cache.ttlFor(0)).toBeUndefined()
  })

  it('serves a kept answer for its own TTL, drops it when a table it read changes, and never keeps an error', async () => {
    const t = setup(false)
    await t.cache.poll()
    expect((await t.answer('a', 60_000)).body).toBe('{"run":1}')
    t.tick(30_000) // past the cache's 5 s TTL, within the pipe's 60 s
    await t.cache.poll()
    expect((await t.answer('a', 60_000)).body).toBe('{"run":1}')
    t.change('db.users') // a table it does not read
    await t.cache.poll()
    expect((await t.answer('a', 60_000)).body).toBe('{"run":1}')
    t.change('db.events')
    await t.cache.poll()
    expect((await t.answer('a', 60_000)).body).toBe('{"run":2}')
    t.tick(60_001)
    await t.cache.poll()
    expect((await t.answer('a', 60_000)).body).toBe('{"run":3}')
    await expect(t.answer('b', 60_000, true)).rejects.toThrow('bad parameter')
    await expect(t.answer('b', 60_000, true)).rejects.toThrow('bad parameter')
    expect(t.runs()).toBe(5)
    expect(t.cache.size.bytes).toBe('{"run":3}'.length)
  })

  it('does not keep GraphQL queries when not every read is kept, and a mutation still drops the pipes’ answers', async () => {
    const t = setup(false)
    await t.cache.poll()
    let executions = 0
    const run = t.cache.wrap((args): ExecutionResult => {
      if ((args.document.definitions[0] as { operation?: string }).operation === 'mutation') return { data: { ingest: true } }
      return { data: { products: ++executions } }
    })
    const context = () => ({ principal: reader, reads: { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 } })
    await run({ schema, document: parse('{ products }'), contextValue: context() })
    await run({ schema, document: parse('{ products }'), contextValue: context() })
    expect(executions).toBe(2)
    await t.answer('a', 60_000)
    t.change('db.events')
    await run({ schema, document: parse('mutation { ingest }'), contextValue: context() })
    expect((await t.answer('a', 60_000)).body).toBe('{"run":2}')
  })

  it('a write before the first poll has nothing to drop', async () => {
    const t = setup(false)
    await t.cache.written() // no poll yet: returns at once, reads nothing
    expect(t.cache.stats.invalidations).toBe(0)
    expect((await t.answer('a', 60_000)).body).toBe('{"run":1}') // not fresh yet: bypassed, not kept
    expect(t.cache.stats.bypassed).toBe(1)
  })
})
