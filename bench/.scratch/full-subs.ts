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

const root = mkdtempSync(join(tmpdir(), 'sl-scratch-'))
const dir = join(root, 'gw')
const n = Number(process.argv[2] ?? 1000)
const events = Number(process.argv[3] ?? 1000000)
const ingestRows = Number(process.argv[4] ?? 200000)
let client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
const store = new ClickHouseStore(client, { database: 'sightline', cluster: undefined })
await store.migrate()
const data = await generate(client, store, 'sightline', { events, products: 2000, appEvents: 300000 }, () => {})
await settle(client, 'sightline', () => {})
await client.close()
cpSync(join(root, 'gen'), dir, { recursive: true })
client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
const adminToken = `adm_${randomBytes(16).toString('hex')}`
const gw = await startGateway({ repo: process.cwd(), dataDir: dir, database: 'sightline', adminToken, lowStock: 100 })
const admin = new GraphQLHttp(gw.url, adminToken)
const tok = async (name: string, scopes: string[]) => (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } })).createToken.token
const writer = new GraphQLHttp(gw.url, await tok('w', ['append:ecomm_events']))
const lagOf = async () => (await fetch(gw.url.replace('/graphql', '/metrics')).then((r) => r.text())).split('\n').filter((l) => l.startsWith('nodejs_eventloop_lag_max')).join(' ')
if (ingestRows > 0) console.error(JSON.stringify(await measureIngest({ http: writer, client, database: 'sightline', products: data.productIds, rows: ingestRows, progress: () => {} })))
console.error('after ingest', await lagOf())
let lagMax = 0
let last = performance.now()
const iv = setInterval(() => { const now = performance.now(); lagMax = Math.max(lagMax, now - last - 50); last = now }, 50)
const t0 = performance.now()
try {
  const res = await measureSubscriptions({ wsUrl: gw.wsUrl, readToken: await tok('r', ['read:ecommerce']), writer, subscribers: n, writes: 20, products: data.productIds, progress: (l) => console.error(((performance.now() - t0) / 1000).toFixed(1), l, 'bench lag', lagMax.toFixed(0)) })
  console.log(JSON.stringify({ afterSend: res.afterSendMs, mutation: res.mutationMs, connect: res.connectSeconds }))
} catch (e) { console.error('FAILED', ((performance.now() - t0) / 1000).toFixed(1), String(e).slice(0, 300), 'bench lag max', lagMax) }
clearInterval(iv)
console.error('after subs', await lagOf())
console.log(gw.logTail())
await gw.stop(); closeHttp(); await client.close()
process.exit(0)
