import { execute, getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'

/** What `CompiledExecution` keeps per document: the compiled query, or the reason to use graphql-js. */
type Plan = { readonly compiled: CompiledQuery } | { readonly fallback: true }

export interface CompiledExecutionOptions {
  /** Compiled documents kept (least recently used go first). @default 500 */
  readonly maxDocuments?: number
}

/**
 * Executes queries and mutations with graphql-jit: each document (and operation name) is compiled once
 * into a function that reads the result's fields directly (fields without resolvers become property
 * reads), then reused. Anything graphql-jit cannot compile, subscriptions, and requests whose variables do
 * not fit (so the client gets graphql-js's exact message) run on graphql-js's `execute`. The errors are
 * graphql-js `GraphQLError`s either way, with the resolver's error as `originalError`, so `formatError`
 * maps them as before.
 */
export class CompiledExecution {
  private readonly plans = new Map<string, Plan>()
  private readonly maxDocuments: number
  /** Documents run on graphql-jit and on graphql-js since the start (for tests and metrics). */
  readonly counts = { compiled: 0, fallback: 0, compilations: 0 }

  constructor(
    private readonly schema: GraphQLSchema,
    options: CompiledExecutionOptions = {},
  ) {
    this.maxDocuments = Math.max(1, options.maxDocuments ?? 500)
  }

  /** graphql-js's `execute`, signature and results included. */
  execute(args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
    if (args.schema !== this.schema || args.rootValue !== undefined || args.fieldResolver || args.typeResolver || args.subscribeFieldResolver) {
      return this.fallback(args)
    }
    const plan = this.plan(args.document, args.operationName ?? undefined)
    if (!('compiled' in plan)) return this.fallback(args)
    const result = plan.compiled.query(undefined, args.contextValue, args.variableValues ?? {})
    const finish = (r: ExecutionResult): Promise<ExecutionResult> | ExecutionResult => {
      // No data at all: the variables were refused before anything ran. graphql-js words that refusal as
      // clients (and formatError) know it; it fails at the same step, so nothing runs twice.
      if (r.data === undefined && r.errors?.length) return this.fallback(args)
      this.counts.compiled++
      return r.errors?.length ? { ...r, errors: r.errors.map(asGraphQLError) } : r
    }
    return isPromiseLike(result) ? Promise.resolve(result).then(finish) : finish(result)
  }

  private fallback(args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
    this.counts.fallback++
    return execute(args)
  }

  private plan(document: DocumentNode, operationName: string | undefined): Plan {
    const source = document.loc?.source.body
    // A document built in code (no source text) is not worth a key of its printed form: graphql-js runs it.
    if (source === undefined) return { fallback: true }
    const key = `${operationName ?? ''}\u0000${source}`
    const known = this.plans.get(key)
    if (known) {
      // Most recently used last, so the first key is the one to evict.
      this.plans.delete(key)
      this.plans.set(key, known)
      return known
    }
    const plan = this.compile(document, operationName)
    this.plans.set(key, plan)
    if (this.plans.size > this.maxDocuments) this.plans.delete(this.plans.keys().next().value as string)
    return plan
  }

  private compile(document: DocumentNode, operationName: string | undefined): Plan {
    const operation = getOperationAST(document, operationName)
    if (!operation || operation.operation === 'subscription') return { fallback: true }
    this.counts.compilations++
    try {
      const compiled = compileQuery(this.schema, document, operationName, { disablingCapturingStackErrors: true })
      return isCompiledQuery(compiled) ? { compiled } : { fallback: true }
    } catch {
      return { fallback: true }
    }
  }
}

/**
 * graphql-jit's errors inherit from graphql-js's but leave `extensions` undefined when the thrown error had
 * none (Apollo then fails reading `extensions.code`) and carry no `nodes`. The same error as graphql-js
 * builds it: message, path, locations, the thrown error as `originalError` and its extensions.
 */
function asGraphQLError(e: GraphQLError): GraphQLError {
  const original = e.originalError ?? undefined
  const error = new GraphQLError(e.message, { path: e.path, originalError: original, ...(e.extensions && { extensions: e.extensions }) })
  ;(error as { locations: GraphQLError['locations'] }).locations = e.locations
  return error
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
