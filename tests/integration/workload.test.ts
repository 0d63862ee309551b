import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { selectRows } from '../../src/store/clickhouse.js'
import type { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import { QueryLimitError } from '../../src/store/errors.js'
import { attachWorkload } from '../../src/store/executor.js'
import { DEFAULT_WORKLOAD, Workload } from '../../src/store/workload.js'
import { openTestStore, testStoreConfig } from '../helpers/store.js'

/** A task whose completion the test controls. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('the store workload on embedded chDB', () => {
  let store: ClickHouseStore
  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(async () => {
    await store.close()
  })

  it('ingest inserts and health checks take a session of their own: they complete while reads hold the main queue', async () => {
    expect(store.workload.lane).toBeDefined()
    // Every slot of the main queue held (one per session of the embedded pool).
    const held = gate()
    const slots = store.workload.scheduler.concurrency
    expect(slots).toBe(2)
    const holding = Promise.all(Array.from({ length: slots }, () => store.workload.scheduler.run('read', () => held.promise)))
    const read = store.products(undefined, 10, 0)
    let readDone = false
    void read.then(() => (readDone = true))

    // No idempotency key: the ingest is inserts only (unbound), which run on the lane.
    const outcome = await store.ingestEcommEvents([{ event: 'view', product: 'p1' }])
    expect(outcome).toMatchObject({ accepted: 1, quarantined: 0 })
    await store.ping()
    expect(readDone).toBe(false) // the read still waits behind the held slot
    expect(store.workload.scheduler.size).toEqual({ running: slots, queued: 1 })

    held.open()
    await holding
    await read
    expect(readDone).toBe(true)
  })

  it('a warehouse update reads the stored stock first (a bound query, main queue, ingest priority) and quarantines an overflow', async () => {
    await store.ingestWarehouseStock([{ product: 'w1', store: 's', amount: 1_000_000_000 }, { product: 'w1', store: 't', amount: 1_000_000_000 }])
    const over = await store.ingestWarehouseStock([{ product: 'w1', store: 's', amount: 200_000_000 }])
    expect(over).toMatchObject({ accepted: 0, quarantined: 1, errors: [{ index: 0, message: 'amount 200000000 would take the stock of w1 to 2200000000, outside the 32-bit range' }] })
    expect(await store.stock(['w1'])).toEqual([{ product: 'w1', available: 2_000_000_000 }])
    const [quarantined] = await store.quarantine('warehouse_stock', 1)
    expect(quarantined?.reason).toBe('row 0: amount 200000000 would take the stock of w1 to 2200000000, outside the 32-bit range')
  })
})

describe('time limits on embedded chDB', () => {
  it('a query over max_execution_time fails as QueryLimitError (QUERY_TIMEOUT), and the next answer is clean', async () => {
    const client = createConnection(testStoreConfig())
    try {
      attachWorkload(client, new Workload({ ...DEFAULT_WORKLOAD, read: { timeoutMs: 100, maxMemory: 0 } }))
      const slow = selectRows(client, 'SELECT sum(cityHash64(number)) AS s FROM numbers({n:UInt64})', { n: 20_000_000_000 })
      await expect(slow).rejects.toBeInstanceOf(QueryLimitError)
      await expect(slow).rejects.toMatchObject({ limit: 'time' })
      // chDB keeps a failed query's partial output for the next answer unless it is flushed.
      expect(await selectRows(client, 'SELECT {x:UInt8} AS x', { x: 7 })).toEqual([{ x: 7 }])
    } finally {
      await client.close()
    }
  })
})
