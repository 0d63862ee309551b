/**
 * `npx tsx bench/chdb-concurrency.ts`: do several chDB sessions on one data directory run queries at the
 * same time? (README, Benchmarks: "chDB concurrency".)
 *
 * `SELECT sleep(0.4)` uses no CPU, so wall time tells overlap from queueing whatever else the machine does:
 * two that overlap take ~0.4 s, two that queue ~0.8 s. Each case runs with and without bound parameters
 * (chdb-node 3.4 sends bound queries through one process-wide chain), on one session and on several
 * sessions (connections opened on the same path). A CPU-bound scan shows what overlap is worth on this
 * machine, and a trivial query the fixed cost of one store call.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { createConnection } from '../src/store/connection.js'

const open = (dataDir: string): ClickHouseClient =>
  createConnection({ url: undefined, user: 'default', password: '', database: 'default', cluster: undefined, dataDir })

async function run(client: ClickHouseClient, query: string, bound: boolean): Promise<void> {
  const rs = await client.query({ query: bound ? `${query} AND {p:UInt8} = 1` : query, format: 'JSONEachRow', ...(bound && { query_params: { p: 1 } }) })
  await rs.text()
}

async function wall(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return Math.round(performance.now() - t0)
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chdb-concurrency-'))
  const sessions = Array.from({ length: 4 }, () => open(dir))
  const [a] = sessions as [ClickHouseClient]
  const results: Record<string, number> = {}
  const note = (name: string, ms: number) => {
    results[name] = ms
    console.log(`${name.padEnd(62)} ${String(ms).padStart(6)} ms`)
  }
  try {
    console.log(`load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}`)
    await a.command({ query: 'CREATE DATABASE IF NOT EXISTS c' })
    await a.command({ query: 'CREATE TABLE IF NOT EXISTS c.t (n UInt64, s String) ENGINE = MergeTree ORDER BY n' })
    await a.command({ query: 'INSERT INTO c.t SELECT number, toString(cityHash64(number)) FROM numbers(5000000)' })
    const sleep = 'SELECT sleep(0.4) AS x FROM system.one WHERE 1'
    const scan = 'SELECT count() AS c, sum(cityHash64(s)) AS h FROM c.t WHERE 1'
    for (const bound of [false, true]) {
      const tag = bound ? 'bound' : 'unbound'
      await run(a, sleep, bound)
      note(`sleep(0.4) × 1 (${tag})`, await wall(() => run(a, sleep, bound)))
      note(`sleep(0.4) × 2, one session (${tag})`, await wall(() => Promise.all([run(a, sleep, bound), run(a, sleep, bound)])))
      note(`sleep(0.4) × 2, two sessions (${tag})`, await wall(() => Promise.all(sessions.slice(0, 2).map((s) => run(s, sleep, bound)))))
      note(`sleep(0.4) × 4, four sessions (${tag})`, await wall(() => Promise.all(sessions.map((s) => run(s, sleep, bound)))))
    }
    // Mixed: a bound read on one session while an unbound statement runs on another (the store's lane).
    note('sleep(0.4) bound on A + unbound on B', await wall(() => Promise.all([run(sessions[0]!, sleep, true), run(sessions[1]!, sleep, false)])))
    await run(a, scan, false)
    const scans: number[] = []
    for (let i = 0; i < 3; i++) scans.push(await wall(() => run(a, scan, false)))
    note('5M-row scan × 1 (unbound, median of 3)', scans.sort((x, y) => x - y)[1]!)
    note('5M-row scan × 2, two sessions (unbound)', await wall(() => Promise.all(sessions.slice(0, 2).map((s) => run(s, scan, false)))))
    note('5M-row scan × 2, one session (unbound)', await wall(() => Promise.all([run(a, scan, false), run(a, scan, false)])))
    const trivial = 'SELECT 1 AS x FROM system.one WHERE 1'
    for (let i = 0; i < 20; i++) await run(a, trivial, true)
    note('8 × SELECT 1 sequential (bound)', await wall(async () => { for (let i = 0; i < 8; i++) await run(a, trivial, true) }))
    note('8 × SELECT 1 at once (bound)', await wall(() => Promise.all(Array.from({ length: 8 }, () => run(a, trivial, true)))))
    note('1 × SELECT 1 (bound)', await wall(() => run(a, trivial, true)))
    console.log(JSON.stringify({ loadAverage: loadavg(), results }))
  } finally {
    for (const s of sessions) await s.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
