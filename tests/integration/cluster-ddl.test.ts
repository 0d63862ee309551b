import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STUCK_DDL_QUERY, stuckDdlMessage } from '../../src/store/cluster.js'
import { createConnection } from '../../src/store/connection.js'
import { bootstrapStatements, loadMigrations, type RenderOptions } from '../../src/store/sql.js'
import { testStoreConfig } from '../helpers/store.js'

// The DDL a cluster receives, in both modes, as golden files reviewed like code: a change to the schema
// or to the rendering shows up in the diff (`UPDATE_GOLDEN=1 npx vitest run tests/integration/cluster-ddl.test.ts`
// rewrites them). Every statement is also parsed by ClickHouse itself (chDB's formatQuery), so the
// goldens are at least valid ClickHouse; they are not run: there is no cluster here.

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url))
const MODES: Record<string, RenderOptions> = {
  replicated: { database: 'sightline', cluster: 'sightline_cluster', clusterMode: 'replicated' },
  sharded: { database: 'sightline', cluster: 'sightline_cluster', clusterMode: 'sharded' },
}

function render(options: RenderOptions): string[] {
  return [...bootstrapStatements(options), ...loadMigrations(options).flatMap((m) => [`-- ${m.name}`, ...m.statements])]
}

let client: ClickHouseClient
beforeAll(() => {
  client = createConnection(testStoreConfig())
})
afterAll(() => client.close())

describe.each(Object.entries(MODES))('cluster DDL, %s', (mode, options) => {
  const statements = render(options)
  const text = `${statements.map((s) => (s.startsWith('-- ') ? `\n${s}` : `${s};`)).join('\n')}\n`
  const file = `${GOLDEN}cluster-${mode}.sql`

  it('matches its golden file', () => {
    if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text)
    expect(text).toBe(readFileSync(file, 'utf8'))
  })

  it('is valid ClickHouse, statement by statement', async () => {
    for (const statement of statements.filter((s) => !s.startsWith('-- '))) {
      const rs = await client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q: statement }, format: 'JSONEachRow' })
      const [row] = await rs.json<{ f: string }>()
      expect(row?.f.length, statement).toBeGreaterThan(0)
    }
  })

  it('runs every statement ON CLUSTER with Replicated engines, never a plain MergeTree', () => {
    for (const s of statements.filter((x) => /^(CREATE|ALTER)/.test(x))) {
      expect(s, s).toMatch(/ON CLUSTER sightline_cluster/)
      expect(s, s).not.toMatch(/ENGINE = (Replacing|Aggregating|Summing)?MergeTree\b/)
    }
  })
})

describe('the sharded layout', () => {
  const statements = render(MODES.sharded!)
  it('puts a Distributed table with its sharding key over each local table, and views on the local tables', () => {
    expect(statements).toContain(
      'CREATE TABLE IF NOT EXISTS sightline.ecomm_events ON CLUSTER sightline_cluster AS sightline.ecomm_events_local\nENGINE = Distributed(sightline_cluster, sightline, ecomm_events_local, cityHash64(product))',
    )
    expect(statements.find((s) => s.includes('ENGINE = Distributed(sightline_cluster, sightline, app_events_local'))).toContain('cityHash64(workspace_id, session_id)')
    const view = statements.find((s) => s.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_stock_sales'))!
    expect(view).toContain('TO sightline.mv_latest_availability_local')
    expect(view).toContain('FROM sightline.ecomm_events_local')
    expect(statements.some((s) => /^CREATE TABLE IF NOT EXISTS sightline\.warehouse_stock_quarantine_local ON CLUSTER sightline_cluster AS sightline\.ecomm_events_quarantine_local$/.test(s))).toBe(true)
  })

  it('adds a column to the local and the Distributed table, an index to the local one only', () => {
    const column = statements.filter((s) => s.includes('ADD COLUMN IF NOT EXISTS _batch') && / sightline\.ecomm_events(_local)? /.test(s))
    expect(column.map((s) => s.split(' ')[2])).toEqual(['sightline.ecomm_events_local', 'sightline.ecomm_events'])
    const index = statements.filter((s) => s.includes('ADD INDEX IF NOT EXISTS batch_idx') && / sightline\.ecomm_events(_local)? /.test(s))
    expect(index.map((s) => s.split(' ')[2])).toEqual(['sightline.ecomm_events_local'])
  })
})

describe('a stuck distributed DDL queue', () => {
  it('is found by a valid query and reported with what to do', async () => {
    const rs = await client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q: STUCK_DDL_QUERY.replace('{cluster:String}', "'c'") }, format: 'JSONEachRow' })
    expect((await rs.json<{ f: string }>())[0]?.f).toContain('distributed_ddl_queue')
    expect(stuckDdlMessage('c', { tasks: 0, oldest: '', hosts: [] })).toBeUndefined()
    expect(stuckDdlMessage('c', undefined)).toBeUndefined()
    const message = stuckDdlMessage('c', { tasks: '3', oldest: '2026-11-30 10:00:00', hosts: ['ch-2'] })!
    expect(message).toContain('3 task(s) unfinished')
    expect(message).toContain('ch-2')
    expect(message).toMatch(/bring the host back/)
  })
})
