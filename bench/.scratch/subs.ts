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

const root = mkdtempSync(join(tmpdir(), 'sl-scratch-'))
const dir = join(root, 'gw')
const n = Number(process.argv[2] ?? 1000)
const events = Number(process.argv[3] ?? 50000)
{
  const client = createClient({ connection: createChdbConnection({ path: join(root, 'gen') }) as never })
  const store = new ClickHouseStore(client, { database: 'sightline', cluster: undefined })
  await store.migrate()
  await generate(client, store, 'sightline', { events, products: 500, appEvents: 10000 }, () => {})
  await settle(client, 'sightline', () => {})
  await client.close()
  cpSync(join(root, 'gen'), dir, { recursive: true })
}
const adminToken = `adm_${randomBytes(16).toString('hex')}`
const gw = await startGateway({ repo: process.cwd(), dataDir: dir, database: 'sightline', adminToken, lowStock: 100 })
const admin = new GraphQLHttp(gw.url, adminToken)
const tok = async (name: string, scopes: string[]) => (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } })).createToken.token
let lagMax = 0
let last = performance.now()
const iv = setInterval(() => { const now = performance.now(); lagMax = Math.max(lagMax, now - last - 50); last = now }, 50)
try {
  const res = await measureSubscriptions({ wsUrl: gw.wsUrl, readToken: await tok('r', ['read:ecommerce']), writer: new GraphQLHttp(gw.url, await tok('w', ['append:ecomm_events'])), subscribers: n, writes: 20, products: Array.from({ length: 500 }, (_, i) => `p_${String(i).padStart(5, '0')}`), progress: (l) => console.error(l, 'lag', lagMax.toFixed(0)) })
  console.log(JSON.stringify(res, null, 1))
} catch (e) { console.error('FAILED', String(e).slice(0, 300), 'bench lag max', lagMax) }
clearInterval(iv)
const m = await fetch(gw.url.replace('/graphql', '/metrics')).then((r) => r.text())
console.log(m.split('\n').filter((l) => l.startsWith('nodejs_eventloop_lag_max') || l.startsWith('nodejs_eventloop_lag_p99')).join('\n'))
console.log(gw.logTail())
await gw.stop(); closeHttp()
process.exit(0)
