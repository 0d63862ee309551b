import type { ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { registerReadCacheMetrics } from '../cache/metrics.js'
import { ReadCache, type ResponseHeaders } from '../cache/read-cache.js'
import type { Config } from '../config.js'
import { CompiledExecution } from './compiled.js'
import { PassThrough, type PassThroughField } from './pass-through.js'
import { plainFields } from './plain-fields.js'

/** How GraphQL operations run, for every transport (Apollo over HTTP and REST, graphql-ws). */
export interface Execution {
  /** graphql-js's `execute` signature; `headers` (Apollo's response) get `x-sightline-cache` when the cache is on. */
  execute(args: ExecutionArgs, headers?: ResponseHeaders): Promise<ExecutionResult> | ExecutionResult
  /**
   * The same for another schema built from this one (a loaded project's `pipes` added): compiled for that
   * schema (kept for the last few schemas), behind the same cache. For LiveSchema's `executorFor`.
   */
  executorFor(schema: GraphQLSchema): (args: ExecutionArgs, headers?: ResponseHeaders) => Promise<ExecutionResult> | ExecutionResult
  /** A write went through this gateway outside GraphQL (Data Sources): resolves once the answers it made stale are dropped. */
  written(): Promise<void>
  /** Starts the cache's poll (after migrations: it reads the tables). */
  start(): Promise<void>
  close(): void
  readonly compiled: CompiledExecution
  readonly cache: ReadCache | undefined
}

/**
 * Plain fields (no per-field resolver), the store's own JSON for plain-field lists (PassThrough), graphql-jit
 * with graphql-js as fallback, and the read cache when
 * `SIGHTLINE_READ_CACHE` is on and the store can report its tables' state. Changes `schema` in place
 * (see plainFields), so build it before handing the schema to Apollo or graphql-ws.
 */
export function createExecution(
  schema: GraphQLSchema,
  config: Pick<Config, 'readCache' | 'pollMs' | 'store' | 'project'>,
  log: Logger,
  tableStates: ((databases: readonly string[]) => Promise<ReadonlyMap<string, string>>) | undefined,
  /** Where the read cache's metrics go (the server's `/metrics`). */
  registry?: Registry,
  /** Root fields whose plain-field answers the store writes itself (see PassThrough); none by default. */
  writers: readonly PassThroughField[] = [],
): Execution {
  plainFields(schema)
  const compiled = new CompiledExecution(schema)
  const written = registry
    ? new Counter({
        name: 'sightline_graphql_store_written_total',
        help: 'GraphQL answers of plain-field lists written by the store itself (outcome passed), or refused by it and executed (outcome refused)',
        labelNames: ['outcome'] as const,
        registers: [registry],
      })
    : undefined
  const passThrough = new PassThrough(schema, writers, (outcome) => written?.inc({ outcome }))
  const execute = (args: ExecutionArgs) => compiled.execute(args)
  const run = (args: ExecutionArgs) => passThrough.execute(args, execute)
  if (config.readCache.enabled && !tableStates) log.warn('SIGHTLINE_READ_CACHE is on but this store cannot report its tables: the read cache stays off')
  const databases = [config.store.database, ...(config.project ? [config.project.database] : [])]
  // With a project loaded the cache exists even when off: a pipe's CACHE keeps its REST answers in it (its
  // poll starts on the first such request). GraphQL goes through it only when SIGHTLINE_READ_CACHE is on.
  const cache =
    (config.readCache.enabled || config.project) && tableStates
      ? new ReadCache({
          maxBytes: config.readCache.maxBytes,
          ttlMs: config.readCache.ttlMs,
          everyRead: config.readCache.enabled,
          pollMs: config.pollMs,
          probe: () => tableStates(databases),
          databases,
          onError: (err) => log.warn({ err }, 'read cache: reading the tables state failed (answers are not cached until it works)'),
        })
      : undefined
  if (cache && registry) registerReadCacheMetrics(registry, cache)
  const cached = cache?.wrap(run)
  // One compiled executor per schema (a reload builds a new one; the previous ones go once unused).
  const bySchema = new WeakMap<GraphQLSchema, CompiledExecution>([[schema, compiled]])
  const runOn = (args: ExecutionArgs) => {
    let forSchema = bySchema.get(args.schema)
    if (!forSchema) bySchema.set(args.schema, (forSchema = new CompiledExecution(args.schema)))
    return forSchema.execute(args)
  }
  const cachedOn = cache?.wrap(runOn)
  return {
    execute: cached ?? run,
    executorFor: (s) => (s === schema ? (cached ?? run) : (cachedOn ?? runOn)),
    written: async () => cache?.written(),
    start: async () => (config.readCache.enabled ? cache?.start() : undefined),
    close: () => cache?.close(),
    compiled,
    cache,
  }
}

/**
 * `service` with each of `methods` dropping cached answers once it settles: writes that do not go through
 * GraphQL (the Data Sources API's truncate and delete).
 */
export function writesThrough<T extends object>(service: T, methods: ReadonlyArray<keyof T & string>, execution: Pick<Execution, 'written'>): T {
  const writing = new Set<string | symbol>(methods)
  return new Proxy(service, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (!writing.has(prop) || typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        } finally {
          await execution.written()
        }
      }
    },
  })
}

/** The store's table fingerprints for the cache's poll, when it can report them (the ClickHouse store). */
export function tableStatesOf(store: object): ((databases: readonly string[]) => Promise<ReadonlyMap<string, string>>) | undefined {
  const candidate = store as { tableStates?: (databases: readonly string[]) => Promise<ReadonlyMap<string, string>> }
  return typeof candidate.tableStates === 'function' ? (databases) => candidate.tableStates!(databases) : undefined
}
