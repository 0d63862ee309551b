/**
 * `npm run bench:durability`: ingest throughput with SIGHTLINE_DURABILITY=fsync against none, through the
 * store's own ingest path (validation, quarantine, keyed batch ids, views), on a fresh embedded store per
 * run. Each run is a child process (chDB allows one data directory per process); fsync and none runs
 * alternate so drift on a shared machine hits both alike.
 *
 *   npm run bench:durability -- [--runs 5] [--batches 20] [--rows 5000] [--keyed 1]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import type { EcommEventRow } from '../src/store/types.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    batches: { type: 'string', default: '20' },
    rows: { type: 'string', default: '5000' },
    keyed: { type: 'string', default: '1' },
    child: { type: 'string' },
  },
})
const batches = Number(values.batches)
const rows = Number(values.rows)
const keyed = values.keyed === '1'

if (values.child) {
  // One measurement: a fresh store with the given durability, `batches` batches of `rows` events.
  const dir = mkdtempSync(join(tmpdir(), 'sightline-durability-bench-'))
  try {
    const store = ClickHouseStore.open({
      url: undefined,
      user: 'default',
      password: '',
      database: 'bench',
      cluster: undefined,
      dataDir: dir,
      durability: values.child as 'fsync' | 'none',
    })
    await store.migrate()
    const now = Date.now()
    const make = (b: number): EcommEventRow[] =>
      Array.from({ length: rows }, (_, i) => ({
        timestamp: new Date(now - 60_000 - ((b * rows + i) % 3_600_000)),
        event: (['view', 'cart', 'sale'] as const)[i % 3]!,
        product: `p${i % 500}`,
      }))
    await store.ingestEcommEvents(make(-1)) // warm-up
    const started = performance.now()
    for (let b = 0; b < batches; b++) await store.ingestEcommEvents(make(b), keyed ? { idempotencyKey: `b${b}` } : {})
    const seconds = (performance.now() - started) / 1000
    await store.close()
    process.stdout.write(`${JSON.stringify({ rowsPerSecond: (batches * rows) / seconds, msPerBatch: (seconds * 1000) / batches })}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
} else {
  const self = fileURLToPath(import.meta.url)
  const results: Record<string, Array<{ rowsPerSecond: number; msPerBatch: number }>> = { fsync: [], none: [] }
  for (let r = 0; r < Number(values.runs); r++) {
    for (const mode of r % 2 === 0 ? ['fsync', 'none'] : ['none', 'fsync']) {
      const out = spawnSync(
        process.execPath,
        ['--import', 'tsx', self, '--child', mode, '--batches', String(batches), '--rows', String(rows), '--keyed', keyed ? '1' : '0'],
        { encoding: 'utf8' },
      )
      if (out.status !== 0) throw new Error(`run failed:\n${out.stdout}\n${out.stderr}`)
      results[mode]!.push(JSON.parse(out.stdout.trim().split('\n').pop()!) as { rowsPerSecond: number; msPerBatch: number })
    }
  }
  const summary = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return { median: Math.round(s[Math.floor(s.length / 2)]!), min: Math.round(s[0]!), max: Math.round(s[s.length - 1]!) }
  }
  console.log(`ecomm_events ingest, ${batches} ${keyed ? 'keyed ' : ''}batches of ${rows} rows per run, ${values.runs} runs per mode`)
  for (const mode of ['fsync', 'none']) {
    const rps = summary(results[mode]!.map((x) => x.rowsPerSecond))
    const ms = summary(results[mode]!.map((x) => x.msPerBatch))
    console.log(`${mode.padEnd(6)} rows/s median ${rps.median} (min ${rps.min}, max ${rps.max}); ms/batch median ${ms.median} (min ${ms.min}, max ${ms.max})`)
  }
}
