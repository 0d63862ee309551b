import { createConnection } from '../src/store/connection.js'
import { executorOf } from '../src/store/executor.js'
import { captureQueries, selectionOf } from './bare.js'
const client = createConnection({ url: undefined, user: 'default', password: '', database: 'default', cluster: undefined, dataDir: '/tmp/gridprobe' })
const q = { category: 'all', showOutOfStock: false, ranking: 'PRICE' } as const
const [rowsSql] = await captureQueries(client, 'sightline', (s) => s.productGridRows(q, 100, selectionOf('{ productGrid { id } }')))
const [jsonSql] = await captureQueries(client, 'sightline', (s) => s.productGridJson(q, 100, false))
const ex = executorOf(client)
const a = await ex.bytes(rowsSql!.query, rowsSql!.params, (e) => e as Error)
console.log('rows', a.rowsRead, a.bytesRead, a.bytes.length)
const b = await ex.bytes(jsonSql!.query, jsonSql!.params, (e) => e as Error)
console.log('json', b.rowsRead, b.bytesRead, b.bytes.subarray(-150).toString())
const c = await ex.bytes('SELECT count() FROM sightline.products WHERE id != {x:String} FORMAT JSONEachRow', { x: '' }, (e) => e as Error)
console.log('simple', c.rowsRead, c.bytesRead)
await client.close()
