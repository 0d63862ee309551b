import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql'

/** Where a subscription's `next` messages go when the transport lets it write them itself. */
export interface SubscriptionSink {
  /** The subscription's id on its socket. */
  readonly id: string
  /**
   * Writes one whole graphql-transport-ws message. Returns a promise when the socket did not take it at
   * once (its reader is behind): the subscription takes its next event only once that resolves.
   */
  write(message: string): Promise<void> | undefined
}

export interface SharedSubscribeOptions {
  /**
   * What a result may depend on besides the document and variables (the caller's effective scopes and
   * workspace binding): results are shared only between subscriptions with equal keys.
   */
  readonly callerKey: (contextValue: unknown) => string
  /** The result as it goes on the wire (errors masked and coded). */
  readonly format: (result: ExecutionResult) => ExecutionResult
  /** The sink of a subscription whose messages this module writes itself; undefined leaves them to the caller. */
  readonly sinkOf: (contextValue: unknown) => SubscriptionSink | undefined
}

/** One event's result for one key, and its payload serialised once, on first need. */
class Shared {
  private text: string | undefined
  constructor(readonly result: ExecutionResult) {}
  json(format: (result: ExecutionResult) => ExecutionResult): string {
    return (this.text ??= JSON.stringify(format(this.result)))
  }
}

/**
 * graphql-js's `subscribe`, except that one event delivered to many subscriptions is executed and
 * serialised once per document, variables and caller key, and the result shared. The stock feed hands
 * every subscriber the same update object, so a thousand dashboards on one query cost one execution and
 * one `JSON.stringify` per update instead of a thousand.
 *
 * A subscription with a sink (graphql-ws over a socket) writes its `next` messages itself: the shared
 * payload behind its own id, straight to the socket, and the next event only once the socket took the
 * last one (a reader that falls behind holds back only its own subscription, whose feed queue then
 * coalesces). graphql-ws then sees an iterator that yields nothing and ends when the subscription does,
 * so it still sends `complete` and `error` and ends the subscription on `complete` or a closed socket.
 */
export function sharedSubscribe(options: SharedSubscribeOptions): (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const results = new WeakMap<object, Map<string, Shared | Promise<Shared>>>()
  const printed = new WeakMap<DocumentNode, string>()
  return async (args) => {
    const stream = await createSourceEventStream(args)
    if (!(Symbol.asyncIterator in stream)) return stream
    let text = printed.get(args.document)
    if (text === undefined) printed.set(args.document, (text = print(args.document)))
    const key = JSON.stringify([text, args.operationName ?? null, args.variableValues ?? {}, options.callerKey(args.contextValue)])
    const run = (event: unknown): Shared | Promise<Shared> => {
      const result = execute({ ...args, rootValue: event })
      return result instanceof Promise ? result.then((r) => new Shared(r)) : new Shared(result)
    }
    const shared = (event: unknown): Shared | Promise<Shared> => {
      if (typeof event !== 'object' || event === null) return run(event)
      let byKey = results.get(event)
      if (!byKey) results.set(event, (byKey = new Map()))
      let found = byKey.get(key)
      if (!found) byKey.set(key, (found = run(event)))
      return found
    }
    const source = stream[Symbol.asyncIterator]()
    const sink = options.sinkOf(args.contextValue)
    if (sink) return writeEvents(source, sink, shared, options.format)
    return mapEvents(source, async (event) => (await shared(event)).result)
  }
}

/**
 * Writes each event's shared payload to the sink, one at a time, and presents the whole as an iterator
 * that yields nothing: its first `next()` starts the writing and settles when the source ends (done) or
 * fails (rejects); `return()` stops it and reaches the source at once.
 */
function writeEvents<T>(
  source: AsyncIterator<T>,
  sink: SubscriptionSink,
  shared: (event: T) => Shared | Promise<Shared>,
  format: (result: ExecutionResult) => ExecutionResult,
): AsyncIterableIterator<ExecutionResult> {
  const prefix = `{"id":${JSON.stringify(sink.id)},"type":"next","payload":`
  let stopped = false
  let running: Promise<IteratorResult<ExecutionResult>> | undefined
  const pump = async (): Promise<IteratorResult<ExecutionResult>> => {
    for (;;) {
      const step = await source.next()
      if (step.done || stopped) return { done: true, value: undefined }
      const found = shared(step.value)
      const payload = (found instanceof Promise ? await found : found).json(format)
      if (stopped) return { done: true, value: undefined }
      const backedUp = sink.write(prefix + payload + '}')
      if (backedUp) await backedUp
    }
  }
  return {
    next() {
      running ??= pump()
      return running
    },
    async return() {
      stopped = true
      await source.return?.()
      return { done: true, value: undefined }
    },
    async throw(err: unknown) {
      stopped = true
      if (source.throw) await source.throw(err)
      throw err
    },
    [Symbol.asyncIterator]() {
      return this
    },
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
