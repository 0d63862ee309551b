import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

/** `visits` (nested json paths) and `products` (named like a built-in datasource). */
const FIXTURE = fileURLToPath(new URL('../fixtures/projects/quarantine', import.meta.url))

type Row = { table: string; row: string; reason: string; at: string }
type Answer = { data?: { quarantine: Row[] } | null; errors?: Array<{ message: string; extensions?: { code?: string } }> }

describe('the admin quarantine query reads a loaded project’s <ds>_quarantine tables too', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  const quarantine = async (table: string, token: string = server.adminToken): Promise<Answer> => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'query Q($table: String!) { quarantine(table: $table, limit: 50) { table row reason at } }', variables: { table } }),
    })
    return (await res.json()) as Answer
  }
  const send = async (name: string, lines: string[], builtin = false) => {
    const res = await fetch(`${base}/v0/events?name=${name}&wait=true${builtin ? '&builtin=true' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: lines.join('\n'),
    })
    expect(res.status).toBe(200)
    return res.json()
  }

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: FIXTURE, SIGHTLINE_PROJECT_DATABASE: database })
    base = server.url.replace(/\/graphql$/, '')
    expect(
      await send('visits', [
        JSON.stringify({ ts: '2026-01-01 10:00:00', user: { id: 1 }, page: '/a', amount: 3 }),
        JSON.stringify({ ts: '2026-01-01 11:00:00', user: { id: 'nobody' }, page: '/b', amount: 1.5 }),
      ]),
    ).toEqual({ successful_rows: 1, quarantined_rows: 1 })
    expect(await send('products', [JSON.stringify({ sku: 'p-1', price: 'free' })])).toEqual({ successful_rows: 0, quarantined_rows: 1 })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('maps Tinybird’s quarantine columns onto the query’s rows: the reason from c__error, the row as JSON text', async () => {
    const answer = await quarantine('visits')
    expect(answer.errors).toBeUndefined()
    const rows = answer.data?.quarantine ?? []
    expect(rows).toHaveLength(1)
    const [row] = rows
    expect(row?.table).toBe('visits')
    expect(row?.reason).toContain('user_id')
    // The datasource's columns as received, as text (Tinybird keeps them as String).
    expect(JSON.parse(row?.row ?? '{}')).toEqual({ ts: '2026-01-01 11:00:00', user_id: 'nobody', page: '/b', amount: '1.5' })
    expect(Number.isNaN(Date.parse(row?.at ?? ''))).toBe(false)
    // The database-qualified name reads the same table; the answer keeps the bare name (no clash).
    expect((await quarantine(`${database}.visits`)).data?.quarantine).toEqual(rows)
  })

  it('names a project datasource that shares a built-in name as <database>.<ds>; the bare name stays the built-in one', async () => {
    const project = (await quarantine(`${database}.products`)).data?.quarantine ?? []
    expect(project).toHaveLength(1)
    expect(project[0]?.table).toBe(`${database}.products`)
    expect(project[0]?.reason).toContain('price')
    expect(JSON.parse(project[0]?.row ?? '{}')).toEqual({ sku: 'p-1', price: 'free' })

    const builtin = await quarantine('products')
    expect(builtin.errors).toBeUndefined()
    for (const r of builtin.data?.quarantine ?? []) {
      expect(r.table).toBe('products')
      expect(r.row).not.toContain('p-1')
    }
  })

  it('refuses an unknown name with a list that includes the project’s, and non-admin tokens', async () => {
    const unknown = await quarantine('nope')
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(unknown.errors?.[0]?.message).toContain('visits')
    expect(unknown.errors?.[0]?.message).toContain(`${database}.products`)

    const reader = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes: ['append:visits'] } }, server.adminToken)).createToken.token
    const denied = await quarantine('visits', reader)
    expect(denied.data?.quarantine ?? null).toBeNull()
    expect(denied.errors?.length).toBeGreaterThan(0)
  })
})
