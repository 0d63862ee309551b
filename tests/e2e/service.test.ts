import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreateTokenDocument,
  ErrorLogDocument,
  IngestEcommEventsDocument,
  IngestLogDocument,
  OperationStatsDocument,
  ProductGridDocument,
  QuarantineDocument,
  UpsertProductsDocument,
} from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { codes, gql, gqlOk, startTestServer, wsClient, type TestServer } from '../helpers/server.js'

describe('service data: operation stats, ingest log, error log and metrics', () => {
  let server: TestServer
  let read: { name: string; token: string }
  let append: { name: string; token: string }

  beforeAll(async () => {
    server = await startTestServer()
    const create = async (scopes: string[]) => {
      const t = (await gqlOk(server, CreateTokenDocument, { input: { name: uid('svc'), scopes } }, server.adminToken)).createToken
      return { name: t.name, token: t.token }
    }
    read = await create(['read'])
    append = await create(['append'])
    await gqlOk(
      server,
      UpsertProductsDocument,
      { products: [1, 2, 3].map((i) => ({ id: `svc_p${i}`, category: 'svc', name: `P${i}`, price: i })) },
      append.token,
    )
  })
  afterAll(() => server?.stop())

  it('records queries, an ingest and refused requests, and shows them to an admin only', async () => {
    for (let i = 0; i < 3; i++) await gqlOk(server, ProductGridDocument, { category: 'svc' }, read.token)
    const ingest = await gqlOk(
      server,
      IngestEcommEventsDocument,
      { events: [{ event: 'SALE', product: 'svc_p1' }, { event: 'VIEW', product: '' }] },
      append.token,
    )
    expect(ingest.ingestEcommEvents).toMatchObject({ accepted: 1, quarantined: 1 })

    // Refused: a scope the token lacks (FORBIDDEN) and a token that does not exist (401).
    const forbidden = await gql(server, QuarantineDocument, { table: 'products' }, read.token)
    expect(codes(forbidden)).toEqual(['FORBIDDEN'])
    const bogus = await gql(server, ProductGridDocument, {}, 'sl_bogus_token_value')
    expect(bogus.status).toBe(401)

    const stats = (await gqlOk(server, OperationStatsDocument, {}, server.adminToken)).operationStats
    const grid = stats.find((s) => s.operation === 'ProductGrid')
    expect(grid).toBeDefined()
    expect(grid!.calls).toBeGreaterThanOrEqual(3)
    expect(grid!.rowsRead).toBeGreaterThan(0)
    expect(grid!.p95Ms).toBeGreaterThanOrEqual(grid!.p50Ms)
    const quarantine = stats.find((s) => s.operation === 'Quarantine')
    expect(quarantine).toMatchObject({ calls: 1, errors: 1 })

    const ingests = (await gqlOk(server, IngestLogDocument, { limit: 10 }, server.adminToken)).ingestLog
    expect(ingests.find((i) => i.table === 'ecomm_events')).toMatchObject({ rows: 1, quarantined: 1, token: append.name, deduplicated: false })
    expect(ingests.find((i) => i.table === 'products')).toMatchObject({ rows: 3, quarantined: 0, token: append.name })

    const errors = (await gqlOk(server, ErrorLogDocument, { limit: 20 }, server.adminToken)).errorLog
    expect(errors.find((e) => e.operation === 'Quarantine')).toMatchObject({ code: 'FORBIDDEN' })
    expect(errors.find((e) => e.code === 'UNAUTHENTICATED' && e.operation === 'ProductGrid')).toBeDefined()
    for (const e of errors) expect(e.message).not.toMatch(/sl_bogus|SELECT|Exception/)

    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text()
    expect(metrics).toMatch(/sightline_graphql_requests_total\{operation="ProductGrid",code="OK"\} [3-9]/)
    expect(metrics).toMatch(/sightline_graphql_requests_total\{operation="Quarantine",code="FORBIDDEN"\} 1/)
    expect(metrics).toMatch(/sightline_graphql_requests_total\{operation="ProductGrid",code="UNAUTHENTICATED"\} 1/)
    expect(metrics).toMatch(/sightline_ingest_rows_total\{table="ecomm_events",outcome="accepted"\} 1/)
    expect(metrics).toMatch(/sightline_ingest_rows_total\{table="ecomm_events",outcome="quarantined"\} 1/)
    expect(metrics).toContain('sightline_store_query_duration_seconds_bucket')
    expect(metrics).toContain('sightline_stock_subscriptions')
    expect(metrics).not.toContain(read.token)
  })

  it('records operations over WebSocket too: queries with what they read, subscriptions once started', async () => {
    const client = wsClient(server, read.token)
    try {
      const answer = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: 'query WsGrid { productGrid(category: "svc") { id } }' }, { next: resolve, error: reject, complete: () => {} })
      })
      expect(answer).toMatchObject({ data: { productGrid: expect.any(Array) } })
      const started = new Promise<void>((resolve) => {
        const dispose = client.subscribe(
          { query: 'subscription WsStock { stockChanged(category: "svc") { product } }' },
          { next: () => {}, error: () => {}, complete: () => {} },
        )
        // The subscription is recorded when it starts; give it a moment, then leave.
        setTimeout(() => {
          dispose()
          resolve()
        }, 300)
      })
      await started
    } finally {
      await client.dispose()
    }
    const stats = (await gqlOk(server, OperationStatsDocument, {}, server.adminToken)).operationStats
    expect(stats.find((s) => s.operation === 'WsGrid')).toMatchObject({ calls: 1, errors: 0 })
    expect(stats.find((s) => s.operation === 'WsGrid')!.rowsRead).toBeGreaterThan(0)
    expect(stats.find((s) => s.operation === 'WsStock')).toMatchObject({ calls: 1, errors: 0 })
  })

  it('refuses the service queries to non-admins', async () => {
    for (const token of [read.token, append.token]) {
      expect(codes(await gql(server, OperationStatsDocument, {}, token))).toEqual(['FORBIDDEN'])
      expect(codes(await gql(server, IngestLogDocument, {}, token))).toEqual(['FORBIDDEN'])
      expect(codes(await gql(server, ErrorLogDocument, {}, token))).toEqual(['FORBIDDEN'])
    }
    expect(codes(await gql(server, ErrorLogDocument, {}))).toEqual(['UNAUTHENTICATED'])
  })

  it('checks its arguments', async () => {
    const later = new Date(Date.now() + 60_000).toISOString()
    const now = new Date().toISOString()
    expect(codes(await gql(server, OperationStatsDocument, { from: later, to: now }, server.adminToken))).toEqual(['BAD_USER_INPUT'])
    expect(codes(await gql(server, IngestLogDocument, { limit: 0 }, server.adminToken))).toEqual(['BAD_USER_INPUT'])
    expect(codes(await gql(server, ErrorLogDocument, { limit: 100_000 }, server.adminToken))).toEqual(['BAD_USER_INPUT'])
  })

  it('keeps service records for the configured number of days', async () => {
    const ttl = await startTestServer({ SIGHTLINE_SERVICE_LOG_TTL_DAYS: '7' })
    try {
      const { store } = ttl.services
      const tables = ['error_log', 'ingest_log', 'operation_log']
      expect(await store.setServiceLogTtl(7)).toEqual([]) // applied at start
      expect(await store.setServiceLogTtl(30)).toEqual(tables)
      expect(await store.setServiceLogTtl(30)).toEqual([])
    } finally {
      await ttl.stop()
    }
  })
})
