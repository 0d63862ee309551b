import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startClickHouseHttp, type ClickHouseHttp } from './clickhouse-http.js'

// The remote-path suite: one ClickHouse HTTP interface over chDB for the whole run; every test file's
// store (tests/helpers/store.ts) then goes through Sightline's remote path, `@clickhouse/client` over HTTP.
let server: ClickHouseHttp | undefined
let dir: string | undefined

export async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'sightline-remote-'))
  server = await startClickHouseHttp(dir)
  process.env.CLICKHOUSE_URL = server.url
  process.env.SIGHTLINE_TEST_STORE_DIR = dir
  console.log(`remote path: ClickHouse HTTP interface over chDB at ${server.url} (${dir})`)
}

export async function teardown(): Promise<void> {
  const served = server?.count ?? 0
  await server?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  console.log(`remote path: ${served} queries served`)
}
