import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readTestFiles } from '../../src/devtools/test-runner.js'

// CI runs every example project's own tests (tests/*.yaml) with `npx sightline test`, as a user would.
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))
const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url))
const projects = readdirSync(EXAMPLES).filter((name) => existsSync(join(EXAMPLES, name, 'tests')))

describe('sightline test on the example projects', () => {
  it('finds the example projects and their tests', () => {
    expect(projects).toEqual(expect.arrayContaining(['app-analytics', 'ecommerce']))
  })

  it.each(projects)('examples/%s passes its own tests', async (name) => {
    const dir = join(EXAMPLES, name)
    const cases = readTestFiles(dir).reduce((n, f) => n + f.cases.length, 0)
    expect(cases).toBeGreaterThan(0)
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: '', CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '' }
      execFile(process.execPath, [BIN, 'test', '--project', dir], { env, timeout: 170_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      )
    })
    expect(run.stdout, run.stdout + run.stderr).toContain(`${cases} passed, 0 failed`)
    expect(run.code).toBe(0)
  })
})
