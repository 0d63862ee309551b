import type { Logger } from 'pino'
import { AuthFailureLimiter } from './auth/auth-failures.js'
import { JwtService } from './auth/jwt.js'
import { RateLimiter } from './auth/rate-limit.js'
import { TokenService } from './auth/tokens.js'
import { Catalog, serviceView } from './catalog/index.js'
import type { Config } from './config.js'
import type { Services } from './context.js'
import { DatasourceService } from './domain/datasources.js'
import { ProjectService } from './domain/project.js'
import { projectEntries } from './domain/project-catalog.js'
import { ProjectHost } from './graphql-project/host.js'
import { SqlService } from './domain/sql.js'
import { StockFeed } from './live/stock-feed.js'
import { Metrics } from './metrics.js'
import { ServiceLog } from './service-log.js'
import { ClickHouseStore } from './store/clickhouse-store.js'
import type { Store } from './store/store.js'
import type { IngestTable } from './store/types.js'
import { Telemetry } from './telemetry.js'

/**
 * The composition root: every process-wide service built from `Config`, once, and closed in order.
 * Transports receive these; none of them builds its own.
 */
export interface Composition {
  readonly services: Services
  readonly metrics: Metrics
  readonly limiter: RateLimiter
  readonly datasources: DatasourceService
  readonly sql: SqlService
  /** What is served: the built-in datasources and pipes, and the loaded project's once it is applied. */
  readonly catalog: Catalog
  /**
   * The Tinybird project (`SIGHTLINE_PROJECT`), parsed; `start` applies it. A host, so that `sightline dev`
   * can swap in a changed version (REST and the GraphQL `pipes` follow it).
   */
  readonly project: ProjectHost | undefined
  /**
   * Migrates the store, sets the service-log TTL and applies the project (its tables, views, `TOKEN` lines
   * and `COPY_SCHEDULE` crons): the start-up work before ready. Newly minted project tokens go to `onTokens`.
   */
  start(onTokens?: (minted: ReadonlyArray<{ name: string; secret: string; scopes: readonly string[] }>) => void): Promise<void>
  /** Whether the project's database is applied (its pipes and datasources served). */
  readonly projectReady: boolean
  /** Waits for a running scheduled copy, flushes the service log, then closes the store. */
  close(): Promise<void>
}

export async function compose(config: Config, log: Logger, given?: Store): Promise<Composition> {
  // A Tinybird project is parsed before anything opens: a bad datafile stops the start with file:line.
  if (config.project && config.project.database === config.store.database) {
    throw new Error(`SIGHTLINE_PROJECT_DATABASE must differ from CLICKHOUSE_DATABASE (both are "${config.store.database}")`)
  }
  const parsedProject = config.project ? ProjectService.parse(config.project.dir, config.project.database) : undefined
  const metrics = new Metrics()
  const store = given ?? ClickHouseStore.open(config.store, ({ kind, ms }) => metrics.storeDuration.observe({ kind }, ms / 1000), config.workload)
  const catalog = new Catalog()
  let project: ProjectHost | undefined
  if (config.project && parsedProject) {
    if (!(store instanceof ClickHouseStore)) {
      await store.close()
      throw new Error('SIGHTLINE_PROJECT needs the ClickHouse store')
    }
    project = new ProjectHost(parsedProject, store.project(config.project.database), {
      builtinPipes: new Set(catalog.listed({ builtin: true }).pipes.map((p) => p.name)),
      builtinDatasources: new Set(catalog.listed({ builtin: true }).datasources.flatMap((d) => [d.name, ...(d.aliases ?? [])])),
      secrets: config.project.secrets,
      vars: config.project.vars,
      // `tinybird.pipe_stats_rt` and the other service datasources: views of Sightline's logs in its database.
      serviceTable: (name) => {
        const view = serviceView(name)
        return view && `${config.store.database}.${view}`
      },
      // Pipe reads, copies and appends go to the service logs and metrics like the built-in surface's.
      observer: {
        operation: ({ requestId, principal, name, durationMs, rowsRead, bytesRead, error }) =>
          telemetry.operation({ requestId, principal, reads: { rowsRead, bytesRead } }, name, durationMs, error ? [{ message: error.message, extensions: { code: error.code } }] : []),
        ingested: (entry) => telemetry.ingested({ ...entry, at: new Date(), table: entry.table as IngestTable, deduplicated: false }),
      },
    })
  }
  // At load and on every `sightline dev` reload, the project's datasources and pipes become catalog entries.
  const host = project
  host?.onChange(() => catalog.replaceProject(host.database, projectEntries(host.service, (pipe) => host.pipes.find((p) => p.name === pipe)?.columns)))
  if (store instanceof ClickHouseStore) metrics.observeWorkload(store.workload)
  metrics.observeEngine(() => store.engineMemory())
  const serviceLog = new ServiceLog(store, { onError: (err, dropped) => log.warn({ err, dropped }, 'service log write failed') })
  const telemetry = new Telemetry(metrics, serviceLog, log)
  const feed = new StockFeed(store, {
    pollMs: config.pollMs,
    lowStockThreshold: config.lowStockThreshold,
    onError: (err) => log.warn({ err }, 'stock feed poll failed'),
  })
  const tokens = new TokenService(store, config.adminToken, config.tokenCacheMs, new JwtService(config.jwtSecret, config.jwtMaxLifetimeSeconds), {
    failures: new AuthFailureLimiter(config.authFailures.perMinute, config.authFailures.burst),
    onFailure: ({ address, prefix, throttled }) =>
      throttled ? log.debug({ address, prefix }, 'authentication refused: too many failures') : log.warn({ address, prefix }, 'authentication failed'),
  })
  let projectReady = false
  let stopCopies: (() => Promise<void>) | undefined
  return {
    services: { config, store, tokens, feed, telemetry },
    metrics,
    limiter: new RateLimiter(config.rateLimit, config.rateBurst),
    datasources: new DatasourceService(store, () => void feed.resync(), catalog),
    // /v0/sql reads the catalog's datasources: the built-in ones and a loaded project's (read:datasource:<ds>).
    sql: new SqlService(store, catalog),
    catalog,
    project,
    get projectReady() {
      return projectReady
    },
    async start(onTokens) {
      const report = await store.migrate()
      if (report.applied.length > 0) log.info({ applied: report.applied }, 'migrations applied')
      await store.setServiceLogTtl(config.serviceLogTtlDays)
      if (project) {
        const { changes } = await project.apply()
        const issued = await project.service.ensureTokens(tokens)
        projectReady = true
        log.info({ project: config.project?.dir, database: project.database, changes: [...changes, ...issued.changes] }, 'Tinybird project loaded')
        onTokens?.(issued.minted)
        // COPY_SCHEDULE crons run until close (which waits for a running copy).
        stopCopies = project.schedule(
          (pipe, err) => log.warn({ err, pipe }, 'scheduled copy failed'),
          (run) => log.info({ pipe: run.pipe, target: run.target, rows: run.rows }, 'scheduled copy ran'),
        )
      }
    },
    async close() {
      await stopCopies?.()
      await serviceLog.close()
      await store.close()
    },
  }
}
