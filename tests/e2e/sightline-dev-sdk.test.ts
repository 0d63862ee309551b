import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// `npx sightline dev` on a project written with Tinybird's TypeScript SDK, through the real CLI: the
// project's SDK generates its datafiles, and again on every save of a definition.
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))
const PROJECT = fileURLToPath(new URL('../fixtures/sdk-project', import.meta.url))
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url))

describe('sightline dev on a TypeScript SDK project', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-dev-sdk-'))
  let child: ChildProcess
  let output = ''
  let base = ''
  let admin = ''

  const waitFor = (pattern: RegExp, from = 0) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output.slice(from))
        if (match) {
          child.stdout?.off('data', check)
          resolve(match)
        }
      }
      child.stdout?.on('data', check)
      child.once('exit', (code) => reject(new Error(`sightline dev exited (${code}):\n${output}`)))
      check()
    })
  const edit = async (change: (text: string) => string, outcome: RegExp) => {
    const from = output.length
    const path = join(dir, 'tinybird/definitions.ts')
    writeFileSync(`${path}.tmp`, change(readFileSync(path, 'utf8')))
    renameSync(`${path}.tmp`, path)
    return waitFor(outcome, from)
  }
  const rest = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${admin}` } })
    return { status: res.status, body: (await res.json()) as { data: Array<Record<string, unknown>> } }
  }
  const window = 'start_date=2026-11-30%2000:00:00&end_date=2026-12-01%2000:00:00'

  beforeAll(async () => {
    cpSync(PROJECT, dir, { recursive: true })
    // The project's own installation of the SDK, as `npm install` would leave it.
    symlinkSync(NODE_MODULES, join(dir, 'node_modules'), 'dir')
    const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: '', CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '', SIGHTLINE_LOG_LEVEL: 'warn', TINYBIRD_TOKEN: '', TINYBIRD_URL: '' }
    child = spawn(process.execPath, [BIN, 'dev', '--project', dir, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    await waitFor(/Watching /)
    base = /GraphQL: (http:\/\/\S+)\/graphql/.exec(output)![1]!
    admin = /admin: (\S+)/.exec(output)![1]!
  })
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      await exited
    }
  })

  it('serves the datafiles its SDK generates, with its fixtures', async () => {
    expect(output).toContain('fixtures: fixtures/page_views.ndjson → page_views: 3 rows')
    expect(output).toContain('endpoints: top_pages')
    expect(output).toContain('changes to its TypeScript SDK definitions')
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a', '/b'])
  })

  it('generates and reloads on a saved definition, and keeps serving when the SDK cannot generate', async () => {
    await edit((t) => t.replace('LIMIT {{Int32(limit, 10)}}', 'LIMIT {{Int32(limit, 1)}}'), /✓ reloaded in \d+ ms/)
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a'])
    await edit((t) => t.replace("defineEndpoint('top_pages', {", "defineEndpoint('top_pages', {{"), /✗ tinybird generate failed[^\n]*\n[\s\S]*?the previous version keeps serving/)
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a'])
    await edit((t) => t.replace("defineEndpoint('top_pages', {{", "defineEndpoint('top_pages', {").replace('LIMIT {{Int32(limit, 1)}}', 'LIMIT {{Int32(limit, 10)}}'), /✓ reloaded in \d+ ms/)
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data).toHaveLength(2)
  })
})
