import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync, gzipSync } from 'node:zlib'
import { Session } from 'chdb'

/**
 * A test-only ClickHouse HTTP interface over chDB: enough of ClickHouse's HTTP protocol for
 * `@clickhouse/client`, so Sightline's *remote* store path (HTTP, `param_*` binding, settings as URL
 * parameters, formats, summary and exception headers, status codes, gzip) runs for real without a
 * ClickHouse server. It proves the wire, not a cluster. Not shipped: it lives in tests/.
 *
 * - The query comes in the `query` URL parameter, the body, or both (then the body is the data that
 *   follows it, as for `INSERT … FORMAT`).
 * - `param_<name>` values arrive in ClickHouse's text (TSV-escaped) form; the placeholders' declared
 *   types in the query say how to read them: scalars are unescaped (`\N` is NULL), composite values
 *   (arrays, maps, tuples) are passed as text for the engine to parse.
 * - Every other URL parameter that is not part of the HTTP protocol is a setting for that query only:
 *   chDB keeps settings for its session, so settings of the previous request that this one does not
 *   set are put back to their defaults first.
 * - `database` selects the current database for that query; `default_format` (else TabSeparated).
 * - Errors answer ClickHouse's text (`Code: N. DB::Exception: …`) with `X-ClickHouse-Exception-Code`
 *   and ClickHouse's status for the common codes; `X-ClickHouse-Summary` carries rows and bytes read.
 * - `Content-Encoding: gzip` request bodies, and gzip answers with `enable_http_compression=1`.
 * Requests run one at a time, as on one chDB session.
 */

const HTTP_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'compress',
  'decompress',
  'enable_http_compression',
  'wait_end_of_query',
  'buffer_size',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'role',
])

const STATUS: Readonly<Record<number, number>> = {
  60: 404, // UNKNOWN_TABLE
  81: 404, // UNKNOWN_DATABASE
  62: 400, // SYNTAX_ERROR
  27: 400, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  26: 400, // CANNOT_PARSE_QUOTED_STRING
  36: 400, // BAD_ARGUMENTS
  47: 400, // UNKNOWN_IDENTIFIER
  115: 400, // UNKNOWN_SETTING
  456: 400, // UNKNOWN_QUERY_PARAMETER
  457: 400, // BAD_QUERY_PARAMETER
  159: 500, // TIMEOUT_EXCEEDED
  241: 500, // MEMORY_LIMIT_EXCEEDED
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const SETTING_VALUE = /^[\w.:/+-]*$/

/** A TSV-escaped scalar as its value (`\N` is NULL). */
function unescape(text: string): string | null {
  if (text === '\\N') return null
  return text.replace(/\\(.)/gs, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0' })[c as 't'] ?? c)
}

/** The declared type of each `{name:Type}` placeholder of a query. */
function placeholderTypes(query: string): Map<string, string> {
  const types = new Map<string, string>()
  for (const m of query.matchAll(/\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^}]+)\}/g)) types.set(m[1]!, m[2]!.trim())
  return types
}

/**
 * A composite parameter's text (`['a','b\\'c']`, `(1,'x')`, `{'k':'v'}`) as a JS value. chDB binds JS
 * arrays and objects itself; given the text, it would escape it once more and fail to parse it.
 */
export function parseLiteral(text: string): unknown {
  let i = 0
  const fail = (): never => {
    throw new Error(`Code: 457. DB::Exception: Value ${text} cannot be parsed for a query parameter. (BAD_QUERY_PARAMETER)`)
  }
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const value = (): unknown => {
    space()
    const c = text[i]
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')'
      i++
      const items: unknown[] = []
      space()
      if (text[i] === close) return i++, items
      for (;;) {
        items.push(value())
        space()
        if (text[i] === ',') i++
        else if (text[i] === close) return i++, items
        else fail()
      }
    }
    if (c === '{') {
      i++
      const entries: Record<string, unknown> = {}
      space()
      if (text[i] === '}') return i++, entries
      for (;;) {
        const key = value()
        space()
        if (text[i] !== ':') fail()
        i++
        entries[String(key)] = value()
        space()
        if (text[i] === ',') i++
        else if (text[i] === '}') return i++, entries
        else fail()
      }
    }
    if (c === "'") {
      i++
      let out = ''
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < text.length) {
          const e = text[i + 1]!
          out += ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0' } as Record<string, string>)[e] ?? e
          i += 2
        } else out += text[i++]
      }
      if (text[i] !== "'") fail()
      i++
      return out
    }
    const m = /^[^,\])}:\s]+/.exec(text.slice(i))
    if (!m) return fail()
    i += m[0].length
    const word = m[0]
    if (/^null$/i.test(word)) return null
    if (/^true$/i.test(word)) return true
    if (/^false$/i.test(word)) return false
    const n = Number(word)
    return Number.isFinite(n) && (Number.isSafeInteger(n) || !/^-?\d+$/.test(word)) ? n : word
  }
  const result = value()
  space()
  if (i !== text.length) fail()
  return result
}

function isComposite(type: string): boolean {
  return /^(Nullable\()?(Array|Map|Tuple|Nested)\(/.test(type)
}

/** A setting's value as SQL: numbers and plain words as they are, anything else quoted. */
function settingLiteral(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

export interface ClickHouseHttp {
  readonly url: string
  /** Queries answered so far. */
  readonly count: number
  close(): Promise<void>
}

/** Starts the interface on 127.0.0.1 over a chDB data directory. */
export async function startClickHouseHttp(dataDir: string, port = 0): Promise<ClickHouseHttp> {
  const session = new Session(dataDir)
  let chain: Promise<unknown> = Promise.resolve()
  let previousSettings = new Set<string>()
  let count = 0

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn)
    chain = next.catch(() => {})
    return next
  }

  async function run(sql: string): Promise<void> {
    await session.queryAsync(sql, { format: 'TabSeparated' })
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/ping' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' }).end('Ok.\n')
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    let body = Buffer.concat(chunks)
    if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') body = gunzipSync(body)
    const inUrl = url.searchParams.get('query')
    const sql = inUrl === null ? body.toString('utf8') : body.length > 0 ? `${inUrl}\n${body.toString('utf8')}` : inUrl
    const params: Record<string, unknown> = {}
    const settings = new Map<string, string>()
    const types = placeholderTypes(inUrl ?? sql)
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) {
        const name = key.slice('param_'.length)
        params[name] = isComposite(types.get(name) ?? '') ? parseLiteral(value) : unescape(value)
      } else if (!HTTP_PARAMS.has(key)) settings.set(key, value)
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID()
    const format = url.searchParams.get('default_format') ?? 'TabSeparated'
    const database = url.searchParams.get('database')
    const gzip = url.searchParams.get('enable_http_compression') === '1' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))

    const outcome = await serial(async () => {
      count++
      try {
        for (const key of previousSettings) if (!settings.has(key)) await run(`SET ${key} = DEFAULT`)
        for (const [key, value] of settings) {
          if (!IDENTIFIER.test(key) || !SETTING_VALUE.test(value)) throw new Error(`Code: 115. DB::Exception: Bad setting ${key}. (UNKNOWN_SETTING)`)
          await run(`SET ${key} = ${settingLiteral(value)}`)
        }
        previousSettings = new Set(settings.keys())
        if (database !== null) {
          if (!IDENTIFIER.test(database)) throw new Error(`Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`)
          await run(`USE ${database}`)
        }
        const result = Object.keys(params).length > 0 ? await session.queryBindAsync(sql, params, { format }) : await session.queryAsync(sql, { format })
        return { ok: true as const, result }
      } catch (err) {
        return { ok: false as const, message: err instanceof Error ? err.message : String(err) }
      }
    })

    const headers: Record<string, string> = {
      'x-clickhouse-query-id': queryId,
      'x-clickhouse-format': format,
      'x-clickhouse-timezone': 'UTC',
      'x-clickhouse-server-display-name': 'chdb-test-interface',
    }
    if (!outcome.ok) {
      if (process.env.SIGHTLINE_TEST_HTTP_DEBUG) console.error(`clickhouse-http: ${outcome.message}\n  ${sql.slice(0, 500)}`)
      const code = Number(/Code: (\d+)/.exec(outcome.message)?.[1] ?? 1000)
      const text = /Code: \d+/.test(outcome.message) ? outcome.message : `Code: 1000. DB::Exception: ${outcome.message}. (STD_EXCEPTION)`
      res.writeHead(STATUS[code] ?? 500, { ...headers, 'x-clickhouse-exception-code': String(code), 'content-type': 'text/plain; charset=UTF-8' })
      res.end(`${text}\n`)
      return
    }
    const { result } = outcome
    const bytes = Buffer.from(result.bytes())
    const summary = {
      read_rows: String(result.rowsRead),
      read_bytes: String(result.bytesRead),
      written_rows: '0',
      written_bytes: '0',
      total_rows_to_read: String(result.rowsRead),
      result_rows: '0',
      result_bytes: String(bytes.length),
      elapsed_ns: String(Math.round(result.elapsed * 1e9)),
    }
    headers['x-clickhouse-summary'] = JSON.stringify(summary)
    headers['content-type'] = /JSON/i.test(format) || /FORMAT\s+JSON/i.test(sql) ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8'
    if (gzip) {
      res.writeHead(200, { ...headers, 'content-encoding': 'gzip' }).end(gzipSync(bytes))
    } else {
      res.writeHead(200, headers).end(bytes)
    }
  }

  // ClickHouse reads URLs up to 1 MiB (http_max_uri_size): `param_*` values travel in the URL.
  const server: Server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    answer(req, res).catch((err: unknown) => {
      if (process.env.SIGHTLINE_TEST_HTTP_DEBUG) console.error('clickhouse-http: failed', err)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`Code: 1000. DB::Exception: ${String(err)}. (STD_EXCEPTION)\n`)
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const { port: bound } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${bound}`,
    get count() {
      return count
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await chain.catch(() => {})
      session.close()
    },
  }
}
