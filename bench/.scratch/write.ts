import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { generate, settle } from '../data.js'
import { summarize, timed } from '../stats.js'

const root = mkdtempSync(join(tmpdir(), 'sl-scratch-'))
const client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
const store = new ClickHouseStore(client, { database: 'sightline', cluster: undefined })
await store.migrate()
const data = await generate(client, store, 'sightline', { events: Number(process.argv[2] ?? 50000), products: 2000, appEvents: 10000 }, () => {})
await settle(client, 'sightline', () => {})
const r: Record<string, number[]> = { insert: [], changes: [], stock: [], select1: [], insertView: [], insertWh: [], grid: [], gridSqlOnly: [] }
for (let i = 0; i < 30; i++) {
  const p = data.productIds[i + 1]!
  r.insert!.push(await timed(() => store.ingestEcommEvents([{ event: 'sale', product: p, timestamp: new Date() }])))
  r.insertView!.push(await timed(() => store.ingestEcommEvents([{ event: 'view', product: p, timestamp: new Date() }])))
  r.insertWh!.push(await timed(() => store.ingestWarehouseStock([{ product: p, store: 'x', amount: 1, timestamp: new Date() }])))
  r.changes!.push(await timed(() => store.stockChangesSince(new Date(Date.now() - 10000))))
  r.stock!.push(await timed(() => store.stock([p])))
  r.select1!.push(await timed(() => store.ping()))
  r.grid!.push(await timed(() => store.productGrid({ category: 'all', showOutOfStock: false, ranking: 'PRICE' }, 100)))
}
for (const [k, v] of Object.entries(r)) console.log(k.padEnd(12), JSON.stringify(summarize(v.slice(5))))
await client.close()
