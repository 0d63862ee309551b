/**
 * `npx tsx bench/app-ingest.ts`: what the hourly pre-aggregation (sql/0081, its materialized view) costs
 * app-event ingest. Each run is a child process (chDB binds one data directory per process) with a fresh
 * embedded store, migrated, that ingests `batches` batches of `rows` app events through the store's own
 * path (validation, batch ids, every view); `none` runs drop the view first. Runs alternate so drift on a
 * shared machine hits both alike. Reported per batch: the process's CPU time (chDB runs in-process, so
 * this is the engine's work too) and the wall time, medians with min–max, and their ratio.
 *
 *   npx tsx bench/app-ingest.ts [--runs 4] [--batches 12] [--rows 10000]
 *
 * The batches look like live traffic: the last 10 minutes of ~7 events per session, a session's app and
 * dimensions (the demo's values) its own, the action and asset per event.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ClickHouseClient } from '@clickhouse/client'
import { APPS } from '../src/catalog/index.js'
import { DEMO_WORKSPACES, demoDimensions } from '../src/demo.js'
import { prng } from '../src/random.js'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import type { AppEventRow } from '../src/store/types.js'
import { median } from './stats.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '4' },
    batches: { type: 'string', default: '12' },
    rows: { type: 'string', default: '10000' },
    child: { type: 'string' },
  },
})
const batches = Number(values.batches)
const rows = Number(values.rows)

/** A session: one app, its dimensions (the demo's values, drawn once per session). */
function session(rand: () => number): { app: (typeof APPS)[number]; dimensions: Record<string, string> } {
  const app = APPS[Math.floor(rand() * APPS.length)]!
  return { app, dimensions: demoDimensions(rand, app.name) }
}

function makeBatch(b: number, now: number): AppEventRow[] {
  const rand = prng(1000 + b)
  const sessions = Math.ceil(rows / 7)
  const drawn = Array.from({ length: sessions }, () => session(rand))
  return Array.from({ length: rows }, () => {
    const s = Math.floor(rand() * sessions)
    const { app, dimensions } = drawn[s]!
    const action = app.actions[Math.floor(rand() * app.actions.length)]!.action
    return {
      timestamp: new Date(now - Math.floor(rand() * 600_000)),
      app: app.name,
      action,
      workspaceId: DEMO_WORKSPACES[s % 3 === 0 ? 1 : 0]!,
      sessionId: `s_${b}_${s}`,
      visitorId: `v_${b}_${s >> 1}`,
      assetId: `asset_${Math.floor(rand() * 12)}`,
      revenue: 'revenueAction' in app && action === app.revenueAction ? Math.round(rand() * 20000) / 100 : 0,
      ...dimensions,
    } as AppEventRow
  })
}

if (values.child) {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-app-ingest-bench-'))
  try {
    const store = ClickHouseStore.open({ url: undefined, user: 'default', password: '', database: 'bench', cluster: undefined, dataDir: dir, durability: 'none' })
    await store.migrate()
    // The store exposes no DDL: its client (private) drops the view for the `none` runs.
    if (values.child === 'none') await (store as unknown as { client: ClickHouseClient }).client.command({ query: 'DROP VIEW bench.mat_app_events_hourly' })
    const now = Date.now()
    await store.ingestAppEvents(makeBatch(-1, now)) // warm-up
    const cpu: number[] = []
    const wall: number[] = []
    for (let b = 0; b < batches; b++) {
      const batch = makeBatch(b, now)
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      const out = await store.ingestAppEvents(batch, { idempotencyKey: `b${b}` })
      wall.push(performance.now() - t0)
      const c = process.cpuUsage(c0)
      cpu.push((c.user + c.system) / 1000)
      if (out.accepted !== rows) throw new Error(`batch ${b}: ${out.accepted} of ${rows} accepted`)
    }
    await store.close()
    process.stdout.write(`${JSON.stringify({ cpu: median(cpu), wall: median(wall) })}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
} else {
  const self = fileURLToPath(import.meta.url)
  const results: Record<string, Array<{ cpu: number; wall: number }>> = { hourly: [], none: [] }
  for (let r = 0; r < Number(values.runs); r++) {
    for (const mode of r % 2 === 0 ? ['hourly', 'none'] : ['none', 'hourly']) {
      const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode, '--batches', String(batches), '--rows', String(rows)], { encoding: 'utf8' })
      if (out.status !== 0) throw new Error(`${mode} run failed: ${out.stderr}`)
      const line = JSON.parse(out.stdout.trim().split('\n').pop()!) as { cpu: number; wall: number }
      results[mode]!.push(line)
      console.log(`run ${r + 1} ${mode.padEnd(6)} cpu ${line.cpu.toFixed(1)} ms/batch, wall ${line.wall.toFixed(1)} ms/batch`)
    }
  }
  const span = (xs: number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`
  for (const k of ['cpu', 'wall'] as const) {
    const ratios = results.hourly!.map((h, i) => h[k] / results.none![i]![k])
    console.log(`${k}: hourly ${span(results.hourly!.map((x) => x[k]))} ms/batch, none ${span(results.none!.map((x) => x[k]))}; ratio ${span(ratios)}`)
  }
}
