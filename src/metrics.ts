import type { ApolloServerPlugin } from '@apollo/server'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Context } from './context.js'

/** Prometheus metrics of one server (its own registry, so several servers in a process never clash). */
export class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({
    name: 'sightline_graphql_requests_total',
    help: 'GraphQL operations by name and outcome code',
    labelNames: ['operation', 'code'] as const,
    registers: [this.registry],
  })
  readonly duration = new Histogram({
    name: 'sightline_graphql_request_duration_seconds',
    help: 'GraphQL operation latency',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })
  readonly subscriptions = new Gauge({
    name: 'sightline_websocket_connections',
    help: 'Open authenticated graphql-ws connections',
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  get contentType(): string {
    return this.registry.contentType
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }

  /** Counts and times every operation and logs it (principal name only, never a token). */
  apolloPlugin(log: Logger): ApolloServerPlugin<Context> {
    const { requests, duration } = this
    return {
      async requestDidStart() {
        const started = performance.now()
        return {
          async willSendResponse({ contextValue, operationName, errors, response }) {
            const operation = operationName ?? '(anonymous)'
            const seconds = (performance.now() - started) / 1000
            const body = response.body.kind === 'single' ? response.body.singleResult : undefined
            const code = String(errors?.[0]?.extensions?.code ?? body?.errors?.[0]?.extensions?.code ?? 'OK')
            requests.inc({ operation, code })
            duration.observe({ operation }, seconds)
            log.info(
              { requestId: contextValue?.requestId, operation, principal: contextValue?.principal?.name, code, ms: Math.round(seconds * 1000) },
              'graphql',
            )
          },
        }
      },
    }
  }
}
