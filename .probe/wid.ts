import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClickHouseStore } from '../src/store/clickhouse-store.js'
import { toChDateTime64 } from '../src/store/clickhouse.js'
const dataDir = mkdtempSync(join(tmpdir(), 'wid-'))
const store = ClickHouseStore.open({ url: undefined, user: 'default', password: '', database: 'w', cluster: undefined, dataDir, durability: 'none' } as never)
await store.migrate()
const cols = ['timestamp', 'event', 'product'] as const
const rowsOf = (id: string | undefined) => Array.from({ length: 10000 }, (_, i) => {
  const r = Math.random(); const ev = r < 0.75 ? 'view' : r < 0.93 ? 'cart' : 'sale'
  const row: unknown[] = [toChDateTime64(new Date(Date.now() - Math.random() * 5 * 86400e3)), ev, `p${Math.floor(Math.random() * 2000)}`]
  if (id !== undefined) row.push(ev === 'sale' ? id : '')
  return row
})
const t = { plain: [] as number[], id: [] as number[], empty: [] as number[] }
for (let round = 0; round < 20; round++) {
  for (const kind of (round % 2 ? ['plain', 'id', 'empty'] : ['empty', 'id', 'plain']) as Array<keyof typeof t>) {
    const id = `w${Math.random().toString(16).slice(2, 18)}`
    const rows = kind === 'plain' ? rowsOf(undefined) : kind === 'id' ? rowsOf(id) : rowsOf('').map((r) => (r[3] = '', r))
    const t0 = performance.now()
    if (kind === 'plain') await store.executor.insert('w.ecomm_events', rows, undefined, [...cols])
    else await store.executor.insert('w.ecomm_events', rows, undefined, [...cols, '_batch'], { insert_allow_materialized_columns: 1 })
    t[kind].push(performance.now() - t0)
  }
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!.toFixed(1)
console.log('median ms: plain', med(t.plain), 'id on sales', med(t.id), 'explicit empty column', med(t.empty))
await store.close()
