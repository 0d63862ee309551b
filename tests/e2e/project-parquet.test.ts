import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** The Classic-layout fixture (events, users, user_totals) plus an endpoint with a LIMIT parameter. */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

describe('/v0/pipes/<name>.parquet for a loaded project’s endpoint pipes', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'sightline-parquet-'))
  let server: TestServer
  let base: string
  const get = (path: string, auth: string = server.adminToken) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } })
  const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token
  /** Reads a Parquet file back through the store's own engine (ClickHouse's `file(…, Parquet)`). */
  const readParquet = async (bytes: Buffer, sql: string) => {
    const path = join(dir, `${randomBytes(6).toString('hex')}.parquet`)
    writeFileSync(path, bytes)
    const store = server.services.store
    if (!(store instanceof ClickHouseStore)) throw new Error('expected the ClickHouse store')
    return (await store.project(database).select(sql.replace('$FILE', `file('${path}', Parquet)`), {})).data
  }

  beforeAll(async () => {
    const project = join(dir, 'project')
    cpSync(CLASSIC, project, { recursive: true })
    writeFileSync(
      join(project, 'latest.pipe'),
      'NODE latest\nSQL >\n    %\n    SELECT user_id, event, amount FROM events ORDER BY timestamp DESC, user_id LIMIT {{Int32(limit, 2)}}\n\nTYPE endpoint\n',
    )
    // Prometheus's shape: name and value, help, type and labels; the rows of one metric together.
    writeFileSync(
      join(project, 'metrics.pipe'),
      [
        'NODE metrics',
        'SQL >',
        "    SELECT * FROM (",
        "        SELECT 'events_total' AS name, toFloat64(count()) AS value, 'Events stored' AS help, 'counter' AS type, map('event', CAST(event, 'String')) AS labels FROM events GROUP BY event",
        '        UNION ALL',
        "        SELECT 'amount_sum' AS name, sum(amount) AS value, 'Sum of the amounts' AS help, 'gauge' AS type, map('event', CAST(event, 'String')) AS labels FROM events GROUP BY event",
        "    ) ORDER BY name, labels['event']",
        '',
        'TYPE endpoint',
        '',
      ].join('\n'),
    )
    server = await startTestServer({ SIGHTLINE_PROJECT: project, SIGHTLINE_PROJECT_DATABASE: database })
    base = server.url.replace(/\/graphql$/, '')
    const rows = [
      { timestamp: '2026-01-01 10:00:00', user_id: 1, event: 'buy', amount: 120 },
      { timestamp: '2026-01-01 11:00:00', user_id: 1, event: 'buy', amount: 80 },
      { timestamp: '2026-01-02 09:00:00', user_id: 2, event: 'buy', amount: 150.5 },
      { timestamp: '2026-01-02 09:30:00', user_id: 3, event: 'view' },
    ]
    const res = await fetch(`${base}/v0/events?name=events&wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: rows.map((r) => JSON.stringify(r)).join('\n'),
    })
    expect(await res.json()).toEqual({ successful_rows: 4, quarantined_rows: 0 })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('answers a Parquet file with the pipe’s rows, its parameters applied', async () => {
    const res = await get('/v0/pipes/latest.parquet?limit=3')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.parquet')
    const bytes = Buffer.from(await res.arrayBuffer())
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1')
    expect(bytes.subarray(-4).toString('latin1')).toBe('PAR1')
    const read = await readParquet(bytes, 'SELECT toString(user_id) AS user_id, event, amount FROM $FILE')
    expect(read).toEqual([
      { user_id: '3', event: 'view', amount: 0 },
      { user_id: '2', event: 'buy', amount: 150.5 },
      { user_id: '1', event: 'buy', amount: 80 },
    ])
    // The default parameter, and a POST with the parameters in its body, as for .json.
    const byDefault = Buffer.from(await (await get('/v0/pipes/latest.parquet')).arrayBuffer())
    expect(await readParquet(byDefault, 'SELECT count() AS n FROM $FILE')).toEqual([{ n: 2 }])
    const posted = await fetch(`${base}/v0/pipes/latest.parquet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'limit=4',
    })
    expect(posted.status).toBe(200)
    expect(await readParquet(Buffer.from(await posted.arrayBuffer()), 'SELECT count() AS n FROM $FILE')).toEqual([{ n: 4 }])
    // A pipe with no parameters and a join (strings stay strings in Parquet).
    const totals = Buffer.from(await (await get('/v0/pipes/user_totals.parquet')).arrayBuffer())
    expect(await readParquet(totals, 'SELECT toString(user_id) AS user_id, spent FROM $FILE ORDER BY user_id')).toEqual([
      { user_id: '1', spent: 200 },
      { user_id: '2', spent: 150.5 },
      { user_id: '3', spent: 0 },
    ])
  })

  it('needs the same scope and validates parameters as .json does', async () => {
    const other = await token(['read:pipe:user_totals'])
    const reader = await token(['read:pipe:latest'])
    expect((await get('/v0/pipes/latest.parquet', other)).status).toBe(403)
    // An unknown token answers as it does for .json (Tinybird's 403).
    const unknown = await get('/v0/pipes/latest.parquet', 'not-a-token')
    expect(unknown.status).toBe((await get('/v0/pipes/latest.json', 'not-a-token')).status)
    expect([401, 403]).toContain(unknown.status)
    const ok = await get('/v0/pipes/latest.parquet?limit=1', reader)
    expect(ok.status).toBe(200)
    expect(Buffer.from(await ok.arrayBuffer()).subarray(0, 4).toString('latin1')).toBe('PAR1')

    const bad = await get('/v0/pipes/latest.parquet?limit=many')
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toMatch(/^application\/json/)
    const json = await get('/v0/pipes/latest.json?limit=many')
    expect(await bad.json()).toEqual(await json.json())

    const q = await get(`/v0/pipes/latest.parquet?q=${encodeURIComponent('SELECT count() FROM _')}`)
    expect(q.status).toBe(400)
    expect(((await q.json()) as { error: string }).error).toContain('q=')
  })

  it('answers .prometheus in the text exposition format, from a pipe shaped for it', async () => {
    const res = await get('/v0/pipes/metrics.prometheus')
    expect(res.status, await res.clone().text()).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const lines = (await res.text()).split('\n').filter((l) => l !== '')
    expect(lines).toEqual([
      '# HELP amount_sum Sum of the amounts',
      '# TYPE amount_sum gauge',
      'amount_sum{event="buy"} 350.5',
      'amount_sum{event="view"} 0',
      '# HELP events_total Events stored',
      '# TYPE events_total counter',
      'events_total{event="buy"} 3',
      'events_total{event="view"} 1',
    ])
    // A pipe without Prometheus's columns: ClickHouse's refusal, as a 400 with its message.
    const latest = await get('/v0/pipes/latest.prometheus')
    expect(latest.status).toBe(400)
    expect(((await latest.json()) as { error: string }).error).toMatch(/^\[Error\]/)
    expect((await get(`/v0/pipes/metrics.prometheus?q=${encodeURIComponent('SELECT 1 FROM _')}`)).status).toBe(400)
    // A built-in pipe too, through its rows: the grid has no `value` column, so ClickHouse refuses it.
    expect((await get('/v0/pipes/api_product_grid.prometheus?builtin=true')).status).toBe(400)
  })

  it('records .parquet reads in the operation log, as .json reads are', async () => {
    const reader = await token(['read:pipe:latest', 'sql'])
    await get('/v0/pipes/latest.parquet?limit=1', reader)
    let n = 0
    for (let i = 0; i < 50 && n === 0; i++) {
      const res = (await (await get(`/v0/sql?q=${encodeURIComponent("SELECT count() AS n FROM operation_log WHERE operation = 'latest'")}`)).json()) as { data: Array<{ n: number }> }
      n = Number(res.data[0]?.n ?? 0)
      if (n === 0) await new Promise((r) => setTimeout(r, 200))
    }
    expect(n).toBeGreaterThan(0)
  })
})
