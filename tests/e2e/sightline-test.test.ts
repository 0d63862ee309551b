import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// `npx sightline test` through the real CLI (bin/sightline.js) on the typed-shop fixture project.
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))
const SHOP = fileURLToPath(new URL('../fixtures/projects/typed-shop', import.meta.url))
/** A Classic project with Classic SQL tests (tests/default.yaml), a regression file and a Forward test. */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic-tests', import.meta.url))

function sightline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: '', CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '' }
    execFile(process.execPath, [BIN, ...args], { env, timeout: 170_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

function copyOfShop(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-typed-shop-'))
  cpSync(SHOP, dir, { recursive: true })
  return dir
}

describe('sightline test', () => {
  it("passes on the project's own expectations, one line per test", async () => {
    const run = await sightline(['test', '--project', SHOP])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('fixtures: fixtures/orders.ndjson → orders: 5 rows')
    expect(run.stdout).toMatch(/✓ tests\/top_customers\.yaml › top_customers_default/)
    expect(run.stdout).toMatch(/✓ tests\/top_customers\.yaml › top_customers_bad_limit/)
    expect(run.stdout).toMatch(/✓ tests\/order_lookup\.yaml › order_lookup_big_id/)
    expect(run.stdout).toContain('4 passed, 0 failed')
  })

  it('fails with a readable diff on a broken expectation, and --update rewrites it', async () => {
    const dir = copyOfShop()
    const file = join(dir, 'tests/top_customers.yaml')
    const broken = readFileSync(file, 'utf8')
      .replace('{"customer":"Ada","orders":2,"revenue":160.5,"units":3}\n    {"customer":"Bob"', '{"customer":"Ada","orders":2,"revenue":999,"units":3}\n    {"customer":"Bob"')
      .replace("parameters: limit=abc\n  expected_http_status: 400", 'parameters: limit=abc\n  expected_http_status: 200')
    writeFileSync(file, broken)
    const run = await sightline(['test', '--project', dir, 'top_customers'])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('✗ tests/top_customers.yaml › top_customers_default')
    expect(run.stdout).toContain('- {"customer":"Ada","orders":2,"revenue":999,"units":3}')
    expect(run.stdout).toContain('+ {"customer":"Ada","orders":2,"revenue":160.5,"units":3}')
    expect(run.stdout).toContain('  {"customer":"Cy","orders":1,"revenue":300,"units":5}')
    expect(run.stdout).toMatch(/✗ tests\/top_customers\.yaml › top_customers_bad_limit[^\n]*\n\s+expected HTTP 200, got 400: \{"error":"[^"]*Error validating 'abc' to type Int32/)
    expect(run.stdout).toContain('✓ tests/top_customers.yaml › top_customers_spain_top1')
    expect(run.stdout).toContain('1 passed, 2 failed')
    expect(run.stdout).not.toContain('order_lookup')

    const update = await sightline(['test', '--project', dir, '--update'])
    expect(update.code).toBe(0)
    expect(update.stdout).toContain('2 of 4 expectations rewritten')
    const rewritten = readFileSync(file, 'utf8')
    expect(rewritten).toContain('description: Everyone since the default start, by revenue')
    expect(rewritten).toContain('    {"customer":"Ada","orders":2,"revenue":160.5,"units":3}\n')
    expect(rewritten).toMatch(/parameters: limit=abc\n {2}expected_http_status: 400\n {2}expected_result: ''/)
    const again = await sightline(['test', '--project', dir])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('4 passed, 0 failed')
  })

  it('stops at a datafile that does not parse, with file:line', async () => {
    const dir = copyOfShop()
    writeFileSync(join(dir, 'endpoints/order_lookup.pipe'), 'NODE lookup\nSQL >\n    %\n    SELECT {{ Int32(x, 1) }\n\nTYPE ENDPOINT\n')
    const run = await sightline(['test', '--project', dir])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('order_lookup.pipe:')
  })

  it("runs Classic's SQL tests (no rows, within max_time and max_bytes_read, over a pipe with its params) beside Forward's", async () => {
    const run = await sightline(['test', '--project', CLASSIC])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    for (const name of ['no_negative_amounts', 'every_spender_is_a_user', 'big_spenders_over_the_threshold', 'only_pro_big_spenders']) {
      expect(run.stdout).toMatch(new RegExp(`✓ tests/default\\.yaml › ${name}`))
    }
    expect(run.stdout).toContain('· tests/regression.yaml: skipped: Classic regression tests')
    expect(run.stdout).toContain('5 passed, 0 failed')

    const dir = mkdtempSync(join(tmpdir(), 'sightline-classic-tests-'))
    cpSync(CLASSIC, dir, { recursive: true })
    const file = join(dir, 'tests/default.yaml')
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('WHERE amount < 0', 'WHERE amount > 100')
        .replace('max_bytes_read: 100000', 'max_bytes_read: 1')
        .replace("WHERE name = ''", 'WHERE no_such_column = 1'),
    )
    const broken = await sightline(['test', '--project', dir])
    expect(broken.code).toBe(1)
    expect(broken.stdout).toMatch(/✗ tests\/default\.yaml › no_negative_amounts[^\n]*\n\s+the query answered 1 row\(s\); a passing test answers none:\n\s+\{"timestamp":"2026-11-02 10:00:00","user_id":1,"event":"buy","amount":150\}/)
    expect(broken.stdout).toMatch(/✗ tests\/default\.yaml › big_spenders_over_the_threshold[^\n]*\n\s+it read \d+ bytes, over max_bytes_read 1/)
    expect(broken.stdout).toMatch(/✗ tests\/default\.yaml › every_spender_is_a_user[^\n]*\n\s+HTTP 400: .*no_such_column/)
    expect(broken.stdout).toContain('2 passed, 3 failed')
  })
})
