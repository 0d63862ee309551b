import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import { QueryCancelledError } from '../../src/store/executor.js'
import { emptyQueryStats } from '../../src/store/query-stats.js'
import { testStoreConfig } from '../helpers/store.js'

/** What the store asked of the real client: each call's method and the query id and signal it carried. */
type Sent = { method: string; query_id?: string; abort_signal?: AbortSignal }

function recording(real: ClickHouseClient, sent: Sent[]): ClickHouseClient {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'query' || prop === 'insert' || prop === 'command') {
        return (params: { query_id?: string; abort_signal?: AbortSignal }) => {
          sent.push({ method: prop, query_id: params.query_id, abort_signal: params.abort_signal })
          return (target[prop] as (p: unknown) => Promise<unknown>).call(target, params)
        }
      }
      return Reflect.get(target, prop, receiver) as unknown
    },
  })
}

describe('the store executor', () => {
  const sent: Sent[] = []
  let store: ClickHouseStore

  beforeAll(async () => {
    const config = testStoreConfig()
    store = new ClickHouseStore(recording(createConnection(config), sent), config)
    await store.migrate()
    await store.upsertProducts([{ id: 'p1', category: 'c', name: 'one', photo: '', price: 1 }])
  })
  afterAll(async () => {
    await store?.close()
  })

  it("tags every statement of a request with the request's id, one query_id per statement", async () => {
    sent.length = 0
    await store.forRequest({ requestId: 'req-1' }, () => Promise.all([store.products(undefined, 5, 0), store.stock(['p1']), store.recentSales(['p1'])]))
    const ids = sent.map((s) => s.query_id)
    expect(ids).toHaveLength(3)
    expect(new Set(ids).size).toBe(3)
    for (const id of ids) expect(id).toMatch(/^req-1\.\d+$/)
    sent.length = 0
    await store.products(undefined, 5, 0)
    expect(sent.map((s) => s.query_id)).toEqual([undefined])
  })

  it('adds what each request read to its own statistics, not to another running beside it', async () => {
    const [a, b] = [emptyQueryStats(), emptyQueryStats()]
    await Promise.all([
      store.forRequest({ requestId: 'a', stats: a }, async () => {
        await store.products(undefined, 5, 0)
        await store.stock(['p1'])
      }),
      store.forRequest({ requestId: 'b', stats: b }, () => store.products(undefined, 5, 0)),
    ])
    expect(a.queries).toBe(2)
    expect(b.queries).toBe(1)
    expect(a.rowsRead).toBeGreaterThan(0)
    expect(b.rowsRead).toBeGreaterThan(0)
  })

  it('drops the statements of a cancelled request without sending them, and the next request is served', async () => {
    sent.length = 0
    const cancelled = new AbortController()
    cancelled.abort()
    await expect(store.forRequest({ requestId: 'gone', signal: cancelled.signal }, () => store.products(undefined, 5, 0))).rejects.toBeInstanceOf(
      QueryCancelledError,
    )
    expect(sent).toEqual([])
    const live = new AbortController()
    const rows = await store.forRequest({ requestId: 'here', signal: live.signal }, () => store.products(undefined, 5, 0))
    expect(rows.map((p) => p.id)).toEqual(['p1'])
    // A server stops a statement whose request is aborted, so it gets the signal; embedded chDB cannot
    // interrupt a running statement (its session would go on computing), so it does not.
    expect(sent.map((s) => s.abort_signal)).toEqual([process.env.CLICKHOUSE_URL ? live.signal : undefined])
  })

  it('never cancels a write: a batch whose client went away is stored whole', async () => {
    const cancelled = new AbortController()
    cancelled.abort()
    const outcome = await store.forRequest({ requestId: 'gone', signal: cancelled.signal }, () =>
      store.upsertProducts([{ id: 'p2', category: 'c', name: 'two', photo: '', price: 2 }]),
    )
    expect(outcome).toMatchObject({ accepted: 1, quarantined: 0 })
    expect((await store.productsByIds(['p2'])).map((p) => p?.name)).toEqual(['two'])
  })

  it('sends rows of values as one compact body that any text survives (brackets, commas, quotes, escapes, line breaks, non-ASCII)', async () => {
    const names = ['a],[b', '["x","y"]', 'say "hi"', 'back\\slash \\u0041', 'two\nlines\r\nend', 'tab\there', 'é ✓ 𝄞 \u2028 end', ',', ']']
    const products = names.map((name, i) => ({ id: `text-${i}`, category: 'text', name, photo: name, price: i + 0.5 }))
    expect(await store.upsertProducts(products)).toMatchObject({ accepted: names.length, quarantined: 0 })
    const stored = await store.productsByIds(products.map((p) => p.id))
    expect(stored.map((p) => [p?.name, p?.photo, p?.price])).toEqual(products.map((p) => [p.name, p.photo, p.price]))
  })

  it('nested scopes keep the outer signal and share one query-id sequence for the same request', async () => {
    sent.length = 0
    const cancelled = new AbortController()
    await expect(
      store.forRequest({ signal: cancelled.signal }, () =>
        store.forRequest({ requestId: 'inner' }, async () => {
          await store.stock(['p1'])
          cancelled.abort()
          return store.stock(['p1'])
        }),
      ),
    ).rejects.toBeInstanceOf(QueryCancelledError)
    expect(sent.map((s) => s.query_id)).toEqual(['inner.1'])
  })
})
