import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core'
import { createClient, type Client } from 'graphql-ws'

/** A typed document from `web/src/generated/graphql.ts` (a string with its result and variable types). */
export type Document<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string }

interface FormattedError {
  message: string
  extensions?: { code?: unknown }
}

/** A GraphQL error the page can explain: its code and, for FORBIDDEN, the scope the token lacks. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly scope: string | null = null,
  ) {
    super(message)
  }

  static from(errors: readonly FormattedError[]): ApiError {
    const first = errors[0]
    const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL_SERVER_ERROR'
    const message = first?.message ?? 'Unknown error'
    // The gateway's guard says: This operation needs the scope "read:analytics:cart"
    const scope = /needs the scope "([^"]+)"/.exec(message)?.[1] ?? null
    return new ApiError(message, code, scope)
  }

  /** One sentence for the page. */
  explain(): string {
    if (this.code === 'FORBIDDEN' && this.scope) return `This token lacks ${this.scope}.`
    if (this.code === 'FORBIDDEN') return `This token is not allowed here: ${this.message}`
    if (this.code === 'UNAUTHENTICATED') {
      return /invalid|expired|revoked/.test(this.message) ? 'This token is invalid, expired or revoked.' : 'A token is needed: paste one above.'
    }
    if (this.code === 'NETWORK') return `The gateway cannot be reached (${this.message}).`
    return this.message
  }
}

/** Tokens live in sessionStorage: gone when the tab closes, shared with the playground on this origin. */
export const tokens = {
  key: (slot: string) => (slot === 'main' ? 'sightline.token' : `sightline.token.${slot}`),
  get(slot = 'main'): string {
    return sessionStorage.getItem(this.key(slot)) ?? ''
  },
  set(slot: string, token: string): void {
    const t = token.trim()
    if (t) sessionStorage.setItem(this.key(slot), t)
    else sessionStorage.removeItem(this.key(slot))
  },
  /** The panel's own token when one was given, else the page's. */
  for(slot: string): string {
    return this.get(slot) || this.get('main')
  },
}

export const GRAPHQL_PATH = '/graphql'

/** POSTs a typed document; resolves to its data or throws an ApiError. */
export async function request<TResult, TVariables>(
  document: Document<TResult, TVariables>,
  variables: TVariables,
  token: string,
): Promise<TResult> {
  let res: Response
  try {
    res = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: document.toString(), variables }),
    })
  } catch (err) {
    throw new ApiError(err instanceof Error ? err.message : String(err), 'NETWORK')
  }
  let body: { data?: TResult | null; errors?: FormattedError[] }
  try {
    body = (await res.json()) as typeof body
  } catch {
    throw new ApiError(`HTTP ${res.status}`, 'NETWORK')
  }
  if (body.errors?.length) throw ApiError.from(body.errors)
  if (!body.data) throw new ApiError(`HTTP ${res.status} without data`, 'INTERNAL_SERVER_ERROR')
  return body.data
}

export type LiveState = 'off' | 'connecting' | 'live' | 'rejected' | 'retrying'

export interface LiveHandlers<T> {
  next(data: T): void
  error(err: ApiError): void
  state(state: LiveState): void
}

/**
 * One graphql-ws subscription on the gateway's /graphql, the token in connectionParams. It retries
 * lost connections, but not a rejected token (graphql-ws closes with 4403). Returns a stop function;
 * once stopped, the client's late events (its own socket closing) no longer reach the handlers, which a
 * newer subscription may own by then.
 */
export function subscribe<TResult, TVariables>(
  document: Document<TResult, TVariables>,
  variables: TVariables,
  token: string,
  on: LiveHandlers<TResult>,
): () => void {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${GRAPHQL_PATH}`
  let rejected = false
  let stopped = false
  const state = (next: LiveState) => {
    if (!stopped) on.state(next)
  }
  const client: Client = createClient({
    url,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: (event) => !(isCloseEvent(event) && event.code === 4403),
    on: {
      connecting: () => state('connecting'),
      connected: () => state('live'),
      closed: (event) => {
        if (stopped) return
        if (isCloseEvent(event) && event.code === 4403) {
          rejected = true
          on.state('rejected')
          on.error(new ApiError('The bearer token is invalid, expired or revoked', 'UNAUTHENTICATED'))
        } else on.state('retrying')
      },
    },
  })
  const unsubscribe = client.subscribe<TResult>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (msg) => {
        if (stopped) return
        if (msg.errors?.length) on.error(ApiError.from(msg.errors))
        else if (msg.data) on.next(msg.data)
      },
      error: (err) => {
        if (rejected || stopped) return
        // graphql-ws reports a non-GraphQL error only once it has given up (a close it must not retry).
        if (Array.isArray(err)) on.error(ApiError.from(err as FormattedError[]))
        else on.error(new ApiError(`live updates stopped: ${closeReason(err)}`, 'NETWORK'))
      },
      complete: () => {},
    },
  )
  return () => {
    stopped = true
    unsubscribe()
    void client.dispose()
    on.state('off')
  }
}

function closeReason(err: unknown): string {
  if (isCloseEvent(err)) {
    const reason = (err as { reason?: unknown }).reason
    return typeof reason === 'string' && reason ? `${err.code} ${reason}` : `closed with ${err.code}`
  }
  return err instanceof Error ? err.message : String(err)
}

function isCloseEvent(event: unknown): event is { code: number } {
  return typeof event === 'object' && event !== null && 'code' in event && typeof (event as { code: unknown }).code === 'number'
}
