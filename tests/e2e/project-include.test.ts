import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createTinybirdApi, type TinybirdApi } from '@tinybirdco/sdk/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.js'

/** A Classic project whose pipes are made of include files: a shared node, and a node template with a variable. */
const PROJECT = fileURLToPath(new URL('../fixtures/projects/classic-include', import.meta.url))

describe('a Classic project built from INCLUDE files', () => {
  let server: TestServer
  let api: TinybirdApi
  const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10)

  beforeAll(async () => {
    server = await startTestServer({ SIGHTLINE_PROJECT: PROJECT, SIGHTLINE_PROJECT_DATABASE: `p_${randomBytes(5).toString('hex')}` })
    api = createTinybirdApi({ baseUrl: server.url.replace(/\/graphql$/, ''), token: server.adminToken })
    const events = [
      { timestamp: `${day(1)} 10:00:00`, product: 'a', action: 'buy', price: 10 },
      { timestamp: `${day(1)} 11:00:00`, product: 'b', action: 'buy', price: 5 },
      { timestamp: `${day(1)} 12:00:00`, product: 'b', action: 'view', price: 5 },
      { timestamp: `${day(30)} 10:00:00`, product: 'a', action: 'buy', price: 7 },
    ]
    await api.ingestBatch('events', events, { wait: true })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('serves each endpoint as its includes spell it, the variable choosing the branch', async () => {
    const lastWeek = await api.query<{ date: string; total: number }>('sales_last_week')
    expect(lastWeek.data).toEqual([{ date: day(1), total: 15 }])
    const between = await api.query<{ date: string; total: number }>('sales_between', { start: day(40), end: day(0) })
    expect(between.data).toEqual([
      { date: day(30), total: 7 },
      { date: day(1), total: 15 },
    ])
  })

  it('lists the included node as part of each pipe', async () => {
    const res = await fetch(`${server.url.replace(/\/graphql$/, '')}/v0/pipes`, { headers: { authorization: `Bearer ${server.adminToken}` } })
    const { pipes } = (await res.json()) as { pipes: Array<{ name: string; nodes: Array<{ name: string }> }> }
    expect(pipes.find((p) => p.name === 'sales_last_week')?.nodes.map((n) => n.name)).toEqual(['only_buy', 'endpoint'])
  })
})
