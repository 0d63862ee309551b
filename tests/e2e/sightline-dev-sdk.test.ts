import { cpSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnNode, type Child } from '../helpers/process.js'

// `npx sightline dev` on a project written with Tinybird's TypeScript SDK, through the real CLI: the
// project's SDK generates its datafiles, and again on every save of a definition.
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))
const PROJECT = fileURLToPath(new URL('../fixtures/sdk-project', import.meta.url))
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url))

describe('sightline dev on a TypeScript SDK project', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-dev-sdk-'))
  let dev: Child
  let base = ''
  let admin = ''

  /** Saves the definitions as editors do (a new file renamed over the old one) and waits for the line that reports the reload. */
  const edit = async (change: (text: string) => string, outcome: RegExp) => {
    const path = join(dir, 'tinybird/definitions.ts')
    const reported = dev.waitForLine((line) => (outcome.test(line) ? line : undefined), `a line matching ${outcome}`)
    writeFileSync(`${path}.tmp`, change(readFileSync(path, 'utf8')))
    renameSync(`${path}.tmp`, path)
    return reported
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
    dev = spawnNode([BIN, 'dev', '--project', dir, '--port', '0'], env)
    await dev.waitForLine((line) => (line.startsWith('Watching ') ? line : undefined), 'the watching line')
    base = /GraphQL: (http:\/\/\S+)\/graphql/.exec(dev.output)![1]!
    admin = /admin: (\S+)/.exec(dev.output)![1]!
  })
  afterAll(async () => {
    await dev?.kill('SIGINT')
  })

  it('serves the datafiles its SDK generates, with its fixtures', async () => {
    expect(dev.output).toContain('(TypeScript SDK project)')
    expect(dev.output).toContain('fixtures: fixtures/page_views.ndjson → page_views: 3 rows')
    expect(dev.output).toContain('endpoints: top_pages')
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a', '/b'])
  })

  it('generates and reloads on a saved definition, and keeps serving when the SDK cannot generate', async () => {
    await edit((t) => t.replace('LIMIT {{Int32(limit, 10)}}', 'LIMIT {{Int32(limit, 1)}}'), /^✓ reloaded in \d+ ms/)
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a'])
    const from = dev.output.length
    await edit((t) => t.replace("defineEndpoint('top_pages', {", "defineEndpoint('top_pages', {{"), /the previous version keeps serving/)
    expect(dev.output.slice(from)).toContain('✗ tinybird generate failed')
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data.map((r) => r.pathname)).toEqual(['/a'])
    await edit((t) => t.replace("defineEndpoint('top_pages', {{", "defineEndpoint('top_pages', {").replace('LIMIT {{Int32(limit, 1)}}', 'LIMIT {{Int32(limit, 10)}}'), /^✓ reloaded in \d+ ms/)
    expect((await rest(`/v0/pipes/top_pages.json?${window}`)).body.data).toHaveLength(2)
  })
})
