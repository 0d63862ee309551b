import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTinybirdApi, TinybirdApiError, type TinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** The Classic-layout fixture: `events` (timestamp, user_id, event, amount DEFAULT 0) feeding `user_daily` through a materialized view. */
const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

/**
 * Tinybird's Data Sources API over a loaded project's datasources, through the official SDK: append and
 * replace (CSV by column, NDJSON by the `json:` paths, misfits quarantined), truncate and delete by
 * condition, each behind its scope.
 */
describe('the Data Sources API over a loaded project’s datasources', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'sightline-project-ds-'))
  let server: TestServer
  let base: string
  let admin: TinybirdApi
  const api = (token: string) => createTinybirdApi({ baseUrl: base, token })
  const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token
  const sql = async (q: string) => ((await admin.requestJson(`/v0/sql?q=${encodeURIComponent(q)}`)) as { data: Array<Record<string, unknown>> }).data
  const count = async (table: string, where = '1') => Number((await sql(`SELECT count() AS n FROM ${table} WHERE ${where}`))[0]?.n)
  const file = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }
  const failure = async (call: Promise<unknown>): Promise<number> => {
    try {
      await call
    } catch (err) {
      if (err instanceof TinybirdApiError) return err.statusCode
      throw err
    }
    throw new Error('the call succeeded')
  }

  beforeAll(async () => {
    const project = join(dir, 'project')
    cpSync(CLASSIC, project, { recursive: true })
    server = await startTestServer({ SIGHTLINE_PROJECT: project, SIGHTLINE_PROJECT_DATABASE: database })
    base = server.url.replace(/\/graphql$/, '')
    admin = api(server.adminToken)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('appends a CSV file by its header, an empty cell taking the column’s DEFAULT, bad records quarantined', async () => {
    const csv = file(
      'events.csv',
      [
        'timestamp,user_id,event,amount',
        '2026-01-01 10:00:00,1,buy,120',
        '2026-01-01 11:00:00,2,view,',
        '2026-01-01 12:00:00,not-a-user,buy,5',
        '2026-01-01 13:00:00,3,buy,7,one-cell-too-many',
      ].join('\n'),
    )
    const result = (await admin.appendDatasource('events', { file: csv })) as unknown as Record<string, unknown>
    expect(result).toMatchObject({ successful_rows: 2, quarantined_rows: 2, invalid_lines: 1, error: false, datasource: { name: 'events' } })
    expect(await sql('SELECT user_id, event, amount FROM events ORDER BY user_id')).toEqual([
      { user_id: 1, event: 'buy', amount: 120 },
      { user_id: 2, event: 'view', amount: 0 },
    ])
    expect(await count('events_quarantine')).toBe(2)
    // The materialized view fed by events saw the appended rows.
    expect(await count('user_daily')).toBeGreaterThan(0)
  })

  it('appends a headerless CSV in column order, and NDJSON by the json paths', async () => {
    expect(await admin.appendDatasource('events', { file: file('bare.csv', '2026-01-02 10:00:00,4,buy,10\n') })).toMatchObject({ successful_rows: 1, quarantined_rows: 0 })
    const ndjson = file('events.ndjson', `${JSON.stringify({ timestamp: '2026-01-02 11:00:00', user_id: 5, event: 'buy', amount: 3 })}\nnot json\n`)
    expect(await admin.appendDatasource('events', { file: ndjson })).toMatchObject({ successful_rows: 1, quarantined_rows: 1 })
    expect(await count('events', 'user_id IN (4, 5)')).toBe(2)
  })

  it('stores a batch with an idempotency key once', async () => {
    const send = () =>
      fetch(`${base}/v0/datasources?name=events&mode=append&format=ndjson`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}`, 'idempotency-key': 'upload-1' },
        body: JSON.stringify({ timestamp: '2026-01-03 10:00:00', user_id: 6, event: 'buy', amount: 1 }),
      })
    expect((await send()).status).toBe(200)
    expect((await send()).status).toBe(200)
    expect(await count('events', 'user_id = 6')).toBe(1)
  })

  it('deletes by condition, dry run first, values bound; refuses a bad condition and a token without manage', async () => {
    expect(await admin.deleteDatasource('events', { deleteCondition: "event = 'view'", dryRun: true })).toEqual({ rows_to_be_deleted: 1 })
    expect(await admin.deleteDatasource('events', { deleteCondition: "event = 'view'" })).toMatchObject({ status: 'done', rows_affected: 1 })
    expect(await count('events', "event = 'view'")).toBe(0)
    expect(await failure(admin.deleteDatasource('events', { deleteCondition: 'sleep(3) = 0' }))).toBe(400)
    expect(await failure(admin.deleteDatasource('events', { deleteCondition: "user_id = 1 OR 1 = 1'" }))).toBe(400)
    const appender = await token(['append:events'])
    expect(await failure(api(appender).deleteDatasource('events', { deleteCondition: 'user_id = 1' }))).toBe(403)
    expect(await count('events', 'user_id = 1')).toBe(1)
  })

  it('replaces the rows: append and manage needed, nothing emptied without them', async () => {
    /** `POST /v0/datasources?mode=replace` of `events` with a CSV body, as `auth`, with an idempotency key or not. */
    const replace = (auth: string, body: string, key?: string) =>
      fetch(`${base}/v0/datasources?name=events&mode=replace&format=csv`, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth}`, ...(key !== undefined && { 'idempotency-key': key }) },
        body,
      })
    const before = await count('events')
    const appender = await token(['append:events'])
    expect(await failure(api(appender).appendDatasource('events', { file: file('r.csv', '2026-02-01 00:00:00,9,buy,1\n') }, { mode: 'replace' } as never))).toBe(403)
    expect((await replace(appender, '2026-02-01 00:00:00,9,buy,1\n')).status).toBe(403)
    expect(await count('events')).toBe(before)
    const manager = await token(['append:events', 'manage:events'])
    // An upload that cannot be read is refused before anything is emptied.
    expect((await replace(manager, '2026-02-01 00:00:00,9,"buy,1\n')).status).toBe(400)
    expect(await count('events')).toBe(before)
    const rows = '2026-02-01 00:00:00,9,buy,1\n2026-02-01 00:00:01,10,buy,2\n'
    expect((await replace(manager, rows)).status).toBe(200)
    expect(await sql('SELECT user_id FROM events ORDER BY user_id')).toEqual([{ user_id: 9 }, { user_id: 10 }])
    // A replace retried with the same key empties and fills again (its key is not a duplicate's).
    for (let i = 0; i < 2; i++) {
      expect((await replace(manager, rows, 'replace-1')).status).toBe(200)
      expect(await sql('SELECT user_id FROM events ORDER BY user_id')).toEqual([{ user_id: 9 }, { user_id: 10 }])
    }
  })

  it('truncates the datasource and its quarantine (205), with manage', async () => {
    expect(await admin.appendDatasource('events', { file: file('bad.csv', '2026-03-01 00:00:00,nobody,buy,1\n') })).toMatchObject({ quarantined_rows: 1 })
    expect(await count('events_quarantine')).toBe(1)
    const appender = await token(['append:events'])
    expect(await failure(api(appender).truncateDatasource('events'))).toBe(403)
    await admin.truncateDatasource('events')
    expect(await count('events')).toBe(0)
    expect(await count('events_quarantine')).toBe(0)
    // The datasource the materialized view feeds keeps its rows, as in Tinybird.
    expect(await count('user_daily')).toBeGreaterThan(0)
  })

  it('leaves a name the project does not have to the built-in datasources', async () => {
    expect(await failure(admin.truncateDatasource('no_such_datasource'))).toBe(404)
  })

  it('replaces a built-in datasource the same way: a retry with the same key empties and fills again', async () => {
    const stock = () => sql('SELECT product, amount FROM warehouse_stock ORDER BY product')
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/v0/datasources?name=warehouse_stock&mode=replace&format=ndjson`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}`, 'idempotency-key': 'stock-replace-1' },
        body: JSON.stringify({ timestamp: '2026-01-01 00:00:00', product: 'p_replaced', store: 's1', amount: 7 }),
      })
      expect(res.status).toBe(200)
      expect(await stock()).toEqual([{ product: 'p_replaced', amount: 7 }])
    }
  })
})
