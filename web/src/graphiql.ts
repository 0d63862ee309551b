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

function headerValue(headers: Record<string, unknown>, name: string): string {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name)
  return key === undefined ? '' : String(headers[key])
}

const fetcher: Fetcher = async (params, opts) => {
  const headers = (opts?.headers ?? {}) as Record<string, unknown>
  if (isSubscription(opts?.documentAST, params.query, params.operationName)) {
    return wsClient(headerValue(headers, 'authorization')).iterate({
      query: params.query,
      operationName: params.operationName ?? null,
      variables: (params.variables ?? {}) as Record<string, unknown>,
    }) as AsyncIterable<ExecutionResult>
  }
  const res = await fetch(GRAPHQL_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(headers as Record<string, string>) },
    body: JSON.stringify(params),
  })
  return (await res.json()) as ExecutionResult
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
      defaultHeaders: JSON.stringify(token ? { Authorization: `Bearer ${token}` } : { Authorization: 'Bearer sl_…' }, null, 2),
      defaultEditorToolsVisibility: 'headers',
    },
    createElement(GraphiQL.Logo, null, createElement('a', { href: '/', style: { color: 'inherit' } }, 'Sightline')),
  ),
)
