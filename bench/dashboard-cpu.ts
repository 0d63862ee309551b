/**
 * `npx tsx bench/dashboard-cpu.ts DIR [SQL…]`: the bench dashboard's 8 queries (as bench/compare.ts sends
 * them: cart totals, 6 breakdowns, an hourly series over the 7 days before the history's end) captured
 * from the store and replayed on the history `DIR` (a COPY of a cached history: this opens it in place),
 * each query's CPU time (chDB runs in-process, so the engine's work too) over 7 serial rounds after 2
 * warm-up rounds, the serial total's CPU and wall time, then one concurrent round as the store sends
 * them. Extra arguments are queries run once after, printed as JSON (sizes of states, parts…).
 */
import { readFileSync } from 'node:fs'
import { captureQueries, replay } from './bare.js'
import { DATABASE, openBenchClient } from './data.js'

async function main(): Promise<void> {
  const dir = process.argv[2]!
  const meta = JSON.parse(readFileSync(`${dir}/dataset.json`, 'utf8'))
  const client = openBenchClient(`${dir}/chdb`)
  const to = new Date(new Date(meta.dataset.now).getTime() - 17 * 60_000 - 123)
  const from = new Date(to.getTime() - 7 * 24 * 3600e3)
  const ws = meta.dataset.workspace
  const DIMS = ['browser', 'os', 'device', 'country', 'referer', 'platform'] as const
  const qs = await captureQueries(client, DATABASE, (s) => {
    const q = { app: 'cart', workspaceId: ws, from, to, filter: {} } as const
    return Promise.all([
      s.analyticsTotals(q),
      ...DIMS.map((by) => s.analyticsBreakdown({ ...q, by, limit: 50 })),
      s.analyticsTimeseries({ ...q, granularity: 'HOUR', timezone: 'UTC' }),
    ])
  })
  const names = ['totals', ...DIMS, 'timeseries']
  for (let round = 0; round < 2; round++) for (const q of qs) await replay(client, q)
  const res: Record<string, number[]> = {}
  const wall: number[] = []
  const walls: number[] = []
  for (let round = 0; round < 7; round++) {
    const w0c = process.cpuUsage()
    const w0 = performance.now()
    for (const [i, q] of qs.entries()) {
      const t = process.cpuUsage()
      await replay(client, q)
      const d = process.cpuUsage(t)
      ;(res[names[i]!] ??= []).push((d.user + d.system) / 1000)
    }
    const wd = process.cpuUsage(w0c)
    wall.push((wd.user + wd.system) / 1000)
    walls.push(performance.now() - w0)
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1)
  for (const n of names) console.log(n.padEnd(11), med(res[n]!), 'ms cpu', res[n]!.map((x) => x.toFixed(0)).join(' '))
  console.log('serial cpu total', med(wall), wall.map((x) => x.toFixed(0)).join(' '))
  console.log('serial wall total', med(walls), walls.map((x) => x.toFixed(0)).join(' '))
  const pc0 = process.cpuUsage()
  const p0 = performance.now()
  await Promise.all(qs.map((q) => replay(client, q)))
  const pc = process.cpuUsage(pc0)
  console.log('concurrent (as the store sends them): wall', (performance.now() - p0).toFixed(0), 'cpu', ((pc.user + pc.system) / 1000).toFixed(0))
  if (process.argv[3]) {
    for (const sql of process.argv.slice(3)) {
      const r = await client.query({ query: sql, format: 'JSONEachRow' })
      console.log(JSON.stringify(await r.json()))
    }
  }
  await client.close()
}
void main()
