import { ErrorCode, toGraphQLError } from '../errors.js'
import type { Store } from '../store/store.js'
import type { Telemetry } from '../telemetry.js'
import type { Principal } from '../auth/scopes.js'
import type { Gateway, OperationRunner, ReadStatistics } from '../transport/gateway.js'
import type { PipeParams } from './params.js'
import type { Pipe, PipeRows } from './pipes.js'

/** An operation's error as clients see it: a code and a message, masked unless the code says it is safe. */
export class OperationError extends Error {
  override name = 'OperationError'
  constructor(
    message: string,
    readonly extensions: Readonly<Record<string, unknown>> & { readonly code: string },
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * Runs a use case as one named operation, as /graphql runs one: what ClickHouse read is collected, and
 * the outcome goes to metrics, the operation log and the error log under the operation's name (a REST
 * pipe's name, `events_<datasource>`). An error comes back as an OperationError with its code; anything
 * unexpected is masked as INTERNAL_SERVER_ERROR, as formatError does.
 */
export function operationRunner(telemetry: Telemetry, store: Pick<Store, 'forRequest'>): OperationRunner {
  return async (operation, principal, requestId, work) => {
    const reads = { queries: 0, rowsRead: 0, bytesRead: 0, ms: 0 }
    const facts = { requestId, principal, reads }
    const started = performance.now()
    try {
      // Each statement is tagged with the request's id (ClickHouse's query_id) and counted for it.
      const value = await store.forRequest({ requestId, stats: reads }, work)
      telemetry.operation(facts, operation, performance.now() - started, [])
      return { value, statistics: { rows_read: reads.rowsRead, bytes_read: reads.bytesRead } }
    } catch (err) {
      const mapped = toGraphQLError(err)
      const code = String(mapped?.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR)
      const retryAfterMs = mapped?.extensions.retryAfterMs
      const extensions = { code, ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}) }
      const error = new OperationError(mapped ? mapped.message : 'Internal server error', extensions, { cause: err })
      telemetry.operation(facts, operation, performance.now() - started, [{ message: error.message, extensions }])
      throw error
    }
  }
}

/**
 * A built-in pipe's answer for `who` (already the pipe's reader): its parameters are checked first (a
 * ParamError, 400, before anything runs), then its use case runs as the operation named after the pipe.
 */
export async function runPipe(
  gateway: Pick<Gateway, 'domain' | 'run'>,
  pipe: Pipe,
  who: Principal,
  params: PipeParams,
  requestId: string,
): Promise<PipeRows & { readonly statistics: ReadStatistics }> {
  pipe.variables(params)
  const { value, statistics } = await gateway.run(pipe.name, who, requestId, () => pipe.answer(gateway.domain, who, params))
  return { ...value, statistics }
}
