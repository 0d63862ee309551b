import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnection } from '../../src/store/connection.js'
import { attachWorkload } from '../../src/store/executor.js'
import { inlineValues } from '../../src/store/literals.js'
import { DEFAULT_WORKLOAD, Workload } from '../../src/store/workload.js'
import { testStoreConfig } from '../helpers/store.js'

const config = testStoreConfig()
let client: ClickHouseClient

beforeAll(() => {
  client = createConnection(config)
})
afterAll(async () => {
  await client?.close()
})

async function answer(query: string, params: Record<string, unknown>): Promise<unknown> {
  const rs = await client.query({ query, query_params: params, format: 'JSONCompact' })
  return ((await rs.json()) as { data: unknown }).data
}

/** Bound, then inlined: the same rows, values and types. */
async function same(query: string, params: Record<string, unknown>): Promise<unknown> {
  const inlined = inlineValues(query, params)
  expect(inlined, `${query} is inlined`).toBeDefined()
  const bound = await answer(query, params)
  expect(await answer(inlined!, {})).toEqual(bound)
  return bound
}

describe('values inlined as literals read as the bound values', () => {
  it('strings, including every character that could end or escape a quote', async () => {
    const values = ["a'b", 'a\\b', "\\'", "'; SELECT 1; --", 'tab\there\nline\r', '\0nul', 'é 🛒 ☃', '{v:String}', '\\N', '', "''", '\\x41']
    for (const v of values) {
      const [[got, type]] = (await same('SELECT {v:String}, toTypeName({v:String})', { v })) as [[string, string]]
      expect(got).toBe(v)
      expect(type).toBe('String')
    }
  })

  it('integers at their ranges, floats, booleans, NULL', async () => {
    const cases: Array<[string, unknown]> = [
      ['UInt8', 255],
      ['UInt32', 4_294_967_295],
      ['Int32', -2_147_483_648],
      ['Int64', '-9223372036854775808'],
      ['UInt64', 18_446_744_073_709_551_615n],
      ['Float64', 0.1],
      ['Float64', -1.5e-7],
      ['Bool', true],
      ['Nullable(String)', null],
      ['Nullable(String)', "x'y"],
    ]
    for (const [type, v] of cases) await same(`SELECT {v:${type}}, toTypeName({v:${type}})`, { v })
  })

  it("dates and times in the store's text form and as Date objects", async () => {
    await same("SELECT {v:DateTime64(3, 'UTC')}, toTypeName({v:DateTime64(3, 'UTC')})", { v: '2026-12-01 10:11:12.345' })
    await same("SELECT {v:DateTime('UTC')}, toTypeName({v:DateTime('UTC')})", { v: new Date('2026-12-01T10:11:12Z') })
    await same('SELECT {v:Date}, toTypeName({v:Date})', { v: '2026-12-01' })
  })

  it('arrays in IN, LIMIT and INTERVAL: where a bound value may stand, so may the literal', async () => {
    await same("SELECT x FROM (SELECT arrayJoin(['a', 'b', 'c']) AS x) WHERE x IN {v:Array(String)} ORDER BY x", { v: ['a', "c'"] })
    await same("SELECT x FROM (SELECT arrayJoin(['a', 'b', 'c']) AS x) WHERE x NOT IN {v:Array(String)} ORDER BY x", { v: [] })
    await same('SELECT number FROM numbers(10) ORDER BY number LIMIT {v:UInt32}', { v: 3 })
    await same("SELECT toDateTime('2026-12-01 00:00:00', 'UTC') - INTERVAL {v:UInt32} HOUR", { v: 5 })
  })
})

describe.skipIf(Boolean(config.url))('a pool of embedded sessions', () => {
  it('runs inlined reads side by side: one sees the other running', async () => {
    const readers = [createConnection(config)]
    const workload = new Workload({ ...DEFAULT_WORKLOAD, concurrency: 2 }, { main: client, readers })
    const executor = attachWorkload(client, workload)
    executor.inlinesValues = true
    try {
      const marker = `m${Date.now()}`
      const slow = executor.select(`SELECT sleep(1) AS s, {m:String} AS m`, { m: marker })
      // The second read asks, while the first sleeps, for statements that carry the marker.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const seen = await executor.select<{ n: string }>(
        "SELECT count() AS n FROM system.processes WHERE position(query, {m:String}) > 0 AND position(query, 'sleep(1)') > 0 AND position(query, 'system.processes') = 0",
        { m: marker },
      )
      await slow
      expect(Number(seen[0]!.n)).toBe(1)
    } finally {
      executor.workload = undefined
      executor.inlinesValues = false
      for (const r of readers) await r.close()
    }
  })
})
