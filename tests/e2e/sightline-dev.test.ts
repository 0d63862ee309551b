import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// `npx sightline dev` through the real CLI (bin/sightline.js): edit the project's files, see the new
// answers over REST and GraphQL.
const BIN = fileURLToPath(new URL('../../bin/sightline.js', import.meta.url))
const SHOP = fileURLToPath(new URL('../fixtures/projects/typed-shop', import.meta.url))

describe('sightline dev', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-dev-project-'))
  let child: ChildProcess
  let output = ''
  let url = ''
  let base = ''
  let admin = ''
  let dashboard = ''

  /** Resolves once the output (after `from` characters) matches; the test's timeout bounds the wait. */
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
  /** Edits a file of the project and waits for the reload it causes to be reported. */
  const edit = async (file: string, change: (text: string) => string, outcome: RegExp = /✓ reloaded in \d+ ms/) => {
    const from = output.length
    const path = join(dir, file)
    // As editors save: a new file renamed over the old one.
    writeFileSync(`${path}.tmp`, change(readFileSync(path, 'utf8')))
    renameSync(`${path}.tmp`, path)
    return waitFor(outcome, from)
  }
  const rest = async (path: string, token = admin) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as { data: Array<Record<string, unknown>> } }
  }
  const graphql = async (query: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ query }) })
    return (await res.json()) as { data?: { pipes: Record<string, Array<Record<string, unknown>> | null> }; errors?: Array<{ message: string }> }
  }

  beforeAll(async () => {
    cpSync(SHOP, dir, { recursive: true })
    const env = { ...process.env, SIGHTLINE_ADMIN_TOKEN: '', CLICKHOUSE_URL: '', SIGHTLINE_PROJECT: '', SIGHTLINE_LOG_LEVEL: 'warn' }
    child = spawn(process.execPath, [BIN, 'dev', '--project', dir, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    await waitFor(/Watching /)
    url = /GraphQL: (http:\/\/\S+\/graphql)/.exec(output)![1]!
    base = url.replace(/\/graphql$/, '')
    admin = /admin: (\S+)/.exec(output)![1]!
    dashboard = /dashboard: (\S+)/.exec(output)![1]!
  })
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      await exited
    }
  })

  it('serves the project with its fixtures and prints the tokens of its TOKEN lines', async () => {
    expect(output).toContain('fixtures: fixtures/orders.ndjson → orders: 5 rows')
    expect(output).toContain('endpoints: countries, order_lookup, top_customers')
    const { status, body } = await rest('/v0/pipes/top_customers.json', dashboard)
    expect(status).toBe(200)
    expect(body.data.map((r) => r.customer)).toEqual(['Cy', 'Ada', 'Bob'])
    expect((await graphql('{ pipes { top_customers { customer } } }')).data?.pipes.top_customers).toHaveLength(3)
  })

  it('reloads an edited pipe: REST and the GraphQL pipes answer the new version, new columns typed', async () => {
    await edit('endpoints/top_customers.pipe', (t) => t.replace('Int32(limit, 10,', 'Int32(limit, 1,').replace('sum(qty) AS units', 'sum(qty) AS units, any(country) AS country'))
    expect((await rest('/v0/pipes/top_customers.json')).body.data).toEqual([{ customer: 'Cy', orders: 1, revenue: 300, units: 5, country: 'DE' }])
    const answer = await graphql('{ pipes { top_customers { customer units country } } }')
    expect(answer.errors).toBeUndefined()
    expect(answer.data?.pipes.top_customers).toEqual([{ customer: 'Cy', units: '5', country: 'DE' }])
  })

  it('shows a datafile that does not parse and keeps serving the previous version', async () => {
    const [line] = await edit('endpoints/top_customers.pipe', (t) => t.replace('LIMIT {{ Int32(limit, 1,', 'LIMIT {{ Int32(limit, 1,)'), /✗ endpoints\/top_customers\.pipe:\d+: [^\n]*\n {2}the previous version keeps serving/)
    expect(line).toMatch(/top_customers\.pipe:\d+/)
    expect((await rest('/v0/pipes/top_customers.json')).body.data).toHaveLength(1)
    expect((await graphql('{ pipes { top_customers { country } } }')).data?.pipes.top_customers).toEqual([{ country: 'DE' }])
    await edit('endpoints/top_customers.pipe', (t) => t.replace('Int32(limit, 1,)', 'Int32(limit, 2,'))
    expect((await rest('/v0/pipes/top_customers.json')).body.data.map((r) => r.customer)).toEqual(['Cy', 'Ada'])
  })

  it('rebuilds a datasource from its fixtures when a change would lose rows, after saying so', async () => {
    await edit('datasources/orders.datasource', (t) => t.replace('ENGINE_SORTING_KEY "timestamp, order_id"', 'ENGINE_SORTING_KEY "order_id"'), /Dev mode: emptying orders[^\n]*\n✓ reloaded in \d+ ms/)
    expect((await rest('/v0/pipes/countries.json')).body.data.map((r) => r.orders)).toEqual([1, 3, 1])
  })

  it('adds a new endpoint pipe as a new GraphQL field', async () => {
    const from = output.length
    writeFileSync(join(dir, 'endpoints/customers.pipe'), 'NODE c\nSQL >\n    SELECT DISTINCT customer FROM orders ORDER BY customer\n\nTYPE ENDPOINT\n')
    await waitFor(/✓ reloaded in \d+ ms/, from)
    expect((await graphql('{ pipes { customers { customer } } }')).data?.pipes.customers).toEqual([{ customer: 'Ada' }, { customer: 'Bob' }, { customer: 'Cy' }, { customer: 'Old' }])
  })
})
