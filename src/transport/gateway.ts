import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { RateState } from '../auth/rate-limit.js'
import type { Principal } from '../auth/scopes.js'
import type { TokenService } from '../auth/tokens.js'
import type { ReadCache } from '../cache/read-cache.js'
import type { Catalog } from '../catalog/index.js'
import type { DatasourceService } from '../domain/datasources.js'
import type { Domain } from '../domain/index.js'
import type { ProjectService } from '../domain/project.js'
import type { SqlService } from '../domain/sql.js'
import type { QueryScope } from '../store/query-stats.js'

// The port between the server and the surfaces it hosts (REST, web): types only, so the server imports
// its routes and the routes import this, never the server (no cycle).

/**
 * What an extra HTTP surface (the Tinybird-compatible REST API, the web page) gets from the server.
 * Such surfaces sit beside /graphql and reach data through the domain's use cases (`domain`, run as named
 * operations by `run`), so they share scopes, limits, logging and error masking with the resolvers.
 */
export interface Gateway {
  /** Largest accepted request body, in bytes. */
  readonly maxBodyBytes: number
  /** CSV answers neutralise formula-like string cells. */
  readonly csvFormulaGuard: boolean
  /** The client's address, for per-address limits (the proxy's view when SIGHTLINE_TRUST_PROXY is on). */
  clientAddress(req: IncomingMessage): string
  readonly log: Logger
  /** Most rows one ingest operation takes (larger uploads are split). */
  readonly maxBatch: number
  /** Tinybird's Data Sources API use cases. */
  readonly datasources: DatasourceService
  /** Tinybird's Query API (`/v0/sql`): read-only SQL over what a principal may read. */
  readonly sql: SqlService
  /** What is served (registry): built-in datasources and pipes, and a loaded project's once it is applied. */
  readonly catalog: Catalog
  /** The loaded Tinybird project (`SIGHTLINE_PROJECT`) once its database is ready; undefined otherwise. */
  readonly project?: ProjectService | undefined
  /** Stored tokens and JWTs (`POST /v0/tokens`). */
  readonly tokens: TokenService
  /** Where a principal stands with its rate limit (for X-RateLimit-* headers); undefined when unlimited. */
  rateOf(principal: Principal): RateState | undefined
  /**
   * A bearer header to a principal: null when absent; throws UNAUTHENTICATED (401) when bad and
   * RATE_LIMITED (429) over the token's rate. Refusals go to the error log under `request`.
   */
  principalOf(header: string | undefined, request: RequestLabel): Promise<Principal | null>
  /**
   * The read cache, where REST pipe answers are kept (a built-in pipe's with SIGHTLINE_READ_CACHE on, a
   * project endpoint's with its `CACHE`); undefined when the store cannot report its tables' state.
   */
  readonly cache?: ReadCache | undefined
  /** The use cases: REST pipes and ingest call them directly. */
  readonly domain: Domain
  /** Runs a use case as one named operation (statistics, metrics, operation and error logs), errors coded. */
  readonly run: OperationRunner
  /**
   * Runs `fn` so that every store statement it causes is done for `scope` (its request id as ClickHouse's
   * `query_id`, its statistics); nested in the scope the server opens for each request, whose signal
   * cancels the statements of a client that went away.
   */
  within<T>(scope: QueryScope, fn: () => T): T
}

/** What ClickHouse read for one operation, as Tinybird's `statistics` reports it. */
export interface ReadStatistics {
  readonly rows_read: number
  readonly bytes_read: number
}

/** Runs `work` as the operation `operation` of `principal`; throws its error with a code (see rest/operation.ts). */
export type OperationRunner = <T>(operation: string, principal: Principal | null, requestId: string, work: () => Promise<T>) => Promise<{ value: T; statistics: ReadStatistics }>

/** Names a request in the error log. */
export interface RequestLabel {
  readonly requestId: string
  readonly operation: string | undefined
  /** The client's address, for the failed-authentication limit. */
  readonly address?: string
}

/** An extra HTTP surface: answers the request and returns true, or returns false to pass it on. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>
