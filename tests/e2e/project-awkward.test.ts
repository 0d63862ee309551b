import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The deliberately awkward fixture (tests/fixtures/projects/awkward): every column shape, nested and array
 * JSON paths, a Null-engine datasource, SummingMergeTree and VersionedCollapsingMergeTree targets, a
 * materialized pipe with template defaults, a multi-node copy pipe (replace) and one endpoint that uses
 * every template feature of TINYBIRD.md §4, loaded on a real server and read over HTTP.
 */
const AWKWARD = fileURLToPath(new URL('../fixtures/projects/awkward', import.meta.url))

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number }

describe('the awkward project over HTTP', () => {
  const database = `aw_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } })
  const json = async (path: string) => {
    const res = await get(path)
    expect(res.status, `${path}: ${res.status === 200 ? '' : await res.clone().text()}`).toBe(200)
    return (await res.json()) as Envelope
  }
  const sql = (q: string) => json(`/v0/sql?q=${encodeURIComponent(q)}`)
  const everything = (params: Record<string, string | string[]> = {}) => {
    const search = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) search.append(k, one)
    return get(`/v0/pipes/everything.json?${search}`)
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: AWKWARD, SIGHTLINE_PROJECT_DATABASE: database, SIGHTLINE_VAR_REGION: 'us' })
    base = server.url.replace(/\/graphql$/, '')
    const body = readFileSync(`${AWKWARD}/fixtures/events.ndjson`, 'utf8')
    const res = await fetch(`${base}/v0/events?name=events&wait=true`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body })
    expect(res.status).toBe(200)
    // The third line's kind ('refund') is not in the Enum: quarantined, the two others stored.
    expect(await res.json()).toEqual({ successful_rows: 2, quarantined_rows: 1 })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('maps nested, quoted-key, indexed and array JSON paths, and quarantines a bad row with Tinybird’s columns', async () => {
    const rows = (await sql('SELECT user_id, user_agent, toString(ip) AS ip, country, skus, prices, first_sku, tags, attrs, toFloat64(amount) AS amount, paid, kind, note FROM events ORDER BY ts')).data
    expect(rows).toEqual([
      { user_id: 7, user_agent: 'curl/8', ip: '10.0.0.1', country: "ES'x", skus: ['a', 'b'], prices: [1.5, 11], first_sku: 'a', tags: ['x', 'y'], attrs: { k: 'v' }, amount: 12.5, paid: true, kind: 'sale', note: 'n7' },
      { user_id: 7, user_agent: 'Mozilla', ip: '10.0.0.2', country: "ES'x", skus: ['a'], prices: [1.5], first_sku: 'a', tags: [], attrs: {}, amount: 3, paid: true, kind: 'cart', note: 'n7' },
    ])
    const raw = (await sql("SELECT JSONExtractString(raw, 'id') AS id FROM events ORDER BY ts")).data
    expect(raw.map((r) => r.id)).toEqual(['123e4567-e89b-12d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174001'])
    const quarantined = (await sql('SELECT kind, c__error_column, c__error, c__import_id IS NOT NULL AS has_import FROM events_quarantine')).data
    expect(quarantined).toHaveLength(1)
    expect(quarantined[0]).toEqual({
      kind: 'refund',
      c__error_column: ['kind'],
      c__error: ["value 'refund' on column 'kind' is not Enum8('view' = 1, 'cart' = 2, 'sale' = 3)"],
      has_import: 1,
    })
  })

  it('fills the SummingMergeTree target of a materialized pipe rendered with its template defaults', async () => {
    const rows = (await sql('SELECT toString(day) AS day, country, toFloat64(sum(revenue)) AS revenue, sum(sales) AS sales FROM sales_by_day GROUP BY day, country')).data
    expect(rows).toEqual([{ day: '2024-01-02', country: "ES'x", revenue: 12.5, sales: 1 }])
  })

  it('runs the multi-node copy pipe in replace mode: a second run replaces the first', async () => {
    for (let run = 0; run < 2; run++) {
      const res = await fetch(`${base}/v0/pipes/top_skus_copy/copy`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` } })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ status: 'done', mode: 'replace', rows: 2 })
    }
    expect((await sql('SELECT sku, sales FROM top_skus ORDER BY sku')).data).toEqual([
      { sku: 'a', sales: 1 },
      { sku: 'b', sales: 1 },
    ])
  })

  it('renders every template feature of the endpoint with its defaults', async () => {
    const res = await everything()
    expect(res.status).toBe(200)
    const [row] = ((await res.json()) as Envelope).data
    expect(row).toMatchObject({
      user_id: 7,
      amount: 15.5,
      n: 2,
      dims: 1,
      i8: -1,
      i16: 2,
      i32: 3,
      i64: 4,
      u8: 7,
      u64: 10,
      f32: 1.5,
      plain: 13,
      integer: 14,
      k: 'no-key', // tb_secret without SIGHTLINE_SECRET_API_KEY: its default
      region: 'us', // tb_var from SIGHTLINE_VAR_REGION
      pattern: '%',
      n_copy: 2,
      loops: 2,
    })
  })

  it('applies typed, Array (repeated keys or comma lists), Boolean, sql_and, columns and date helpers from the request', async () => {
    const rows = async (params: Record<string, string | string[]>) => {
      const res = await everything(params)
      expect(res.status, JSON.stringify(params)).toBe(200)
      return ((await res.json()) as Envelope).data
    }
    expect(await rows({ skus: 'b' })).toMatchObject([{ n: 1, amount: 12.5 }])
    expect(await rows({ skus: ['zz', 'b'] })).toMatchObject([{ n: 1 }])
    expect(await rows({ skus: 'zz,a' })).toMatchObject([{ n: 2 }])
    expect(await rows({ ids: '8,9' })).toEqual([])
    expect(await rows({ ids: ['7'] })).toMatchObject([{ n: 2 }])
    expect(await rows({ kinds: 'cart' })).toMatchObject([{ n: 1, amount: 3 }])
    expect(await rows({ country: "ES'x" })).toMatchObject([{ n: 2 }])
    expect(await rows({ country: 'ES' })).toEqual([])
    expect(await rows({ min_amount: '5' })).toMatchObject([{ n: 1 }])
    expect(await rows({ start: '2024-01-03 00:00:00.000' })).toMatchObject([{ n: 1 }])
    expect(await rows({ only_paid: 'false' })).toMatchObject([{ n: 2 }])
    expect(await rows({ group_by: 'kind', metrics: 'amount' })).toMatchObject([{ kind: 'cart' }, { kind: 'sale' }].map((r) => ({ ...r, n: 1 })))
    expect(await rows({ sort: 'DESC', min_n: '3' })).toEqual([])
    expect(await rows({ from_day: '2024-01-01', to_day: '2024-01-31' })).toMatchObject([{ days: 30 }])
    expect(await rows({ t0: '2024-01-02 06:30:00' })).toMatchObject([{ hours: 30, minutes: 1830, days_t: 1 }])
    expect(await rows({ filters: JSON.stringify([{ name: 'extra', value: 'v' }]) })).toMatchObject([{ extra: 'v' }])
  })

  it('answers bad parameters, error() and custom_error() with Tinybird’s status and body', async () => {
    const bad = await everything({ user: 'abc' })
    expect(bad.status).toBe(400)
    // Tinybird's message, naming the parameter.
    expect(((await bad.json()) as { error: string }).error).toBe("Template Syntax Error: Error validating 'abc' to type UInt64 (parameter user)")
    const badArray = await everything({ ids: '1, 2' })
    expect(badArray.status).toBe(400)
    expect(((await badArray.json()) as { error: string }).error).toContain('to type UInt64')
    const failed = await everything({ fail: '1' })
    expect(failed.status).toBe(400)
    expect(((await failed.json()) as { error: string }).error).toContain('fail was requested')
    const teapot = await everything({ teapot: '1' })
    expect(teapot.status).toBe(418)
    expect(await teapot.json()).toMatchObject({ error: 'short and stout' })
  })

  it('keeps every table intact under SQL-injection payloads through every parameter type', async () => {
    const before = (await sql('SELECT count() AS n FROM events')).data
    const payloads = [
      "'; DROP TABLE events; --",
      "x' OR '1'='1",
      '\\\'; TRUNCATE TABLE events; --',
      '`) ; DROP TABLE events; --',
      '"; DELETE FROM events WHERE 1; --',
      '1); DROP TABLE events; --',
      '7 OR 1=1',
      "%' UNION ALL SELECT * FROM system.tables --",
      '{p0:String}',
      '\n; DROP TABLE events',
      'a\\',
    ]
    const params = ['country', 'skus', 'ids', 'kinds', 'user', 'min_amount', 'start', 'end', 'day', 'group_by', 'metrics', 'alias_of', 'pattern', 'sort', 'mode', 'tags', 'i8', 'u64', 'f32', 'min_n', 't0', 'from_day']
    const statuses = new Set<number>()
    for (const payload of payloads) {
      for (const name of params) {
        const res = await everything({ [name]: payload })
        statuses.add(res.status)
        expect([200, 400], `${name}=${JSON.stringify(payload)}: ${res.status}`).toContain(res.status)
      }
      const res = await everything({ filters: JSON.stringify([{ name: payload, value: payload }]) })
      expect([200, 400]).toContain(res.status)
    }
    expect(statuses.has(200) && statuses.has(400)).toBe(true)
    expect((await sql('SELECT count() AS n FROM events')).data).toEqual(before)
    expect((await sql('SELECT count() AS n FROM top_skus')).data).toEqual([{ n: 2 }])
  })
})
