import type { Logger } from 'pino'
import { AuthFailureLimiter } from './auth/auth-failures.js'
import { JwtService } from './auth/jwt.js'
import { RateLimiter } from './auth/rate-limit.js'
import { TokenService } from './auth/tokens.js'
import { DATASOURCES } from './catalog/datasources.js'
import type { Config } from './config.js'
import type { Services } from './context.js'
import { DatasourceService } from './domain/datasources.js'
import { ProjectService } from './domain/project.js'
import { SqlService } from './domain/sql.js'
import { StockFeed } from './live/stock-feed.js'
import { Metrics } from './metrics.js'
import { PIPES } from './rest/pipes.js'
import { ServiceLog } from './service-log.js'
import { ClickHouseStore } from './store/clickhouse-store.js'
import type { Store } from './store/store.js'
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
  /** The Tinybird project (`SIGHTLINE_PROJECT`), parsed; `start` applies it. */
  readonly project: ProjectService | undefined
  /** Migrates the store, sets the service-log TTL and applies the project: the start-up work before ready. */
  start(): Promise<void>
  /** Whether the project's database is applied (its pipes and datasources served). */
  readonly projectReady: boolean
  /** Flushes the service log, then closes the store. */
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
  let project: ProjectService | undefined
  if (config.project && parsedProject) {
    if (!(store instanceof ClickHouseStore)) {
      await store.close()
      throw new Error('SIGHTLINE_PROJECT needs the ClickHouse store')
    }
    project = new ProjectService(parsedProject, store.project(config.project.database), {
      builtinPipes: new Set(PIPES.keys()),
      builtinDatasources: new Set(DATASOURCES.flatMap((d) => [d.name, ...(d.aliases ?? [])])),
      secrets: config.project.secrets,
      vars: config.project.vars,
    })
  }
  if (store instanceof ClickHouseStore) metrics.observeWorkload(store.workload)
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
  return {
    services: { config, store, tokens, feed, telemetry },
    metrics,
    limiter: new RateLimiter(config.rateLimit, config.rateBurst),
    datasources: new DatasourceService(store, () => feed.nudge()),
    sql: new SqlService(store),
    project,
    get projectReady() {
      return projectReady
    },
    async start() {
      const report = await store.migrate()
      if (report.applied.length > 0) log.info({ applied: report.applied }, 'migrations applied')
      await store.setServiceLogTtl(config.serviceLogTtlDays)
      if (project) {
        const { changes } = await project.apply()
        projectReady = true
        log.info({ project: config.project?.dir, database: project.database, changes }, 'Tinybird project loaded')
      }
    },
    async close() {
      await serviceLog.close()
      await store.close()
    },
  }
}
