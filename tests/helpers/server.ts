import { randomBytes } from 'node:crypto'
import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { print, type GraphQLFormattedError } from 'graphql'
import { createClient, type Client } from 'graphql-ws'
import WebSocket from 'ws'
import { loadConfig, type Config } from '../../src/config.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { testStoreConfig } from './store.js'

export interface TestServer extends RunningServer {
  readonly adminToken: string
  readonly config: Config
}

/** A real server on a free port, its own database, silent logs, and a random bootstrap admin token. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const adminToken = `admin_${randomBytes(16).toString('hex')}`
  const config = loadConfig(
    {
      PORT: '0',
      SIGHTLINE_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      SIGHTLINE_ADMIN_TOKEN: adminToken,
      SIGHTLINE_POLL_MS: '100',
      // Suites send bad tokens on purpose, many times, all from 127.0.0.1: the failed-authentication
      // limit would turn their 401s into 429s. tests/e2e/fairness.test.ts tests the limit itself.
      SIGHTLINE_AUTH_FAILURES_PER_MINUTE: '0',
      ...env,
    },
    { store: testStoreConfig() },
  )
  const server = await startServer(config)
  return { ...server, adminToken, config }
}

export interface GraphQLResponse<T> {
  status: number
  data?: T | null
  errors?: GraphQLFormattedError[]
}

/** POSTs a typed document as a browser or server client would. */
export async function gql<T, V>(
  server: Pick<RunningServer, 'url'>,
  document: TypedDocumentNode<T, V>,
  variables: V,
  token?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  })
  return { status: res.status, ...((await res.json()) as Omit<GraphQLResponse<T>, 'status'>) }
}

/** Data or a thrown error listing the GraphQL errors. */
export async function gqlOk<T, V>(
  server: Pick<RunningServer, 'url'>,
  document: TypedDocumentNode<T, V>,
  variables: V,
  token?: string,
): Promise<T> {
  const res = await gql(server, document, variables, token)
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`)
  return res.data
}

export function codes(res: { errors?: readonly GraphQLFormattedError[] }): string[] {
  return (res.errors ?? []).map((e) => String(e.extensions?.code))
}

/** A graphql-ws client with the token in connectionParams. */
export function wsClient(server: Pick<RunningServer, 'wsUrl'>, token?: string): Client {
  return createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
  })
}
