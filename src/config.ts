/**
 * Every setting, read once from the environment and validated (zod), with its typed shape. Over 300 lines
 * because it is one table: each variable's parsing next to the field it fills, so neither can drift.
 */
import { z } from 'zod'

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, underscore)')

const flag = z
  .enum(['0', '1', 'true', 'false', ''])
  .default('0')
  .transform((v) => v === '1' || v === 'true')

/** A flag that is on unless set to 0/false. */
const flagOn = z
  .enum(['0', '1', 'true', 'false', ''])
  .default('1')
  .transform((v) => v !== '0' && v !== 'false')

const GIB = 1024 ** 3

const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v)

const EnvSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  NODE_ENV: z.string().default('production'),
  SIGHTLINE_DATA_DIR: z.string().default('./data'),
  CLICKHOUSE_URL: z.preprocess(emptyAsUndefined, z.string().url().optional()),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: identifier.default('sightline'),
  CLICKHOUSE_CLUSTER: z.preprocess(emptyAsUndefined, identifier.optional()),
  CLICKHOUSE_CLUSTER_MODE: z.enum(['replicated', 'sharded']).default('replicated'),
  SIGHTLINE_ADMIN_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
  SIGHTLINE_JWT_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
  SIGHTLINE_RATE_LIMIT: z.coerce.number().min(0).default(100),
  SIGHTLINE_RATE_BURST: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
  SIGHTLINE_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  SIGHTLINE_MAX_COST: z.coerce.number().int().min(1).default(10_000),
  SIGHTLINE_MAX_ALIASES: z.coerce.number().int().min(1).default(50),
  SIGHTLINE_MAX_TOKENS: z.coerce.number().int().min(100).default(100_000),
  SIGHTLINE_DEMO: flag,
  SIGHTLINE_DEMO_TRICKLE_MS: z.coerce.number().int().min(0).default(2_000),
  SIGHTLINE_CORS_ORIGINS: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^(\*|localhost|https?:\/\/[^/\s]+)$/, 'each origin must be *, localhost or scheme://host[:port] without a path')))
      .optional(),
  ),
  SIGHTLINE_LOW_STOCK_THRESHOLD: z.coerce.number().int().min(0).default(100),
  SIGHTLINE_POLL_MS: z.coerce.number().int().min(10).default(500),
  SIGHTLINE_MAX_BATCH: z.coerce.number().int().min(1).default(10_000),
  SIGHTLINE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(16 * 1024 * 1024),
  SIGHTLINE_TOKEN_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  SIGHTLINE_SERVICE_LOG_TTL_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  SIGHTLINE_DURABILITY: z.preprocess(emptyAsUndefined, z.enum(['fsync', 'none']).optional()),
  SIGHTLINE_READ_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  SIGHTLINE_READ_MAX_MEMORY: z.coerce.number().int().min(0).default(2 * GIB),
  SIGHTLINE_DASHBOARD_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  SIGHTLINE_DASHBOARD_MAX_MEMORY: z.coerce.number().int().min(0).default(4 * GIB),
  SIGHTLINE_INGEST_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  SIGHTLINE_INGEST_MAX_MEMORY: z.coerce.number().int().min(0).default(4 * GIB),
  SIGHTLINE_SERVICE_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  SIGHTLINE_SERVICE_MAX_MEMORY: z.coerce.number().int().min(0).default(1 * GIB),
  SIGHTLINE_STORE_CONCURRENCY: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
  SIGHTLINE_STORE_QUEUE: z.coerce.number().int().min(1).default(128),
  SIGHTLINE_AUTH_FAILURES_PER_MINUTE: z.coerce.number().min(0).default(30),
  SIGHTLINE_AUTH_FAILURE_BURST: z.coerce.number().int().min(1).default(20),
  SIGHTLINE_WS_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  SIGHTLINE_WS_MAX_PER_ADDRESS: z.coerce.number().int().min(1).default(5_000),
  SIGHTLINE_JWT_MAX_LIFETIME_S: z.coerce.number().int().min(1).default(31 * 86_400),
  SIGHTLINE_CSV_FORMULA_GUARD: flagOn,
  SIGHTLINE_TRUST_PROXY: flag,
  SIGHTLINE_KEEP_ALIVE_MS: z.coerce.number().int().min(0).default(65_000),
  SIGHTLINE_READ_CACHE: flag,
  SIGHTLINE_READ_CACHE_MB: z.coerce.number().min(1).default(64),
  SIGHTLINE_READ_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  SIGHTLINE_CHDB_MARK_CACHE_MB: z.coerce.number().int().min(0).default(64),
  SIGHTLINE_CHDB_INDEX_CACHE_MB: z.coerce.number().int().min(0).default(64),
  SIGHTLINE_CHDB_UNCOMPRESSED_CACHE_MB: z.coerce.number().int().min(0).default(0),
  SIGHTLINE_CHDB_MAX_MEMORY_MB: z.coerce.number().int().min(0).default(0),
  SIGHTLINE_CHDB_PURGE_MS: z.coerce.number().int().min(0).default(5_000),
  SIGHTLINE_CHDB_ARGS: z.string().default('').transform((v) => v.split(/\s+/).filter(Boolean)),
  SIGHTLINE_CHDB_TRIM_MS: z.coerce.number().int().min(0).default(10_000),
  SIGHTLINE_CHDB_IDLE_THREADS: z.coerce.number().int().min(0).default(4),
  SIGHTLINE_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(300).default(25),
  SIGHTLINE_PROJECT: z.preprocess(emptyAsUndefined, z.string().optional()),
  SIGHTLINE_PROJECT_DATABASE: identifier.default('project'),
  SIGHTLINE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

/** The whole runtime configuration, read once from the environment and passed down explicitly. */
export interface Config {
  /** Interface to listen on. @default "127.0.0.1" */
  readonly host: string
  /** Port to listen on; 0 picks a free one. @default 4000 */
  readonly port: number
  /** Development mode turns on introspection for everyone and unmasked logs. @default false */
  readonly development: boolean
  readonly store: StoreConfig
  /** Bootstrap admin bearer token (never stored). */
  readonly adminToken: string | undefined
  /** HS256 secret for signed JWTs; unset turns JWTs off. */
  readonly jwtSecret: string | undefined
  /** Requests per second each token may make (a token bucket); 0 turns limiting off. @default 100 */
  readonly rateLimit: number
  /** Requests a token may make at once above the rate. @default max(1, 2 × rateLimit) */
  readonly rateBurst: number
  /** Query limits: selection depth, estimated cost, aliases, and lexical tokens per document. */
  readonly queryLimits: QueryLimits
  /**
   * A Tinybird project (a folder of `.datasource`/`.pipe` datafiles) to load at start-up and serve under
   * `/v0/*`, in its own database. Absent: no project, the server is the built-in one only.
   */
  readonly project?: ProjectConfig | undefined
  /** Load the demo dataset and create the demo tokens at start-up. @default false */
  readonly demo: boolean
  /** In demo mode, how often a trickle of new events is written, in ms; 0 turns it off. @default 2000 */
  readonly demoTrickleMs: number
  /**
   * How far V8 lets the JavaScript heap grow past what survived its last full collection, in percent
   * (V8's `--heap-growing-percent`, set by the CLI at start); 0 leaves V8's own factor, up to 300%.
   * @default 25
   */
  readonly heapGrowingPercent: number
  /**
   * Origins allowed to call /graphql from a browser (CORS): exact origins (`https://app.example.com`),
   * `localhost` (any port on localhost, 127.0.0.1 or [::1]) or `*`. Same-origin pages need no entry.
   * @default [] (same origin only); ["localhost"] in demo mode
   */
  readonly corsOrigins: readonly string[]
  /** Stock above this is IN_STOCK, at or below (and above 0) is LOW_STOCK. @default 100 */
  readonly lowStockThreshold: number
  /** How often the live-stock poller reads the store's change log, in ms. @default 500 */
  readonly pollMs: number
  /** Most rows one ingest mutation may carry. @default 10000 */
  readonly maxBatch: number
  /** Largest accepted HTTP request body, in bytes. @default 16 MiB */
  readonly maxBodyBytes: number
  /** How long a resolved token stays cached in the process, in ms. @default 5000 */
  readonly tokenCacheMs: number
  /** Days the operation, ingest and error logs are kept. @default 30 */
  readonly serviceLogTtlDays: number
  /** Time and memory limits per kind of store work, and how the store's work queue is bounded. */
  readonly workload: WorkloadConfig
  /** Failed authentications per client address and per token prefix. */
  readonly authFailures: AuthFailureConfig
  readonly websocket: WebSocketConfig
  /** Longest lifetime (exp − iat) a Sightline JWT may have, in seconds. @default 2678400 (31 days) */
  readonly jwtMaxLifetimeSeconds: number
  /** CSV answers prefix string cells that start like a formula (`=`, `+`, `-`, `@`, tab, CR) with `'`. @default true */
  readonly csvFormulaGuard: boolean
  /** Per-address limits read the client's address from the last `X-Forwarded-For` entry. @default false */
  readonly trustProxy: boolean
  /** Idle keep-alive sockets are closed after this many ms; the headers timeout is 1 s above it. @default 65000 */
  readonly keepAliveMs: number
  /**
   * The read cache (src/cache): answers of read-only queries kept per document, variables and the caller's
   * scopes and workspace, dropped on every write through this gateway and on any change to a table's parts
   * the `pollMs` poll sees. `SIGHTLINE_READ_CACHE` (@default off), `SIGHTLINE_READ_CACHE_MB` (@default 64),
   * `SIGHTLINE_READ_CACHE_TTL_MS`: the longest an answer is kept even without writes (clock-relative
   * answers such as last-hour hits) (@default 5000).
   */
  readonly readCache: { readonly enabled: boolean; readonly maxBytes: number; readonly ttlMs: number }
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

/** ClickHouse's `max_execution_time` (ms here; 0 is none) and `max_memory_usage` (bytes; 0 is none). */
export interface QueryLimit {
  readonly timeoutMs: number
  readonly maxMemory: number
}

export interface WorkloadConfig {
  /** Interactive reads: product grid, products, stock, trends, filters. @default 10 s, 2 GiB */
  readonly read: QueryLimit
  /** Dashboards: app analytics totals, breakdowns, time series. @default 30 s, 4 GiB */
  readonly dashboard: QueryLimit
  /** Ingest and token writes. @default 60 s, 4 GiB */
  readonly ingest: QueryLimit
  /** Service data (operation, ingest and error logs, quarantine) and migrations. @default 30 s, 1 GiB */
  readonly service: QueryLimit
  /** Store queries run at once: 1 for embedded chDB (it runs one at a time anyway), 8 for a server. */
  readonly concurrency: number
  /** Store calls that may wait; beyond it the lowest-priority one is refused with STORE_BUSY. @default 128 */
  readonly queue: number
}

export interface AuthFailureConfig {
  /** Failed authentications refilled per minute, per client address and per token prefix; 0 is off. @default 30 */
  readonly perMinute: number
  /** Failures allowed at once before refusals start. @default 20 */
  readonly burst: number
}

export interface WebSocketConfig {
  /** How long a socket may take to send graphql-ws's ConnectionInit (else 4408). @default 10000 */
  readonly initTimeoutMs: number
  /** Open sockets per client address; more are refused at the upgrade with 429. @default 5000 */
  readonly maxPerAddress: number
}

export interface QueryLimits {
  /** @default 12 */
  readonly maxDepth: number
  /** @default 10000 */
  readonly maxCost: number
  /** @default 50 */
  readonly maxAliases: number
  /** @default 100000 */
  readonly maxTokens: number
}

export interface StoreConfig {
  /** Remote ClickHouse HTTP(S) URL; absent means embedded chDB. */
  readonly url: string | undefined
  readonly user: string
  readonly password: string
  /** Database holding every Sightline table. @default "sightline" */
  readonly database: string
  /** Cluster name: DDL runs ON CLUSTER with Replicated engines. */
  readonly cluster: string | undefined
  /**
   * With a cluster: `replicated` (every host a full replica) or `sharded` (local replicated tables and
   * Distributed tables by a sharding key per table; see src/store/cluster.ts). @default "replicated"
   */
  readonly clusterMode?: 'replicated' | 'sharded' | undefined
  /** chDB data directory (embedded store only). @default "./data" */
  readonly dataDir: string
  /**
   * `fsync`: every table that holds ingested data fsyncs a part's files and directories before an insert
   * answers (ClickHouse's `fsync_after_insert` and `fsync_part_directory`, set on the tables at start-up),
   * so an acknowledged batch survives power loss, not only a process crash. `none`: the page cache only
   * (benchmarks). Absent: the tables' settings are left as they are (a remote server's own choice).
   * @default "fsync" for the embedded store, absent for a remote one
   */
  readonly durability?: 'fsync' | 'none' | undefined
  /** The embedded engine's caches and memory (chDB only; a remote server has its own configuration). */
  readonly memory?: EngineMemoryConfig | undefined
}

/**
 * Server settings of the embedded chDB engine, fixed when it starts. chDB's own defaults are a server's
 * (5 GiB per cache, 90% of RAM), far above what a gateway beside other processes should hold.
 */
export interface EngineMemoryConfig {
  /** `mark_cache_size` and `index_mark_cache_size`, in MiB. @default 64 */
  readonly markCacheMb: number
  /** `primary_index_cache_size`, in MiB. @default 64 */
  readonly indexCacheMb: number
  /** `uncompressed_cache_size`, in MiB. @default 0 */
  readonly uncompressedCacheMb: number
  /** `max_server_memory_usage`, in MiB: all queries together; 0 leaves the engine's 90% of RAM. @default 0 */
  readonly maxMemoryMb: number
  /**
   * How often the engine's allocator returns memory that finished queries freed to the OS, in ms
   * (`SYSTEM JEMALLOC PURGE`); 0 never (it then keeps up to a few hundred MB after large scans). @default 5000
   */
  readonly purgeMs: number
  /**
   * How often the pages of chDB's library that the process read once (starting the engine, a first
   * query of a kind) and no longer uses are unmapped from it, in ms (`src/store/resident.ts`): ~150 MB of
   * clean file-backed RSS; a page used again is mapped back from the page cache. 0 never. @default 10000
   */
  readonly trimMs?: number
  /**
   * `max_thread_pool_free_size`: how many idle threads the engine's global pool keeps for later queries
   * (chDB's default 1,000); each keeps its stack and allocator cache. @default 4
   */
  readonly idleThreads: number
  /** More `clickhouse local` arguments (`--name=value`), from `SIGHTLINE_CHDB_ARGS`, space-separated. */
  readonly extraArgs: readonly string[]
}

/** `SIGHTLINE_PROJECT` and what its templates read. */
export interface ProjectConfig {
  /** The project folder. */
  readonly dir: string
  /** The ClickHouse database its datasources live in. @default "project" */
  readonly database: string
  /** `tb_secret('name')` values, from `SIGHTLINE_SECRET_<NAME>` (keyed by the name as written and lower-cased). */
  readonly secrets: Readonly<Record<string, string>>
  /** `tb_var('name')` values, from `SIGHTLINE_VAR_<NAME>`. */
  readonly vars: Readonly<Record<string, string>>
}

/** `SIGHTLINE_<PREFIX>_<NAME>=value` as `{ NAME: value, name: value }`. */
function prefixed(env: NodeJS.ProcessEnv, prefix: string): Readonly<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(prefix) || value === undefined || key.length === prefix.length) continue
    const name = key.slice(prefix.length)
    out[name] = value
    out[name.toLowerCase()] ??= value
  }
  return Object.freeze(out)
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment into a frozen Config; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    development: e.NODE_ENV === 'development',
    store: Object.freeze({
      url: e.CLICKHOUSE_URL,
      user: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      cluster: e.CLICKHOUSE_CLUSTER,
      clusterMode: e.CLICKHOUSE_CLUSTER_MODE,
      dataDir: e.SIGHTLINE_DATA_DIR,
      durability: e.SIGHTLINE_DURABILITY ?? (e.CLICKHOUSE_URL ? undefined : 'fsync'),
      memory: Object.freeze({
        markCacheMb: e.SIGHTLINE_CHDB_MARK_CACHE_MB,
        indexCacheMb: e.SIGHTLINE_CHDB_INDEX_CACHE_MB,
        uncompressedCacheMb: e.SIGHTLINE_CHDB_UNCOMPRESSED_CACHE_MB,
        maxMemoryMb: e.SIGHTLINE_CHDB_MAX_MEMORY_MB,
        purgeMs: e.SIGHTLINE_CHDB_PURGE_MS,
        trimMs: e.SIGHTLINE_CHDB_TRIM_MS,
        idleThreads: e.SIGHTLINE_CHDB_IDLE_THREADS,
        extraArgs: Object.freeze(e.SIGHTLINE_CHDB_ARGS),
      }),
    }),
    adminToken: e.SIGHTLINE_ADMIN_TOKEN,
    jwtSecret: e.SIGHTLINE_JWT_SECRET,
    rateLimit: e.SIGHTLINE_RATE_LIMIT,
    rateBurst: e.SIGHTLINE_RATE_BURST ?? Math.max(1, Math.ceil(2 * e.SIGHTLINE_RATE_LIMIT)),
    queryLimits: Object.freeze({
      maxDepth: e.SIGHTLINE_MAX_DEPTH,
      maxCost: e.SIGHTLINE_MAX_COST,
      maxAliases: e.SIGHTLINE_MAX_ALIASES,
      maxTokens: e.SIGHTLINE_MAX_TOKENS,
    }),
    project:
      e.SIGHTLINE_PROJECT === undefined
        ? undefined
        : Object.freeze({
            dir: e.SIGHTLINE_PROJECT,
            database: e.SIGHTLINE_PROJECT_DATABASE,
            secrets: prefixed(env, 'SIGHTLINE_SECRET_'),
            vars: prefixed(env, 'SIGHTLINE_VAR_'),
          }),
    demo: e.SIGHTLINE_DEMO,
    demoTrickleMs: e.SIGHTLINE_DEMO_TRICKLE_MS,
    heapGrowingPercent: e.SIGHTLINE_HEAP_GROWING_PERCENT,
    corsOrigins: Object.freeze(e.SIGHTLINE_CORS_ORIGINS ?? (e.SIGHTLINE_DEMO ? ['localhost'] : [])),
    lowStockThreshold: e.SIGHTLINE_LOW_STOCK_THRESHOLD,
    pollMs: e.SIGHTLINE_POLL_MS,
    maxBatch: e.SIGHTLINE_MAX_BATCH,
    maxBodyBytes: e.SIGHTLINE_MAX_BODY_BYTES,
    tokenCacheMs: e.SIGHTLINE_TOKEN_CACHE_MS,
    serviceLogTtlDays: e.SIGHTLINE_SERVICE_LOG_TTL_DAYS,
    workload: Object.freeze({
      read: Object.freeze({ timeoutMs: e.SIGHTLINE_READ_TIMEOUT_MS, maxMemory: e.SIGHTLINE_READ_MAX_MEMORY }),
      dashboard: Object.freeze({ timeoutMs: e.SIGHTLINE_DASHBOARD_TIMEOUT_MS, maxMemory: e.SIGHTLINE_DASHBOARD_MAX_MEMORY }),
      ingest: Object.freeze({ timeoutMs: e.SIGHTLINE_INGEST_TIMEOUT_MS, maxMemory: e.SIGHTLINE_INGEST_MAX_MEMORY }),
      service: Object.freeze({ timeoutMs: e.SIGHTLINE_SERVICE_TIMEOUT_MS, maxMemory: e.SIGHTLINE_SERVICE_MAX_MEMORY }),
      concurrency: e.SIGHTLINE_STORE_CONCURRENCY ?? (e.CLICKHOUSE_URL ? 8 : 2),
      queue: e.SIGHTLINE_STORE_QUEUE,
    }),
    authFailures: Object.freeze({ perMinute: e.SIGHTLINE_AUTH_FAILURES_PER_MINUTE, burst: e.SIGHTLINE_AUTH_FAILURE_BURST }),
    websocket: Object.freeze({ initTimeoutMs: e.SIGHTLINE_WS_INIT_TIMEOUT_MS, maxPerAddress: e.SIGHTLINE_WS_MAX_PER_ADDRESS }),
    jwtMaxLifetimeSeconds: e.SIGHTLINE_JWT_MAX_LIFETIME_S,
    csvFormulaGuard: e.SIGHTLINE_CSV_FORMULA_GUARD,
    keepAliveMs: e.SIGHTLINE_KEEP_ALIVE_MS,
    readCache: Object.freeze({ enabled: e.SIGHTLINE_READ_CACHE, maxBytes: Math.round(e.SIGHTLINE_READ_CACHE_MB * 1024 * 1024), ttlMs: e.SIGHTLINE_READ_CACHE_TTL_MS }),
    trustProxy: e.SIGHTLINE_TRUST_PROXY,
    logLevel: e.SIGHTLINE_LOG_LEVEL,
    ...overrides,
  })
}
