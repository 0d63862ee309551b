/**
 * The live stock feed: one poller of the store's change log and the per-subscriber queues it fans out to.
 * Over 300 lines because the two halves (the poller and `Subscriber`, its bounded coalescing queue) share
 * one lifecycle and private state; split apart they would need a protocol between them.
 */
import type { Store } from '../store/store.js'
import { asWork } from '../store/workload.js'
import { stockStatus } from '../catalog/index.js'
import type { LoggedStockChange, StockChange, StockStatus } from '../store/types.js'

/** One stock change of one product, as a subscriber sees it. */
export interface StockUpdate {
  readonly product: string
  readonly available: number
  readonly status: StockStatus
  readonly delta: number
  readonly at: Date
}

/** A write through this gateway, stored, whose changes wait to be sent (`StockFeed.stored`). */
interface StoredWrite {
  readonly write: string
  readonly changes: readonly StockChange[]
  readonly at: Date
}

export interface StockFilter {
  readonly products?: readonly string[] | null | undefined
  readonly category?: string | null | undefined
}

export interface StockFeedOptions {
  readonly pollMs: number
  readonly lowStockThreshold: number
  /**
   * Updates a subscriber may have waiting before they coalesce to the latest per product. A queue
   * only passes this when more distinct products than that are waiting (one entry each).
   * @default 1000
   */
  readonly queueLimit?: number
  /** How far behind the watermark each poll looks again, for inserts that become visible late. @default 5000 */
  readonly overlapMs?: number
  /**
   * How long the stock levels the feed keeps (read from the store, then advanced by the logged changes)
   * are trusted before the poller reads them again: a bound on any drift from changes the log does not show.
   * @default 60000
   */
  readonly levelsMaxAgeMs?: number
  readonly onError?: (err: unknown) => void
}

/**
 * Live stock for subscribers, from the store's change log and this gateway's own writes. A write through
 * this gateway is sent as soon as it is stored (`stored`, which the write does not wait for), without a
 * read of the log: the write's id is on its rows in the log, so when the log shows them they are not sent
 * again. Writes that bypassed it (another replica, a direct insert) arrive within `pollMs`. Each change
 * in the log has an id; ids seen within the overlap window are skipped, so a change that shows up late is
 * sent once and one that shows up twice is not sent again. With no subscriber the poller stops.
 *
 * The stock after each change comes from levels the feed keeps: every product's stock read from the
 * store together with the change log (between writes, so both show the same writes), then advanced by
 * each change as it is taken, so a poll reads the log alone. They are read again every
 * `levelsMaxAgeMs`, and after `resync` (the stock datasource truncated or deleted from).
 */
export class StockFeed {
  private readonly subscribers = new Set<Subscriber>()
  private readonly watchers = new Set<(count: number) => void>()
  private readonly seen = new Map<string, number>()
  private watermark = 0
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private again = false
  private closed = false
  private readonly categories = new Map<string, string>()
  private starting: Promise<void> | undefined
  private running = false
  /** Each product's stock after every change taken so far (absent: 0); undefined until (re)read. */
  private levels: Map<string, number> | undefined
  private levelsReadAt = 0
  /** Advances whenever the levels are dropped (`resync`, a stop or start): a read begun before keeps none it took. */
  private generation = 0
  /** The next read is the poller's (not a nudge's): the one that reads stale levels again. */
  private timed = false
  /** Gateway writes stored and not yet sent (`stored`), in the order they were stored. */
  private writes: StoredWrite[] = []
  /**
   * Per write and product (`write\nproduct`), what was sent ahead of the log and is not in it yet: the
   * log's changes of that write are taken without being sent until they add up to it. `levels`: the
   * levels' version it advanced (levels read since do not hold it, so the log's change advances them).
   */
  private readonly ahead = new Map<string, { remaining: number; readonly at: number; readonly levels: number }>()
  /** Per write and product, what the log showed (and was sent) before its write was: not sent twice. */
  private readonly shown = new Map<string, { delta: number; at: number }>()
  /** Advances whenever the levels are replaced by a read. */
  private levelsVersion = 0
  /** A read of the levels is under way (stored writes wait for it). */
  private readingLevels = false
  /** Updates go into the subscribers' queues one batch after another, in the order they were made. */
  private delivered: Promise<void> = Promise.resolve()

  constructor(
    private readonly store: Store,
    private readonly options: StockFeedOptions,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size
  }

  /** Whether a stored write's changes are sent now (someone is subscribed and the feed has started). */
  get sending(): boolean {
    return this.running
  }

  /** Calls `listener` with the subscriber count whenever it changes; returns a function that stops it. */
  watchSubscribers(listener: (count: number) => void): () => void {
    this.watchers.add(listener)
    return () => this.watchers.delete(listener)
  }

  private counted(): void {
    for (const listener of this.watchers) listener(this.subscribers.size)
  }

  /** Updates waiting for the slowest subscriber: how far behind it is. */
  get backlog(): number {
    let most = 0
    for (const s of this.subscribers) most = Math.max(most, s.queued)
    return most
  }

  /** An async iterator of updates matching the filter; `return()` unsubscribes. */
  async subscribe(filter: StockFilter): Promise<AsyncIterableIterator<StockUpdate>> {
    if (this.closed) throw new Error('the stock feed is closed')
    const subscriber = new Subscriber(filter, this.options.queueLimit ?? 1000, () => {
      if (this.subscribers.delete(subscriber)) this.counted()
      if (this.subscribers.size === 0) this.stop()
    })
    this.subscribers.add(subscriber)
    this.counted()
    // The first subscriber starts the poller; everyone else joining meanwhile waits for the same start.
    // A start the last subscriber stopped half-way leaves the feed stopped: start again then.
    try {
      while (!this.running && this.subscribers.has(subscriber) && !this.closed) {
        this.starting ??= this.start().finally(() => {
          this.starting = undefined
        })
        await this.starting
      }
    } catch (err) {
      subscriber.finish()
      throw err
    }
    return subscriber
  }

  /**
   * Reads the change log now, instead of at the next poll. Resolves once what it found is in the
   * subscribers' queues; never rejects (a failed read goes to `onError`, and the next read catches up).
   * A change is sent once, by id, whichever read finds it first; each read takes every unseen change, so
   * changes go out in the order they were logged, whoever wrote them.
   */
  nudge(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return this.poll()
  }

  /**
   * A write through this gateway stored `changes`. With its id in the change log (`write`, the store's
   * `IngestOutcome.writeId`) they are sent now, each product's stock advanced by them, without reading
   * the log; when a read of the log then finds them they are not sent again (and what a read found first
   * is not sent twice). Without an id (a retry that completed an earlier attempt, whose changes may have
   * gone out already) the log is read instead. So a gateway write's update can reach subscribers before
   * a write that bypassed the gateway and was stored just before it. Their `at` is `storedAt`, when the
   * store acknowledged the write (the log's stamp, taken inside the insert, is not known without the read).
   * Resolves as `nudge` does.
   */
  stored(write: string | undefined, changes: readonly StockChange[], storedAt = new Date()): Promise<void> {
    if (!this.running) return Promise.resolve()
    if (write === undefined) return this.poll()
    // After this turn of the event loop: the fan-out runs in the subscribers' promise chains, and begun
    // now it would go ahead of the write's own answer (a 1,000-socket fan-out before the response).
    return new Promise((resolve) =>
      setImmediate(() => {
        this.writes.push({ write, changes, at: storedAt })
        // Not behind a read of the log under way; only behind one of the levels (they are being replaced).
        const levels = this.readingLevels ? undefined : this.levels
        if (levels === undefined) void this.work().then(resolve)
        else void this.sendWrites(levels).catch((err: unknown) => this.options.onError?.(err)).then(resolve)
      }),
    )
  }

  /**
   * The store's stock levels changed other than by logged changes (the stock datasource truncated or
   * deleted from): the next read takes them again from the store. Resolves as `nudge` does.
   */
  resync(): Promise<void> {
    this.generation++
    this.levels = undefined
    return this.nudge()
  }

  /** Each product's stock as the feed has it now (absent: 0): what the store says once the feed has read every change. */
  stockLevels(): ReadonlyMap<string, number> {
    return new Map(this.levels)
  }

  /** Completes every subscription and stops polling. */
  close(): void {
    this.closed = true
    this.stop()
    for (const s of this.subscribers) s.finish()
    this.subscribers.clear()
    this.counted()
  }

  private async start(): Promise<void> {
    if (this.running) return
    this.running = true
    // Only changes after the first subscription matter: what a poll would read back from before now
    // is seen. Changes logged while this read runs are newer than `startedAt`, so they stay unseen
    // and the next poll delivers them.
    const startedAt = Date.now()
    this.watermark = startedAt
    this.seen.clear()
    this.levels = undefined
    const generation = ++this.generation
    try {
      await asWork('live', () =>
        this.store.betweenWrites(async () => {
          const existing = await this.store.stockChangesSince(new Date(startedAt - 2 * (this.options.overlapMs ?? 5000)))
          const unseen: LoggedStockChange[] = []
          for (const c of existing) {
            if (c.at.getTime() <= startedAt) this.remember(c.id, c.at.getTime())
            else unseen.push(c)
          }
          await this.readLevels(unseen, generation)
        }),
      )
    } catch (err) {
      // Not running, so the next subscriber tries again instead of joining a poller that never started.
      this.running = false
      throw err
    }
    this.schedule()
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.running = false
    this.generation++
    this.levels = undefined
    this.writes = []
    this.ahead.clear()
    this.shown.clear()
  }

  /**
   * Reads every product's stock; `unseen` are the changes of the same read of the log (between writes)
   * not taken yet: the levels are kept as they were before them, and taking them advances the levels.
   * They become the feed's only if nothing dropped the levels since `generation` (a truncate racing
   * this read could otherwise leave levels read after it with changes read before its reset was logged).
   */
  private async readLevels(unseen: readonly LoggedStockChange[], generation: number): Promise<Map<string, number>> {
    const readAt = Date.now()
    const levels = new Map<string, number>()
    for (const s of await this.store.datasources.stockLevels()) levels.set(s.product, s.delta)
    for (const c of unseen) levels.set(c.product, (levels.get(c.product) ?? 0) - c.delta)
    if (generation === this.generation) {
      this.levels = levels
      this.levelsReadAt = readAt
      this.levelsVersion++
    }
    return levels
  }

  private schedule(): void {
    if (this.closed || !this.running) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timed = true
      void this.poll().finally(() => this.schedule())
    }, this.options.pollMs)
    this.timer.unref()
  }

  /** One read at a time; requests made during a read are answered by one more read right after it. */
  private poll(): Promise<void> {
    this.again = true
    return this.work()
  }

  /**
   * Sends stored writes and reads the log, one thing at a time (so updates go out in the order their
   * levels were advanced): writes first (no store read), then a read when one was asked for.
   */
  private work(): Promise<void> {
    if (this.polling) return this.polling
    this.polling = (async () => {
      while ((this.again || this.writes.length > 0) && this.running) {
        try {
          if (this.writes.length > 0 && this.levels !== undefined) {
            await this.sendWrites(this.levels)
            continue
          }
          this.again = false
          const timed = this.timed
          this.timed = false
          // Reads go ahead of heavy reads in the store's queue: subscribers must not wait for dashboards.
          await asWork('live', () => this.pollOnce(timed))
        } catch (err) {
          this.options.onError?.(err)
        }
      }
    })().finally(() => {
      this.polling = undefined
      // Asked for between the loop's last check and now: nothing else would take it.
      if ((this.again || this.writes.length > 0) && this.running) void this.work()
    })
    return this.polling
  }

  /**
   * Sends the stored writes' changes ahead of the log (see `stored`), advancing `levels` (the feed's). Without
   * levels (the feed starting, a resync) the loop reads them first, and the log with them.
   */
  private sendWrites(levels: Map<string, number>): Promise<void> {
    const writes = this.writes
    this.writes = []
    const updates: StockUpdate[] = []
    for (const { write, changes, at } of writes) {
      for (const c of changes) {
        const key = `${write}\n${c.product}`
        const delta = c.delta - (this.shown.get(key)?.delta ?? 0)
        this.shown.delete(key)
        if (delta === 0) continue
        this.ahead.set(key, { remaining: delta, at: at.getTime(), levels: this.levelsVersion })
        updates.push(this.advance(levels, c.product, delta, at))
      }
    }
    return this.deliver(updates)
  }

  /** The update a change makes: its product's stock advanced by `delta` in `levels`. */
  private advance(levels: Map<string, number>, product: string, delta: number, at: Date): StockUpdate {
    const available = (levels.get(product) ?? 0) + delta
    levels.set(product, available)
    return { product, available, status: stockStatus(available, this.options.lowStockThreshold), delta, at }
  }

  /**
   * Into the queue of every subscriber whose filter matches, after every batch made before (a batch may
   * wait for its products' categories, and a later one must not pass it).
   */
  private deliver(updates: readonly StockUpdate[]): Promise<void> {
    if (updates.length === 0) return this.delivered
    const done = this.delivered.then(async () => {
      await this.loadCategories([...new Set(updates.map((u) => u.product))])
      for (const update of updates) {
        const category = this.categories.get(update.product)
        for (const s of this.subscribers) if (s.matches(update.product, category)) s.push(update)
      }
    })
    this.delivered = done.catch(() => undefined)
    return done
  }

  /**
   * Reads and delivers the unseen changes. Levels past their age are read again by the poller's reads
   * (`timed`), so a nudged delivery never waits for that.
   */
  private async pollOnce(timed: boolean): Promise<void> {
    const overlap = this.options.overlapMs ?? 5000
    const unseen = async () => (await this.store.stockChangesSince(new Date(this.watermark - overlap))).filter((c) => !this.seen.has(c.id))
    const generation = this.generation
    let changes: LoggedStockChange[]
    let levels = this.levels
    if (levels === undefined || (timed && Date.now() - this.levelsReadAt > (this.options.levelsMaxAgeMs ?? 60_000))) {
      // The log and the levels are read between writes: an insert commits its change-log part and its
      // stock part one after the other, and a read in between would see half a write.
      this.readingLevels = true
      try {
        changes = await this.store.betweenWrites(async () => {
          const found = await unseen()
          levels = await this.readLevels(found, generation)
          return found
        })
      } finally {
        this.readingLevels = false
      }
    } else {
      changes = await unseen()
    }
    // Levels dropped while this read ran (`resync`, a stop): read again with them read afresh.
    const current = this.levels
    if (generation !== this.generation || current === undefined || current !== levels) {
      this.again = true
      return
    }
    if (changes.length === 0) return
    for (const c of changes) this.remember(c.id, c.at.getTime())
    this.prune(overlap)

    // The stock after each change: the level before it, advanced by it (in the order they were logged).
    // A change already sent with its write is taken unsent (its write may show as several changes, one
    // per block the store inserted).
    const updates: StockUpdate[] = []
    for (const c of changes) {
      const key = c.write === '' ? undefined : `${c.write}\n${c.product}`
      const sent = key === undefined ? undefined : this.ahead.get(key)
      if (key !== undefined && sent !== undefined) {
        sent.remaining -= c.delta
        if (sent.remaining === 0) this.ahead.delete(key)
        if (sent.levels !== this.levelsVersion) current.set(c.product, (current.get(c.product) ?? 0) + c.delta)
        continue
      }
      if (key !== undefined) this.shown.set(key, { delta: (this.shown.get(key)?.delta ?? 0) + c.delta, at: c.at.getTime() })
      updates.push(this.advance(current, c.product, c.delta, c.at))
    }
    await this.deliver(updates)
  }

  private remember(id: string, atMs: number): void {
    this.seen.set(id, atMs)
    if (atMs > this.watermark) this.watermark = atMs
  }

  /** Forgets ids, and writes' sent and shown changes, older than twice the overlap (the log's time, the clock's). */
  private prune(overlap: number): void {
    const floor = this.watermark - 2 * overlap
    for (const [id, at] of this.seen) if (at < floor) this.seen.delete(id)
    const old = Math.min(floor, Date.now() - 2 * overlap)
    for (const [key, { at }] of this.ahead) if (at < old) this.ahead.delete(key)
    for (const [key, { at }] of this.shown) if (at < old) this.shown.delete(key)
  }

  private async loadCategories(products: string[]): Promise<void> {
    const wanted = [...this.subscribers].some((s) => s.wantsCategory)
    if (!wanted) return
    const missing = products.filter((p) => !this.categories.has(p))
    if (missing.length === 0) return
    const found = await this.store.productsByIds(missing)
    found.forEach((p, i) => {
      if (p) this.categories.set(missing[i]!, p.category)
    })
  }
}

/**
 * Queued updates a subscriber takes before it lets other work run. A socket's updates of one turn go out in
 * one write (src/transport/websocket.ts), so this is also how many share a system call: at 4 the soak's
 * fan-out (250 subscribers, ~45,000 updates a second) saturated the main thread and fell behind within 30 s
 * (its queues then coalesce, each merged update executed per subscriber); at 16 it keeps up with the main
 * thread ~45% idle, and HTTP reads beside it answer faster, not slower (soak read p50 ~1,000 → ~500 ms).
 */
const YIELD_EVERY = 16

/**
 * One subscription: a queue of at most `limit` updates. Once full, an update merges into the latest
 * waiting update of its product (latest stock, summed delta), so a slow reader skips intermediate
 * values but never sees an older value after a newer one, and the deltas it sees still add up.
 */
class Subscriber implements AsyncIterableIterator<StockUpdate> {
  private queue: StockUpdate[] = []
  /**
   * Each waiting product's latest update, as a position counted from the subscription's first update
   * (`queue[i - taken]`): a full queue merges into it at once instead of searching for it, so a subscriber
   * that fell behind costs no more per update than one that keeps up. A product stops waiting when the
   * update taken is its latest; fewer entries than queued updates means some product waits twice.
   */
  private readonly latestAt = new Map<string, number>()
  /** Updates taken off the queue so far (the position of `queue[0]`). */
  private taken = 0
  private waiting: ((r: IteratorResult<StockUpdate>) => void) | undefined
  private drained = 0
  private done = false
  private readonly products: Set<string> | undefined
  private readonly category: string | undefined

  constructor(
    filter: StockFilter,
    private readonly limit: number,
    private readonly onClose: () => void,
  ) {
    this.products = filter.products && filter.products.length > 0 ? new Set(filter.products) : undefined
    this.category = filter.category && filter.category !== 'all' ? filter.category : undefined
  }

  get wantsCategory(): boolean {
    return this.category !== undefined
  }

  get queued(): number {
    return this.queue.length
  }

  matches(product: string, category: string | undefined): boolean {
    if (this.products && !this.products.has(product)) return false
    if (this.category !== undefined && category !== this.category) return false
    return true
  }

  push(update: StockUpdate): void {
    if (this.done) return
    if (this.waiting) {
      const resolve = this.waiting
      this.waiting = undefined
      resolve({ value: update, done: false })
      return
    }
    if (this.queue.length >= this.limit) {
      const at = this.latestAt.get(update.product)
      if (at !== undefined) {
        const prev = this.queue[at - this.taken]!
        this.queue[at - this.taken] = { ...update, delta: prev.delta + update.delta }
        return
      }
      // A new product: make room by merging each product's updates into its latest.
      if (this.latestAt.size < this.queue.length) this.compact()
    }
    this.latestAt.set(update.product, this.taken + this.queue.length)
    this.queue.push(update)
  }

  next(): Promise<IteratorResult<StockUpdate>> {
    const value = this.queue.shift()
    if (value) {
      if (this.latestAt.get(value.product) === this.taken) this.latestAt.delete(value.product)
      this.taken++
      // A backlog yields to the event loop every few updates: a burst to a thousand subscribers then
      // interleaves with HTTP requests instead of starving them until it is all sent.
      if (++this.drained % YIELD_EVERY !== 0) return Promise.resolve({ value, done: false })
      return new Promise((resolve) => setImmediate(resolve, { value, done: false }))
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve) => {
      this.waiting = resolve
    })
  }

  return(): Promise<IteratorResult<StockUpdate>> {
    this.finish()
    return Promise.resolve({ value: undefined, done: true })
  }

  finish(): void {
    if (this.done) return
    this.done = true
    this.queue.length = 0
    this.latestAt.clear()
    this.waiting?.({ value: undefined, done: true })
    this.waiting = undefined
    this.onClose()
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StockUpdate> {
    return this
  }

  /** One update per product, at the place of its latest, carrying the sum of the merged deltas. */
  private compact(): void {
    const merged = new Map<string, number>()
    const kept: StockUpdate[] = []
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const u = this.queue[i]!
      const at = merged.get(u.product)
      if (at === undefined) {
        merged.set(u.product, kept.length)
        kept.push(u)
      } else {
        kept[at] = { ...kept[at]!, delta: kept[at]!.delta + u.delta }
      }
    }
    this.queue = kept.reverse()
    this.queue.forEach((u, i) => this.latestAt.set(u.product, this.taken + i))
  }
}
