import type { ApolloServerPlugin } from '@apollo/server'
import type { GraphQLFormattedError } from 'graphql'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'
import type { ServiceLog } from './service-log.js'
import type { IngestLogEntry } from './store/types.js'

const MAX_LABELS = 500

/**
 * What telemetry reads of a request: its id, who asked and what ClickHouse read for it. A request's
 * `Context` is one (telemetry does not import the context, so the two modules form no cycle).
 */
export interface OperationFacts {
  readonly requestId: string
  readonly principal: { readonly name: string } | null
  readonly reads: { readonly rowsRead: number; readonly bytesRead: number }
}

/** An error answered before any operation ran (a bad token, a rate limit). */
export interface Refusal {
  readonly requestId: string
  readonly operation: string | undefined
  readonly code: string
  readonly message: string
}

/**
 * Where everything worth knowing about a request goes: Prometheus metrics, the service tables
 * (operation, ingest and error logs, written in batches) and the structured log. Only token names
 * are recorded, never secrets.
 */
export class Telemetry {
  /** Operation names seen as metric labels; clients choose them, so their number is capped. */
  private readonly labels = new Set<string>()

  constructor(
    readonly metrics: Metrics,
    readonly serviceLog: ServiceLog,
    private readonly log: Logger,
  ) {}

  /** One ingest batch went through (its rows are durable). */
  ingested(entry: IngestLogEntry): void {
    this.serviceLog.ingest(entry)
    this.metrics.ingestRows.inc({ table: entry.table, outcome: 'accepted' }, entry.rows)
    this.metrics.ingestRows.inc({ table: entry.table, outcome: 'quarantined' }, entry.quarantined)
  }

  /** A request refused before it reached GraphQL execution. */
  refused({ requestId, operation, code, message }: Refusal): void {
    const name = operation ?? '(anonymous)'
    this.metrics.requests.inc({ operation: this.label(name), code })
    this.serviceLog.error({ at: new Date(), requestId, operation: name, code, message })
    // Under a flood of refused requests, info logs would drown the rest: rate refusals log at debug.
    this.log[code === 'RATE_LIMITED' ? 'debug' : 'info']({ requestId, operation: name, code }, 'refused')
  }

  /** Errors sent on a WebSocket subscription. */
  subscriptionErrors(operation: string | undefined, errors: readonly GraphQLFormattedError[]): void {
    this.recordErrors('', operation ?? '(subscription)', errors)
  }

  /** Counts, times and records every HTTP operation, with what ClickHouse read for it. */
  apolloPlugin<C extends OperationFacts>(): ApolloServerPlugin<C> {
    return {
      requestDidStart: async () => {
        const started = performance.now()
        return {
          willSendResponse: async ({ contextValue, operationName, response }) => {
            const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : []
            this.operation(contextValue, operationName ?? undefined, performance.now() - started, errors)
          },
        }
      },
    }
  }

  /**
   * One operation answered (over HTTP, or started over WebSocket): metrics, the operation log, its
   * errors in the error log, and a log line.
   */
  operation(context: OperationFacts | undefined, name: string | undefined, durationMs: number, errors: readonly GraphQLFormattedError[]): void {
    const operation = name ?? '(anonymous)'
    const code = errors.length > 0 ? String(errors[0]?.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : ''
    const requestId = context?.requestId ?? ''
    const reads = context?.reads
    const label = this.label(operation)
    this.metrics.requests.inc({ operation: label, code: code || 'OK' })
    this.metrics.duration.observe({ operation: label }, durationMs / 1000)
    this.serviceLog.operation({
      at: new Date(),
      requestId,
      operation,
      token: context?.principal?.name ?? '',
      durationMs,
      rowsRead: reads?.rowsRead ?? 0,
      bytesRead: reads?.bytesRead ?? 0,
      errorCode: code,
    })
    this.recordErrors(requestId, operation, errors)
    this.log.info(
      { requestId, operation, principal: context?.principal?.name, code: code || 'OK', ms: Math.round(durationMs), rowsRead: reads?.rowsRead },
      'graphql',
    )
  }

  /**
   * The Prometheus label for an operation name: the name itself for the first MAX_LABELS distinct
   * names, then "(other)", so callers who invent names cannot grow the metrics without bound.
   */
  private label(operation: string): string {
    if (this.labels.has(operation)) return operation
    if (this.labels.size >= MAX_LABELS || operation.length > 100) return '(other)'
    this.labels.add(operation)
    return operation
  }

  private recordErrors(requestId: string, operation: string, errors: readonly GraphQLFormattedError[]): void {
    const at = new Date()
    for (const e of errors) {
      this.serviceLog.error({ at, requestId, operation, code: String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR'), message: e.message })
    }
  }
}
