import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { selectRows } from '../../src/store/clickhouse.js'
import { loadMigrations } from '../../src/store/sql.js'
import { testStoreConfig } from '../helpers/store.js'

// A migration interrupted at any statement (a crash, a kill, a failed statement) is completed by the
// next run: every statement is idempotent and the version is recorded only after the last one. For
// each prefix of the batch-id migration (and the first statement of every other file), the schema after
// "apply the prefix, then migrate" must equal the schema of an uninterrupted run.

async function schema(client: ClickHouseClient, db: string): Promise<string[]> {
  const rows = await selectRows<{ name: string; q: string }>(
    client,
    `SELECT name, replaceAll(create_table_query, {db:String} || '.', 'DB.') AS q FROM system.tables
     WHERE database = {db:String} ORDER BY name`,
    { db },
  )
  return rows.map((r) => r.q.replace(/ UUID '[^']+'/g, ''))
}

describe('migrations interrupted at any statement', () => {
  const stores: ClickHouseStore[] = []
  let reference: string[]
  const open = () => {
    const store = ClickHouseStore.open(testStoreConfig())
    stores.push(store)
    return store
  }
  const clientOf = (store: ClickHouseStore) => (store as unknown as { client: ClickHouseClient }).client

  beforeAll(async () => {
    const store = open()
    await store.migrate()
    reference = await schema(clientOf(store), (store as unknown as { config: { database: string } }).config.database)
  })
  afterAll(async () => {
    for (const s of stores) await s.close()
  })

  const cases: Array<{ file: string; upTo: number }> = []
  for (const m of loadMigrations({ database: 'x' })) {
    if (m.name === '0070_batch_ids') for (let k = 1; k < m.statements.length; k++) cases.push({ file: m.name, upTo: k })
    else if (m.statements.length > 1) cases.push({ file: m.name, upTo: 1 })
  }

  it.each(cases)('$file stopped after statement $upTo, then migrated: the same schema', async ({ file, upTo }) => {
    const store = open()
    const client = clientOf(store)
    const db = (store as unknown as { config: { database: string } }).config.database
    // The state migrate() leaves when stopped there: earlier files applied and recorded, then a prefix.
    const all = loadMigrations({ database: db })
    const at = all.findIndex((m) => m.name === file)
    await client.command({ query: `CREATE DATABASE ${db}` })
    await client.command({
      query: `CREATE TABLE ${db}.schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version`,
    })
    for (const m of all.slice(0, at)) {
      for (const statement of m.statements) await client.command({ query: statement })
      await client.insert({ table: `${db}.schema_migrations`, values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' })
    }
    for (const statement of all[at]!.statements.slice(0, upTo)) await client.command({ query: statement })

    const report = await store.migrate()
    expect(report.applied[0]).toBe(file)
    expect(await schema(client, db)).toEqual(reference)
  })
})
