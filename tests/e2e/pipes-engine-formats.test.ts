import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * The built-in pipes answer `.parquet` and `.prometheus` too (TINYBIRD.md §6.1's formats): their rows, as the
 * `.json` answer gives them, written by ClickHouse in its own format; scopes and parameters as for `.json`.
 */
describe('/v0/pipes/<built-in>.parquet and .prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-builtin-parquet-'))
  const category = uid('cat')
  let server: TestServer
  let base: string
  const get = (path: string, auth: string = server.adminToken) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } })
  const post = (path: string, lines: object[]) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body: lines.map((l) => JSON.stringify(l)).join('\n') })
  /** Reads a Parquet file back through the store's own engine (ClickHouse's `file(…, Parquet)`). */
  const readParquet = async (bytes: Buffer, sql: string) => {
    const path = join(dir, `${randomBytes(6).toString('hex')}.parquet`)
    writeFileSync(path, bytes)
    const store = server.services.store
    if (!(store instanceof ClickHouseStore)) throw new Error('expected the ClickHouse store')
    return (await store.project('default').select(sql.replace('$FILE', `file('${path}', Parquet)`), {})).data
  }

  beforeAll(async () => {
    server = await startTestServer()
    base = server.url.replace(/\/graphql$/, '')
    const products = Array.from({ length: 4 }, (_, i) => ({ id: `${category}-${i}`, category, name: `Name ${i} / ü`, photo: `https://img.example/${i}.png`, price: 10 + i }))
    expect((await post('/v0/events?name=products&wait=true', products)).status).toBe(200)
    const stock = [500, 40, 0].map((amount, i) => ({ timestamp: new Date().toISOString(), product: `${category}-${i}`, store: 's1', amount }))
    expect((await post('/v0/events?name=warehouse_stock&wait=true', stock)).status).toBe(200)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('answers a Parquet file with the rows and types of the .json answer, parameters applied', async () => {
    const res = await get(`/v0/pipes/api_product_grid.parquet?category=${category}&show_oos=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.parquet')
    const bytes = Buffer.from(await res.arrayBuffer())
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1')
    const json = (await (await get(`/v0/pipes/api_product_grid.json?category=${category}&show_oos=1`)).json()) as { data: Array<Record<string, unknown>> }
    const read = await readParquet(bytes, 'SELECT id, name, toInt64(stock) AS stock, stock_status, rank_status, photo, price FROM $FILE')
    expect(read).toEqual(json.data.map((r) => ({ id: r.id, name: r.name, stock: r.stock, stock_status: r.stock_status, rank_status: r.rank_status, photo: r.photo, price: r.price })))
    expect(read).toHaveLength(4)
    // Without show_oos the out-of-stock products are left out, as in .json.
    const inStock = Buffer.from(await (await get(`/v0/pipes/api_product_grid.parquet?category=${category}`)).arrayBuffer())
    expect(await readParquet(inStock, 'SELECT count() AS n FROM $FILE')).toEqual([{ n: 2 }])
  })

  it('checks the token and the parameters first, and refuses q=', async () => {
    const appender = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['append:ecomm_events'] } }, server.adminToken)).createToken.token
    expect((await get(`/v0/pipes/api_product_grid.parquet?category=${category}`, appender)).status).toBe(403)
    expect((await get('/v0/pipes/api_product_grid.parquet', 'not-a-token')).status).toBe(403)
    expect((await get('/v0/pipes/api_ui_filters.parquet?filter=colour')).status).toBe(400)
    expect((await get(`/v0/pipes/api_product_grid.parquet?q=${encodeURIComponent('SELECT count() FROM _')}`)).status).toBe(400)
  })

  it('answers .prometheus where ClickHouse accepts the columns, and its refusal as a 400 otherwise', async () => {
    // api_product_grid has a `name` but no `value` column: ClickHouse's Prometheus format refuses it.
    const res = await get(`/v0/pipes/api_product_grid.prometheus?category=${category}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toMatch(/value/i)
  })
})
