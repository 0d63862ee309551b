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
    if (err instanceof StoreInputError || err instanceof StoreUnavailableError) throw err
    throw new StoreUnavailableError(`store ${what} failed`, { cause: err })
  }
}
