import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql'
import { describe, expect, it } from 'vitest'
import { sharedSubscribe, type SubscriptionSink } from '../../src/live/shared-execution.js'
import { Changes } from '../helpers/wait.js'

interface Event {
  readonly n: number
}

/** A source of events the test pushes, one iterator per subscription, each with its own queue. */
class Source {
  readonly iterators = new Set<Queue>()
  pulls = 0
  push(event: Event): void {
    for (const it of this.iterators) it.push(event)
  }
  open(): Queue {
    const q = new Queue(this)
    this.iterators.add(q)
    return q
  }
}

class Queue implements AsyncIterableIterator<Event> {
  private readonly waiting: Event[] = []
  private wake: ((r: IteratorResult<Event>) => void) | undefined
  ended = false
  constructor(private readonly source: Source) {}
  push(event: Event): void {
    if (this.wake) {
      const w = this.wake
      this.wake = undefined
      w({ value: event, done: false })
    } else this.waiting.push(event)
  }
  next(): Promise<IteratorResult<Event>> {
    this.source.pulls++
    const e = this.waiting.shift()
    if (e) return Promise.resolve({ value: e, done: false })
    if (this.ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve) => (this.wake = resolve))
  }
  return(): Promise<IteratorResult<Event>> {
    this.ended = true
    this.source.iterators.delete(this)
    this.wake?.({ value: undefined, done: true })
    return Promise.resolve({ value: undefined, done: true })
  }
  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this
  }
}

function setup() {
  const source = new Source()
  const executions: Array<{ n: number; label: string }> = []
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt, resolve: () => 1 } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        ticked: {
          type: new GraphQLNonNull(new GraphQLObjectType({ name: 'Tick', fields: { n: { type: GraphQLInt }, label: { type: GraphQLString } } })),
          args: { label: { type: GraphQLString } },
          subscribe: () => source.open(),
          resolve: (event: Event, args: { label?: string }) => {
            executions.push({ n: event.n, label: args.label ?? '' })
            return { n: event.n, label: args.label ?? '' }
          },
        },
      },
    }),
  })
  const changes = new Changes()
  const sinks = new Map<object, SubscriptionSink>()
  const written: Array<{ id: string; message: string }> = []
  let hold: Promise<void> | undefined
  const subscribe = sharedSubscribe({
    callerKey: (ctx) => (ctx as { caller: string }).caller,
    format: (r: ExecutionResult) => r,
    sinkOf: (ctx) => sinks.get(ctx as object),
  })
  /** A subscription writing to its own sink, as a graphql-ws subscription on a socket does. */
  const open = async (id: string, caller: string, label = 'a') => {
    const contextValue = { caller }
    sinks.set(contextValue, {
      id,
      write(message) {
        written.push({ id, message })
        changes.notify()
        return hold
      },
    })
    const document = parse('subscription S($label: String) { ticked(label: $label) { n label } }')
    const it = (await subscribe({ schema, document, variableValues: { label }, contextValue })) as AsyncIterableIterator<ExecutionResult>
    // graphql-ws's loop: one next() that settles when the subscription ends.
    const ended = it.next()
    return { it, ended }
  }
  return {
    source,
    executions,
    written,
    open,
    until: (c: () => boolean, what: string) => changes.until(c, what),
    holdWrites: (p: Promise<void> | undefined) => (hold = p),
  }
}

describe('sharedSubscribe', () => {
  it('executes and serialises an event once for equal subscriptions and writes it behind each id', async () => {
    const t = setup()
    const subs = await Promise.all([t.open('1', 'reader'), t.open('2', 'reader'), t.open('3', 'reader')])
    t.source.push({ n: 7 })
    await t.until(() => t.written.length === 3, 'three writes')
    expect(t.executions).toEqual([{ n: 7, label: 'a' }])
    const payload = '{"data":{"ticked":{"n":7,"label":"a"}}}'
    expect(t.written.map((w) => w.message).sort()).toEqual(['1', '2', '3'].map((id) => `{"id":"${id}","type":"next","payload":${payload}}`))
    for (const w of t.written) expect(JSON.parse(w.message)).toEqual({ id: w.id, type: 'next', payload: JSON.parse(payload) })
    for (const s of subs) await s.it.return?.()
    for (const s of subs) await expect(s.ended).resolves.toEqual({ done: true, value: undefined })
  })

  it('executes apart what other variables or another caller key could answer differently', async () => {
    const t = setup()
    await t.open('1', 'reader', 'a')
    await t.open('2', 'reader', 'b')
    await t.open('3', 'other', 'a')
    await t.open('4', 'other', 'a')
    t.source.push({ n: 1 })
    await t.until(() => t.written.length === 4, 'four writes')
    expect(t.executions.map((e) => e.label).sort()).toEqual(['a', 'a', 'b'])
    const byId = new Map(t.written.map((w) => [w.id, JSON.parse(w.message).payload.data.ticked.label]))
    expect(Object.fromEntries(byId)).toEqual({ '1': 'a', '2': 'b', '3': 'a', '4': 'a' })
  })

  it('takes the next event only once the last write flushed, and ends at once on return', async () => {
    const t = setup()
    const sub = await t.open('1', 'reader')
    let flush!: () => void
    t.holdWrites(new Promise<void>((resolve) => (flush = resolve)))
    t.source.push({ n: 1 })
    t.source.push({ n: 2 })
    await t.until(() => t.written.length === 1, 'the first write')
    const pulls = t.source.pulls
    // The socket has not taken the first message: the second waits in the source, not on the socket.
    await new Promise((r) => setImmediate(r))
    expect(t.written).toHaveLength(1)
    expect(t.source.pulls).toBe(pulls)
    t.holdWrites(undefined)
    flush()
    await t.until(() => t.written.length === 2, 'the second write')
    expect(JSON.parse(t.written[1]!.message).payload.data.ticked.n).toBe(2)
    await sub.it.return?.()
    await expect(sub.ended).resolves.toEqual({ done: true, value: undefined })
    expect(t.source.iterators.size).toBe(0)
    t.source.push({ n: 3 })
    await new Promise((r) => setImmediate(r))
    expect(t.written).toHaveLength(2)
  })
})
