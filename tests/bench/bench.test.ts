import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sightline-bench-test-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the harness as a user would (`npm run bench -- --quick …`), writing its JSON to a temporary file. */
function runQuickBench(out: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', '--quick', ...args, '--out', out], {
      cwd: REPO,
      // Its own history cache: the test sees generation and reuse whatever the checkout's cache holds.
      env: { ...process.env, CLICKHOUSE_URL: '', SIGHTLINE_BENCH_CACHE: join(dir, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('exit', (code) => resolve({ code, output }))
  })
}

interface Pass {
  meta: { scaleName: string; run: number; scale: { events: number } }
  [measure: string]: unknown
}

describe('npm run bench -- --quick', () => {
  it('runs interleaved passes at both scales and a soak, and reports every pass and the medians (no timing asserts)', { timeout: 900_000 }, async () => {
    const out = join(dir, 'quick.json')
    const { code, output } = await runQuickBench(out, ['--scale', 'both', '--runs', '2', '--soak-minutes', '0.2', '--subscribers', '20'])
    expect(code, output.slice(-3000)).toBe(0)

    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      meta: Record<string, unknown>
      summary: Array<{ measure: string; scale: string; ratio: { median: number; min: number; max: number; n: number } | null }>
      targets: unknown[]
      passes: Pass[]
      soak: { subscribers: number; errors: number; updates: number; rss: { samples: unknown[] }; kinds: Record<string, { requests: number }> }
    }
    expect(report.meta).toMatchObject({ quick: true, runs: 2 })
    // Two runs of each scale, interleaved: small, large, small, large.
    expect(report.passes.map((p) => `${p.meta.scaleName}${p.meta.run}`)).toEqual(['small1', 'large1', 'small2', 'large2'])
    expect(report.passes[1]!.meta.scale.events).toBe(report.passes[0]!.meta.scale.events * 10)
    for (const pass of report.passes) {
      expect(Object.keys(pass)).toEqual(expect.arrayContaining(['meta', 'productGrid', 'productGridCategory', 'dashboard', 'ingest', 'concurrency', 'subscriptions', 'memory']))
      for (const read of ['productGrid', 'productGridCategory', 'dashboard']) {
        expect(pass[read]).toHaveProperty('gateway.p50')
        expect(pass[read]).toHaveProperty('bare.p50')
        expect(pass[read]).toHaveProperty('ratioP50')
      }
      expect(pass.ingest).toHaveProperty('ratio')
      expect(pass.subscriptions).toMatchObject({ lost: 0, duplicates: 0 })
    }
    // Every ratio of a scale has its median and spread over the two runs.
    const grid = report.summary.find((r) => r.scale === 'small' && r.measure.startsWith('productGrid,'))
    expect(grid?.ratio).toMatchObject({ n: 2 })
    expect(grid!.ratio!.min).toBeLessThanOrEqual(grid!.ratio!.median)
    expect(grid!.ratio!.median).toBeLessThanOrEqual(grid!.ratio!.max)
    expect(report.summary.map((r) => r.scale)).toEqual(expect.arrayContaining(['small', 'large', 'small → large', 'soak']))
    expect(report.summary.filter((r) => r.scale === 'small → large')).toHaveLength(2)

    expect(report.soak).toMatchObject({ subscribers: 20, errors: 0 })
    expect(report.soak.rss.samples.length).toBeGreaterThan(2)
    for (const kind of ['grid', 'dashboard', 'rest', 'ingest']) expect(report.soak.kinds[kind]?.requests).toBeGreaterThan(0)
    expect(report.soak.updates).toBeGreaterThan(0)
    expect(output).toContain('ratio (spread)')

    // The histories were generated once and are reused.
    const again = await runQuickBench(join(dir, 'again.json'), ['--prepare', '--scale', 'both'])
    expect(again.code, again.output.slice(-2000)).toBe(0)
    expect(again.output.match(/reusing the history/g)).toHaveLength(2)
  })
})
