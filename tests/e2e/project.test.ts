import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** The Classic-layout fixture: events → user_daily_mv → user_daily, users, user_totals and big_spenders endpoints. */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

type Envelope = {
  meta: Array<{ name: string; type: string }>
  data: Array<Record<string, unknown>>
  rows: number
  rows_before_limit_at_least?: number
  statistics: { elapsed: number; rows_read: number; bytes_read: number }
}

const ndjson = (rows: ReadonlyArray<unknown>) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')

/** Rows of a query on the project database, straight from the store (no HTTP), to check what landed. */
async function projectRows(server: TestServer, database: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const store = server.services.store
  if (!(store instanceof ClickHouseStore)) throw new Error('expected the ClickHouse store')
  return (await store.project(database).select(sql, {})).data
}

describe('a loaded Tinybird project (SIGHTLINE_PROJECT)', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token
  const get = (path: string, auth: string = server.adminToken) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } })
  const send = (name: string, body: string, auth: string = server.adminToken) =>
    fetch(`${base}/v0/events?name=${name}&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${auth}` }, body })

  beforeAll(async () => {
    // The Classic fixture plus an endpoint with a LIMIT parameter.
    const dir = mkdtempSync(join(tmpdir(), 'sightline-project-'))
    cpSync(CLASSIC, dir, { recursive: true })
    writeFileSync(
      join(dir, 'latest.pipe'),
      'NODE latest\nSQL >\n    %\n    SELECT user_id, event FROM events ORDER BY timestamp DESC, user_id LIMIT {{Int32(limit, 2)}}\n\nTYPE endpoint\n',
    )
    server = await startTestServer({ SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: database, SIGHTLINE_JWT_SECRET: randomBytes(24).toString('hex') })
    base = server.url.replace(/\/graphql$/, '')
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('ingests NDJSON through /v0/events, quarantining the lines that do not fit', async () => {
    const users = await send(
      'users',
      ndjson([
        { user_id: 1, name: 'Ada', plan: 'pro', updated_at: '2026-01-01 00:00:00' },
        { user_id: 2, name: 'Bob', updated_at: '2026-01-01 00:00:00' },
        { user_id: 3, name: 'Cy', plan: 'pro', updated_at: '2026-01-01 00:00:00' },
      ]),
    )
    expect(users.status).toBe(200)
    expect(await users.json()).toEqual({ successful_rows: 3, quarantined_rows: 0 })

    const events = await send(
      'events',
      ndjson([
        { timestamp: '2026-01-01 10:00:00', user_id: 1, event: 'buy', amount: 120 },
        { timestamp: '2026-01-01 11:00:00', user_id: 1, event: 'buy', amount: 80 },
        { timestamp: '2026-01-02 09:00:00', user_id: 2, event: 'buy', amount: 150.5 },
        { timestamp: '2026-01-02 09:30:00', user_id: 3, event: 'view' },
        { timestamp: '2026-01-02 10:00:00', user_id: 'not a number', event: 'buy', amount: 1 },
        'this line is not JSON',
      ]),
    )
    expect(events.status).toBe(200)
    expect(await events.json()).toEqual({ successful_rows: 4, quarantined_rows: 2 })

    const quarantined = await projectRows(server, database, `SELECT user_id, c__error_column, c__error FROM ${database}.events_quarantine ORDER BY user_id NULLS LAST`)
    expect(quarantined).toHaveLength(2)
    expect(quarantined[0]).toMatchObject({ user_id: 'not a number', c__error_column: ['user_id'] })
    expect(String((quarantined[0]!.c__error as string[])[0])).toContain("column 'user_id'")
  })

  it('fills materialized views from ingested rows', async () => {
    const daily = await projectRows(
      server,
      database,
      `SELECT toString(day) AS day, user_id, sum(spent) AS spent, countMerge(events) AS events FROM ${database}.user_daily GROUP BY day, user_id ORDER BY day, user_id`,
    )
    expect(daily).toEqual([
      { day: '2026-01-01', user_id: 1, spent: 200, events: 2 },
      { day: '2026-01-02', user_id: 2, spent: 150.5, events: 1 },
      { day: '2026-01-02', user_id: 3, spent: 0, events: 1 },
    ])
  })

  it('serves endpoint pipes with parameters in Tinybird’s envelope', async () => {
    const res = await get('/v0/pipes/big_spenders.json?min_spent=100')
    expect(res.status).toBe(200)
    const body = (await res.json()) as Envelope
    expect(body.meta.map((c) => c.name)).toEqual(['user_id', 'name', 'spent'])
    expect(body.data.map((r) => r.user_id).sort()).toEqual([1, 2])
    expect(body.rows).toBe(2)
    expect(body.statistics.rows_read).toBeGreaterThan(0)

    // An optional parameter switches a template branch; its value is bound, never spliced.
    const pro = (await (await get('/v0/pipes/big_spenders.json?min_spent=100&plan=pro')).json()) as Envelope
    expect(pro.data).toEqual([{ user_id: 1, name: 'Ada', spent: 200 }])
    const injected = (await (await get(`/v0/pipes/big_spenders.json?${new URLSearchParams({ plan: "pro' OR 1=1 --" })}`)).json()) as Envelope
    expect(injected.data).toEqual([])

    // A LIMIT reports how many rows there were before it, as Tinybird does.
    const latest = (await (await get('/v0/pipes/latest.json?limit=1')).json()) as Envelope
    expect(latest.data).toEqual([{ user_id: 3, event: 'view' }])
    expect(latest.rows_before_limit_at_least).toBe(4)

    // Multi-node pipe, other formats, and POST parameters.
    const csv = await get('/v0/pipes/user_totals.csvwithnames')
    expect(csv.status).toBe(200)
    expect((await csv.text()).split('\n')[0]).toBe('"user_id","name","spent","events"')
    const post = await fetch(`${base}/v0/pipes/big_spenders.ndjson`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ min_spent: 160 }),
    })
    expect((await post.text()).trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ user_id: 1, name: 'Ada', spent: 200 }])
  })

  it('answers a bad parameter with 400 and Tinybird’s error body', async () => {
    const res = await get('/v0/pipes/big_spenders.json?min_spent=lots')
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string }
    expect(body.error).toContain('min_spent')
  })

  it('checks scopes: read:pipe:<pipe> reads that pipe only; appending needs append', async () => {
    const reader = await token(['read:pipe:big_spenders'])
    expect((await get('/v0/pipes/big_spenders.json', reader)).status).toBe(200)
    expect((await get('/v0/pipes/user_totals.json', reader)).status).toBe(403)
    expect((await send('events', ndjson([{ timestamp: '2026-01-03 00:00:00', user_id: 9, event: 'x' }]), reader)).status).toBe(403)
    const appender = await token(['append'])
    expect((await send('events', ndjson([{ timestamp: '2026-01-03 00:00:00', user_id: 9, event: 'x' }]), appender)).status).toBe(200)
    expect((await get('/v0/pipes/big_spenders.json')).status).toBe(200)
    expect((await fetch(`${base}/v0/pipes/big_spenders.json`)).status).toBe(403)
  })

  it('applies a Tinybird JWT’s fixed_params over whatever the request sends', async () => {
    const minted = await fetch(`${base}/v0/tokens?expiration_time=${Math.floor(Date.now() / 1000) + 600}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tenant', scopes: [{ type: 'PIPES:READ', resource: 'big_spenders', fixed_params: { plan: 'pro' } }] }),
    })
    expect(minted.status).toBe(200)
    const { token: jwt } = (await minted.json()) as { token: string }
    for (const query of ['min_spent=100', 'min_spent=100&plan=free', 'min_spent=100&plan=free&plan=basic', 'min_spent=100&plan=']) {
      const res = await get(`/v0/pipes/big_spenders.json?${query}`, jwt)
      expect(res.status, query).toBe(200)
      expect(((await res.json()) as Envelope).data, query).toEqual([{ user_id: 1, name: 'Ada', spent: 200 }])
    }
    expect((await get('/v0/pipes/user_totals.json', jwt)).status).toBe(403)
  })

  it('lets other pipe names and datasources fall through to the built-in API', async () => {
    expect((await get('/v0/pipes/api_product_grid.json')).status).toBe(200)
    expect((await get('/v0/pipes/no_such_pipe.json')).status).toBe(404)
  })
})

describe('starting with a project', () => {
  it('refuses a datafile that does not parse, naming its file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-bad-project-'))
    writeFileSync(join(dir, 'broken.datasource'), 'SCHEMA >\n    `a` UInt8\n\nENGINE MergeTree\nNOT_A_DIRECTIVE yes\n')
    await expect(startTestServer({ SIGHTLINE_PROJECT: dir })).rejects.toThrow(/broken\.datasource:\d+: /)
  })

  it('applies additive datafile changes on restart and refuses lossy ones with the planner’s message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-project-'))
    cpSync(CLASSIC, dir, { recursive: true })
    const database = `p_${randomBytes(5).toString('hex')}`
    const env = { SIGHTLINE_PROJECT: dir, SIGHTLINE_PROJECT_DATABASE: database }
    let server = await startTestServer(env)
    const base = server.url.replace(/\/graphql$/, '')
    const sent = await fetch(`${base}/v0/events?name=events&wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ timestamp: '2026-01-01 00:00:00', user_id: 1, event: 'buy', amount: 5 }),
    })
    expect(sent.status).toBe(200)
    await server.stop()

    // A new column is added in place; the row stays.
    const file = join(dir, 'events.datasource')
    const original = readFileSync(file, 'utf8')
    writeFileSync(file, original.replace('amount Float64 DEFAULT 0', 'amount Float64 DEFAULT 0,\n    country String DEFAULT \'\''))
    server = await startTestServer(env)
    expect(await projectRows(server, database, `SELECT user_id, country FROM ${database}.events`)).toEqual([{ user_id: 1, country: '' }])
    await server.stop()

    // A type change that would reinterpret rows is refused, and the start with it.
    writeFileSync(file, original.replace('event LowCardinality(String)', 'event UInt8'))
    await expect(startTestServer(env)).rejects.toThrow(/events.*rows/s)
  })

  it('changes nothing when no project is configured', async () => {
    const server = await startTestServer()
    try {
      const base = server.url.replace(/\/graphql$/, '')
      const res = await fetch(`${base}/v0/pipes/big_spenders.json`, { headers: { authorization: `Bearer ${server.adminToken}` } })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: string }).error).toBe("The pipe 'big_spenders' does not exist")
      const events = await fetch(`${base}/v0/events?name=events`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body: '{}' })
      expect(events.status).toBe(404)
      expect(server.config.project).toBeUndefined()
    } finally {
      await server.stop()
    }
  })
})
