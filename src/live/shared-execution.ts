import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql'

type Result = ExecutionResult | Promise<ExecutionResult>

/**
 * graphql-js's `subscribe`, except that one event delivered to many subscriptions is executed once
 * per document, variables and caller, and the result shared. The stock feed hands every subscriber
 * the same update object, so a thousand dashboards on one query cost one execution per update
 * instead of a thousand. Results are keyed by the caller (`principalKey` of the context: name,
 * scopes and workspace), so a result is only ever shared between subscriptions of equal callers.
 */
export function sharedSubscribe(
  principalKey: (contextValue: unknown) => string,
): (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const results = new WeakMap<object, Map<string, Result>>()
  const printed = new WeakMap<DocumentNode, string>()
  return async (args) => {
    const stream = await createSourceEventStream(args)
    if (!(Symbol.asyncIterator in stream)) return stream
    let text = printed.get(args.document)
    if (text === undefined) printed.set(args.document, (text = print(args.document)))
    const key = JSON.stringify([text, args.operationName ?? null, args.variableValues ?? {}, principalKey(args.contextValue)])
    return mapEvents(stream[Symbol.asyncIterator](), (event): Result => {
      if (typeof event !== 'object' || event === null) return execute({ ...args, rootValue: event })
      let byKey = results.get(event)
      if (!byKey) results.set(event, (byKey = new Map()))
      let result = byKey.get(key)
      if (!result) byKey.set(key, (result = execute({ ...args, rootValue: event })))
      return result
    })
  }
}

/** Maps an async iterator; `return()` reaches the source at once, even while a `next()` is pending. */
function mapEvents<T, R>(source: AsyncIterator<T>, map: (value: T) => R | Promise<R>): AsyncIterableIterator<R> {
  return {
    async next() {
      const step = await source.next()
      return step.done ? { done: true, value: undefined } : { done: false, value: await map(step.value) }
    },
    async return() {
      await source.return?.()
      return { done: true, value: undefined }
    },
    async throw(err: unknown) {
      if (source.throw) await source.throw(err)
      throw err
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}
