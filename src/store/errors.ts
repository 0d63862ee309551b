/** The store could not be reached or refused the operation; the cause holds the driver's error. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Input the store cannot serve (a bad range, an unknown timezone): the caller's fault, safe to show. */
export class StoreInputError extends Error {
  override name = 'StoreInputError'
}

/** Wraps any driver failure so callers see one typed error and never the SQL. */
export async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof StoreInputError || err instanceof StoreUnavailableError || err instanceof StoreBusyError) throw err
    if (err instanceof QueryLimitError || err instanceof StoreValueError) throw err
    throw limitErrorOf(err) ?? new StoreUnavailableError(`store ${what} failed`, { cause: err })
  }
}

/** The store's work queue is full; `retryAfterMs` estimates when a retry may be admitted. */
export class StoreBusyError extends Error {
  override name = 'StoreBusyError'
  constructor(readonly retryAfterMs: number) {
    super(`the store is busy; retry in ${retryAfterMs} ms`)
  }
}

/** A query went over its time or memory limit (ClickHouse's TIMEOUT_EXCEEDED or MEMORY_LIMIT_EXCEEDED). */
export class QueryLimitError extends Error {
  override name = 'QueryLimitError'
  constructor(
    readonly limit: 'time' | 'memory',
    options?: { cause?: unknown },
  ) {
    super(limit === 'time' ? 'the query ran over its time limit' : 'the query ran over its memory limit', options)
  }
}

/** A stored value that the answer cannot carry truthfully (a non-finite aggregate, say). */
export class StoreValueError extends Error {
  override name = 'StoreValueError'
}

/** ClickHouse error codes that mean a query hit one of its limits. */
const LIMIT_CODES: Readonly<Record<string, 'time' | 'memory'>> = {
  '159': 'time', // TIMEOUT_EXCEEDED
  '160': 'time', // TOO_SLOW (estimated to exceed max_execution_time)
  '241': 'memory', // MEMORY_LIMIT_EXCEEDED
}

/** The driver error as QueryLimitError when it reports a limit, else undefined. */
export function limitErrorOf(err: unknown): QueryLimitError | undefined {
  const code = (err as { code?: unknown } | null)?.code
  const byCode = typeof code === 'string' || typeof code === 'number' ? LIMIT_CODES[String(code)] : undefined
  const message = err instanceof Error ? err.message : ''
  const byMessage = /\bCode: (159|160|241)\./.exec(message)?.[1]
  const limit = byCode ?? (byMessage ? LIMIT_CODES[byMessage] : undefined)
  return limit ? new QueryLimitError(limit, { cause: err }) : undefined
}
