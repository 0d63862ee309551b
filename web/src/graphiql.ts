// A self-contained GraphiQL: React, Monaco and its workers are bundled by Vite, nothing loads from a CDN.
import 'graphiql/setup-workers/vite'
import 'graphiql/style.css'
import { GraphiQL } from 'graphiql'
import { buildSchema, getOperationAST, parse, type DocumentNode } from 'graphql'
import { createClient, type Client, type ExecutionResult } from 'graphql-ws'
import { createElement, type ComponentProps } from 'react'
import { createRoot } from 'react-dom/client'
// The committed SDL: introspection is for admins only, so the editor's completion and docs come from here.
import sdl from '../../schema.graphql?raw'
import { GRAPHQL_PATH, tokens } from './api.js'

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher']

const DEFAULT_QUERY = `# Sightline's GraphQL API. The page's token (if any) is in the Headers tab below.
# Run with Ctrl-Enter. Subscriptions run over graphql-ws on the same /graphql.

query ProductGrid {
  productGrid(category: "all", ranking: TRENDING) {
    id
    name
    price
    stock
    stockStatus
    hits
    rankStatus
  }
}

query Dashboard {
  analytics(app: CART, workspaceId: "ws_acme") {
    totals { events sessions visitors ... on CartMetrics { purchases revenue } }
    browsers: breakdown(by: BROWSER, limit: 5) { value metrics { sessions } }
    daily: timeseries(granularity: DAY) { start metrics { events } }
  }
}

subscription LiveStock {
  stockChanged { product available status delta at }
}
`

/** One graphql-ws client per Authorization header, opened on the first subscription. */
const wsClients = new Map<string, Client>()
function wsClient(authorization: string): Client {
  let client = wsClients.get(authorization)
  if (!client) {
    client = createClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${GRAPHQL_PATH}`,
      connectionParams: authorization ? { authorization } : {},
      lazy: true,
    })
    wsClients.set(authorization, client)
  }
  return client
}

function isSubscription(document: DocumentNode | undefined, query: string, operationName: string | null | undefined): boolean {
  try {
    return getOperationAST(document ?? parse(query), operationName ?? undefined)?.operation === 'subscription'
  } catch {
    return false
  }
}

/** What the Headers tab holds until a token is pasted (plain ASCII: fetch refuses other header bytes). */
const PLACEHOLDER = 'Bearer PASTE_A_TOKEN_HERE'
const NO_TOKEN =
  'No token yet: paste one into the Headers tab below as "Authorization": "Bearer sl_..." ' +
  '(`npm run demo` prints app_read_token, app_analytics_token and demo_admin_token), then run again.'

/** A GraphQL-shaped answer that the result pane shows like a server error. */
function clientError(message: string): ExecutionResult {
  return { errors: [{ message, extensions: { code: 'CLIENT_ERROR' } }] } as unknown as ExecutionResult
}

/**
 * The Headers tab as fetch can send it, or an error to show: a pasted bare token gets its `Bearer `
 * prefix, and text that no HTTP header can carry (non-Latin-1 characters) is named, not thrown.
 */
function requestHeaders(raw: Record<string, unknown>): { headers: Record<string, string> } | { error: string } {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    let text = typeof value === 'string' ? value.trim() : JSON.stringify(value)
    if (name.toLowerCase() === 'authorization') {
      if (text === '' || text === PLACEHOLDER) continue
      if (!/^\w+\s/.test(text)) text = `Bearer ${text}`
    }
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(text)) {
      return { error: `The header "${name}" holds characters HTTP headers cannot carry (only Latin-1 text): check what was pasted.` }
    }
    headers[name] = text
  }
  return { headers }
}

const fetcher: Fetcher = async (params, opts) => {
  const checked = requestHeaders((opts?.headers ?? {}) as Record<string, unknown>)
  if ('error' in checked) return clientError(checked.error)
  const { headers } = checked
  const authorization = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1]
  if (authorization === undefined) return clientError(NO_TOKEN)
  if (isSubscription(opts?.documentAST, params.query, params.operationName)) {
    return wsClient(authorization).iterate({
      query: params.query,
      operationName: params.operationName ?? null,
      variables: (params.variables ?? {}) as Record<string, unknown>,
    }) as AsyncIterable<ExecutionResult>
  }
  let res: Response
  try {
    res = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(params),
    })
  } catch (err) {
    return clientError(`The request did not reach the server: ${err instanceof Error ? err.message : String(err)}`)
  }
  try {
    return (await res.json()) as ExecutionResult
  } catch {
    return clientError(`The server answered ${res.status} ${res.statusText} without a GraphQL body`)
  }
}

const token = tokens.get()
const root = document.getElementById('graphiql')
if (!root) throw new Error('#graphiql is missing from the page')
root.textContent = ''
createRoot(root).render(
  createElement(
    GraphiQL,
    {
      fetcher,
      schema: buildSchema(sdl),
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: JSON.stringify(token ? { Authorization: `Bearer ${token}` } : { Authorization: PLACEHOLDER }, null, 2),
      defaultEditorToolsVisibility: 'headers',
    },
    createElement(GraphiQL.Logo, null, createElement('a', { href: '/', style: { color: 'inherit' } }, 'Sightline')),
  ),
)
