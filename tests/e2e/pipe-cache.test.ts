import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnection } from '../../src/store/connection.js'
import { CreateTokenDocument } from '../generated/graphql.js'
import { uid } from '../helpers/factories.js'
import { gqlOk, startTestServer, type TestServer } from '../helpers/server.js'

const CLASSIC = fileURLToPath(new URL('../fixtures/projects/classic', import.meta.url))

/** An endpoint over `events` with the given pipe-level lines after its TYPE (`CACHE 600`, say). */
const endpoint = (name: string, after: string) =>
  `NODE ${name}\nSQL >\n    %\n    SELECT count() AS n, sum(amount) AS total FROM events WHERE event = {{String(event, 'buy')}} AND amount >= {{Float64(min_amount, 0)}}\n\nTYPE endpoint\n${after}`

/**
 * A project pipe's `CACHE <seconds>` keeps its REST answers in the read cache, with the read cache itself
 * off (the default): a write through the gateway is visible on the next read, a write that bypasses it
 * once the poll sees the table change, callers with other grants never share an answer, errors are not
 * kept, and pipes without CACHE (or `CACHE 0`) are never kept.
 */
describe('a project pipe’s CACHE', () => {
  const database = `p_${randomBytes(5).toString('hex')}`
  let server: TestServer
  let base: string
  let direct: ClickHouseClient

  interface Answer {
    status: number
    cache: string | null
    text: string
  }
  const get = async (path: string, auth: string = server.adminToken): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } })
    return { status: res.status, cache: res.headers.get('x-sightline-cache'), text: await res.text() }
  }
  const count = (a: Answer) => Number((JSON.parse(a.text) as { data: Array<{ n: number | string }> }).data[0]?.n)
  /** Reads until an answer comes from the cache (the first reads start the poll; a merge empties the cache). */
  const hit = async (path: string, auth?: string): Promise<Answer> => {
    let answer = await get(path, auth)
    for (let i = 0; i < 100 && answer.cache !== 'hit'; i++) {
      await new Promise((r) => setTimeout(r, 20))
      answer = await get(path, auth)
    }
    expect(answer.cache).toBe('hit')
    return answer
  }
  const send = async (rows: Array<Record<string, unknown>>) => {
    const res = await fetch(`${base}/v0/events?name=events&wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: rows.map((r) => JSON.stringify(r)).join('\n'),
    })
    expect(res.status).toBe(200)
  }
  const token = async (scopes: string[]) => (await gqlOk(server, CreateTokenDocument, { input: { name: uid('tok'), scopes } }, server.adminToken)).createToken.token

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-pipe-cache-'))
    const project = join(dir, 'project')
    cpSync(CLASSIC, project, { recursive: true })
    writeFileSync(join(project, 'cached.pipe'), endpoint('cached', 'CACHE 600\n'))
    writeFileSync(join(project, 'plain.pipe'), endpoint('plain', ''))
    writeFileSync(join(project, 'never.pipe'), endpoint('never', 'CACHE 0\n'))
    // cache_ttl in the template, for the requests that take that branch only.
    writeFileSync(
      join(project, 'ttl.pipe'),
      "NODE ttl\nSQL >\n    %\n    {% if not defined(live) %}{{ cache_ttl('1h') }}{% end %}\n    SELECT count() AS n FROM events\n\nTYPE endpoint\n",
    )
    // …or in a plain pipe the endpoint reads.
    writeFileSync(join(project, 'ttl_source.pipe'), "NODE src\nSQL >\n    %\n    {{ cache_ttl('5m') }}\n    SELECT user_id FROM events\n")
    writeFileSync(join(project, 'ttl_reader.pipe'), 'NODE reader\nSQL >\n    SELECT count() AS n FROM ttl_source\n\nTYPE endpoint\n')
    server = await startTestServer({ SIGHTLINE_PROJECT: project, SIGHTLINE_PROJECT_DATABASE: database, SIGHTLINE_POLL_MS: '500', SIGHTLINE_TOKEN_CACHE_MS: '0', SIGHTLINE_RATE_LIMIT: '0' })
    base = server.url.replace(/\/graphql$/, '')
    direct = createConnection(server.config.store)
    await send([
      { timestamp: '2026-01-01 10:00:00', user_id: 1, event: 'buy', amount: 120 },
      { timestamp: '2026-01-01 11:00:00', user_id: 2, event: 'view' },
    ])
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('serves a repeated read from the cache, as the same bytes as the pipe answers without it', async () => {
    const kept = await hit('/v0/pipes/cached.json?event=buy')
    expect(kept.status).toBe(200)
    expect(count(kept)).toBe(1)
    const uncached = await get('/v0/pipes/plain.json?event=buy')
    expect(JSON.parse(kept.text).data).toEqual(JSON.parse(uncached.text).data)
    // Other formats are kept apart, each as written.
    const csv = await hit('/v0/pipes/cached.csv?event=buy')
    expect(csv.text).toBe((await get('/v0/pipes/plain.csv?event=buy')).text)
  })

  it('never keeps a pipe without CACHE, or with CACHE 0', async () => {
    for (const path of ['/v0/pipes/plain.json', '/v0/pipes/never.json', '/v0/pipes/plain.json', '/v0/pipes/never.json']) {
      const answer = await get(path)
      expect(answer.status).toBe(200)
      expect(answer.cache).toBeNull()
    }
  })

  it('keeps the answers of a template that calls cache_ttl, for the requests that call it', async () => {
    expect(count(await hit('/v0/pipes/ttl.json'))).toBeGreaterThan(0)
    for (let i = 0; i < 3; i++) expect((await get('/v0/pipes/ttl.json?live=1')).cache).toBeNull()
    // cache_ttl in a pipe the endpoint reads keeps the endpoint's answers too.
    expect(count(await hit('/v0/pipes/ttl_reader.json'))).toBeGreaterThan(0)
  })

  it('keys by the parameters: another value is another answer', async () => {
    expect(count(await hit('/v0/pipes/cached.json?event=view'))).toBe(1)
    expect(count(await hit('/v0/pipes/cached.json?event=buy&min_amount=500'))).toBe(0)
    expect(count(await hit('/v0/pipes/cached.json?event=buy'))).toBe(1)
  })

  it('a write through the gateway is visible on the next read', async () => {
    const before = count(await hit('/v0/pipes/cached.json?event=buy'))
    await send([{ timestamp: '2026-01-03 10:00:00', user_id: 3, event: 'buy', amount: 10 }])
    const after = await get('/v0/pipes/cached.json?event=buy')
    expect(after.cache).not.toBe('hit')
    expect(count(after)).toBe(before + 1)
  })

  it('a direct insert (bypassing the gateway) becomes visible once the poll sees the table change', async () => {
    const before = count(await hit('/v0/pipes/cached.json?event=buy'))
    await direct.insert({ table: `${database}.events`, values: [{ timestamp: '2026-01-04 10:00:00', user_id: 4, event: 'buy', amount: 5 }], format: 'JSONEachRow' })
    const started = Date.now()
    let now = before
    while (now === before && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 100))
      now = count(await get('/v0/pipes/cached.json?event=buy'))
    }
    expect(now).toBe(before + 1)
    // The promise: within 2 × SIGHTLINE_POLL_MS of the insert, plus a loaded machine's slack.
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('never shares an answer between callers with different grants, and checks the token on every request', async () => {
    await hit('/v0/pipes/cached.json?event=buy')
    const reader = await token(['read:pipe:cached'])
    const first = await get('/v0/pipes/cached.json?event=buy', reader)
    expect(first.status).toBe(200)
    expect(first.cache).not.toBe('hit')
    await hit('/v0/pipes/cached.json?event=buy', reader)
    // A token that may not read the pipe gets no cached answer.
    const other = await token(['read:pipe:plain'])
    expect((await get('/v0/pipes/cached.json?event=buy', other)).status).toBe(403)
    const unknown = await get('/v0/pipes/cached.json?event=buy', 'not-a-token')
    expect([401, 403]).toContain(unknown.status)
    expect(unknown.cache).toBeNull()
  })

  it('never keeps an error', async () => {
    for (let i = 0; i < 3; i++) {
      const bad = await get('/v0/pipes/cached.json?min_amount=lots')
      expect(bad.status).toBe(400)
      expect(bad.cache).not.toBe('hit')
    }
  })

  it('records every read in the operation log, hits included', async () => {
    const logged = async () => {
      const res = await get(`/v0/sql?q=${encodeURIComponent("SELECT count() AS n FROM operation_log WHERE operation = 'cached' AND rows_read = 0")}`)
      return Number((JSON.parse(res.text) as { data: Array<{ n: number | string }> }).data[0]?.n ?? 0)
    }
    await hit('/v0/pipes/cached.json?event=buy')
    const hits = Number(/^sightline_read_cache_hits_total (\S+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1])
    expect(hits).toBeGreaterThan(0)
    // The service log is written in batches: read until every hit so far is there (the deadline bounds a broken log).
    let n = 0
    for (let i = 0; i < 50 && n < hits; i++) {
      n = await logged()
      if (n < hits) await new Promise((r) => setTimeout(r, 200))
    }
    expect(n).toBeGreaterThanOrEqual(hits)
  })

  it('leaves the built-in pipes alone while the read cache is off', async () => {
    for (let i = 0; i < 3; i++) expect((await get('/v0/pipes/api_ui_filters.json?builtin=true')).cache).toBeNull()
  })
})
