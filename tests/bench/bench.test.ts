import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sightline-bench-test-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the harness as a user would (`npm run bench -- --quick`), writing its JSON to a temporary file. */
function runQuickBench(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', out], {
      cwd: REPO,
      env: { ...process.env, CLICKHOUSE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('exit', (code) => resolve({ code, output }))
  })
}

describe('npm run bench -- --quick', () => {
  it('completes and writes a report with every measurement (no timing asserts)', { timeout: 180_000 }, async () => {
    const out = join(dir, 'quick.json')
    const { code, output } = await runQuickBench(out)
    expect(code, output.slice(-3000)).toBe(0)

    const report = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, unknown>>
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining(['meta', 'method', 'productGrid', 'productGridCategory', 'dashboard', 'ingest', 'concurrency', 'subscriptions', 'memory', 'targets']),
    )
    expect(report.meta).toMatchObject({ quick: true })
    for (const read of [report.productGrid, report.productGridCategory, report.dashboard]) {
      expect(read).toHaveProperty('gateway.p50')
      expect(read).toHaveProperty('gateway.p99')
      expect(read).toHaveProperty('bare.p50')
      expect(read).toHaveProperty('ratioP50')
    }
    expect(report.ingest).toHaveProperty('gateway.rowsPerSec')
    expect(report.ingest).toHaveProperty('gateway.mbPerSec')
    expect(report.ingest).toHaveProperty('direct.rowsPerSec')
    expect(report.ingest).toHaveProperty('ratio')
    expect(report.concurrency).toMatchObject({ clients: 16 })
    expect(report.concurrency).toHaveProperty('gateway.rps')
    expect(report.subscriptions).toMatchObject({ lost: 0, duplicates: 0 })
    expect(report.subscriptions).toHaveProperty('afterCommitMs.p99')
    expect(report.memory).toHaveProperty('afterRunRssMb')
    expect(report.memory).toHaveProperty('peakRssMb')
    expect(report.targets).toHaveLength(5)
    expect(output).toContain('target')
  })
})
