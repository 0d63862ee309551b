import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SqlService } from '../../src/domain/sql.js'
import { ErrorCode } from '../../src/errors.js'
import { fromGraphQL } from '../../src/rest/http.js'
import { ServiceLog } from '../../src/service-log.js'
import type { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { StoreUnavailableError } from '../../src/store/errors.js'
import type { Store } from '../../src/store/store.js'
import type { ServiceLogBatch } from '../../src/store/types.js'
import { openTestStore } from '../helpers/store.js'

describe('the service log writer', () => {
  let store: ClickHouseStore
  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(() => store?.close())

  const operation = (n: number) => ({
    at: new Date(),
    requestId: `r${n}`,
    operation: `Op${n}`,
    token: 't',
    durationMs: 1,
    rowsRead: 0,
    bytesRead: 0,
    errorCode: '',
  })
  const error = (n: number) => ({ at: new Date(), requestId: `e${n}`, operation: `Op${n}`, code: 'FORBIDDEN', message: 'no' })

  it('re-queues only the log that failed, so a retry writes nothing twice, and retries on the timer only', async () => {
    // The real store, except that error-log writes fail while `down` is set (as a dead connection would).
    let down = true
    let writes = 0
    const flaky = Object.create(store) as Store
    flaky.writeServiceLog = (batch: ServiceLogBatch) => {
      writes++
      if (down && batch.errors.length > 0) return Promise.reject(new StoreUnavailableError('store down'))
      return store.writeServiceLog(batch)
    }
    const failures: number[] = []
    const log = new ServiceLog(flaky, { flushMs: 60_000, flushAt: 3, onError: (_err, dropped) => failures.push(dropped) })
    log.operation(operation(1))
    log.error(error(1))
    log.operation(operation(2)) // reaches flushAt: one write starts
    await log.flush()
    expect(failures.length).toBeGreaterThanOrEqual(1) // the write flushAt started, and this explicit retry
    expect(log.buffered).toBe(1) // the error waits; the operations are written

    const before = writes
    for (let i = 3; i < 10; i++) log.operation(operation(i)) // over flushAt, but failing: no write per record
    expect(writes).toBe(before)

    down = false
    await log.close()
    expect(log.buffered).toBe(0)
    const stats = await store.operationStats(new Date(Date.now() - 60_000), new Date(Date.now() + 60_000))
    expect(stats.map((s) => s.operation).sort()).toEqual(['Op1', 'Op2', 'Op3', 'Op4', 'Op5', 'Op6', 'Op7', 'Op8', 'Op9'])
    expect(stats.every((s) => s.calls === 1)).toBe(true)
    expect((await store.errorLog(10)).map((e) => e.requestId)).toEqual(['e1'])
  })

  it('shows each logged error in tinybird.endpoint_errors with the status REST answers for its code', async () => {
    const codes = Object.values(ErrorCode)
    const op = `Codes${Date.now()}`
    await store.writeServiceLog({ operations: [], ingests: [], errors: codes.map((code, i) => ({ at: new Date(), requestId: `c${i}`, operation: op, code, message: code })) })
    const admin = { name: 'admin', scopes: ['admin', 'sql'], workspaceId: null }
    const { data } = await new SqlService(store).query(admin, `SELECT error, status_code FROM tinybird.endpoint_errors WHERE pipe_name = '${op}'`)
    expect(Object.fromEntries(data.map((r) => [r.error, r.status_code]))).toEqual(Object.fromEntries(codes.map((code) => [code, fromGraphQL({ message: '', extensions: { code } }).status])))
  })
})
