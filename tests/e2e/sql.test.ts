import { createTinybirdApi, TinybirdApiError } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Tinybird's Query API (`/v0/sql`): read-only SQL over what the token may read, with Tinybird's envelope
 * and FORMAT handling, and hostile queries: writes, several statements, system and service tables, other
 * databases, table functions, functions that reach outside the data, other workspaces' rows.
 */

interface SqlJson {
  meta: Array<{ name: string; type: string }>
  data: Array<Record<string, unknown>>
  rows: number
  rows_before_limit_at_least?: number
  statistics: { elapsed: number; rows_read: number; bytes_read: number }
  error?: string
}

describe('/v0/sql', () => {
  let server: TestServer
  let base: string
  let database: string
  let reader: string
  const wsA = uid('wsA')
  const wsB = uid('wsB')
  const product = uid('p')

  const token = async (scopes: string[], workspaceId?: string) =>
    (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes, workspaceId } }, server.adminToken)).createToken.token

  const sql = (q: string, auth: string | null = reader, extra: Record<string, string> = {}) =>
    fetch(`${base}/v0/sql?${new URLSearchParams({ q, ...extra })}`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {})

  async function ok(q: string, auth: string | null = reader): Promise<SqlJson> {
    const res = await sql(q, auth)
    const body = (await res.json()) as SqlJson
    expect(res.status, `${q}: ${JSON.stringify(body)}`).toBe(200)
    return body
  }

  async function refused(q: string, status: number, auth: string | null = reader): Promise<string> {
    const res = await sql(q, auth)
    const body = (await res.json()) as { error?: string }
    expect(res.status, `${q}: ${JSON.stringify(body)}`).toBe(status)
    expect(Object.keys(body)).toEqual(['error'])
    return body.error ?? ''
  }

  async function graphql(query: string, variables: Record<string, unknown>): Promise<void> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ query, variables }),
    })
    const body = (await res.json()) as { errors?: unknown }
    expect(body.errors).toBeUndefined()
  }

  beforeAll(async () => {
    server = await startTestServer()
    base = server.url.replace(/\/graphql$/, '')
    database = server.config.store.database
    reader = await token(['read', 'sql'])
    await graphql('mutation($p: [ProductInput!]!) { upsertProducts(products: $p) { accepted } }', {
      p: [{ id: product, category: 'c', name: 'Boot', price: 10 }],
    })
    await graphql('mutation($e: [EcommEventInput!]!) { ingestEcommEvents(events: $e) { accepted } }', {
      e: Array.from({ length: 5 }, () => ({ product, event: 'VIEW' })),
    })
    const events = [wsA, wsA, wsA, wsB, wsB].map((workspaceId, i) => ({
      app: i % 2 ? 'PAGE' : 'CART',
      action: 'view',
      workspaceId,
      sessionId: `s${i}`,
      visitorId: `v${i}`,
    }))
    await graphql('mutation($e: [AppEventInput!]!) { ingestAppEvents(events: $e) { accepted } }', { e: events })
  })
  afterAll(() => server?.stop())

  it("answers Tinybird's envelope, with exact unquoted 64-bit integers by default", async () => {
    const body = await ok(`SELECT count() AS n, any(product) AS p FROM ecomm_events WHERE product = '${product}'`)
    expect(body.meta).toEqual([
      { name: 'n', type: 'UInt64' },
      { name: 'p', type: 'String' },
    ])
    expect(body.data).toEqual([{ n: 5, p: product }])
    expect(body.rows).toBe(1)
    expect(body).not.toHaveProperty('rows_before_limit_at_least')
    expect(body.statistics.elapsed).toBeGreaterThan(0)
    expect(Object.keys(body)).toEqual(['meta', 'data', 'rows', 'statistics'])
    const quoted = (await (await sql(`SELECT count() AS n FROM ecomm_events WHERE product = '${product}'`, reader, { output_format_json_quote_64bit_integers: '1' })).json()) as SqlJson
    expect(quoted.data).toEqual([{ n: '5' }])
    // Past 2^53 too: the digits ClickHouse computed, not a rounded double.
    const big = await (await sql('SELECT toUInt64(18446744073709551615) AS big, toInt64(-9223372036854775808) AS small')).text()
    expect(big).toContain('"data":[{"big":18446744073709551615,"small":-9223372036854775808}]')
  })

  it('honours a final FORMAT clause and LIMIT, GET q= and the POST body', async () => {
    const q = `SELECT number AS n FROM numbers(10) ORDER BY n LIMIT 3`
    const limited = await ok(q)
    expect(limited.data).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    expect(limited.rows_before_limit_at_least).toBe(10)
    expect(await (await sql(`${q} FORMAT CSV`)).text()).toBe('0\n1\n2\n')
    expect(await (await sql(`${q} format CSVWithNames;`)).text()).toBe('"n"\n0\n1\n2\n')
    const nd = await sql(`${q} FORMAT JSONEachRow`)
    expect(nd.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    expect(await nd.text()).toBe('{"n":0}\n{"n":1}\n{"n":2}\n')
    expect(((await (await sql(`${q} FORMAT JSON`)).json()) as SqlJson).data).toHaveLength(3)
    expect((await sql(`${q} FORMAT TSV`)).status).toBe(400)

    const post = await fetch(`${base}/v0/sql`, { method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'text/plain' }, body: `${q} FORMAT JSON` })
    expect(post.status).toBe(200)
    expect(((await post.json()) as SqlJson).data).toEqual(limited.data)
    const form = await fetch(`${base}/v0/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ q }).toString(),
    })
    expect(((await form.json()) as SqlJson).data).toEqual(limited.data)
    expect((await fetch(`${base}/v0/sql?q=SELECT%201`, { method: 'PUT', headers: { authorization: `Bearer ${reader}` } })).status).toBe(405)
  })

  it("answers the official SDK's sql() (a text/plain POST with from=ts-sdk)", async () => {
    const client = createTinybirdApi({ baseUrl: base, token: reader })
    const result = (await client.sql(`SELECT count() AS n FROM ecomm_events WHERE product = '${product}' FORMAT JSON`)) as unknown as SqlJson
    expect(result.data).toEqual([{ n: 5 }])
    expect(result.meta).toEqual([{ name: 'n', type: 'UInt64' }])
    const refusedBySdk = await client.sql('DROP TABLE products').then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(refusedBySdk).toBeInstanceOf(TinybirdApiError)
    expect((refusedBySdk as TinybirdApiError).statusCode).toBe(403)
  })

  it('refuses answers over 100,000 rows, and a query failing half-way leaves the store clean for the next', async () => {
    expect(await refused('SELECT number FROM numbers(200000)', 400)).toMatch(/more than 100000 rows/)
    expect((await ok('SELECT count() AS n FROM numbers(200000)')).data).toEqual([{ n: 200000 }])
    expect((await ok('SELECT number FROM numbers(100000) ORDER BY number DESC LIMIT 1')).data).toEqual([{ number: 99999 }])
    // throwIf fails after rows were written: chDB would prepend them to the next answer unless flushed.
    expect(await refused('SELECT throwIf(number = 90000) AS x FROM numbers(99000)', 400)).toMatch(/throwIf/)
    expect((await ok('SELECT 1 AS one')).data).toEqual([{ one: 1 }])
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${reader}` },
      body: JSON.stringify({ query: '{ products(limit: 1) { id } }' }),
    })
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined()
  })

  it('reads datasources by name, products as their latest rows, joins and CTEs of its own', async () => {
    const joined = await ok(
      `WITH v AS (SELECT product, count() AS views FROM ecomm_events GROUP BY product)
       SELECT p.name, v.views FROM products AS p JOIN v ON v.product = p.id WHERE p.id = '${product}'`,
    )
    expect(joined.data).toEqual([{ name: 'Boot', views: 5 }])
    expect((await ok(`SELECT count() AS n FROM barely_events WHERE workspace_id = '${wsA}'`)).data).toEqual([{ n: 3 }])
    expect((await ok(`SELECT count() AS n FROM app_events WHERE workspace_id IN ('${wsA}', '${wsB}')`)).data).toEqual([{ n: 5 }])
  })

  it('renders a templated query (a leading %) with the request parameters, values as literals, then checks it as any query', async () => {
    const q = "% SELECT count() AS n FROM ecomm_events WHERE product = {{String(product, 'none')}} {% if defined(event) %} AND event = {{String(event)}} {% end %}"
    const run = async (extra: Record<string, string>) => {
      const res = await sql(q, reader, extra)
      const body = (await res.json()) as SqlJson
      expect(res.status, JSON.stringify(body)).toBe(200)
      return body.data
    }
    expect(await run({ product })).toEqual([{ n: 5 }])
    expect(await run({ product, event: 'view' })).toEqual([{ n: 5 }])
    expect(await run({ product, event: 'sale' })).toEqual([{ n: 0 }])
    expect(await run({})).toEqual([{ n: 0 }])
    // A value is a value: quotes and SQL inside it stay text.
    expect(await run({ product: `${product}' OR 1 = 1 --` })).toEqual([{ n: 0 }])
    // POST with a form body: q and the parameters from the form.
    const posted = await fetch(`${base}/v0/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ q, product }).toString(),
    })
    expect(((await posted.json()) as SqlJson).data).toEqual([{ n: 5 }])
    // A parameter of the wrong type: Tinybird's template error (400, its body).
    const bad = await sql('% SELECT {{Int32(n)}} AS n', reader, { n: 'many' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/n/)
    // The rendered statement meets the same checks as any other.
    const hostile = await sql("% SELECT * FROM {{symbol(t, 'tokens')}}", reader)
    expect(hostile.status).toBeGreaterThanOrEqual(400)
    expect(hostile.status).toBeLessThan(500)
  })

  it('reads pipes by name, with the request parameters, beside datasources', async () => {
    const series = await (await sql('SELECT sum(events) AS n, count() > 0 AS buckets FROM v2_cart_timeseries', reader, { workspaceId: wsA })).json()
    expect((series as SqlJson).data).toEqual([{ n: 2, buckets: 1 }])
    const joined = await sql(
      `SELECT g.name AS name, count() AS views FROM api_product_grid AS g JOIN ecomm_events AS e ON e.product = g.id WHERE g.id = '${product}' GROUP BY name`,
      reader,
      { category: 'c', show_oos: '1' },
    )
    expect(((await joined.json()) as SqlJson).data).toEqual([{ name: 'Boot', views: 5 }])
    const viaPipeline = await sql('SELECT sum(events) AS n FROM _', reader, { pipeline: 'v2_cart_timeseries', workspaceId: wsA })
    expect(((await viaPipeline.json()) as SqlJson).data).toEqual([{ n: 2 }])
    expect((await sql('SELECT 1 FROM _', reader, { pipeline: 'nope' })).status).toBe(404)
    const empty = await sql('SELECT count() AS n FROM v2_cart_browsers', reader, { workspaceId: uid('nobody') })
    expect(((await empty.json()) as SqlJson).data).toEqual([{ n: 0 }])
    expect((await sql('SELECT count() FROM v2_cart_browsers')).status).toBe(400) // workspaceId is required
    const bound = await token(['read', 'sql'], wsA)
    expect((await sql('SELECT count() FROM v2_cart_browsers', bound, { workspaceId: wsB })).status).toBe(403)
    expect((await sql('SELECT count() FROM v2_cart_browsers', await token(['read:ecommerce', 'sql']), { workspaceId: wsA })).status).toBe(403)
  })

  it("answers Tinybird's q= on a pipe: SQL over its answer as _, and nothing else", async () => {
    const pipe = (name: string, params: Record<string, string>, auth = reader, ext = 'json') =>
      fetch(`${base}/v0/pipes/${name}.${ext}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${auth}` } })
    const plainReader = await token(['read:analytics:cart']) // no sql scope: q= needs only the pipe
    const res = await pipe('v2_cart_timeseries', { workspaceId: wsA, q: 'SELECT sum(events) AS n FROM _' }, plainReader)
    expect(res.status).toBe(200)
    const body = (await res.json()) as SqlJson
    expect(body.data).toEqual([{ n: 2 }])
    expect(body.meta).toEqual([{ name: 'n', type: 'UInt64' }])
    expect(await (await pipe('v2_cart_timeseries', { workspaceId: wsA, q: 'SELECT sum(events) AS n FROM _' }, plainReader, 'csv')).text()).toBe('2\n')
    for (const q of ['SELECT count() FROM ecomm_events', 'SELECT count() FROM app_events', 'SELECT * FROM system.tables', 'DROP TABLE products', 'SELECT 1; SELECT 2']) {
      const refusedRes = await pipe('v2_cart_timeseries', { workspaceId: wsA, q }, plainReader)
      expect([400, 403], q).toContain(refusedRes.status)
    }
  })

  it('refuses what is not one SELECT: writes, several statements, SETTINGS, INTO OUTFILE', async () => {
    const writes = [
      `INSERT INTO ecomm_events (event, product) VALUES ('sale', '${product}')`,
      'DROP TABLE products',
      'TRUNCATE TABLE products',
      'ALTER TABLE products DELETE WHERE 1',
      'CREATE TABLE evil (a UInt8) ENGINE = Memory',
      'OPTIMIZE TABLE products FINAL',
      'SYSTEM DROP MARK CACHE',
      'KILL QUERY WHERE 1',
      'SET max_memory_usage = 1',
      'GRANT ALL ON *.* TO default',
      'SHOW TABLES',
      'DESCRIBE TABLE products',
      'EXPLAIN SELECT 1',
      'RENAME TABLE products TO p2',
      'SELECT 1 INTO OUTFILE \'/tmp/sightline-evil.csv\'',
      'SELECT 1 SETTINGS readonly = 0',
      'SELECT count() FROM products SETTINGS max_execution_time = 100000',
      'SELECT * FROM (SELECT 1 SETTINGS max_threads = 64)',
    ]
    for (const q of writes) {
      const error = await refused(q, 403)
      expect(error, q).toMatch(/SELECT|SETTINGS|OUTFILE/)
    }
    for (const q of [
      `SELECT 1; DROP TABLE ${database}.products`,
      'SELECT 1; SELECT 2',
      "SELECT ';' AS semicolon",
      `SELECT 1 -- ; DROP TABLE products`,
      '',
      '   ;  ',
      'SELECT FROM WHERE',
      'SELECT 1 FORMAT JSON -- trailing',
    ]) {
      await refused(q, 400)
    }
    // Text that would close the brackets Sightline wraps a query in never runs: ClickHouse's formatter
    // rewrites the statement from a bound parameter first, and refuses unbalanced text.
    for (const q of [
      'SELECT 1) UNION ALL (SELECT name FROM system.tables',
      `SELECT 1) UNION ALL (SELECT CAST((SELECT any(name) FROM ${database}.tokens) AS UInt64)`,
      'SELECT 1)) UNION ALL ((SELECT 2',
      "SELECT ')' AS p) UNION ALL (SELECT '('",
    ]) {
      const error = await refused(q, 400)
      expect(error, q).not.toMatch(/sl_|admin_/)
    }
    expect((await ok('SELECT $$a)b$$ AS h, \')\' AS p /* ) UNION ALL (SELECT 1 */')).data).toEqual([{ h: 'a)b', p: ')' }])
    // Nothing was written or dropped.
    expect((await ok(`SELECT count() AS n FROM ecomm_events WHERE product = '${product}'`)).data).toEqual([{ n: 5 }])
    expect((await ok(`SELECT count() AS n FROM products WHERE id = '${product}'`)).data).toEqual([{ n: 1 }])
  })

  it('refuses system tables, other databases, service tables, table functions and functions that reach outside', async () => {
    const hostile = [
      'SELECT * FROM system.tables',
      'SELECT name FROM system.databases',
      'SELECT * FROM `system`.`tables`',
      'SELECT * FROM "system"."users"',
      'SELECT * FROM information_schema.tables',
      'SELECT * FROM INFORMATION_SCHEMA.TABLES',
      `SELECT * FROM ${database}.tokens`,
      `SELECT * FROM ${database}.products`,
      `SELECT count() FROM ${database}.app_events`,
      `SELECT 1 WHERE 'products' IN (SELECT name FROM system.tables)`,
      `SELECT 1 WHERE 1 IN system.one`,
      `SELECT (SELECT count() FROM system.processes) AS n`,
      "SELECT * FROM merge('system', '^tables$')",
      `SELECT * FROM merge('${database}', '^tokens$')`,
      "SELECT * FROM remote('127.0.0.1', system.one)",
      "SELECT * FROM cluster('default', system.one)",
      "SELECT * FROM file('/etc/passwd', 'LineAsString')",
      "SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')",
      "SELECT * FROM s3('http://127.0.0.1:1/b/x.csv')",
      'SELECT * FROM view(SELECT 1)',
      "SELECT * FROM executable('id', 'TSV', 'a String')",
      "SELECT file('/etc/passwd') AS f",
      "SELECT FILE('/etc/passwd') AS f",
      "SELECT dictGet('d', 'a', toUInt64(1))",
      `SELECT joinGet('${database}.tokens', 'name', 'x')`,
      `SELECT hasColumnInTable('${database}', 'tokens', 'name')`,
      "SELECT getSetting('max_memory_usage')",
      'SELECT sleep(3)',
      'SELECT sleepEachRow(1) FROM numbers(5)',
      'SELECT currentDatabase()',
      'SELECT hostName()',
      'SELECT tokens FROM numbers(1)', // fine syntactically, but names nothing readable: ClickHouse refuses it (400)
    ]
    for (const q of hostile.slice(0, -1)) {
      const error = await refused(q, 403)
      expect(error, q).not.toContain(database)
    }
    await refused(hostile.at(-1) ?? '', 400)
    // system.one is where ClickHouse reads a SELECT without FROM (one row, no data): named, it is allowed.
    expect((await ok('SELECT dummy FROM system.one')).data).toEqual([{ dummy: 0 }])
    for (const q of ['SELECT * FROM tokens', 'SELECT * FROM stock_changes', 'SELECT * FROM schema_migrations', 'SELECT * FROM ingest_batches']) {
      const res = await sql(q)
      expect([400, 403], q).toContain(res.status)
      const error = ((await res.json()) as { error: string }).error
      expect(error, q).not.toMatch(/hash|sl_|Maybe you meant/)
      expect(error, q).not.toContain(database)
    }
  })

  it('gives service tables to admins only, and needs the sql scope', async () => {
    for (const table of ['operation_log', 'ingest_log', 'error_log', 'ecomm_events_quarantine', 'app_events_quarantine']) {
      await refused(`SELECT count() FROM ${table}`, 403)
      expect((await ok(`SELECT count() AS n FROM ${table}`, server.adminToken)).rows).toBe(1)
    }
    await refused('SELECT 1', 403, await token(['read']))
    await refused('SELECT 1', 403, null)
    await refused('SELECT 1', 403, 'sl_not-a-token')
    const shop = await token(['read:ecommerce', 'sql'])
    expect((await ok('SELECT count() AS n FROM products', shop)).rows).toBe(1)
    await refused('SELECT count() FROM app_events', 403, shop)
    await refused('SELECT count() FROM cart_events_mv', 403, shop)
  })

  it("keeps a workspace-bound token to its workspace's rows, however the query is written", async () => {
    const bound = await token(['read', 'sql'], wsA)
    const attempts = [
      `SELECT DISTINCT workspace_id AS w FROM app_events`,
      `SELECT DISTINCT workspace_id AS w FROM barely_events`,
      `SELECT DISTINCT workspace_id AS w FROM cart_events_mv UNION ALL SELECT DISTINCT workspace_id FROM page_events_mv`,
      `SELECT DISTINCT w FROM (SELECT workspace_id AS w FROM app_events WHERE workspace_id = '${wsB}' OR 1 = 1)`,
      `WITH app_events AS (SELECT * FROM page_events_mv) SELECT DISTINCT workspace_id AS w FROM app_events`,
      `SELECT DISTINCT a.workspace_id AS w FROM app_events AS a JOIN page_events_mv AS p ON 1 = 1`,
    ]
    for (const q of attempts) {
      const ws = (await ok(q, bound)).data.map((r) => r.w)
      expect(ws.length, q).toBeGreaterThan(0)
      expect(new Set(ws), q).toEqual(new Set([wsA]))
    }
    expect((await ok(`SELECT (SELECT count() FROM page_events_mv WHERE workspace_id = '${wsB}') AS n`, bound)).data).toEqual([{ n: 0 }])
    expect((await ok(`SELECT count() AS n FROM app_events`, bound)).data).toEqual([{ n: 3 }])
    await refused(`SELECT count() FROM ${database}.app_events`, 403, bound)

    // A token for one app reads that app's rows of app_events and only its view.
    const pageOnly = await token(['read:analytics:page', 'sql'])
    expect((await ok('SELECT DISTINCT event_type AS t FROM app_events', pageOnly)).data).toEqual([{ t: 'page' }])
    await refused('SELECT count() FROM cart_events_mv', 403, pageOnly)
    await refused('SELECT count() FROM products', 403, pageOnly)
  })
})
