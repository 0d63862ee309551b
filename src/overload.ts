import type { ApolloServerPlugin } from '@apollo/server'
import { ErrorCode, retryAfterSeconds } from './errors.js'

/**
 * STORE_BUSY over HTTP: when the store's queue refused work, the answer carries `Retry-After` (the
 * longest wait any refused part asked for), and when nothing could be answered at all it is a 503,
 * as the contract says. Partial answers stay 200: the data that was read is worth sending.
 */
export const storeBusyStatus: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return
        const { errors, data } = response.body.singleResult
        const busy = (errors ?? []).filter((e) => e.extensions?.code === ErrorCode.STORE_BUSY)
        if (busy.length === 0) return
        const waitMs = Math.max(...busy.map((e) => Number(e.extensions?.retryAfterMs) || 1000))
        response.http.headers.set('retry-after', String(retryAfterSeconds(waitMs)))
        if (data === null || data === undefined) response.http.status = 503
      },
    }
  },
}
