/**
 * The live-stock latency alone (`npx tsx bench/live.ts`), without the whole `npm run bench`: a fresh
 * embedded store, the built gateway (`dist/main.js`) of one or more repositories, and
 * `measureSubscriptions` against each in turn, round after round, so builds are compared as
 * interleaved pairs on the same machine load. Prints one JSON line per run and a summary.
 *
 *   npx tsx bench/live.ts [--subscribers 1000] [--writes 30] [--rounds 3] [--repo DIR ...] [--profile DIR]
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { closeHttp, GraphQLHttp, startGateway } from './gateway.js'
import { round } from './stats.js'
import { measureSubscriptions, type SubscriptionResult } from './subscriptions.js'

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    repo: { type: 'string', multiple: true },
    profile: { type: 'string' },
  },
})
const subscribers = Number(values.subscribers)
const writes = Number(values.writes)
const rounds = Number(values.rounds)
const repos = (values.repo ?? ['.']).map((r) => resolve(r))

async function once(repo: string): Promise<SubscriptionResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-live-'))
  const adminToken = `bench_admin_${randomBytes(16).toString('hex')}`
  const gateway = await startGateway({ repo, dataDir, database: 'bench', adminToken, lowStock: 100, env: { SIGHTLINE_RATE_LIMIT: '0' },
    nodeArgs: values.profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)] : [],
  })
  try {
    const admin = new GraphQLHttp(gateway.url, adminToken)
    const token = async (name: string, scopes: string[]) =>
      (await admin.request<{ createToken: { token: string } }>('mutation T($input: TokenInput!) { createToken(input: $input) { token } }', { input: { name, scopes } }))
        .createToken.token
    const readToken = await token('live_read', ['read'])
    const writer = new GraphQLHttp(gateway.url, await token('live_append', ['append:ecomm_events']))
    const products = Array.from({ length: writes + 1 }, (_, i) => `live_${i}_${randomBytes(4).toString('hex')}`)
    return await measureSubscriptions({ wsUrl: gateway.wsUrl, readToken, writer, subscribers, writes, products, progress: () => {} })
  } finally {
    await gateway.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const results = new Map<string, SubscriptionResult[]>(repos.map((r) => [r, []]))
for (let r = 0; r < rounds; r++) {
  for (const repo of repos) {
    const load = loadavg()[0]!
    const res = await once(repo)
    results.get(repo)!.push(res)
    const line = {
      repo,
      round: r,
      load: round(load),
      delivered: `${res.delivered}/${res.expected}`,
      duplicates: res.duplicates,
      afterCommit: { p50: res.afterCommitMs.p50, p99: res.afterCommitMs.p99 },
      afterSend: { p50: res.afterSendMs.p50, p99: res.afterSendMs.p99 },
      mutation: { p50: res.mutationMs.p50, p99: res.mutationMs.p99 },
      firstDelivery: { p50: res.firstDeliveryMs.p50, p99: res.firstDeliveryMs.p99 },
      fanOut: { p50: res.fanOutMs.p50, p99: res.fanOutMs.p99 },
      beforeResponse: res.deliveredBeforeResponse,
    }
    process.stdout.write(`${JSON.stringify(line)}\n`)
  }
}
for (const [repo, list] of results) {
  const p99 = list.map((r) => r.afterCommitMs.p99).sort((a, b) => a - b)
  const p50 = list.map((r) => r.afterCommitMs.p50).sort((a, b) => a - b)
  process.stdout.write(`${repo}: afterCommit p50 ${p50.join(', ')} | p99 ${p99.join(', ')} (ms, sorted)\n`)
}
closeHttp()
