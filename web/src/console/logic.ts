// The console's pure parts (no DOM, no network): routes, pipe metadata, token scopes, time buckets and the
// stats query. Unit-tested in tests/unit/web-console.test.ts.

export const TABS = [
  { id: 'datasources', label: 'Datasources' },
  { id: 'pipes', label: 'Pipes' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'stats', label: 'Stats & errors' },
] as const
export type TabId = (typeof TABS)[number]['id']

/** `#console/<tab>[/<name>]` → the tab and the name (decoded); an unknown tab is the first. */
export function parseRoute(hash: string): { tab: TabId; arg: string | undefined } {
  const [, tab, ...rest] = hash.replace(/^#/, '').split('/')
  const known = TABS.find((t) => t.id === tab)?.id ?? 'datasources'
  const raw = rest.join('/')
  let arg: string | undefined
  try {
    arg = raw ? decodeURIComponent(raw) : undefined
  } catch {
    arg = undefined
  }
  return { tab: known, arg }
}

export const routeTo = (tab: TabId, name?: string): string => `#console/${tab}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`

/** A parameter as `GET /v0/pipes` lists it (Tinybird's node `params`). */
export interface PipeParam {
  readonly name: string
  readonly type?: string | null
  readonly default?: unknown
  readonly required?: boolean | null
  readonly description?: string | null
  readonly enum?: readonly string[] | null
}

/** A pipe as `GET /v0/pipes` lists it: the built-in ones and a loaded project's share this shape. */
export interface PipeInfo {
  readonly name: string
  readonly description?: string | null
  readonly type?: string | null
  readonly endpoint?: string | null
  readonly scope?: string | null
  readonly parameters?: readonly PipeParam[] | null
  readonly columns?: ReadonlyArray<{ name: string; type: string }> | null
  readonly nodes?: ReadonlyArray<{ name?: string; node_type?: string | null; params?: readonly PipeParam[] | null; columns?: ReadonlyArray<{ name: string; type: string }> | null }> | null
  /** Listed by `?builtin=true` only: one of the gateway's own pipes beside a loaded project's. */
  readonly builtin?: boolean
}

/** The pipe's parameters: the list's own, else the union of its nodes' (Tinybird lists them per node). */
export function pipeParams(pipe: PipeInfo): PipeParam[] {
  if (pipe.parameters) return [...pipe.parameters]
  const seen = new Map<string, PipeParam>()
  for (const node of pipe.nodes ?? []) for (const p of node.params ?? []) if (!seen.has(p.name)) seen.set(p.name, p)
  return [...seen.values()]
}

/** Whether the pipe answers on `/v0/pipes/<name>.json` (copy and materialization pipes do not). */
export function isEndpoint(pipe: PipeInfo): boolean {
  if (pipe.type) return pipe.type.toLowerCase() === 'endpoint'
  return Boolean(pipe.endpoint) || (pipe.nodes ?? []).some((n) => n.node_type?.toLowerCase() === 'endpoint')
}

export function outputColumns(pipe: PipeInfo): ReadonlyArray<{ name: string; type: string }> {
  return pipe.columns ?? [...(pipe.nodes ?? [])].reverse().find((n) => n.columns?.length)?.columns ?? []
}

/** The REST URL of a pipe with the given parameters; the token last, masked unless `reveal`. */
export function pipeUrl(origin: string, name: string, values: ReadonlyArray<[string, string]>, token: string, reveal: boolean): string {
  const query = new URLSearchParams(values.filter(([, v]) => v !== ''))
  const shown = reveal || token.length <= 8 ? token : `${token.slice(0, 6)}…`
  const search = query.toString()
  const tail = token ? `${search ? '&' : ''}token=${reveal ? encodeURIComponent(token) : shown}` : ''
  return `${origin}/v0/pipes/${encodeURIComponent(name)}.json${search || token ? '?' : ''}${search}${tail}`
}

/** Splits "read:ecommerce, append:ecomm_events sql" into scopes. */
export function parseScopes(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))]
}

export interface Buckets {
  readonly starts: Date[]
  readonly from: Date
  readonly to: Date
  readonly width: number
}

/** `n` equal buckets ending at the next bucket boundary after `now`, so the labels stay put between refreshes. */
export function buckets(now: number, ms: number, n: number): Buckets {
  const width = ms / n
  const end = Math.ceil(now / width) * width
  const starts = Array.from({ length: n }, (_, i) => new Date(end - ms + i * width))
  return { starts, from: new Date(end - ms), to: new Date(end), width }
}

/**
 * `operationStats` per bucket, composed as aliases of one request (one operation in the stats it reads),
 * with the whole range's and the newest errors beside them. `fragment` declares `ConsoleStat`.
 */
export function statsQuery(n: number, errorLimit: number, fragment: string): string {
  const vars = ['$from: DateTime', '$to: DateTime', ...Array.from({ length: n }, (_, i) => `$f${i}: DateTime, $t${i}: DateTime`)]
  const fields = Array.from({ length: n }, (_, i) => `  b${i}: operationStats(from: $f${i}, to: $t${i}) { ...ConsoleStat }`)
  return `query ConsoleStats(${vars.join(', ')}) {
  total: operationStats(from: $from, to: $to) { ...ConsoleStat }
${fields.join('\n')}
  errors: errorLog(limit: ${errorLimit}) { operation code message requestId at }
}
${fragment}`
}

/** How many of the entries fall in each bucket. */
export function bucketCounts(entries: ReadonlyArray<{ at: string }>, b: Buckets): number[] {
  const counts = b.starts.map(() => 0)
  for (const e of entries) {
    const i = Math.floor((new Date(e.at).getTime() - b.from.getTime()) / b.width)
    if (i >= 0 && i < counts.length) counts[i]! += 1
  }
  return counts
}
