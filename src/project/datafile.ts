/**
 * Tinybird datafiles (`.datasource`, `.pipe`) parsed into typed objects, a project folder loaded and
 * cross-checked, a datasource rendered as ClickHouse DDL, and one JSON object mapped to a row by the
 * columns' `json:` paths. Pure: no store, no network; `loadProject` only reads files.
 *
 * Grammar (`../shared/TINYBIRD.md` §2, §3). A directive is an UPPERCASE keyword at the start of a line
 * with its value on the same line (`ENGINE "MergeTree"`; surrounding double quotes are stripped) or, with
 * `KEYWORD >`, in the following block. A block holds every following line up to the next line that
 * starts in column 0 with a directive keyword of the same file kind; its lines are dedented by their
 * common indentation. Indented lines never end a block, so SQL may contain words such as `TYPE`.
 * Blank lines and `#` lines between directives are ignored. Every error is a DatafileError naming the
 * file and the 1-based line and saying what was expected.
 *
 * Choices where TINYBIRD.md says unverified or leaves room:
 * - Keywords are case-sensitive (uppercase), as in the TypeScript SDK's parser [S1, S2]; TYPE and
 *   COPY_MODE values are case-insensitive.
 * - `TYPE` marks the node it follows as the pipe's output node (§3.2). A `TYPE` before any NODE marks
 *   the last node. A pipe without TYPE is a plain pipe whose output is its last node.
 * - A pipe's node SQL is a template when its stripped text starts with `%` (as Tinybird's parser
 *   checks [T3]); the template is the text after that `%`. Otherwise the SQL is taken verbatim.
 * - Classic `VERSION n` is recorded and ignored. Classic `INCLUDE "path.incl" "VAR=value" …` (a line in
 *   column 0) is replaced by the included file's lines, each `$VAR`/`${VAR}` in them by its value (the
 *   variables given, nothing else); the path is read relative to the including file's folder, else the
 *   project folder, and includes nest (at most 8 deep, no cycles). Errors in included lines name the
 *   included file and its line, and the INCLUDE that brought it in. A Classic
 *   materialized pipe's `ENGINE`/`ENGINE_*` lines (its target's engine) are kept in `targetEngine` and
 *   not acted on: the target's .datasource defines the table. `POPULATE`/`BACKFILL` are accepted.
 *   Kafka/S3 (`KAFKA_*`, `IMPORT_*`), sinks (`EXPORT_*`), `SHARED_WITH` are parsed and kept in
 *   `ignored`/`export`; nothing acts on them.
 * - Without ENGINE_SORTING_KEY a MergeTree-family table is ordered by its first DateTime/Date column,
 *   else its first numeric column, else its first String column, else `tuple()` (Nullable columns are
 *   skipped): our reading of "Forward picks DateTime, then numeric, then String columns" [D8].
 * - A column without a `json:` path maps from `$.<column name>` (§2.4, unverified there).
 * - Node references in SQL are found after FROM/JOIN (outside strings, comments, template tags and
 *   function-call parentheses such as `extract(day FROM t)`); a name that is no node of the pipe, no
 *   datasource, no pipe and no `tinybird.*` service datasource is an error at its line.
 *
 * Over 300 lines because it is one grammar: the directive reader, the per-kind checks and the DDL and
 * JSON-path mapping share the parsed types and the error positions; split, each part would re-walk them.
 * What stands alone lives beside it: the cron reader (`cron.ts`) and the SQL reference finder
 * (`sql-references.ts`), re-exported here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, normalize, relative } from 'node:path'
import { compileTemplate, TemplateError } from './template.js'
import { cronProblem } from './cron.js'
import { hasAlias, lineAt, sqlReferences, type SqlReference } from './sql-references.js'

export { cronProblem, nextCronRun } from './cron.js'
export { hasAlias, sqlReferences, type SqlReference } from './sql-references.js'

export class DatafileError extends Error {
  override name = 'DatafileError'
  constructor(
    /** The file as given (relative to the project folder when loaded by `loadProject`). */
    readonly file: string,
    /** 1-based line, 0 when the error concerns the whole file. */
    readonly line: number,
    /** What was wrong and what was expected, without the location. */
    readonly detail: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${detail}`)
  }
}

export interface Column {
  readonly name: string
  /** ClickHouse type as written, e.g. `LowCardinality(String)`. */
  readonly type: string
  /** The `json:` path, e.g. `$.session.id`; undefined when the column has none. */
  readonly jsonPath?: string
  /** `DEFAULT` expression (ClickHouse SQL). */
  readonly default?: string
  /** `CODEC(...)` argument text. */
  readonly codec?: string
  readonly line: number
}

export interface IndexDef {
  readonly name: string
  readonly expr: string
  readonly type: string
  readonly granularity: number
  readonly line: number
}

export interface TokenGrant {
  readonly name: string
  readonly scope: 'READ' | 'APPEND'
  readonly line: number
}

export interface Engine {
  /** `MergeTree`, `ReplacingMergeTree`, … or `Null`; may carry arguments when written with them. */
  readonly type: string
  readonly sortingKey?: string
  readonly partitionKey?: string
  readonly primaryKey?: string
  readonly ttl?: string
  readonly ver?: string
  readonly isDeleted?: string
  readonly sign?: string
  readonly version?: string
  readonly summingColumns?: string
  /** ENGINE_SETTINGS as ordered key/value pairs (values as written, quotes kept). */
  readonly settings: readonly (readonly [string, string])[]
}

export interface Datasource {
  readonly kind: 'datasource'
  readonly name: string
  readonly file: string
  readonly description?: string
  readonly columns: readonly Column[]
  readonly engine: Engine
  readonly indexes: readonly IndexDef[]
  readonly tokens: readonly TokenGrant[]
  readonly forwardQuery?: string
  readonly sharedWith: readonly string[]
  readonly backfill?: string
  readonly version?: number
  /** Directives that are parsed but have no effect here (Kafka, S3/GCS imports). */
  readonly ignored: Readonly<Record<string, string>>
  /** The text parsed, INCLUDEs expanded: what a later load compares and parses again. */
  readonly source: string
  /** Where the lines of INCLUDEd files came from (see errorAt). */
  readonly included?: readonly IncludedFile[]
}

export interface PipeNode {
  readonly name: string
  readonly description?: string
  /** The SQL block, dedented. For a template node this still starts with `%`. */
  readonly sql: string
  /** True when the SQL starts with `%` and goes through the template engine. */
  readonly template: boolean
  /** The template text (after `%`) or the plain SQL. */
  readonly text: string
  /** Line of the first SQL line in the file (the line after `SQL >`). */
  readonly sqlLine: number
  readonly line: number
}

export type PipeType = 'endpoint' | 'materialized' | 'copy' | 'sink' | 'default'

export interface Pipe {
  readonly kind: 'pipe'
  readonly name: string
  readonly file: string
  readonly description?: string
  readonly nodes: readonly PipeNode[]
  readonly type: PipeType
  /** The node the pipe publishes (endpoint), materializes, copies or exports. */
  readonly outputNode: string
  /** TYPE MATERIALIZED target. */
  readonly datasource?: string
  /** TYPE COPY target. */
  readonly targetDatasource?: string
  readonly copyMode?: 'append' | 'replace'
  /** Cron text or `@on-demand`. */
  readonly copySchedule?: string
  /** CACHE seconds. Not acted on by the loader; the serving layer decides. */
  readonly cache?: number
  readonly deploymentMethod?: string
  readonly tokens: readonly TokenGrant[]
  /** EXPORT_* directives of a sink pipe, parsed and not acted on. */
  readonly export: Readonly<Record<string, string>>
  /**
   * Classic materialized pipes may describe their target's engine (`ENGINE`, `ENGINE_*`) in the pipe;
   * kept here and not acted on: the target's own .datasource file defines the table.
   */
  readonly targetEngine: Readonly<Record<string, string>>
  readonly version?: number
  /** The text parsed, INCLUDEs expanded (what `GET /v0/pipes/<name>.pipe` answers). */
  readonly source: string
  /** Line of each pipe-level directive (TYPE, DATASOURCE, TARGET_DATASOURCE, …), for later errors. */
  readonly lines: Readonly<Record<string, number>>
  /** Where the lines of INCLUDEd files came from (see errorAt). */
  readonly included?: readonly IncludedFile[]
}

export type Datafile = Datasource | Pipe

// ---------------------------------------------------------------------------------------------------
// Lines and blocks

interface Line {
  readonly no: number
  readonly text: string
}

interface Directive {
  readonly key: string
  readonly line: number
  /** Value on the directive line (quotes stripped for single values). */
  readonly value: string
  /** Block lines when written as `KEY >`. */
  readonly block?: readonly Line[]
}

const DATASOURCE_KEYS = new Set([
  'DESCRIPTION', 'SCHEMA', 'ENGINE', 'ENGINE_SORTING_KEY', 'ENGINE_PARTITION_KEY', 'ENGINE_PRIMARY_KEY', 'ENGINE_TTL',
  'ENGINE_VER', 'ENGINE_IS_DELETED', 'ENGINE_SIGN', 'ENGINE_VERSION', 'ENGINE_SUMMING_COLUMNS', 'ENGINE_SETTINGS',
  'INDEXES', 'TOKEN', 'SHARED_WITH', 'FORWARD_QUERY', 'BACKFILL', 'VERSION', 'INCLUDE',
  'KAFKA_CONNECTION_NAME', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'KAFKA_AUTO_OFFSET_RESET', 'KAFKA_STORE_RAW_VALUE',
  'KAFKA_STORE_HEADERS', 'KAFKA_STORE_BINARY_HEADERS', 'KAFKA_TARGET_PARTITIONS', 'KAFKA_KEY_AVRO_DESERIALIZATION',
  'KAFKA_BOOTSTRAP_SERVERS', 'KAFKA_KEY', 'KAFKA_SECRET', 'KAFKA_SCHEMA_REGISTRY_URL', 'KAFKA_SASL_MECHANISM',
  'IMPORT_CONNECTION_NAME', 'IMPORT_BUCKET_URI', 'IMPORT_SCHEDULE', 'IMPORT_FROM_TIMESTAMP', 'IMPORT_SERVICE',
  'IMPORT_STRATEGY', 'IMPORT_EXTERNAL_DATASOURCE', 'IMPORT_QUERY',
])
const PIPE_KEYS = new Set([
  'DESCRIPTION', 'NODE', 'SQL', 'TYPE', 'DATASOURCE', 'TARGET_DATASOURCE', 'COPY_MODE', 'COPY_SCHEDULE', 'CACHE',
  'TOKEN', 'DEPLOYMENT_METHOD', 'VERSION', 'INCLUDE', 'FORWARD_QUERY', 'ENGINE', 'ENGINE_SORTING_KEY', 'ENGINE_PARTITION_KEY',
  'ENGINE_PRIMARY_KEY', 'ENGINE_TTL', 'ENGINE_VER', 'ENGINE_IS_DELETED', 'ENGINE_SIGN', 'ENGINE_VERSION', 'ENGINE_SUMMING_COLUMNS',
  'ENGINE_SETTINGS', 'POPULATE', 'BACKFILL',
  'EXPORT_SERVICE', 'EXPORT_CONNECTION_NAME', 'EXPORT_KAFKA_TOPIC', 'EXPORT_BUCKET_URI', 'EXPORT_FILE_TEMPLATE',
  'EXPORT_FORMAT', 'EXPORT_SCHEDULE', 'EXPORT_STRATEGY', 'EXPORT_WRITE_STRATEGY', 'EXPORT_COMPRESSION',
])

function keyOf(text: string): string {
  const m = /^([A-Z][A-Z0-9_]*)(?=\s|$)/.exec(text)
  return m ? m[1]! : ''
}

function unquote(value: string): string {
  const v = value.trim()
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1)
  return v
}

function dedent(lines: readonly Line[]): Line[] {
  const body = [...lines]
  while (body.length > 0 && body[body.length - 1]!.text.trim() === '') body.pop()
  while (body.length > 0 && body[0]!.text.trim() === '') body.shift()
  // Lines written in column 0 inside a free-text block stay as they are; the others lose their common indent.
  const indent = (t: string) => /^[ \t]*/.exec(t)![0].length
  const indents = body.filter((l) => l.text.trim() !== '' && indent(l.text) > 0).map((l) => indent(l.text))
  const cut = indents.length > 0 ? Math.min(...indents) : 0
  return body.map((l) => ({ no: l.no, text: l.text.trim() === '' ? '' : l.text.slice(Math.min(cut, indent(l.text))).replace(/\s+$/, '') }))
}

/**
 * Reads the file an INCLUDE names (`path` as written, `from` the including file, both as errors name files):
 * its name for errors and its text, or undefined when there is none.
 */
export type IncludeReader = (path: string, from: string) => { readonly file: string; readonly content: string } | undefined

/** One INCLUDEd file: its name, and the file and line of the INCLUDE that brought it in. */
export interface IncludedFile {
  readonly file: string
  readonly by: string
  readonly at: number
}

/** Lines of INCLUDEd text are numbered INCLUDED × (1 + the include's index) + their line in it. */
const INCLUDED = 1_000_000
const MAX_INCLUDE_DEPTH = 8

/** `INCLUDE "path" "VAR=value" …`: the path and the variables. */
function includeArgs(rest: string, fail: (detail: string) => DatafileError): { path: string; vars: Map<string, string> } {
  const args = [...rest.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '')
  const [path, ...assignments] = args
  if (!path) throw fail('INCLUDE needs a file: INCLUDE "path/to/file.incl" ["VAR=value" …]')
  const vars = new Map<string, string>()
  for (const a of assignments) {
    const eq = a.indexOf('=')
    const name = a.slice(0, eq)
    if (eq < 1 || !IDENT.test(name)) throw fail(`INCLUDE variables are written "NAME=value", found ${JSON.stringify(a)}`)
    vars.set(name, a.slice(eq + 1))
  }
  return { path, vars }
}

/**
 * The lines of a datafile with each INCLUDE line (column 0) replaced by the included file's lines, its
 * variables substituted; `included` collects the files, in the order their lines are numbered.
 */
function expandIncludes(file: string, content: string, read: IncludeReader | undefined, included: IncludedFile[], chain: readonly string[] = [file], base = 0): Line[] {
  const out: Line[] = []
  content.replace(/\r\n?/g, '\n').split('\n').forEach((text, i) => {
    const no = base + i + 1
    if (keyOf(text) !== 'INCLUDE') {
      out.push({ no, text })
      return
    }
    const fail = (detail: string) => errorAt({ file: chain[0]!, included }, no, detail)
    const { path, vars } = includeArgs(text.slice('INCLUDE'.length), fail)
    if (!read) throw fail(`INCLUDE ${JSON.stringify(path)}: included files are read when the project is loaded from its folder`)
    const found = read(path, file)
    if (!found) throw fail(`INCLUDE ${JSON.stringify(path)}: no such file next to ${file} or in the project folder`)
    if (chain.includes(found.file)) throw fail(`INCLUDE ${JSON.stringify(path)} includes itself: ${[...chain, found.file].join(' -> ')}`)
    if (chain.length > MAX_INCLUDE_DEPTH) throw fail(`INCLUDEs nest more than ${MAX_INCLUDE_DEPTH} deep`)
    included.push({ file: found.file, by: file, at: no % INCLUDED })
    let body = found.content
    for (const [name, value] of vars) body = body.replace(new RegExp(`\\$(?:\\{${name}\\}|${name}(?![A-Za-z0-9_]))`, 'g'), () => value)
    out.push(...expandIncludes(found.file, body, read, included, [...chain, found.file], INCLUDED * included.length))
  })
  return out
}

/**
 * A DatafileError at `line` of a parsed datafile: in an INCLUDEd file's lines, it names that file and line
 * and the INCLUDE that brought them in.
 */
export function errorAt(datafile: { readonly file: string; readonly included?: readonly IncludedFile[] }, line: number, detail: string): DatafileError {
  const from = line >= INCLUDED ? datafile.included?.[Math.floor(line / INCLUDED) - 1] : undefined
  return from ? new DatafileError(from.file, line % INCLUDED, `${detail} (included by ${from.by}:${from.at})`) : new DatafileError(datafile.file, line, detail)
}

/** Parses a datafile's lines, INCLUDEs expanded; its errors in included lines name those files. */
function withIncludes<T>(file: string, content: string, read: IncludeReader | undefined, parse: (lines: readonly Line[], included: readonly IncludedFile[]) => T): T {
  const included: IncludedFile[] = []
  const lines = expandIncludes(file, content, read, included)
  try {
    return parse(lines, included)
  } catch (e) {
    if (e instanceof DatafileError && e.file === file && included.length > 0) throw errorAt({ file, included }, e.line, e.detail)
    throw e
  }
}

/** Blocks whose lines are free text: a line in column 0 that is no directive still belongs to them. */
const FREE_TEXT = new Set(['SQL', 'DESCRIPTION', 'FORWARD_QUERY'])

/** Splits a datafile into directives. */
function directives(file: string, lines: readonly Line[], keys: ReadonlySet<string>, kind: string): Directive[] {
  const out: Directive[] = []
  let i = 0
  while (i < lines.length) {
    const { no, text } = lines[i]!
    const trimmed = text.trim()
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++
      continue
    }
    const key = keyOf(trimmed)
    if (!keys.has(key)) {
      const expected = [...keys].filter((k) => !k.startsWith('KAFKA_') && !k.startsWith('IMPORT_') && !k.startsWith('EXPORT_')).join(', ')
      throw new DatafileError(file, no, `expected a ${kind} directive (${expected}) but found ${JSON.stringify(trimmed.slice(0, 60))}${/^\s/.test(text) ? ' (an indented line outside a `KEY >` block)' : ''}`)
    }
    const rest = trimmed.slice(key.length).trim()
    if (rest === '>' || rest.startsWith('> ')) {
      const block: Line[] = []
      const inline = rest.slice(1).trim()
      if (inline !== '') block.push({ no, text: inline })
      i++
      while (i < lines.length) {
        const l = lines[i]!
        const column0 = l.text.trim() !== '' && !/^\s/.test(l.text)
        if (column0 && (keys.has(keyOf(l.text)) || (!FREE_TEXT.has(key) && !l.text.startsWith('#')))) break
        if (column0 && !FREE_TEXT.has(key)) {
          i++
          continue
        }
        block.push(l)
        i++
      }
      out.push({ key, line: no, value: '', block: dedent(block) })
    } else {
      out.push({ key, line: no, value: rest })
      i++
    }
  }
  return out
}

function blockText(d: Directive): string {
  return d.block ? d.block.map((l) => l.text).join('\n') : unquote(d.value)
}

/** A single-value directive: the line value, or a block joined with spaces. */
function single(file: string, d: Directive, what: string): string {
  const v = d.block ? d.block.map((l) => l.text.trim()).filter((t) => t !== '').join(' ') : unquote(d.value)
  if (v === '') throw new DatafileError(file, d.line, `${d.key} needs ${what}`)
  return v
}

/** `VERSION n`, in either file kind. */
function parseVersion(file: string, d: Directive): number {
  const version = Number(single(file, d, 'a number'))
  if (!Number.isInteger(version)) throw new DatafileError(file, d.line, `VERSION must be an integer, found ${JSON.stringify(d.value)}`)
  return version
}

// ---------------------------------------------------------------------------------------------------
// Splitting helpers aware of quotes and parentheses

/**
 * Walks `text` outside quotes (`'`, `"`, `` ` ``, with backslash escapes), calling `visit` with each
 * character and the bracket depth before it; `(`/`[` open and `)`/`]` close. A `false` from `visit`
 * stops the walk, which starts at `from`. Returns the depth and the open quote at the end (or at the stop).
 */
function walkTopLevel(
  text: string,
  visit: (c: string, i: number, depth: number) => boolean | void,
  from = 0,
): { depth: number; quote: string | undefined } {
  let depth = 0
  let quote: string | undefined
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
      continue
    }
    if (visit(c, i, depth) === false) break
    if (c === "'" || c === '"' || c === '`') quote = c
    else if (c === '(' || c === '[') depth++
    else if (c === ')' || c === ']') depth--
  }
  return { depth, quote }
}

/** The first match of `token` outside quotes and brackets, at or after `from`. */
function findTopLevel(input: string, token: RegExp, from = 0): { index: number; length: number } | undefined {
  let found: { index: number; length: number } | undefined
  walkTopLevel(
    input,
    (c, i, depth) => {
      if (depth !== 0 || "'\"`()[]".includes(c)) return
      token.lastIndex = 0
      const m = token.exec(input.slice(i))
      if (m && m.index === 0) {
        found = { index: i, length: m[0].length }
        return false
      }
    },
    from,
  )
  return found
}

/** Splits on top-level commas (outside quotes and brackets). */
export function splitTopLevel(input: string): string[] {
  const parts: string[] = []
  let start = 0
  walkTopLevel(input, (c, i, depth) => {
    if (c === ',' && depth === 0) {
      parts.push(input.slice(start, i))
      start = i + 1
    }
  })
  parts.push(input.slice(start))
  return parts.map((p) => p.trim()).filter((p) => p !== '')
}

/** Checks that brackets and quotes balance (a cheap guard against truncated types or expressions). */
function balanced(text: string): boolean {
  let closedTooSoon = false
  const end = walkTopLevel(text, (c, _i, depth) => {
    if ((c === ')' || c === ']') && depth === 0) {
      closedTooSoon = true
      return false
    }
  })
  return !closedTooSoon && end.depth === 0 && end.quote === undefined
}

// ---------------------------------------------------------------------------------------------------
// .datasource

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

function parseColumn(file: string, line: Line): Column {
  let text = line.text.trim()
  if (text.endsWith(',')) text = text.slice(0, -1).trimEnd()
  let name: string
  let rest: string
  const q = text[0]
  if (q === '`' || q === '"') {
    const end = text.indexOf(q, 1)
    if (end < 0) throw new DatafileError(file, line.no, `the column name's ${q} is not closed; expected \`name\` Type [\`json:$.path\`] [DEFAULT expr] [CODEC(...)]`)
    name = text.slice(1, end)
    rest = text.slice(end + 1).trim()
  } else {
    const m = /^(\S+)\s*(.*)$/.exec(text)!
    name = m[1]!
    rest = m[2]!.trim()
  }
  if (name === '') throw new DatafileError(file, line.no, 'a column needs a name; expected `name` Type [`json:$.path`] [DEFAULT expr] [CODEC(...)]')
  let codec: string | undefined
  const codecAt = findTopLevel(rest, /\s*CODEC\s*\(/y)
  if (codecAt) {
    const inner = rest.slice(codecAt.index + codecAt.length)
    if (!inner.endsWith(')') || !balanced(`(${inner}`)) throw new DatafileError(file, line.no, `CODEC(...) of column ${name} is not closed`)
    codec = inner.slice(0, -1).trim()
    rest = rest.slice(0, codecAt.index).trim()
  }
  let def: string | undefined
  const defAt = findTopLevel(rest, /\s+DEFAULT\s+/y)
  if (defAt) {
    def = rest.slice(defAt.index + defAt.length).trim()
    rest = rest.slice(0, defAt.index).trim()
    if (def === '') throw new DatafileError(file, line.no, `DEFAULT of column ${name} needs an expression`)
  }
  let jsonPath: string | undefined
  const jm = /`json:([^`]*)`/.exec(rest)
  if (jm) {
    jsonPath = jm[1]!.trim()
    rest = (rest.slice(0, jm.index) + rest.slice(jm.index + jm[0].length)).trim()
    try {
      parseJsonPath(jsonPath)
    } catch (e) {
      throw new DatafileError(file, line.no, `column ${name}: ${(e as Error).message}`)
    }
  }
  if (rest === '') throw new DatafileError(file, line.no, `column ${name} needs a type; expected \`${name}\` Type [\`json:$.path\`] [DEFAULT expr]`)
  if (!/^[A-Za-z]/.test(rest) || !balanced(rest)) throw new DatafileError(file, line.no, `column ${name}: ${JSON.stringify(rest)} is not a ClickHouse type (unbalanced brackets or quotes?)`)
  return { name, type: rest, line: line.no, ...(jsonPath !== undefined && { jsonPath }), ...(def !== undefined && { default: def }), ...(codec !== undefined && { codec }) }
}

function parseIndex(file: string, line: Line): IndexDef {
  const text = line.text.trim().replace(/,$/, '')
  const m = /^(\S+)\s+(.+?)\s+TYPE\s+(.+?)\s+GRANULARITY\s+(\d+)$/i.exec(text)
  if (!m) throw new DatafileError(file, line.no, `expected an index as \`name expr TYPE type GRANULARITY n\` but found ${JSON.stringify(text)}`)
  const granularity = Number(m[4])
  if (!(granularity > 0)) throw new DatafileError(file, line.no, `GRANULARITY must be a positive integer, found ${m[4]}`)
  return { name: m[1]!, expr: m[2]!, type: m[3]!, granularity, line: line.no }
}

function parseToken(file: string, d: Directive, kind: 'datasource' | 'pipe'): TokenGrant {
  const v = d.value.trim()
  const m = /^(?:"([^"]+)"|'([^']+)'|(\S+))(?:\s+(\S+))?$/.exec(v)
  const expected = kind === 'pipe' ? 'TOKEN name [READ]' : 'TOKEN name READ|APPEND'
  if (!m) throw new DatafileError(file, d.line, `expected ${expected} but found ${JSON.stringify(`TOKEN ${v}`)}`)
  const name = m[1] ?? m[2] ?? m[3]!
  const scope = (m[4] ?? (kind === 'pipe' ? 'READ' : '')).toUpperCase()
  if (kind === 'pipe' && scope !== 'READ') throw new DatafileError(file, d.line, `a pipe token can only have the READ scope, found ${JSON.stringify(m[4])}`)
  if (kind === 'datasource' && scope !== 'READ' && scope !== 'APPEND') throw new DatafileError(file, d.line, `expected ${expected}; the scope must be READ or APPEND, found ${JSON.stringify(m[4] ?? '')}`)
  return { name, scope: scope as 'READ' | 'APPEND', line: d.line }
}

function parseSettings(file: string, d: Directive, text: string): [string, string][] {
  return splitTopLevel(text).map((part) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(part)
    if (!m) throw new DatafileError(file, d.line, `expected ENGINE_SETTINGS as "key=value, key2='v'" but found ${JSON.stringify(part)}`)
    return [m[1]!, m[2]!.trim()]
  })
}

function nameOf(path: string, ext: string): string {
  return basename(path).slice(0, -ext.length)
}

/**
 * Parses one `.datasource` file. `file` is used in errors and to name the datasource; `read` finds the
 * files its INCLUDEs name.
 */
export function parseDatasource(file: string, content: string, name = nameOf(file, '.datasource'), read?: IncludeReader): Datasource {
  return withIncludes(file, content, read, (lines, included) => datasourceOf(file, lines, name, included))
}

function datasourceOf(file: string, lines: readonly Line[], name: string, included: readonly IncludedFile[]): Datasource {
  const ds = directives(file, lines, DATASOURCE_KEYS, 'datasource')
  let description: string | undefined
  let columns: Column[] | undefined
  const indexes: IndexDef[] = []
  const tokens: TokenGrant[] = []
  const sharedWith: string[] = []
  const ignored: Record<string, string> = {}
  const engine: Record<string, string> = {}
  let settings: [string, string][] = []
  let forwardQuery: string | undefined
  let backfill: string | undefined
  let version: number | undefined
  const seen = new Map<string, number>()
  for (const d of ds) {
    if (d.key !== 'TOKEN' && seen.has(d.key)) throw new DatafileError(file, d.line, `${d.key} is given twice (first at line ${seen.get(d.key)})`)
    seen.set(d.key, d.line)
    switch (d.key) {
      case 'DESCRIPTION':
        description = blockText(d)
        break
      case 'SCHEMA': {
        if (!d.block) throw new DatafileError(file, d.line, 'expected `SCHEMA >` followed by indented column lines')
        const lines = d.block.filter((l) => l.text.trim() !== '' && !l.text.trim().startsWith('#'))
        if (lines.length === 0) throw new DatafileError(file, d.line, 'SCHEMA is empty; expected at least one indented column line')
        columns = lines.map((l) => parseColumn(file, l))
        const names = new Map<string, number>()
        for (const c of columns) {
          if (names.has(c.name)) throw new DatafileError(file, c.line, `column ${c.name} is defined twice (first at line ${names.get(c.name)})`)
          names.set(c.name, c.line)
        }
        break
      }
      case 'INDEXES':
        if (!d.block) throw new DatafileError(file, d.line, 'expected `INDEXES >` followed by indented `name expr TYPE type GRANULARITY n` lines')
        for (const l of d.block) if (l.text.trim() !== '' && !l.text.trim().startsWith('#')) indexes.push(parseIndex(file, l))
        break
      case 'TOKEN':
        tokens.push(parseToken(file, d, 'datasource'))
        break
      case 'SHARED_WITH':
        for (const t of (d.block ? d.block.map((l) => l.text) : [d.value]).flatMap((t) => t.split(','))) if (t.trim() !== '') sharedWith.push(unquote(t))
        break
      case 'FORWARD_QUERY':
        forwardQuery = blockText(d)
        break
      case 'BACKFILL':
        backfill = single(file, d, 'a value (skip)')
        break
      case 'VERSION':
        version = parseVersion(file, d)
        break
      case 'ENGINE_SETTINGS':
        settings = parseSettings(file, d, single(file, d, 'a `key=value` list'))
        break
      default:
        if (d.key === 'ENGINE' || d.key.startsWith('ENGINE_')) {
          const v = d.key === 'ENGINE_PARTITION_KEY' ? (d.block ? blockText(d) : unquote(d.value)).trim() : single(file, d, 'a value')
          if (!balanced(v)) throw new DatafileError(file, d.line, `${d.key} ${JSON.stringify(v)} has unbalanced brackets or quotes`)
          engine[d.key] = v
        } else ignored[d.key] = d.block ? blockText(d) : unquote(d.value)
    }
  }
  if (!columns) throw new DatafileError(file, 0, 'a datasource needs a `SCHEMA >` block')
  const type = engine.ENGINE ?? 'MergeTree'
  const family = /^[A-Za-z]+/.exec(type)?.[0] ?? ''
  const known = ['MergeTree', 'ReplacingMergeTree', 'SummingMergeTree', 'AggregatingMergeTree', 'CollapsingMergeTree', 'VersionedCollapsingMergeTree', 'Null']
  if (!known.includes(family)) throw new DatafileError(file, seen.get('ENGINE') ?? 0, `ENGINE must be one of ${known.join(', ')}; found ${JSON.stringify(type)}`)
  const needs = (key: string, engines: string[]) => {
    if (engine[key] !== undefined && !engines.includes(family)) throw new DatafileError(file, seen.get(key)!, `${key} only applies to ${engines.join(' or ')}, not ${family}`)
  }
  needs('ENGINE_VER', ['ReplacingMergeTree'])
  needs('ENGINE_IS_DELETED', ['ReplacingMergeTree'])
  needs('ENGINE_SIGN', ['CollapsingMergeTree', 'VersionedCollapsingMergeTree'])
  needs('ENGINE_VERSION', ['VersionedCollapsingMergeTree'])
  needs('ENGINE_SUMMING_COLUMNS', ['SummingMergeTree'])
  if (engine.ENGINE_IS_DELETED !== undefined && engine.ENGINE_VER === undefined) throw new DatafileError(file, seen.get('ENGINE_IS_DELETED')!, 'ENGINE_IS_DELETED needs ENGINE_VER')
  if (!type.includes('(')) {
    if ((family === 'CollapsingMergeTree' || family === 'VersionedCollapsingMergeTree') && engine.ENGINE_SIGN === undefined) throw new DatafileError(file, seen.get('ENGINE') ?? 0, `${family} needs ENGINE_SIGN`)
    if (family === 'VersionedCollapsingMergeTree' && engine.ENGINE_VERSION === undefined) throw new DatafileError(file, seen.get('ENGINE') ?? 0, 'VersionedCollapsingMergeTree needs ENGINE_VERSION')
  }
  if (family === 'Null') {
    for (const k of ['ENGINE_SORTING_KEY', 'ENGINE_PARTITION_KEY', 'ENGINE_PRIMARY_KEY', 'ENGINE_TTL']) if (engine[k] !== undefined) throw new DatafileError(file, seen.get(k)!, `${k} does not apply to the Null engine`)
  }
  const e: Engine = {
    type,
    settings,
    ...(engine.ENGINE_SORTING_KEY !== undefined && { sortingKey: engine.ENGINE_SORTING_KEY }),
    ...(engine.ENGINE_PARTITION_KEY !== undefined && { partitionKey: engine.ENGINE_PARTITION_KEY }),
    ...(engine.ENGINE_PRIMARY_KEY !== undefined && { primaryKey: engine.ENGINE_PRIMARY_KEY }),
    ...(engine.ENGINE_TTL !== undefined && { ttl: engine.ENGINE_TTL }),
    ...(engine.ENGINE_VER !== undefined && { ver: engine.ENGINE_VER }),
    ...(engine.ENGINE_IS_DELETED !== undefined && { isDeleted: engine.ENGINE_IS_DELETED }),
    ...(engine.ENGINE_SIGN !== undefined && { sign: engine.ENGINE_SIGN }),
    ...(engine.ENGINE_VERSION !== undefined && { version: engine.ENGINE_VERSION }),
    ...(engine.ENGINE_SUMMING_COLUMNS !== undefined && { summingColumns: engine.ENGINE_SUMMING_COLUMNS }),
  }
  return {
    kind: 'datasource',
    name,
    file,
    columns,
    engine: e,
    indexes,
    tokens,
    sharedWith,
    ignored,
    ...(description !== undefined && { description }),
    ...(forwardQuery !== undefined && { forwardQuery }),
    ...(backfill !== undefined && { backfill }),
    ...(version !== undefined && { version }),
    source: lines.map((l) => l.text).join('\n'),
    ...(included.length > 0 && { included }),
  }
}

// ---------------------------------------------------------------------------------------------------
// .pipe

const PIPE_TYPES: Record<string, PipeType> = { ENDPOINT: 'endpoint', MATERIALIZED: 'materialized', COPY: 'copy', SINK: 'sink' }

/** Parses one `.pipe` file; `read` finds the files its INCLUDEs name. */
export function parsePipe(file: string, content: string, name = nameOf(file, '.pipe'), read?: IncludeReader): Pipe {
  return withIncludes(file, content, read, (lines, included) => pipeOf(file, lines, name, included))
}

function pipeOf(file: string, lines: readonly Line[], name: string, included: readonly IncludedFile[]): Pipe {
  const ds = directives(file, lines, PIPE_KEYS, 'pipe')
  let description: string | undefined
  interface Draft { name: string; line: number; description?: string; sql?: string; sqlLine?: number; template?: boolean; text?: string }
  const nodes: Draft[] = []
  const tokens: TokenGrant[] = []
  const exported: Record<string, string> = {}
  const targetEngine: Record<string, string> = {}
  const pipeLevel = new Map<string, Directive>()
  let typeAt: { type: PipeType; node: number; line: number } | undefined
  let version: number | undefined
  for (const d of ds) {
    const node = nodes[nodes.length - 1]
    switch (d.key) {
      case 'NODE': {
        const n = unquote(d.value)
        if (!IDENT.test(n)) throw new DatafileError(file, d.line, `expected NODE <name> with a name of letters, digits and _, found ${JSON.stringify(d.value)}`)
        const dup = nodes.find((x) => x.name === n)
        if (dup) throw new DatafileError(file, d.line, `node ${n} is defined twice (first at line ${dup.line})`)
        if (node && node.sql === undefined) throw new DatafileError(file, d.line, `node ${node.name} (line ${node.line}) has no \`SQL >\` block; expected one before the next NODE`)
        nodes.push({ name: n, line: d.line })
        break
      }
      case 'DESCRIPTION':
        if (!node) {
          if (description !== undefined) throw new DatafileError(file, d.line, 'the pipe DESCRIPTION is given twice')
          description = blockText(d)
        } else {
          if (node.description !== undefined) throw new DatafileError(file, d.line, `node ${node.name} has two DESCRIPTIONs`)
          node.description = blockText(d)
        }
        break
      case 'SQL': {
        if (!node) throw new DatafileError(file, d.line, '`SQL >` must follow a `NODE <name>` line')
        if (node.sql !== undefined) throw new DatafileError(file, d.line, `node ${node.name} has two SQL blocks`)
        if (!d.block) throw new DatafileError(file, d.line, 'expected `SQL >` followed by the indented query')
        const sql = d.block.map((l) => l.text).join('\n')
        if (sql.trim() === '' || sql.trim() === '%') throw new DatafileError(file, d.line, `the SQL of node ${node.name} is empty`)
        const template = sql.trimStart().startsWith('%')
        node.sql = sql
        node.sqlLine = d.block[0]?.no ?? d.line + 1
        node.template = template
        node.text = template ? sql.trimStart().slice(1) : sql
        break
      }
      case 'TYPE': {
        const t = PIPE_TYPES[single(file, d, 'ENDPOINT, MATERIALIZED, COPY or SINK').toUpperCase()]
        if (!t) throw new DatafileError(file, d.line, `TYPE must be ENDPOINT, MATERIALIZED, COPY or SINK, found ${JSON.stringify(d.value)}`)
        if (typeAt) throw new DatafileError(file, d.line, `a pipe has one TYPE (already ${typeAt.type.toUpperCase()} at line ${typeAt.line})`)
        typeAt = { type: t, node: nodes.length - 1, line: d.line }
        break
      }
      case 'TOKEN':
        tokens.push(parseToken(file, d, 'pipe'))
        break
      case 'VERSION':
        version = parseVersion(file, d)
        break
      case 'FORWARD_QUERY':
        throw new DatafileError(file, d.line, 'FORWARD_QUERY belongs in a .datasource file')
      default:
        if (pipeLevel.has(d.key)) throw new DatafileError(file, d.line, `${d.key} is given twice (first at line ${pipeLevel.get(d.key)!.line})`)
        pipeLevel.set(d.key, d)
        if (d.key.startsWith('EXPORT_')) exported[d.key] = single(file, d, 'a value')
        if (d.key === 'ENGINE' || d.key.startsWith('ENGINE_')) targetEngine[d.key] = d.block ? blockText(d) : unquote(d.value)
    }
  }
  if (nodes.length === 0) throw new DatafileError(file, 0, 'a pipe needs at least one `NODE <name>` with a `SQL >` block')
  const last = nodes[nodes.length - 1]!
  if (last.sql === undefined) throw new DatafileError(file, last.line, `node ${last.name} has no \`SQL >\` block`)
  const type = typeAt?.type ?? 'default'
  const output = nodes[typeAt && typeAt.node >= 0 ? typeAt.node : nodes.length - 1]!
  const get = (key: string, what: string) => {
    const d = pipeLevel.get(key)
    return d ? single(file, d, what) : undefined
  }
  const only = (key: string, types: PipeType[]) => {
    const d = pipeLevel.get(key)
    if (d && !types.includes(type)) throw new DatafileError(file, d.line, `${key} only applies to TYPE ${types.map((t) => t.toUpperCase()).join(' or ')}${type === 'default' ? ' (this pipe has no TYPE)' : `, not ${type.toUpperCase()}`}`)
  }
  only('DATASOURCE', ['materialized'])
  only('DEPLOYMENT_METHOD', ['materialized'])
  only('TARGET_DATASOURCE', ['copy'])
  only('COPY_MODE', ['copy'])
  only('COPY_SCHEDULE', ['copy'])
  only('CACHE', ['endpoint'])
  for (const k of Object.keys(exported)) only(k, ['sink'])
  for (const k of Object.keys(targetEngine)) only(k, ['materialized'])
  only('POPULATE', ['materialized'])
  only('BACKFILL', ['materialized'])
  const datasource = get('DATASOURCE', 'the target datasource name')
  const targetDatasource = get('TARGET_DATASOURCE', 'the target datasource name')
  if (type === 'materialized' && datasource === undefined) throw new DatafileError(file, typeAt!.line, 'TYPE MATERIALIZED needs `DATASOURCE <target datasource>`')
  if (type === 'copy' && targetDatasource === undefined) throw new DatafileError(file, typeAt!.line, 'TYPE COPY needs `TARGET_DATASOURCE <target datasource>`')
  const modeText = get('COPY_MODE', 'append or replace')
  const copyMode = modeText?.toLowerCase()
  if (copyMode !== undefined && copyMode !== 'append' && copyMode !== 'replace') throw new DatafileError(file, pipeLevel.get('COPY_MODE')!.line, `COPY_MODE must be append or replace, found ${JSON.stringify(modeText)}`)
  const copySchedule = get('COPY_SCHEDULE', 'a cron expression or @on-demand')
  if (copySchedule !== undefined) {
    const problem = cronProblem(copySchedule)
    if (problem) throw new DatafileError(file, pipeLevel.get('COPY_SCHEDULE')!.line, `COPY_SCHEDULE ${JSON.stringify(copySchedule)}: ${problem}`)
  }
  const cacheText = get('CACHE', 'a number of seconds')
  const cache = cacheText === undefined ? undefined : Number(cacheText)
  if (cache !== undefined && !(Number.isFinite(cache) && cache >= 0 && /^\d+(\.\d+)?$/.test(cacheText!))) throw new DatafileError(file, pipeLevel.get('CACHE')!.line, `CACHE must be a non-negative number of seconds, found ${JSON.stringify(cacheText)}`)
  const deploymentMethod = get('DEPLOYMENT_METHOD', 'a method (alter)')
  return {
    kind: 'pipe',
    name,
    file,
    nodes: nodes.map((n) => {
      if (n.sql === undefined) throw new DatafileError(file, n.line, `node ${n.name} has no \`SQL >\` block`)
      return { name: n.name, line: n.line, sql: n.sql, sqlLine: n.sqlLine!, template: n.template!, text: n.text!, ...(n.description !== undefined && { description: n.description }) }
    }),
    type,
    outputNode: output.name,
    tokens,
    export: exported,
    targetEngine,
    lines: Object.fromEntries([...[...pipeLevel].map(([k, d]) => [k, d.line] as const), ...(typeAt ? [['TYPE', typeAt.line] as const] : [])]),
    ...(description !== undefined && { description }),
    ...(datasource !== undefined && { datasource }),
    ...(targetDatasource !== undefined && { targetDatasource }),
    ...(copyMode !== undefined && { copyMode: copyMode as 'append' | 'replace' }),
    ...(copySchedule !== undefined && { copySchedule }),
    ...(cache !== undefined && { cache }),
    ...(deploymentMethod !== undefined && { deploymentMethod }),
    ...(version !== undefined && { version }),
    source: lines.map((l) => l.text).join('\n'),
    ...(included.length > 0 && { included }),
  }
}

// ---------------------------------------------------------------------------------------------------
// DDL

/** A plain identifier as is, anything else in backquotes. */
export function quoteIdentifier(name: string): string {
  return IDENT.test(name) ? name : '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`'
}

const NUMERIC = /^(U?Int(8|16|32|64|128|256)|Float(32|64)|Decimal)/

/** The ORDER BY expression: ENGINE_SORTING_KEY, or the default pick described in the header. */
export function sortingKey(ds: Datasource): string {
  if (ds.engine.sortingKey !== undefined) return ds.engine.sortingKey
  const usable = ds.columns.filter((c) => !/Nullable\(/.test(c.type))
  const base = (t: string) => t.replace(/^LowCardinality\((.*)\)$/, '$1')
  const pick =
    usable.find((c) => /^(DateTime|DateTime64|Date|Date32)\b/.test(base(c.type))) ??
    usable.find((c) => NUMERIC.test(base(c.type))) ??
    usable.find((c) => /^String$/.test(base(c.type)))
  return pick ? quoteIdentifier(pick.name) : 'tuple()'
}

function engineClause(ds: Datasource): string {
  const e = ds.engine
  if (e.type.includes('(')) return e.type
  switch (e.type) {
    case 'ReplacingMergeTree':
      return e.ver === undefined ? e.type : `ReplacingMergeTree(${e.ver}${e.isDeleted !== undefined ? `, ${e.isDeleted}` : ''})`
    case 'CollapsingMergeTree':
      return `CollapsingMergeTree(${e.sign})`
    case 'VersionedCollapsingMergeTree':
      return `VersionedCollapsingMergeTree(${e.sign}, ${e.version})`
    case 'SummingMergeTree':
      return e.summingColumns === undefined ? e.type : `SummingMergeTree((${e.summingColumns}))`
    default:
      return e.type
  }
}

/**
 * `CREATE TABLE IF NOT EXISTS <db>.<name> (...) ENGINE = ... PARTITION BY ... ORDER BY (...) PRIMARY KEY
 * ... TTL ... SETTINGS ...` as in TINYBIRD.md §2.5 (one column per line). JSONPaths are not DDL.
 */
export function datasourceDdl(ds: Datasource, database: string, table = ds.name): string {
  const cols = ds.columns.map(
    (c) => `  ${quoteIdentifier(c.name)} ${c.type}${c.default !== undefined ? ` DEFAULT ${c.default}` : ''}${c.codec !== undefined ? ` CODEC(${c.codec})` : ''}`,
  )
  const idx = ds.indexes.map((i) => `  INDEX ${quoteIdentifier(i.name)} ${i.expr} TYPE ${i.type} GRANULARITY ${i.granularity}`)
  const lines = [`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(table)} (`, [...cols, ...idx].join(',\n'), `) ENGINE = ${engineClause(ds)}`]
  if (!/^Null\b/.test(ds.engine.type)) {
    const e = ds.engine
    if (e.partitionKey !== undefined && e.partitionKey !== '') lines.push(`PARTITION BY ${e.partitionKey}`)
    const key = sortingKey(ds)
    lines.push(`ORDER BY ${key === 'tuple()' || /^\(.*\)$/.test(key) ? key : `(${key})`}`)
    if (e.primaryKey !== undefined) lines.push(`PRIMARY KEY ${/^\(.*\)$/.test(e.primaryKey) ? e.primaryKey : `(${e.primaryKey})`}`)
    if (e.ttl !== undefined) lines.push(`TTL ${e.ttl}`)
  }
  if (ds.engine.settings.length > 0) lines.push(`SETTINGS ${ds.engine.settings.map(([k, v]) => `${k} = ${v}`).join(', ')}`)
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------------
// JSON paths and row mapping

export type JsonPathStep = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' }

/** `$`, `$.a.b`, `$.a['b c']`, `$.a[0]`, `$.a[:]`, `$.a[:].b`. Throws with a reason. */
export function parseJsonPath(path: string): JsonPathStep[] {
  if (!path.startsWith('$')) throw new Error(`a json path starts with $, found ${JSON.stringify(path)}`)
  const steps: JsonPathStep[] = []
  let i = 1
  while (i < path.length) {
    const c = path[i]
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(path.slice(i + 1))
      if (!m) throw new Error(`expected a field name after "." at position ${i + 1} of ${JSON.stringify(path)}`)
      steps.push({ kind: 'key', key: m[0] })
      i += 1 + m[0].length
    } else if (c === '[') {
      const rest = path.slice(i)
      const m = /^\[(?::|\*|(-?\d+)|'([^']*)'|"([^"]*)")\]/.exec(rest)
      if (!m) throw new Error(`expected [:], [n] or ['key'] at position ${i} of ${JSON.stringify(path)}`)
      if (m[1] !== undefined) steps.push({ kind: 'index', index: Number(m[1]) })
      else if (m[2] !== undefined || m[3] !== undefined) steps.push({ kind: 'key', key: (m[2] ?? m[3])! })
      else steps.push({ kind: 'all' })
      i += m[0].length
    } else throw new Error(`unexpected ${JSON.stringify(c)} at position ${i} of json path ${JSON.stringify(path)}`)
  }
  return steps
}

const MISSING = Symbol('missing')

function walk(value: unknown, steps: readonly JsonPathStep[]): unknown {
  let v: unknown = value
  for (let s = 0; s < steps.length; s++) {
    const step = steps[s]!
    if (v === null || v === undefined) return MISSING
    if (step.kind === 'key') {
      if (typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, step.key)) return MISSING
      v = (v as Record<string, unknown>)[step.key]
    } else if (step.kind === 'index') {
      if (!Array.isArray(v)) return MISSING
      v = v[step.index < 0 ? v.length + step.index : step.index]
      if (v === undefined) return MISSING
    } else {
      if (!Array.isArray(v)) throw new Misfit('is not an array', v)
      const rest = steps.slice(s + 1)
      return v.map((e) => walk(e, rest)).filter((e) => e !== MISSING)
    }
  }
  return v === undefined ? MISSING : v
}

function unwrap(type: string, wrapper: string): string | undefined {
  const t = type.trim()
  return t.startsWith(`${wrapper}(`) && t.endsWith(')') ? t.slice(wrapper.length + 1, -1).trim() : undefined
}

class Misfit extends Error {
  constructor(
    message: string,
    /** The value that did not fit, when it is not the column's whole value. */
    readonly found?: unknown,
  ) {
    super(message)
  }
}

const INT_BITS = /^(U?)Int(8|16|32|64|128|256)$/

/** Converts a JSON value to what JSONEachRow accepts for `type`, leniently (numbers in strings are parsed). */
function convert(value: unknown, type: string): unknown {
  const t = type.trim()
  const inner = unwrap(t, 'Nullable')
  if (inner !== undefined) return value === null ? null : convert(value, inner)
  const lc = unwrap(t, 'LowCardinality')
  if (lc !== undefined) return convert(value, lc)
  const saf = unwrap(t, 'SimpleAggregateFunction')
  if (saf !== undefined) return convert(value, splitTopLevel(saf)[1] ?? 'String')
  if (value === null) throw new Misfit('is null')
  const arr = unwrap(t, 'Array')
  if (arr !== undefined) {
    if (!Array.isArray(value)) throw new Misfit('is not an array')
    return value.map((v) => convert(v, arr))
  }
  const int = INT_BITS.exec(t)
  if (int) {
    const text = typeof value === 'number' ? (Number.isInteger(value) ? BigInt(value).toString() : '') : typeof value === 'string' ? value.trim() : typeof value === 'boolean' ? (value ? '1' : '0') : ''
    if (!/^[+-]?\d+$/.test(text)) throw new Misfit('is not an integer')
    const n = BigInt(text)
    const bits = BigInt(int[2]!)
    const [lo, hi] = int[1] === 'U' ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n]
    if (n < lo || n > hi) throw new Misfit('is out of range')
    return bits <= 32n ? Number(n) : n.toString()
  }
  if (/^Float(32|64)$/.test(t) || /^Decimal/.test(t)) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && !/_/.test(value) ? Number(value) : NaN
    if (Number.isNaN(n) && !(typeof value === 'string' && /^[+-]?nan$/i.test(value.trim()))) throw new Misfit('is not a number')
    return /^Decimal/.test(t) && typeof value === 'string' ? value.trim() : n
  }
  if (t === 'Bool' || t === 'Boolean') {
    if (typeof value === 'boolean') return value
    if (value === 0 || value === 1) return value === 1
    if (typeof value === 'string' && /^(true|false|1|0)$/i.test(value.trim())) return /^(true|1)$/i.test(value.trim())
    throw new Misfit('is not a boolean')
  }
  if (/^(String|FixedString\(\d+\))$/.test(t)) {
    if (typeof value === 'string') return value
    if (typeof value === 'number' || typeof value === 'boolean') return String(value)
    return JSON.stringify(value)
  }
  if (/^(Date|Date32|DateTime|DateTime64)\b/.test(t)) {
    if (typeof value === 'number' && Number.isFinite(value)) return value
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value.trim())) return value.trim()
    if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return value.trim()
    throw new Misfit('is not a date')
  }
  if (t === 'UUID') {
    if (typeof value === 'string' && /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(value)) return value
    throw new Misfit('is not a UUID')
  }
  if (t === 'IPv4' || t === 'IPv6') {
    if (typeof value === 'string') return value
    if (t === 'IPv4' && typeof value === 'number' && Number.isInteger(value)) return value
    throw new Misfit(`is not an ${t} address`)
  }
  const map = unwrap(t, 'Map')
  if (map !== undefined) {
    if (typeof value !== 'object' || Array.isArray(value)) throw new Misfit('is not an object')
    const [, valueType] = splitTopLevel(map)
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, convert(v, valueType ?? 'String')]))
  }
  if (/^Enum(8|16)?\(/.test(t)) {
    const labels = [...t.matchAll(/'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const)
    if (typeof value === 'string' && labels.some(([l]) => l === value)) return value
    if (typeof value === 'number' && labels.some(([, n]) => n === value)) return value
    throw new Misfit('is not one of the enum values')
  }
  if (/^AggregateFunction\(/.test(t)) throw new Misfit('cannot be ingested into an AggregateFunction column')
  // JSON, Tuple, Nested, geo types and anything else: handed to ClickHouse as is.
  return value
}

export interface RowMisfit {
  readonly column: string
  /** Tinybird's quarantine wording: `value 'abc' on column 'duration_ms' is not UInt32`. */
  readonly message: string
}

export type MappedRow = { readonly ok: true; readonly row: Record<string, unknown> } | { readonly ok: false; readonly errors: readonly RowMisfit[] }

/** Compiled JSON paths of a datasource's columns, ready for `mapJsonRow`. */
export interface JsonMapping {
  readonly columns: readonly { readonly column: Column; readonly steps: readonly JsonPathStep[]; readonly raw: boolean }[]
}

export function jsonMapping(ds: Datasource): JsonMapping {
  return {
    columns: ds.columns.map((column) => {
      const path = column.jsonPath ?? `$.${column.name}`
      return { column, steps: column.jsonPath === undefined ? [{ kind: 'key', key: column.name }] : parseJsonPath(path), raw: path === '$' }
    }),
  }
}

/**
 * One JSON object to one row for JSONEachRow, by the columns' json paths. A missing field is left out
 * of the row, so ClickHouse fills the column's DEFAULT, or NULL for Nullable, or the type's zero value.
 * A value that cannot be converted makes the whole row a misfit with one message per column (for the
 * quarantine table's `c__error_column`/`c__error`). `$` stores the raw line (`raw`, or the object
 * serialized again). 64-bit and wider integers come out as strings, narrower ones as numbers.
 */
export function mapJsonRow(mapping: JsonMapping, value: unknown, raw?: string): MappedRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, errors: [{ column: '', message: 'the line is not a JSON object' }] }
  const row: Record<string, unknown> = {}
  const errors: RowMisfit[] = []
  for (const { column, steps, raw: whole } of mapping.columns) {
    let found: unknown
    try {
      found = whole ? (raw ?? JSON.stringify(value)) : walk(value, steps)
      if (found === MISSING) continue
      row[column.name] = convert(found, column.type)
    } catch (e) {
      if (!(e instanceof Misfit)) throw e
      const bad = e.found !== undefined ? e.found : found
      const shown = typeof bad === 'string' ? bad : JSON.stringify(bad)
      errors.push({ column: column.name, message: `value '${String(shown).slice(0, 100)}' on column '${column.name}' is not ${column.type}` })
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, row }
}

// ---------------------------------------------------------------------------------------------------
// Projects

export interface NodeDependency {
  readonly name: string
  readonly kind: 'node' | 'datasource' | 'pipe' | 'service'
}

export interface Project {
  readonly dir: string
  readonly datasources: ReadonlyMap<string, Datasource>
  readonly pipes: ReadonlyMap<string, Pipe>
  /** Per pipe, per node: what the node reads, resolved. */
  readonly dependencies: ReadonlyMap<string, ReadonlyMap<string, readonly NodeDependency[]>>
}

/** The configuration files of a Tinybird TypeScript SDK project, in the order the SDK looks for them. */
export const SDK_CONFIGS: readonly string[] = ['tinybird.config.json', 'tinybird.config.mjs', 'tinybird.config.cjs', 'tinybird.config.js', 'tinybird.json']

const SKIP_DIRS = new Set(['node_modules', '.git', 'fixtures', 'tests', '.tinyb', 'dist'])

function walkFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.')) continue
    const path = join(dir, entry)
    const st = statSync(path)
    if (st.isDirectory()) {
      if (!SKIP_DIRS.has(entry)) walkFiles(path, out)
    } else if (entry.endsWith('.datasource') || entry.endsWith('.pipe')) out.push(path)
  }
  return out
}

/** Resolves what each node of each pipe reads; throws a DatafileError at the line of an unknown name. */
export function resolveProject(dir: string, files: readonly Datafile[]): Project {
  const datasources = new Map<string, Datasource>()
  const pipes = new Map<string, Pipe>()
  const seen = new Map<string, Datafile>()
  for (const f of files) {
    const other = seen.get(f.name)
    if (other) throw new DatafileError(f.file, 0, `the name ${f.name} is already used by ${other.file}; names must be unique across the project`)
    seen.set(f.name, f)
    if (f.kind === 'datasource') datasources.set(f.name, f)
    else pipes.set(f.name, f)
  }
  const lineOf = (p: Pipe, key: string) => p.lines[key] ?? 0
  for (const p of pipes.values()) {
    if (p.type === 'materialized' && !datasources.has(p.datasource!)) throw errorAt(p, lineOf(p, 'DATASOURCE'), `DATASOURCE ${p.datasource} is not a datasource of this project; expected one of ${[...datasources.keys()].join(', ') || '(none)'}`)
    if (p.type === 'copy' && !datasources.has(p.targetDatasource!)) throw errorAt(p, lineOf(p, 'TARGET_DATASOURCE'), `TARGET_DATASOURCE ${p.targetDatasource} is not a datasource of this project; expected one of ${[...datasources.keys()].join(', ') || '(none)'}`)
  }
  const dependencies = new Map<string, Map<string, NodeDependency[]>>()
  for (const p of pipes.values()) {
    const perNode = new Map<string, NodeDependency[]>()
    p.nodes.forEach((node, index) => {
      if (node.template) {
        try {
          compileTemplate(node.text)
        } catch (e) {
          if (!(e instanceof TemplateError)) throw e
          throw errorAt(p, node.sqlLine + (e.line ?? 1) - 1, `node ${node.name}: ${e.message}`)
        }
      }
      const deps: NodeDependency[] = []
      for (const ref of sqlReferences(node.text)) {
        const earlier = p.nodes.slice(0, index).some((n) => n.name === ref.name)
        const kind: NodeDependency['kind'] | undefined = earlier
          ? 'node'
          : datasources.has(ref.name)
            ? 'datasource'
            : pipes.has(ref.name) && ref.name !== p.name
              ? 'pipe'
              : ref.name.startsWith('tinybird.')
                ? 'service'
                : undefined
        const line = node.sqlLine + lineAt(node.text, ref.offset)
        if (!kind) {
          const later = p.nodes.slice(index + 1).some((n) => n.name === ref.name)
          throw errorAt(p, line, later ? `node ${node.name} reads node ${ref.name}, which comes after it; a node can only read earlier nodes` : `node ${node.name} reads ${ref.name}, which is no node of this pipe, datasource or pipe of the project`)
        }
        if (kind === 'pipe' && pipes.get(ref.name)!.type !== 'default' && pipes.get(ref.name)!.type !== 'endpoint') throw errorAt(p, line, `node ${node.name} reads pipe ${ref.name}, which is a ${pipes.get(ref.name)!.type} pipe; only endpoint and plain pipes can be read`)
        if (!deps.some((d) => d.name === ref.name)) deps.push({ name: ref.name, kind })
      }
      perNode.set(node.name, deps)
    })
    dependencies.set(p.name, perNode)
  }
  const pipeCycle = findPipeCycle(pipes, dependencies)
  if (pipeCycle) throw new DatafileError(pipes.get(pipeCycle[0]!)!.file, 0, `pipes read each other in a cycle: ${pipeCycle.join(' -> ')}`)
  return { dir, datasources, pipes, dependencies }
}

function findPipeCycle(pipes: ReadonlyMap<string, Pipe>, deps: ReadonlyMap<string, ReadonlyMap<string, readonly NodeDependency[]>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name]
    state.set(name, 'visiting')
    stack.push(name)
    for (const nodeDeps of deps.get(name)?.values() ?? []) for (const d of nodeDeps) if (d.kind === 'pipe') {
      const c = visit(d.name)
      if (c) return c
    }
    stack.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const name of pipes.keys()) {
    const c = visit(name)
    if (c) return c
  }
  return undefined
}

/** Parses one datafile by extension; `read` finds the files its INCLUDEs name. */
export function parseDatafile(file: string, content: string, read?: IncludeReader): Datafile {
  if (file.endsWith('.datasource')) return parseDatasource(file, content, undefined, read)
  if (file.endsWith('.pipe')) return parsePipe(file, content, undefined, read)
  throw new DatafileError(file, 0, 'expected a .datasource or .pipe file')
}

/**
 * Every `*.datasource` and `*.pipe` under `dir` in any layout (Forward's datasources/, endpoints/,
 * materializations/, copies/, pipes/…, or Classic's flat folder); `fixtures/`, `tests/`, hidden folders
 * and node_modules are not searched. File names in errors are relative to `dir`.
 */
export function loadProject(dir: string): Project {
  let isDir: boolean
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    isDir = false
  }
  if (!isDir) throw new DatafileError(dir, 0, 'the project folder does not exist or is not a folder')
  const read: IncludeReader = (path, from) => {
    for (const candidate of [join(dir, dirname(from), path), join(dir, path)]) {
      try {
        return { file: relative(dir, candidate), content: readFileSync(candidate, 'utf8') }
      } catch {
        // not there: the next candidate
      }
    }
    return undefined
  }
  const files = walkFiles(dir).map((path) => {
    const rel = relative(dir, path)
    return parseDatafile(rel, readFileSync(path, 'utf8'), read)
  })
  if (files.length === 0) {
    // A Tinybird TypeScript SDK project keeps its resources in code: its SDK writes the datafiles.
    const sdk = SDK_CONFIGS.find((f) => existsSync(join(dir, f)))
    const hint = sdk ? ` (${sdk}: a TypeScript SDK project — sightline start, dev and test generate its datafiles with its own SDK; elsewhere run npx tinybird generate -o <folder> and load that folder)` : ''
    throw new DatafileError(dir, 0, `no .datasource or .pipe files found${hint}`)
  }
  return resolveProject(dir, files)
}

/**
 * Parses in-memory files (name → content) as a project, for tests and `sightline dev` reloads; INCLUDEd
 * files are among them (`.incl`), by their paths.
 */
export function projectFromFiles(files: Readonly<Record<string, string>>, dir = '.'): Project {
  const read: IncludeReader = (path, from) => {
    for (const file of [normalize(join(dirname(from), path)), normalize(path)]) {
      const content = files[file]
      if (content !== undefined) return { file, content }
    }
    return undefined
  }
  return resolveProject(dir, Object.entries(files).filter(([file]) => !file.endsWith('.incl')).map(([file, content]) => parseDatafile(file, content, read)))
}

export interface ComposeOptions {
  /**
   * The composed SQL of another pipe a node reads (`FROM other_pipe`), which becomes a CTE under that
   * pipe's name; undefined when the name is no pipe.
   */
  readonly otherPipe?: (name: string) => string | undefined
  /**
   * The SQL for a table a node reads that is neither a node nor a pipe (a datasource, `tinybird.*`),
   * e.g. `project.clicks`; undefined leaves the name as written.
   */
  readonly table?: (name: string) => string | undefined
}

/**
 * The SQL of a pipe's node with the nodes it reads as common table expressions, dependencies first:
 * `WITH a AS (…), b AS (…) <node SQL>`. A node SQL that starts with its own WITH gets ours merged into
 * it. `rendered` maps node names to their final SQL (templates already rendered). Other pipes become
 * CTEs too and table names can be qualified (see ComposeOptions); a materialized view needs qualified
 * names, since ClickHouse resolves them when the view is created.
 */
export function composeNodeSql(pipe: Pipe, node: string, rendered: (name: string) => string, options: ComposeOptions = {}): string {
  const order: string[] = []
  const bodies = new Map<string, string>()
  const strip = (sql: string) => sql.trim().replace(/;\s*$/, '')
  const visit = (name: string) => {
    if (bodies.has(name)) return
    let sql = rendered(name)
    const index = pipe.nodes.findIndex((n) => n.name === name)
    const replacements: { ref: SqlReference; text: string }[] = []
    for (const ref of sqlReferences(sql)) {
      if (pipe.nodes.slice(0, index).some((n) => n.name === ref.name)) {
        visit(ref.name)
        continue
      }
      const other = ref.name !== pipe.name && !pipe.nodes.some((n) => n.name === ref.name) ? options.otherPipe?.(ref.name) : undefined
      if (other !== undefined) {
        if (!bodies.has(ref.name)) {
          bodies.set(ref.name, other)
          order.push(ref.name)
        }
        continue
      }
      const table = options.table?.(ref.name)
      if (table !== undefined) replacements.push({ ref, text: hasAlias(sql, ref) ? table : `${table} AS ${quoteIdentifier(ref.name.split('.').pop()!)}` })
    }
    for (const { ref, text } of replacements.reverse()) sql = sql.slice(0, ref.offset) + text + sql.slice(ref.offset + ref.length)
    bodies.set(name, sql)
    order.push(name)
  }
  visit(node)
  order.pop()
  const main = strip(bodies.get(node)!)
  if (order.length === 0) return main
  const ctes = order.map((n) => `${quoteIdentifier(n)} AS (\n${strip(bodies.get(n)!)}\n)`).join(',\n')
  const withAt = /^((?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*)WITH\s/i.exec(main)
  if (withAt) return `${withAt[1]}WITH ${ctes},\n${main.slice(withAt[0].length)}`
  return `WITH ${ctes}\n${main}`
}

// ---------------------------------------------------------------------------------------------------
// Quarantine (TINYBIRD.md §7) and tokens

/**
 * `CREATE TABLE IF NOT EXISTS <db>.<ds>_quarantine`: the datasource's columns as Nullable(String)
 * (unverified exact type in Tinybird) plus `c__error_column`, `c__error`, `c__import_id`,
 * `insertion_date`, ordered by insertion_date.
 */
export function quarantineDdl(ds: Datasource, database: string): string {
  const cols = [
    ...ds.columns.map((c) => `  ${quoteIdentifier(c.name)} Nullable(String)`),
    '  c__error_column Array(String)',
    '  c__error Array(String)',
    '  c__import_id Nullable(String)',
    '  insertion_date DateTime',
  ]
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(`${ds.name}_quarantine`)} (\n${cols.join(',\n')}\n) ENGINE = MergeTree\nORDER BY insertion_date`
}

/**
 * The quarantine row for an object that did not fit: each column's raw value at its json path as text
 * (JSON text for objects and arrays, null when missing), the misfit columns and messages, the import id
 * and the time (`YYYY-MM-DD hh:mm:ss`, UTC).
 */
export function quarantineRow(mapping: JsonMapping, value: unknown, errors: readonly RowMisfit[], importId: string | null, at: Date, raw?: string): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value)
  for (const { column, steps, raw: whole } of mapping.columns) {
    let found: unknown = MISSING
    if (whole) found = raw ?? JSON.stringify(value)
    else if (isObject) {
      try {
        found = walk(value, steps)
      } catch (e) {
        if (!(e instanceof Misfit)) throw e
        found = e.found
      }
    }
    row[column.name] = found === MISSING || found === null || found === undefined ? null : typeof found === 'string' ? found : JSON.stringify(found)
  }
  row.c__error_column = errors.map((e) => e.column)
  row.c__error = errors.map((e) => e.message)
  row.c__import_id = importId
  row.insertion_date = at.toISOString().slice(0, 19).replace('T', ' ')
  return row
}

export interface ProjectToken {
  readonly name: string
  /** Tinybird scope strings: `PIPES:READ:<pipe>`, `DATASOURCES:READ:<ds>`, `DATASOURCES:APPEND:<ds>`. */
  readonly scopes: readonly string[]
  /** Where each scope comes from (`file:line`). */
  readonly sources: readonly string[]
}

/** Every `TOKEN` line of the project, grouped by token name (a name may appear in many files). */
export function projectTokens(project: Project): ProjectToken[] {
  const byName = new Map<string, { scopes: string[]; sources: string[] }>()
  const add = (t: TokenGrant, scope: string, file: string) => {
    const entry = byName.get(t.name) ?? { scopes: [], sources: [] }
    if (!entry.scopes.includes(scope)) entry.scopes.push(scope)
    entry.sources.push(`${file}:${t.line}`)
    byName.set(t.name, entry)
  }
  for (const ds of project.datasources.values()) for (const t of ds.tokens) add(t, `DATASOURCES:${t.scope}:${ds.name}`, ds.file)
  for (const p of project.pipes.values()) for (const t of p.tokens) add(t, `PIPES:READ:${p.name}`, p.file)
  return [...byName].map(([name, e]) => ({ name, scopes: e.scopes, sources: e.sources }))
}

export interface FixtureFile {
  readonly datasource: string
  /** Absolute path. */
  readonly path: string
  readonly format: 'ndjson' | 'csv'
}

/**
 * The fixture files of a loaded project (`fixtures/<datasource>.ndjson|.csv` anywhere under the
 * project folder, TINYBIRD.md §1.1). A fixture whose name is no datasource is a DatafileError.
 */
export function projectFixtures(project: Project): FixtureFile[] {
  const out: FixtureFile[] = []
  const visit = (dir: string, inFixtures: boolean) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith('.') || entry === 'node_modules') continue
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) visit(path, inFixtures || entry === 'fixtures')
      else if (inFixtures) {
        const m = /^(.+)\.(ndjson|csv)$/.exec(entry)
        if (!m) continue
        if (!project.datasources.has(m[1]!)) throw new DatafileError(relative(project.dir, path), 0, `fixture for ${m[1]}, which is no datasource of the project; expected one of ${[...project.datasources.keys()].join(', ')}`)
        out.push({ datasource: m[1]!, path, format: m[2] as 'ndjson' | 'csv' })
      }
    }
  }
  visit(project.dir, false)
  return out
}
