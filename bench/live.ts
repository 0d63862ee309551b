/**
 * The live-stock latency alone (`npm run bench:live`), without the whole `npm run bench`: a fresh
 * embedded store, the built gateway (`dist/main.js`) of one or more repositories, and
 * `measureSubscriptions` against each in turn, round after round, so builds are compared as
 * interleaved pairs on the same machine load. Prints one JSON line per run and a summary. Each line has the
 * gateway's CPU per measured write: the whole process, and by thread name (`main` the JavaScript thread;
 * the engine's pools: `MergeMutate` for merges, `BgSchPool`…; `node` libuv's workers, which run chDB's
 * calls), which says what competes with the fan-out.
 *
 *   npm run bench:live -- [--subscribers 1000] [--writes 30] [--rounds 3] [--repo DIR[@KEY=VALUE,…] ...] [--profile DIR]
 *
 * `--repo DIR@SIGHTLINE_X=1,SIGHTLINE_Y=2` runs that build with those variables set (the same build under
 * two settings: `--repo .@SIGHTLINE_CHDB_TRIM_MS=0 --repo .`).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { closeHttp, GraphQLHttp, startGateway } from './gateway.js'
import { round } from './stats.js'
import { measureSubscriptions, storedTimes, type SubscriptionResult } from './subscriptions.js'

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
/** Each contender: a build, and the variables it runs with on top of the bench's. */
const repos = (values.repo ?? ['.']).map((spec) => {
  const [dir, vars] = spec.split('@', 2) as [string, string | undefined]
  const env = Object.fromEntries(
    (vars ?? '').split(',').filter(Boolean).map((kv) => {
      const eq = kv.indexOf('=')
      if (eq < 1) throw new Error(`--repo ${spec}: "${kv}" is not NAME=VALUE`)
      return [kv.slice(0, eq), kv.slice(eq + 1)]
    }),
  )
  return { name: spec, repo: resolve(dir), env }
})

/** User + system CPU time so far, in ms, of a process or (`/task/<tid>`) one thread (Linux /proc; 10 ms ticks). */
function cpuMs(pid: number, thread = ''): number {
  const fields = readFileSync(`/proc/${pid}${thread}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * CPU time so far of each thread of a process, by thread id: its name (`main` for the JavaScript thread,
 * whose id is the process's; others with the digits at their end dropped, so a pool's threads add up)
 * and ms. A thread that ends is missed: the figures are a floor.
 */
function threadCpu(pid: number): Map<string, { name: string; ms: number }> {
  const threads = new Map<string, { name: string; ms: number }>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '')
      threads.set(tid, { name, ms: cpuMs(pid, `/task/${tid}`) })
    } catch {
      // ended meanwhile
    }
  }
  return threads
}

/** Per thread name, the CPU ms per write between two `threadCpu` readings, largest first (threads new since `before` count from 0). */
function threadCpuPerWrite(before: Map<string, { ms: number }>, after: Map<string, { name: string; ms: number }>, writes: number): Record<string, number> {
  const byName = new Map<string, number>()
  for (const [tid, { name, ms }] of after) byName.set(name, (byName.get(name) ?? 0) + ms - (before.get(tid)?.ms ?? 0))
  return Object.fromEntries([...byName].filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1]).map(([name, ms]) => [name, round(ms / writes)]))
}

type Measured = SubscriptionResult & {
  gatewayCpuMsPerWrite: number
  mainThreadCpuMsPerWrite: number
  clientCpuMsPerWrite: number
  /** The gateway's threads by name (the engine's pools, libuv, V8), CPU ms per write. */
  threadCpuMsPerWrite: Record<string, number>
}

async function once({ repo, env }: (typeof repos)[number]): Promise<Measured> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-live-'))
  const adminToken = `bench_admin_${randomBytes(16).toString('hex')}`
  const gateway = await startGateway({ repo, dataDir, database: 'bench', adminToken, lowStock: 100, env: { SIGHTLINE_RATE_LIMIT: '0', ...env },
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
    // CPU time of the gateway process and of this one (the subscribers) over the measured writes: unlike
    // latency, it does not depend on what else the machine runs.
    let gatewayCpu = 0
    let threads = new Map<string, { name: string; ms: number }>()
    let perThread: Record<string, number> = {}
    let clientCpu = process.cpuUsage()
    const result = await measureSubscriptions({
      wsUrl: gateway.wsUrl,
      readToken,
      writer,
      subscribers,
      writes,
      products,
      progress: () => {},
      beforeWrites: () => {
        gatewayCpu = cpuMs(gateway.pid)
        threads = threadCpu(gateway.pid)
        clientCpu = process.cpuUsage()
      },
      storedAt: (n) => storedTimes(admin, 'live_append', n),
      beforeDisconnect: () => {
        gatewayCpu = cpuMs(gateway.pid) - gatewayCpu
        perThread = threadCpuPerWrite(threads, threadCpu(gateway.pid), writes)
        const used = process.cpuUsage(clientCpu)
        clientCpu = { user: used.user, system: used.system }
      },
    })
    return {
      ...result,
      gatewayCpuMsPerWrite: round(gatewayCpu / writes),
      // The main (JavaScript) thread alone: the fan-out, without chDB's worker threads.
      mainThreadCpuMsPerWrite: perThread.main ?? 0,
      clientCpuMsPerWrite: round((clientCpu.user + clientCpu.system) / 1000 / writes),
      threadCpuMsPerWrite: perThread,
    }
  } finally {
    await gateway.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const results = new Map<string, Measured[]>(repos.map((r) => [r.name, []]))
for (let r = 0; r < rounds; r++) {
  for (const contender of repos) {
    const load = loadavg()[0]!
    const res = await once(contender)
    results.get(contender.name)!.push(res)
    const line = {
      repo: contender.name,
      round: r,
      load: round(load),
      delivered: `${res.delivered}/${res.expected}`,
      duplicates: res.duplicates,
      afterCommit: { p50: res.afterCommitMs.p50, p99: res.afterCommitMs.p99 },
      afterStored: { p50: res.afterStoredMs.p50, p99: res.afterStoredMs.p99 },
      firstAfterStored: { p50: res.firstAfterStoredMs.p50, p99: res.firstAfterStoredMs.p99 },
      afterSend: { p50: res.afterSendMs.p50, p99: res.afterSendMs.p99 },
      mutation: { p50: res.mutationMs.p50, p99: res.mutationMs.p99, max: res.mutationMs.max },
      firstDelivery: { p50: res.firstDeliveryMs.p50, p99: res.firstDeliveryMs.p99 },
      fanOut: { p50: res.fanOutMs.p50, p99: res.fanOutMs.p99 },
      beforeResponse: res.deliveredBeforeResponse,
      gatewayCpuMsPerWrite: res.gatewayCpuMsPerWrite,
      mainThreadCpuMsPerWrite: res.mainThreadCpuMsPerWrite,
      clientCpuMsPerWrite: res.clientCpuMsPerWrite,
      threadCpuMsPerWrite: res.threadCpuMsPerWrite,
    }
    process.stdout.write(`${JSON.stringify(line)}\n`)
  }
}
for (const [repo, list] of results) {
  const p99 = list.map((r) => r.afterCommitMs.p99).sort((a, b) => a - b)
  const p50 = list.map((r) => r.afterCommitMs.p50).sort((a, b) => a - b)
  const storedP50 = list.map((r) => r.afterStoredMs.p50).sort((a, b) => a - b)
  const storedP99 = list.map((r) => r.afterStoredMs.p99).sort((a, b) => a - b)
  const cpu = list.map((r) => r.gatewayCpuMsPerWrite).sort((a, b) => a - b)
  const mainCpu = list.map((r) => r.mainThreadCpuMsPerWrite).sort((a, b) => a - b)
  process.stdout.write(
    `${repo}: afterCommit p50 ${p50.join(', ')} | p99 ${p99.join(', ')} | afterStored p50 ${storedP50.join(', ')} | p99 ${storedP99.join(', ')} | gateway CPU per write ${cpu.join(', ')} | main thread ${mainCpu.join(', ')} (ms, sorted)\n`,
  )
}
closeHttp()
