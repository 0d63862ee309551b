import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { createServer } from 'node:net'

export interface GatewayProcess {
  readonly url: string
  readonly wsUrl: string
  readonly pid: number
  /** Resident and peak resident memory of the gateway process, in MB (Linux /proc). */
  memory(): { rssMb: number; peakMb: number } | null
  /** The V8 heap of the gateway from its Prometheus metrics, in MB (the rest of RSS is mostly chDB). */
  heap(): Promise<{ usedMb: number; totalMb: number; externalMb: number } | null>
  /** The store engine's memory by kind (`sightline_engine_memory_bytes`: tracked, each cache), in MB; null when unreadable. */
  engine(): Promise<Record<string, number> | null>
  /** The read cache's counters since start from its Prometheus metrics; null when it is off (no such metrics). */
  readCache(): Promise<ReadCacheCounts | null>
  /** The last lines the gateway wrote, for error messages. */
  logTail(): string
  stop(): Promise<void>
}

/** What `sightline_read_cache_*_total` counted: reads answered from the cache, computed, shared with one computing, run without it. */
export interface ReadCacheCounts {
  readonly hits: number
  readonly misses: number
  readonly shared: number
  readonly bypassed: number
}

export interface GatewayOptions {
  readonly repo: string
  readonly dataDir: string
  readonly database: string
  readonly adminToken: string
  readonly lowStock: number
  /** Extra node flags for the gateway, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[]
  /** Variables set on top of the defaults, where a bench measures something a default would cut short. */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * Runs the built gateway (`node dist/main.js start`) as its own process on the embedded store in
 * `dataDir`, the way a user runs it, and resolves once /readyz answers 200.
 */
export async function startGateway(o: GatewayOptions): Promise<GatewayProcess> {
  const port = await freePort()
  // Defaults for every knob, whatever this shell exports: the numbers describe the gateway as shipped.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SIGHTLINE_|CLICKHOUSE_)/.test(k)))
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_ENV: 'production',
    SIGHTLINE_DATA_DIR: o.dataDir,
    CLICKHOUSE_DATABASE: o.database,
    SIGHTLINE_ADMIN_TOKEN: o.adminToken,
    SIGHTLINE_LOG_LEVEL: 'warn',
    SIGHTLINE_DEMO: '0',
    SIGHTLINE_LOW_STOCK_THRESHOLD: String(o.lowStock),
    ...o.env,
  }
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), 'dist/main.js', 'start'], { cwd: o.repo, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  const keep = (chunk: Buffer) => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (log.length > 200) log.splice(0, log.length - 200)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const base = `http://127.0.0.1:${port}`
  const logTail = () => log.slice(-30).join('\n')

  const deadline = Date.now() + 120_000
  for (;;) {
    const status = await Promise.race([
      getStatus(`${base}/readyz`).catch(() => 0),
      exited.then((code) => {
        throw new Error(`the gateway exited (code ${code}) before it was ready:\n${logTail()}`)
      }),
    ])
    if (status === 200) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`the gateway was not ready within 120 s:\n${logTail()}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }

  return {
    url: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    pid: child.pid!,
    memory: () => readMemory(child.pid!),
    heap: () => readHeap(`${base}/metrics`),
    engine: () => readEngine(`${base}/metrics`),
    readCache: () => readCacheCounts(`${base}/metrics`),
    logTail,
    stop: () => stopChild(child, exited),
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

function readMemory(pid: number): { rssMb: number; peakMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rssMb: Math.round(kb('VmRSS') / 102.4) / 10, peakMb: Math.round(kb('VmHWM') / 102.4) / 10 }
  } catch {
    return null
  }
}

/** One sample of a Prometheus text exposition (the first series of that name), NaN when absent. */
const sample = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

async function readHeap(url: string): Promise<{ usedMb: number; totalMb: number; externalMb: number } | null> {
  try {
    const text = (await getBytes(url)).toString('utf8')
    const mb = (name: string) => Math.round(sample(text, name) / 1e5) / 10
    return { usedMb: mb('nodejs_heap_size_used_bytes'), totalMb: mb('nodejs_heap_size_total_bytes'), externalMb: mb('nodejs_external_memory_bytes') }
  } catch {
    return null
  }
}

async function readEngine(url: string): Promise<Record<string, number> | null> {
  try {
    const text = (await getBytes(url)).toString('utf8')
    const found = [...text.matchAll(/^sightline_engine_memory_bytes\{kind="([^"]+)"\} (\S+)$/gm)]
    return Object.fromEntries(found.map(([, kind, bytes]) => [kind!, Math.round(Number(bytes) / 1e5) / 10]))
  } catch {
    return null
  }
}

async function readCacheCounts(url: string): Promise<ReadCacheCounts | null> {
  const text = (await getBytes(url)).toString('utf8')
  const count = (name: string) => sample(text, `sightline_read_cache_${name}_total`)
  const counts = { hits: count('hits'), misses: count('misses'), shared: count('shared'), bypassed: count('bypassed') }
  return Number.isNaN(counts.hits) ? null : counts
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

/** A minimal GraphQL-over-HTTP client on keep-alive sockets, so client overhead stays small. */
export class GraphQLHttp {
  /** Request body bytes sent so far. */
  bytesSent = 0

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** Posts a body (already JSON) and returns the parsed `data`; throws on any GraphQL error. */
  async post<T>(body: string): Promise<T> {
    this.bytesSent += Buffer.byteLength(body)
    const { status, text } = await postJson(this.url, body, this.token)
    const parsed = JSON.parse(text) as { data?: T; errors?: unknown[] }
    if (status !== 200 || parsed.errors?.length || !parsed.data) {
      throw new Error(`GraphQL request failed (${status}): ${text.slice(0, 500)}`)
    }
    return parsed.data
  }

  /**
   * Posts a body and returns the answer's bytes, unparsed: what a measured read compares with the bare
   * store's bytes (parsing them is the client's work whoever wrote them). Throws on a status other than 200
   * or an answer that does not open with its data (GraphQL errors come before it).
   */
  async answer(body: string): Promise<Buffer> {
    this.bytesSent += Buffer.byteLength(body)
    const { status, bytes } = await postBytes(this.url, body, this.token)
    if (status !== 200 || !bytes.subarray(0, DATA_OPENING.length).equals(DATA_OPENING)) {
      throw new Error(`GraphQL request failed (${status}): ${bytes.subarray(0, 500).toString('utf8')}`)
    }
    return bytes
  }

  request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return this.post<T>(JSON.stringify({ query, variables }))
  }
}

const DATA_OPENING = Buffer.from('{"data":{')

async function postJson(url: string, body: string, token: string): Promise<{ status: number; text: string }> {
  const { status, bytes } = await postBytes(url, body, token)
  return { status, text: bytes.toString('utf8') }
}

function postBytes(url: string, body: string, token: string): Promise<{ status: number; bytes: Buffer }> {
  return sendBytes(url, 'POST', body, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${token}` })
}

/** One HTTP request on the bench's keep-alive sockets; the answer's status and bytes, whatever the status. */
export function sendBytes(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * A GET's answer, unparsed: what a measured REST read compares with the bare store's bytes (parsing them is
 * the client's work). Throws unless 200.
 */
export async function getBytes(url: string): Promise<Buffer> {
  const res = await sendBytes(url, 'GET', undefined, {})
  if (res.status !== 200) throw new Error(`GET ${url.replace(/token=[^&]+/, 'token=…')}: ${res.status} ${res.bytes.subarray(0, 300).toString('utf8')}`)
  return res.bytes
}

export async function getJson<T>(url: string): Promise<T> {
  return JSON.parse((await getBytes(url)).toString('utf8')) as T
}

/**
 * The URL of a REST pipe's `.json` answer (`/v0/pipes/<pipe>.json`) on the gateway serving `graphqlUrl`, the
 * token in the query string as Tinybird's clients send it.
 */
export function pipeUrl(graphqlUrl: string, pipe: string, token: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({ ...params, token })
  return `${graphqlUrl.replace(/\/graphql$/, '')}/v0/pipes/${pipe}.json?${query}`
}

/** Closes idle keep-alive sockets so the process can exit. */
export function closeHttp(): void {
  agent.destroy()
}
