// usage: tsx prof.ts <phase: grid|dash|ingest|live> <events> <profdir>
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { generate, settle } from '../data.js'
import { GraphQLHttp, startGateway, closeHttp } from '../gateway.js'
import { measureSubscriptions } from '../subscriptions.js'
import { measureIngest } from '../ingest.js'
import { summarize, timed } from '../stats.js'

const [phase, ev, profdir] = process.argv.slice(2)
const root = mkdtempSync(join(tmpdir(), 'sl-scratch-'))
const dir = join(root, 'gw')
let client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
const store = new ClickHouseStore(client, { database: 'sightline', cluster: undefined })
await store.migrate()
const data = await generate(client, store, 'sightline', { events: Number(ev), products: 2000, appEvents: Number(ev) * 0.3 }, () => {})
await settle(client, 'sightline', () => {})
await client.close()
cpSync(join(root, 'gen'), dir, { recursive: true })
client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
const adminToken = `adm_${randomBytes(16).toString('hex')}`
const gw = await startGateway({ repo: process.cwd(), dataDir: dir, database: 'sightline', adminToken, lowStock: 100, nodeArgs: profdir ? ['--cpu-prof', '--cpu-prof-dir', profdir, '--cpu-prof-interval', '200'] : [] })
const admin = new GraphQLHttp(gw.url, adminToken)
const tok = async (name: string, scopes: string[]) => (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } })).createToken.token
const reader = new GraphQLHttp(gw.url, await tok('r', ['read']))
const writer = new GraphQLHttp(gw.url, await tok('w', ['append:ecomm_events']))
if (phase === 'grid') {
  const body = JSON.stringify({ query: 'query Grid { productGrid { id name category photo price stock stockStatus hits trending rankStatus } }' })
  for (let i = 0; i < 10; i++) await reader.post(body)
  const t: number[] = []
  for (let i = 0; i < 200; i++) t.push(await timed(() => reader.post(body)))
  console.log('grid', summarize(t))
} else if (phase === 'ingest') {
  console.log(JSON.stringify(await measureIngest({ http: writer, client, database: 'sightline', products: data.productIds, rows: 100000, progress: () => {} })))
} else if (phase === 'live') {
  const r = await measureSubscriptions({ wsUrl: gw.wsUrl, readToken: await tok('l', ['read:ecommerce']), writer, subscribers: 1000, writes: 30, products: data.productIds, progress: () => {} })
  console.log(JSON.stringify({ commit: r.afterCommitMs, send: r.afterSendMs, mutation: r.mutationMs }))
}
await gw.stop(); closeHttp(); await client.close()
process.exit(0)
