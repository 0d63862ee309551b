import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uid } from '../helpers/factories.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

type Envelope = { meta: Array<{ name: string; type: string }>; data: Array<Record<string, unknown>>; rows: number; statistics: Record<string, number>; rows_before_limit_at_least?: number }

/**
 * `api_product_grid.json` passes the store's own JSON through (FORMAT JSON's envelope, unindented); `.ndjson` (and `q=`) still decode, map
 * and write the rows. Both must say the same thing: rows, order, types, nulls, 64-bit quoting, a string
 * with slashes and an emoji, and the envelope's keys.
 */
describe('the streamed api_product_grid.json answers as the decoded path does', () => {
  let server: TestServer
  let base: string
  const category = uid('cat')
  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } })
  const post = (path: string, lines: object[]) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}` }, body: lines.map((l) => JSON.stringify(l)).join('\n') })

  beforeAll(async () => {
    server = await startTestServer()
    base = server.url.replace(/\/graphql$/, '')
    const products = Array.from({ length: 7 }, (_, i) => ({ id: `${category}-${i}`, category, name: `Name "${i}" / ü`, photo: `https://img.example/${i}/a.png`, price: 10 + (i % 3) * 2.5 }))
    expect((await post('/v0/events?name=products&wait=true', products)).status).toBe(200)
    const now = new Date().toISOString()
    // Stock: in stock, low, out (0), out (negative), and three without stock rows.
    const stock = [500, 40, 0, -3].map((amount, i) => ({ timestamp: now, product: `${category}-${i}`, store: 's1', amount }))
    expect((await post('/v0/events?name=warehouse_stock&wait=true', stock)).status).toBe(200)
    const sales = [0, 0, 1, 0, 1, 4].map((i) => ({ timestamp: now, event: 'sale', product: `${category}-${i}` }))
    expect((await post('/v0/events?name=ecomm_events&wait=true', sales)).status).toBe(200)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('gives the same rows, order and meta as the decoded formats, for every ranking and filter', async () => {
    const cases: Array<Record<string, string>> = [{}, { ranking: '1' }, { show_oos: '1' }, { show_oos: '1', ranking: '1' }, { show_oos: '1', output_format_json_quote_64bit_integers: '1' }]
    for (const params of cases) {
      const query = new URLSearchParams({ category, ...params }).toString()
      const res = await get(`/v0/pipes/api_product_grid.json?${query}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const json = (await res.json()) as Envelope
      const ndjson = (await (await get(`/v0/pipes/api_product_grid.ndjson?${query}`)).text()).trimEnd().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(json.data, query).toEqual(ndjson)
      expect(json.rows).toBe(ndjson.length)
      expect(Object.keys(json).sort()).toEqual(['data', 'meta', 'rows', 'statistics'])
      expect(json.meta).toEqual([
        { name: 'id', type: 'String' },
        { name: 'name', type: 'String' },
        { name: 'stock', type: 'Int64' },
        { name: 'stock_status', type: 'UInt8' },
        { name: 'hits', type: 'UInt64' },
        { name: 'rank_status', type: 'Nullable(String)' },
        { name: 'photo', type: 'String' },
        { name: 'price', type: 'Float64' },
      ])
    }
    const all = (await (await get(`/v0/pipes/api_product_grid.json?category=${category}&show_oos=1&ranking=1`)).json()) as Envelope
    // Sales: product 0 ×3, 1 ×2, 4 ×1. Trending order: status (in, low, out), then hits, then id.
    expect(all.data.map((r) => [r.id, r.stock, r.stock_status, r.hits, r.rank_status])).toEqual([
      [`${category}-0`, 497, 0, 3, 'Trending 🔥'],
      [`${category}-1`, 38, 1, 2, 'Trending 🔥'],
      [`${category}-4`, -1, 2, 1, null],
      [`${category}-2`, 0, 2, 0, null],
      [`${category}-3`, -3, 2, 0, null],
      [`${category}-5`, 0, 2, 0, null],
      [`${category}-6`, 0, 2, 0, null],
    ])
    const quoted = (await (await get(`/v0/pipes/api_product_grid.json?category=${category}&show_oos=1&output_format_json_quote_64bit_integers=1`)).json()) as Envelope
    expect(quoted.data.every((r) => typeof r.stock === 'string' && typeof r.hits === 'string')).toBe(true)
    // The envelope's counts stay numbers when 64-bit values are quoted, as in ClickHouse's FORMAT JSON.
    expect(quoted.rows).toBe(7)
    expect(Object.values(quoted.statistics).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true)
    expect(Object.keys(quoted.statistics)).toEqual(['elapsed', 'rows_read', 'bytes_read'])
    expect(all.data[0]?.photo).toBe(`https://img.example/0/a.png`)
  })
})
