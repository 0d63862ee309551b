import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QuarantineDocument, StockLevelsDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

// The NDJSON mutations (ingestEcommEventsNdjson, ingestAppEventsNdjson): one String variable read as
// POST /v0/events reads its body, over HTTP as a client sends it.

let server: TestServer

beforeAll(async () => {
  server = await startTestServer()
}, 300_000)

afterAll(async () => {
  await server?.stop()
})

interface Result {
  accepted: number
  quarantined: number
  errors: Array<{ index: number; message: string }>
  deduplicated: boolean
}

const FIELDS = '{ accepted quarantined errors { index message } deduplicated }'

async function post(query: string, variables: Record<string, unknown>, token = server.adminToken) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  return (await res.json()) as { data?: Record<string, Result> | null; errors?: Array<{ extensions?: { code?: string } }> }
}

async function ecomm(data: string, idempotencyKey?: string): Promise<Result> {
  const body = await post(`mutation M($d: String!, $k: String) { ingestEcommEventsNdjson(data: $d, idempotencyKey: $k) ${FIELDS} }`, { d: data, k: idempotencyKey ?? null })
  if (!body.data) throw new Error(JSON.stringify(body.errors))
  return body.data.ingestEcommEventsNdjson!
}

const stockOf = async (product: string) => (await gqlOk(server, StockLevelsDocument, { products: [product] }, server.adminToken)).stock[0]?.available

describe('ingestEcommEventsNdjson', () => {
  it('stores the rows /v0/events would, and quarantines every other line with its reason, errors indexed by line', async () => {
    const product = uid('p')
    const minuteAgo = new Date(Date.now() - 60_000)
    const lines = [
      JSON.stringify({ timestamp: minuteAgo.toISOString(), event: 'sale', product }),
      JSON.stringify({ timestamp: minuteAgo.toISOString().replace('T', ' ').slice(0, 19), event: 'SALE', product }),
      '',
      '{"event": "sale", "product": ', // not JSON
      JSON.stringify({ event: 'teleport', product }), // no such event
      JSON.stringify({ event: 'sale', product: '' }), // the store's validation refuses an empty id
      JSON.stringify({ event: 'sale', product, timestamp: 'yesterday' }),
    ]
    const result = await ecomm(lines.join('\n'))
    expect(result).toMatchObject({ accepted: 2, quarantined: 4, deduplicated: false })
    expect(result.errors.map((e) => e.index).sort()).toEqual([3, 4, 5, 6])
    expect(result.errors.find((e) => e.index === 5)?.message).toMatch(/product is empty/)
    expect(await stockOf(product)).toBe(-2)

    // The same body through /v0/events answers the same counts.
    const rest = await fetch(server.url.replace(/\/graphql$/, '/v0/events?name=ecomm_events&wait=true'), {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: lines.join('\n'),
    })
    expect(await rest.json()).toEqual({ successful_rows: 2, quarantined_rows: 4 })
    expect(await stockOf(product)).toBe(-4)

    const quarantined = (await gqlOk(server, QuarantineDocument, { table: 'ecomm_events', limit: 1000 }, server.adminToken)).quarantine
    const bad = quarantined.filter((q) => q.row === lines[3])
    expect(bad).toHaveLength(2)
    expect(bad[0]?.reason).toMatch(/^line 4: invalid JSON/)
    expect(quarantined.some((q) => q.row === lines[4] && /^line 5: unknown event "teleport"/.test(q.reason))).toBe(true)
  })

  it('stores a batch retried with its idempotency key once, and says so', async () => {
    const product = uid('p')
    const data = [1, 2, 3].map(() => JSON.stringify({ event: 'sale', product })).join('\n')
    const key = uid('key')
    expect(await ecomm(data, key)).toMatchObject({ accepted: 3, quarantined: 0, deduplicated: false })
    expect(await ecomm(data, key)).toMatchObject({ accepted: 3, quarantined: 0, deduplicated: true })
    expect(await stockOf(product)).toBe(-3)
  })

  it('needs the datasource append scope', async () => {
    const secret = await post('mutation { createToken(input: { name: "ndjson-reader", scopes: ["read:ecommerce"] }) { token } }', {})
    const token = (secret.data as unknown as { createToken: { token: string } }).createToken.token
    const refused = await post(`mutation M($d: String!) { ingestEcommEventsNdjson(data: $d) ${FIELDS} }`, { d: JSON.stringify({ event: 'view', product: 'x' }) }, token)
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
  })
})

describe('ingestAppEventsNdjson', () => {
  it("reads the seed's column names, and quarantines an unknown action", async () => {
    const ws = uid('ws')
    const lines = [
      { timestamp: new Date(Date.now() - 60_000).toISOString(), event_type: 'link', action: 'click', workspace_id: ws, session_id: 's1', visitor_id: 'v1' },
      { event_type: 'link', action: 'teleport', workspace_id: ws, session_id: 's2', visitor_id: 'v2' },
    ].map((l) => JSON.stringify(l))
    const body = await post(`mutation M($d: String!) { ingestAppEventsNdjson(data: $d) ${FIELDS} }`, { d: lines.join('\n') })
    expect(body.data?.ingestAppEventsNdjson).toMatchObject({ accepted: 1, quarantined: 1, errors: [{ index: 1 }] })
  })
})
