/**
 * `npx tsx bench/execution.ts`: the gateway's own CPU per request, in process, without the store: the
 * 1,818-row productGrid and a 10,000-event ingestEcommEvents executed by graphql-js on the schema as
 * type-graphql builds it (a resolver per field) vs plain fields + graphql-jit (src/execution), each followed
 * by the JSON serialisation Apollo does; and 10,000 /v0/events timestamps through luxon vs the fast parser.
 * The store is a stub that answers prepared rows at once, so only GraphQL work is timed. Blocks of each
 * contender alternate, so a busy machine slows both alike; the report gives median ms per operation.
 */
import { execute, parse, type ExecutionArgs, type ExecutionResult } from 'graphql'
import { loadavg } from 'node:os'
import { createExecution } from '../src/execution/index.js'
import { createSchema } from '../src/schema/index.js'
import { parseInstant } from '../src/time/parse-instant.js'
import { loadConfig } from '../src/config.js'
import { pino } from 'pino'

import { luxonInstant } from '../tests/helpers/luxon-instant.js'


const ROWS = 1818
const EVENTS = 10_000
const GRID = 'query Grid($category: String) { productGrid(category: $category) { id name category photo price stock stockStatus hits trending rankStatus } }'
const INGEST = 'mutation Ingest($events: [EcommEventInput!]!) { ingestEcommEvents(events: $events) { accepted quarantined } }'

const rows = Array.from({ length: ROWS }, (_, i) => ({
  id: `p_${String(i).padStart(5, '0')}`,
  name: `Product ${i}`,
  category: ['shoes', 'hats', 'bags'][i % 3]!,
  photo: `https://example.com/p/${i}.jpg`,
  price: 10 + (i % 500) / 7,
  stock: (i * 37) % 400,
  stockExact: String((i * 37) % 400),
  stockStatus: i % 3 === 0 ? 'OUT_OF_STOCK' : i % 3 === 1 ? 'LOW_STOCK' : 'IN_STOCK',
  hits: i % 11,
  trending: i < 3,
  rankStatus: i < 3 ? 'Trending 🔥' : null,
}))
const now = Date.now()
const events = Array.from({ length: EVENTS }, (_, i) => ({
  timestamp: new Date(now - 3600e3 - i * 1000).toISOString(),
  event: ['VIEW', 'CART', 'SALE'][i % 3],
  product: rows[i % ROWS]!.id,
}))

const store = {
  productGrid: async () => rows,
  ingestEcommEvents: async (input: readonly unknown[]) => ({ accepted: input.length, quarantined: 0, errors: [], deduplicated: false, stockChanges: [] }),
}
const config = loadConfig({ SIGHTLINE_LOG_LEVEL: 'silent' })
const principal = { name: 'bench', scopes: ['admin', 'read', 'append'], workspaceId: null }
const context = () => ({ principal, store, config, feed: { nudge: () => undefined, publish: () => undefined }, telemetry: { ingested: () => undefined }, loaders: {}, reads: {}, requestId: 'r' })

async function main(): Promise<void> {
  const plain = await createSchema()
  const compiledSchema = await createSchema()
  const execution = createExecution(compiledSchema, { ...config, readCache: { ...config.readCache, enabled: false } }, pino({ level: 'silent' }), undefined)
  const gridDoc = parse(GRID)
  const ingestDoc = parse(INGEST)
  const run = async (exec: (a: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult, schema: typeof plain, document: typeof gridDoc, variables: Record<string, unknown>) => {
    const result = await exec({ schema, document, contextValue: context(), variableValues: variables })
    if (result.errors?.length) throw new Error(JSON.stringify(result.errors))
    return JSON.stringify(result).length
  }
  const contenders: Record<string, () => Promise<unknown>> = {
    'grid, graphql-js (type-graphql field resolvers)': () => run(execute, plain, gridDoc, { category: 'all' }),
    'grid, plain fields + graphql-jit': () => run(execution.execute, compiledSchema, gridDoc, { category: 'all' }),
    'ingest 10k, graphql-js': () => run(execute, plain, ingestDoc, { events }),
    'ingest 10k, plain fields + graphql-jit': () => run(execution.execute, compiledSchema, ingestDoc, { events }),
    '10k timestamps, luxon (before)': async () => {
      for (const e of events) luxonInstant(e.timestamp, 'UTC')
    },
    '10k timestamps, fast parser': async () => {
      for (const e of events) parseInstant(e.timestamp, 'UTC')
    },
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
  for (const fn of Object.values(contenders)) for (let i = 0; i < 5; i++) await fn()
  for (let round = 0; round < 15; round++) {
    for (const [name, fn] of Object.entries(contenders)) {
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now()
        await fn()
        samples[name]!.push(performance.now() - t0)
      }
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
  const report = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(median(v) * 100) / 100]))
  console.log(JSON.stringify({ loadAverage: loadavg().map((v) => Math.round(v * 10) / 10), medianMs: report, compiled: execution.compiled.counts }, null, 2))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
