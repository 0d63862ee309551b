/**
 * Tinybird's SQL template language (`../shared/TINYBIRD.md` §4), reimplemented from the behaviour of
 * `tinybird/sql_template.py` [T1, T2]: `{{ expr }}`, `{% if/elif/else/end %}`, `{% for %}` (with break,
 * continue and else), `{% while %}`, `{% set %}`, `{% try/except/finally %}`, `{# comments #}`,
 * Tornado's `{{!`/`{%!`/`{#!` escapes, every typed parameter function (String, Int/Integer, Int8…Int256,
 * UInt8…UInt256, Float32/64, Boolean/bool, Date, DateTime, DateTime64, JSON, Array(x, 'T', default)),
 * `defined`, `column`, `columns`, `symbol`, `table`, `sql_and`, `sql_unescape`, `split_to_array`,
 * `enumerate_with_last`, `day_diff`, `date_diff_in_days/hours/minutes/seconds`, `error`, `custom_error`,
 * `max_threads`, `cache_ttl`, `backend_hint`, `activate`, `disable`, `tb_secret`, `tb_var`, plus the
 * Python builtins and string/list/dict methods templates use. Whitespace is kept exactly.
 *
 * Expressions are a small Python subset parsed into a tree and interpreted here: literals, names,
 * lists, tuples, dicts, calls (only the functions above, checked when the template is compiled),
 * allow-listed methods, indexing and slicing, arithmetic except `**`, comparisons (chained), `in`,
 * `is`, `and`/`or`/`not`, `x if c else y`. No eval, no `new Function`, no attribute access beyond the
 * allow-list, no imports; loops, ranges, repetition and output are capped.
 *
 * Injection-safe by construction. In `bind` mode (the default, for endpoint and copy requests) every
 * string a caller can influence reaches SQL as a ClickHouse query parameter `{pN:String}` whose value is
 * exactly what ClickHouse would have decoded from the literal Tinybird emits (so `%` arrives as `\%` and
 * 0x1A as `\z`, Tinybird's escaping quirks included, and `sql_unescape` undoes them the same way);
 * typed numbers are `{pN:Int32}`/`{pN:Float64}`… (Tinybird's `toInt32('5')` has the same type); only
 * values that passed a digits-only or float check (`Int()`, `Boolean`, numeric Array elements, loop
 * counters) and validated identifiers are written into the SQL text. `inline` mode renders exactly
 * Tinybird's text with Tinybird's escaping, for SQL that cannot carry parameters (materialized views).
 *
 * Where we differ from Tinybird, deliberately:
 * - `table(x)` accepts only `name` or `db.name` identifiers (Tinybird passes other text through
 *   unquoted); `columns(x, fn=…)` quotes the alias it emits and checks `fn` is a function name;
 *   `backend_hint`/`max_threads` never echo a caller's text into the SQL comment; `sql_unescape` whose
 *   result would not be one well-formed string literal is an error (Tinybird can emit broken SQL).
 * - Rendering a list emits an SQL array `[…]` of rendered elements (Tinybird emits Python's repr).
 * - A scalar typed function given repeated keys (a list) uses the first value.
 * - Validation errors name the parameter: `Error validating 'abc' to type Int32 (parameter limit)`;
 *   the "Required parameter" message lists only the typed parameters without default that were not
 *   supplied.
 * - The signature leaves out `{% set %}`/loop variables and Python builtins and includes `Int(x)`
 *   parameters (Tinybird's own signature omits them). `required` is the explicit `required=` flag.
 * - `custom_error(obj, code)` answers `code` (100-599, else 400) with `obj` as the body when it is a
 *   dict, else `{"error": str(obj)}` (TINYBIRD.md: unverified beyond the status).
 * - `tb_secret`/`tb_var` read the caller's `secrets`/`vars` maps (the server fills them from
 *   `SIGHTLINE_SECRET_<NAME>`/`SIGHTLINE_VAR_<NAME>`); a found value is a bound String parameter.
 *
 * Over 300 lines because it is one language: the lexer, the sandboxed expression grammar, the evaluator and
 * the built-in functions share one value model and one error type (with the parameter, pipe and line).
 */

// ---------------------------------------------------------------------------------------------------
// Errors

export interface TemplateErrorBody {
  readonly error: string
  readonly documentation?: string
  readonly [key: string]: unknown
}

/** A template failure: HTTP `status` (400 unless `custom_error` chose one) and Tinybird's body. */
export class TemplateError extends Error {
  override name = 'TemplateError'
  readonly status: number
  readonly body: TemplateErrorBody
  /** 1-based line in the template when known. */
  readonly line: number | undefined
  /** The parameter the error is about, when known. */
  readonly param: string | undefined
  /** The pipe and node whose template failed, when rendered through `pipeSql`. */
  readonly pipe: string | undefined
  readonly node: string | undefined
  constructor(message: string, options: { status?: number; body?: TemplateErrorBody; line?: number; param?: string; pipe?: string; node?: string } = {}) {
    super(message)
    this.status = options.status ?? 400
    this.body = options.body ?? { error: message }
    this.line = options.line
    this.param = options.param
    this.pipe = options.pipe
    this.node = options.node
  }

  /** The same error, located in a pipe's node. */
  at(pipe: string, node: string): TemplateError {
    return new TemplateError(this.message, { status: this.status, body: this.body, pipe, node, ...(this.line !== undefined && { line: this.line }), ...(this.param !== undefined && { param: this.param }) })
  }
}

const SYNTAX = 'Template Syntax Error: '
const DOCS = '/cli/advanced-templates.html'
function syntaxError(message: string, extra: { line?: number; param?: string; documentation?: string } = {}): TemplateError {
  const text = SYNTAX + message
  return new TemplateError(text, { body: { error: text, documentation: extra.documentation ?? DOCS }, ...(extra.line !== undefined && { line: extra.line }), ...(extra.param !== undefined && { param: extra.param }) })
}
export const REQUIRED_PARAM_NOT_DEFINED = 'Required parameter is not defined'

// ---------------------------------------------------------------------------------------------------
// Reserved names

/** `format` and `q` cannot be template variables at all [T1]. */
export const FORBIDDEN_VARIABLE_NAMES: readonly string[] = ['format', 'q']
/** Accepted as template variables but reserved by the server (a warning) [T1]. */
export const RESERVED_PARAM_NAMES: readonly string[] = [
  '__tb__semver', 'debug_source_tables', 'debug', 'explain', 'finalize_aggregations', 'output_format_json_quote_64bit_integers',
  'output_format_json_quote_denormals', 'output_format_parquet_string_as_string', 'pipeline', 'playground', 'q', 'query_id',
  'release_replacements', 'tag', 'template_parameters', 'token', 'job_timestamp',
]
/** Request parameters that never become template variables (§6.1). */
export const RESERVED_REQUEST_PARAMS: readonly string[] = [
  'token', 'from', 'q', 'format', 'output_format_json_quote_64bit_integers', 'output_format_json_quote_denormals',
  'output_format_parquet_string_as_string', 'pipeline', 'debug', 'explain', 'query_id', 'tag', 'playground',
  'finalize_aggregations', 'release_replacements', 'template_parameters', '__tb__semver', 'debug_source_tables',
]
const JOB_TIMESTAMP = 'job_timestamp'

/** Request parameters as template values: reserved names dropped, repeated keys as lists. */
export function requestParams(request: URLSearchParams): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {}
  for (const key of new Set(request.keys())) {
    if (RESERVED_REQUEST_PARAMS.includes(key)) continue
    const values = request.getAll(key)
    params[key] = values.length === 1 ? (values[0] as string) : values
  }
  return params
}

/** Python builtins: never template parameters (except `id`) [T1]. */
const PY_BUILTINS = new Set([
  'abs', 'aiter', 'all', 'anext', 'any', 'ascii', 'bin', 'bool', 'breakpoint', 'bytearray', 'bytes', 'callable', 'chr', 'classmethod',
  'compile', 'complex', 'copyright', 'credits', 'delattr', 'dict', 'dir', 'divmod', 'enumerate', 'eval', 'exec', 'exit', 'filter',
  'float', 'frozenset', 'getattr', 'globals', 'hasattr', 'hash', 'help', 'hex', 'input', 'int', 'isinstance', 'issubclass', 'iter',
  'len', 'license', 'list', 'locals', 'map', 'max', 'memoryview', 'min', 'next', 'object', 'oct', 'open', 'ord', 'pow', 'print',
  'property', 'quit', 'range', 'repr', 'reversed', 'round', 'set', 'setattr', 'slice', 'sorted', 'staticmethod', 'str', 'sum',
  'super', 'tuple', 'type', 'vars', 'zip', '__import__', '__build_class__', 'Exception', 'BaseException', 'ValueError', 'TypeError',
  'KeyError', 'IndexError', 'NameError', 'AttributeError', 'ZeroDivisionError', 'ArithmeticError', 'LookupError', 'RuntimeError',
])

// ---------------------------------------------------------------------------------------------------
// Values

class TypedInt {
  constructor(readonly value: bigint, readonly type: string) {}
}
class TypedFloat {
  constructor(readonly value: number, readonly type: string) {}
}
/** SQL text produced by a helper (Tinybird's Expression/Symbol): emitted as is. */
class Sql {
  constructor(readonly text: string) {}
}
/** Test-mode stand-in for an absent parameter (Tinybird's Placeholder). */
class Placeholder {
  constructor(readonly name: string) {}
}
type Py = null | boolean | bigint | number | string | Py[] | Map<Py, Py> | TypedInt | TypedFloat | Sql | Placeholder | PyFunction

type PyFunction = { readonly fn: string; readonly self?: Py }

const isList = (v: Py): v is Py[] => Array.isArray(v)
const isDict = (v: Py): v is Map<Py, Py> => v instanceof Map
const isFn = (v: Py): v is PyFunction => typeof v === 'object' && v !== null && 'fn' in v && !(v instanceof Map) && !Array.isArray(v)

function typeName(v: Py): string {
  if (v === null) return 'NoneType'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'bigint' || v instanceof TypedInt) return 'int'
  if (typeof v === 'number' || v instanceof TypedFloat) return 'float'
  if (typeof v === 'string' || v instanceof Sql) return 'str'
  if (isList(v)) return 'list'
  if (isDict(v)) return 'dict'
  if (v instanceof Placeholder) return 'Placeholder'
  return 'function'
}

/** Python's repr of a float. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0'
  const [mant, expText] = n.toExponential().split('e') as [string, string]
  const exp = Number(expText)
  const negative = mant.startsWith('-')
  const digits = mant.replace('-', '').replace('.', '')
  let out: string
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
      const frac = digits.slice(exp + 1)
      out = `${intPart}.${frac === '' ? '0' : frac}`
    } else out = `0.${'0'.repeat(-exp - 1)}${digits}`
  } else {
    out = `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  return negative ? `-${out}` : out
}

function pyRepr(v: Py): string {
  if (typeof v === 'string') return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  if (isList(v)) return `[${v.map(pyRepr).join(', ')}]`
  if (isDict(v)) return `{${[...v].map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`
  return pyStr(v)
}

/** Python's str(). */
function pyStr(v: Py): string {
  if (v === null) return 'None'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return pyFloatRepr(v)
  if (typeof v === 'string') return v
  if (v instanceof TypedInt) return `to${v.type}('${v.value}')`
  if (v instanceof TypedFloat) return `to${v.type}('${pyFloatRepr(v.value)}')`
  if (v instanceof Sql) return v.text
  if (v instanceof Placeholder) return '__no_value__'
  if (isList(v) || isDict(v)) return pyRepr(v)
  return `<function ${v.fn}>`
}

function truthy(v: Py): boolean {
  if (v === null) return false
  if (typeof v === 'boolean') return v
  if (typeof v === 'bigint') return v !== 0n
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v) ? true : Number.isNaN(v)
  if (typeof v === 'string') return v !== ''
  if (v instanceof TypedInt) return v.value !== 0n
  if (v instanceof TypedFloat) return v.value !== 0
  if (v instanceof Sql) return v.text !== ''
  if (isList(v)) return v.length > 0
  if (isDict(v)) return v.size > 0
  return true
}

/** A number view for arithmetic: bigint for ints and bools, number for floats; undefined otherwise. */
function num(v: Py): bigint | number | undefined {
  if (typeof v === 'boolean') return v ? 1n : 0n
  if (typeof v === 'bigint' || typeof v === 'number') return v
  if (v instanceof TypedInt) return v.value
  if (v instanceof TypedFloat) return v.value
  return undefined
}
const strOf = (v: Py): string | undefined => (typeof v === 'string' ? v : v instanceof Sql ? v.text : undefined)

function pyEquals(a: Py, b: Py): boolean {
  const na = num(a)
  const nb = num(b)
  if (na !== undefined && nb !== undefined) return typeof na === typeof nb ? na === nb : Number(na) === Number(nb)
  const sa = strOf(a)
  const sb = strOf(b)
  if (sa !== undefined || sb !== undefined) return sa === sb
  if (a === null || b === null) return a === b
  if (isList(a) && isList(b)) return a.length === b.length && a.every((x, i) => pyEquals(x, b[i]!))
  if (isDict(a) && isDict(b)) return a.size === b.size && [...a].every(([k, x]) => b.has(k) && pyEquals(x, b.get(k)!))
  return a === b
}

function pyCompare(a: Py, b: Py, op: string): number {
  const na = num(a)
  const nb = num(b)
  if (na !== undefined && nb !== undefined) {
    if (typeof na === typeof nb) return na < nb ? -1 : na > nb ? 1 : 0
    const x = Number(na)
    const y = Number(nb)
    return x < y ? -1 : x > y ? 1 : 0
  }
  const sa = strOf(a)
  const sb = strOf(b)
  if (sa !== undefined && sb !== undefined) return sa < sb ? -1 : sa > sb ? 1 : 0
  if (isList(a) && isList(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEquals(a[i]!, b[i]!)) return pyCompare(a[i]!, b[i]!, op)
    }
    return a.length - b.length
  }
  const hint = a instanceof Placeholder || b instanceof Placeholder ? '. If you are using a dynamic parameter, you need to wrap it around a valid Data Type (e.g. Int8(placeholder))' : ''
  throw new TemplateError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'${hint}`)
}

function fromJson(v: unknown): Py {
  if (v === null || v === undefined) return null
  if (typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v
  if (Array.isArray(v)) return v.map(fromJson)
  if (typeof v === 'object') return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJson(x)]))
  return null
}

function toJson(v: Py): unknown {
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof TypedInt) return Number(v.value)
  if (v instanceof TypedFloat) return v.value
  if (v instanceof Sql) return v.text
  if (isList(v)) return v.map(toJson)
  if (isDict(v)) return Object.fromEntries([...v].map(([k, x]) => [pyStr(k), toJson(x)]))
  if (v instanceof Placeholder || isFn(v)) return pyStr(v)
  return v
}

// ---------------------------------------------------------------------------------------------------
// Escaping (TINYBIRD.md §4.3) and ClickHouse's literal decoding

const STRING_ESCAPES: Record<string, string> = { '\0': '\\0', '\r': '\\r', '\b': '\\b', '\t': '\\t', '\x1a': '\\z', '\n': '\\n', '"': '\\"', "'": "\\'", '\\': '\\\\', '%': '\\%', '`': '\\`' }
const IDENT_ESCAPES: Record<string, string> = { ...STRING_ESCAPES, '"': '' }

const ESCAPED = new RegExp(`[${Object.keys(STRING_ESCAPES).map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}]`, 'g')

/** Tinybird's `sqlescape_for_string_expression`. */
export function escapeString(s: string): string {
  return s.replace(ESCAPED, (c) => STRING_ESCAPES[c]!)
}
/** Tinybird's `sqlescape` (identifiers): like escapeString but `"` is removed. */
export function escapeIdentifier(s: string): string {
  return s.replace(ESCAPED, (c) => IDENT_ESCAPES[c]!)
}

/**
 * The value ClickHouse reads from a quoted literal (`'…'` or `` `…` ``), by its rules: `\xHH`, `\N`
 * (nothing), `\a \b \e \f \n \r \t \v \0` control characters, a doubled quote, and for any other escaped
 * character the character itself, keeping the backslash unless it is one of `\ ' " \` / =` or a
 * control character. Returns undefined when `literal` is not exactly one well-formed literal.
 */
export function decodeClickHouseLiteral(literal: string): string | undefined {
  const q = literal[0]
  if ((q !== "'" && q !== '`') || literal.length < 2) return undefined
  let out = ''
  let i = 1
  while (i < literal.length) {
    const c = literal[i]!
    if (c === '\\') {
      const d = literal[i + 1]
      if (d === undefined) return undefined
      if (d === 'x' && /^[0-9a-fA-F]{2}$/.test(literal.slice(i + 2, i + 4))) {
        out += String.fromCharCode(parseInt(literal.slice(i + 2, i + 4), 16))
        i += 4
        continue
      }
      if (d === 'N') {
        i += 2
        continue
      }
      const decoded = ({ a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '0': '\0' } as Record<string, string>)[d] ?? d
      if (!['\\', "'", '"', '`', '/', '='].includes(decoded) && decoded.charCodeAt(0) > 31) out += '\\'
      out += decoded
      i += 2
    } else if (c === q) {
      if (literal[i + 1] === q) {
        out += q
        i += 2
      } else return i === literal.length - 1 ? out : undefined
    } else {
      out += c
      i++
    }
  }
  return undefined
}

/** What ClickHouse decodes from Tinybird's literal for `s`: `%` and 0x1A keep a backslash. */
function tinybirdStringValue(s: string): string {
  return s.replace(/%/g, '\\%').split(String.fromCharCode(0x1a)).join('\\z')
}

// ---------------------------------------------------------------------------------------------------
// Binding

/** Collects bound parameters; share one across the nodes of a pipe so names do not collide. */
export class Binder {
  readonly params: Record<string, string> = {}
  private next = 0
  constructor(readonly prefix = 'p') {}
  bind(value: string, type: string): string {
    const name = `${this.prefix}${this.next++}`
    this.params[name] = value
    return `{${name}:${type}}`
  }
}

// ---------------------------------------------------------------------------------------------------
// Template text → chunks

type Expr =
  | { k: 'const'; v: Py }
  | { k: 'name'; id: string; line: number }
  | { k: 'list'; items: Expr[] }
  | { k: 'tuple'; items: Expr[] }
  | { k: 'dict'; entries: [Expr, Expr][] }
  | { k: 'call'; fn: Expr; args: Expr[]; kwargs: [string, Expr][]; line: number }
  | { k: 'attr'; obj: Expr; attr: string; line: number }
  | { k: 'index'; obj: Expr; index: Expr }
  | { k: 'slice'; obj: Expr; lo?: Expr; hi?: Expr; step?: Expr }
  | { k: 'unary'; op: string; arg: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr; line: number }
  | { k: 'cmp'; first: Expr; rest: [string, Expr][]; line: number }
  | { k: 'bool'; op: 'and' | 'or'; l: Expr; r: Expr }
  | { k: 'ifexp'; cond: Expr; then: Expr; else: Expr }

type Target = { k: 'name'; id: string } | { k: 'tuple'; items: Target[] }

type Chunk =
  | { t: 'text'; text: string }
  | { t: 'expr'; expr: Expr; source: string; line: number }
  | { t: 'if'; branches: { cond: Expr | undefined; body: Chunk[] }[]; line: number }
  | { t: 'for'; target: Target; iter: Expr; body: Chunk[]; orelse: Chunk[]; line: number }
  | { t: 'while'; cond: Expr; body: Chunk[]; orelse: Chunk[]; line: number }
  | { t: 'try'; body: Chunk[]; handler: Chunk[] | undefined; as: string | undefined; final: Chunk[]; line: number }
  | { t: 'set'; target: Target; op: string; expr: Expr; line: number }
  | { t: 'break' | 'continue'; line: number }

const BLOCK_OPS = new Set(['if', 'for', 'while', 'try'])
const INTERMEDIATE: Record<string, string[]> = { else: ['if', 'for', 'while', 'try'], elif: ['if'], except: ['try'], finally: ['try'] }

interface Tag {
  kind: 'text' | 'expr' | 'stmt'
  text: string
  line: number
}

function lex(template: string): Tag[] {
  const tags: Tag[] = []
  let i = 0
  let line = 1
  let text = ''
  let textLine = 1
  const flush = () => {
    if (text !== '') tags.push({ kind: 'text', text, line: textLine })
    text = ''
  }
  while (i < template.length) {
    const two = template.slice(i, i + 2)
    if (two === '{{' || two === '{%' || two === '{#') {
      if (template[i + 2] === '!') {
        text += two
        i += 3
        continue
      }
      const close = two === '{{' ? '}}' : two === '{%' ? '%}' : '#}'
      const end = template.indexOf(close, i + 2)
      if (end < 0) throw new TemplateError(`Missing end ${two === '{{' ? 'expression' : two === '{%' ? 'block' : 'comment'} ${close} at line ${line}`, { line })
      flush()
      const inner = template.slice(i + 2, end)
      if (two === '{{') tags.push({ kind: 'expr', text: inner.trim(), line })
      else if (two === '{%') tags.push({ kind: 'stmt', text: inner.trim(), line })
      for (const c of template.slice(i, end + 2)) if (c === '\n') line++
      i = end + 2
      textLine = line
      continue
    }
    if (text === '') textLine = line
    const c = template[i]!
    if (c === '\n') line++
    text += c
    i++
  }
  flush()
  return tags
}

function parseChunks(tags: Tag[]): Chunk[] {
  let at = 0
  const parseBody = (opener: { op: string; line: number } | undefined): { body: Chunk[]; stop: { op: string; rest: string; line: number } | undefined } => {
    const body: Chunk[] = []
    while (at < tags.length) {
      const tag = tags[at++]!
      if (tag.kind === 'text') {
        body.push({ t: 'text', text: tag.text })
        continue
      }
      if (tag.kind === 'expr') {
        if (tag.text === '') throw new TemplateError(`Empty expression at line ${tag.line}`, { line: tag.line })
        body.push({ t: 'expr', expr: parseExpression(tag.text, tag.line), source: tag.text, line: tag.line })
        continue
      }
      const m = /^([A-Za-z_]+)\s*([\s\S]*)$/.exec(tag.text)
      if (!m) throw new TemplateError(`Empty or invalid block tag {% ${tag.text} %} at line ${tag.line}`, { line: tag.line })
      const op = m[1]!
      const rest = m[2]!.trim()
      if (op === 'end' || op in INTERMEDIATE) {
        if (op === 'end') {
          if (!opener) throw new TemplateError(`Extra {% end %} block at line ${tag.line}`, { line: tag.line })
          return { body, stop: { op, rest, line: tag.line } }
        }
        if (!opener || !INTERMEDIATE[op]!.includes(opener.op)) throw new TemplateError(`${op} outside ${INTERMEDIATE[op]!.join(', ')} block at line ${tag.line}`, { line: tag.line })
        return { body, stop: { op, rest, line: tag.line } }
      }
      if (op === 'endif' || op === 'endfor' || op === 'endwhile') throw new TemplateError(`{% ${op} %} is not template syntax; close blocks with {% end %} (line ${tag.line})`, { line: tag.line })
      if (op === 'import' || op === 'from') throw new TemplateError(`import is forbidden at <string>:${tag.line}`, { line: tag.line })
      if (op === 'comment') continue
      if (op === 'break' || op === 'continue') {
        body.push({ t: op, line: tag.line })
        continue
      }
      if (op === 'set') {
        body.push(parseSet(rest, tag.line))
        continue
      }
      if (!BLOCK_OPS.has(op)) throw new TemplateError(`unknown operator: ${JSON.stringify(op)} at line ${tag.line}`, { line: tag.line })
      const line = tag.line
      const closeOf = (stop: { op: string } | undefined) => {
        if (!stop) throw new TemplateError(`Missing {% end %} block for ${op} at line ${line}`, { line })
      }
      if (op === 'if') {
        const branches: { cond: Expr | undefined; body: Chunk[] }[] = []
        let cond: Expr | undefined = parseExpression(requireArg(rest, op, line), line)
        for (;;) {
          const { body: b, stop } = parseBody({ op, line })
          closeOf(stop)
          branches.push({ cond, body: b })
          if (stop!.op === 'end') break
          if (stop!.op === 'elif') cond = parseExpression(requireArg(stop!.rest, 'elif', stop!.line), stop!.line)
          else if (stop!.op === 'else') {
            if (cond === undefined) throw new TemplateError(`else after else at line ${stop!.line}`, { line: stop!.line })
            cond = undefined
          } else throw new TemplateError(`${stop!.op} outside try block at line ${stop!.line}`, { line: stop!.line })
        }
        body.push({ t: 'if', branches, line })
      } else if (op === 'for' || op === 'while') {
        let target: Target | undefined
        let iter: Expr
        if (op === 'for') {
          const fm = /^([\s\S]+?)\s+in\s+([\s\S]+)$/.exec(rest)
          if (!fm) throw new TemplateError(`expected {% for name in expression %} at line ${line}`, { line })
          target = parseTarget(fm[1]!, line)
          iter = parseExpression(fm[2]!, line)
        } else iter = parseExpression(requireArg(rest, op, line), line)
        const first = parseBody({ op, line })
        closeOf(first.stop)
        let orelse: Chunk[] = []
        if (first.stop!.op === 'else') {
          const second = parseBody({ op: `${op}-else`, line })
          closeOf(second.stop)
          if (second.stop!.op !== 'end') throw new TemplateError(`${second.stop!.op} outside if block at line ${second.stop!.line}`, { line: second.stop!.line })
          orelse = second.body
        } else if (first.stop!.op !== 'end') throw new TemplateError(`${first.stop!.op} outside if block at line ${first.stop!.line}`, { line: first.stop!.line })
        body.push(op === 'for' ? { t: 'for', target: target!, iter, body: first.body, orelse, line } : { t: 'while', cond: iter, body: first.body, orelse, line })
      } else {
        const main = parseBody({ op, line })
        closeOf(main.stop)
        let handler: Chunk[] | undefined
        let as: string | undefined
        let final: Chunk[] = []
        let stop = main.stop!
        while (stop.op !== 'end') {
          const part = parseBody({ op, line })
          closeOf(part.stop)
          if (stop.op === 'except') {
            handler = part.body
            const am = /\bas\s+([A-Za-z_][A-Za-z0-9_]*)$/.exec(stop.rest)
            as = am?.[1]
          } else if (stop.op === 'finally') final = part.body
          else if (stop.op === 'else') throw new TemplateError(`try/else is not supported (line ${stop.line})`, { line: stop.line })
          stop = part.stop!
        }
        body.push({ t: 'try', body: main.body, handler, as, final, line })
      }
    }
    return { body, stop: undefined }
  }
  const { body } = parseBody(undefined)
  return body
}

function requireArg(rest: string, op: string, line: number): string {
  if (rest === '') throw new TemplateError(`${op} needs an expression at line ${line}`, { line })
  return rest
}

function parseTarget(text: string, line: number): Target {
  const t = text.trim().replace(/^\((.*)\)$/, '$1')
  const parts = t.split(',').map((p) => p.trim())
  const one = (p: string): Target => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) throw new TemplateError(`expected a variable name, found ${JSON.stringify(p)} at line ${line}`, { line })
    return { k: 'name', id: p }
  }
  return parts.length === 1 ? one(parts[0]!) : { k: 'tuple', items: parts.filter((p) => p !== '').map(one) }
}

function parseSet(rest: string, line: number): Chunk {
  const m = /^([A-Za-z_][A-Za-z0-9_\s,()]*?)\s*(\+=|-=|\*=|=)(?!=)\s*([\s\S]+)$/.exec(rest)
  if (!m) throw new TemplateError(`expected {% set name = expression %} at line ${line}`, { line })
  return { t: 'set', target: parseTarget(m[1]!, line), op: m[2]!, expr: parseExpression(m[3]!, line), line }
}

// ---------------------------------------------------------------------------------------------------
// Expressions: tokens and a precedence-climbing parser

type Tok = { k: 'num' | 'str' | 'name' | 'op' | 'end'; v: string; value?: Py }

const OPS = ['**', '//', '==', '!=', '<=', '>=', '+=', '-=', '(', ')', '[', ']', '{', '}', ',', ':', '.', '+', '-', '*', '/', '%', '<', '>', '=', '~', '&', '|', '^', '@', ';']

function tokenizeExpr(src: string, line: number): Tok[] {
  const toks: Tok[] = []
  let i = 0
  const fail = (msg: string): never => {
    throw new TemplateError(`${msg} in expression ${JSON.stringify(src.slice(0, 60))} at line ${line}`, { line })
  }
  while (i < src.length) {
    const c = src[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    const sm = /^([rRbBuUfF]{0,2})('|")/.exec(src.slice(i))
    if (sm && (sm[1] === '' || /^[rRuU]$/.test(sm[1]!))) {
      const raw = /r/i.test(sm[1]!)
      const q = sm[2]!
      if (src.startsWith(q.repeat(3), i + sm[1]!.length)) fail('triple-quoted strings are not supported')
      let j = i + sm[0].length
      let s = ''
      for (;;) {
        if (j >= src.length) fail('unterminated string')
        const d = src[j]!
        if (d === q) break
        if (d === '\\' && !raw) {
          const e = src[j + 1] ?? ''
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"', b: '\b', f: '\f', v: '\v', a: '\x07', '\n': '' }
          if (e in simple) {
            s += simple[e]
            j += 2
          } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(src.slice(j + 2, j + 4))) {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 4), 16))
            j += 4
          } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(j + 2, j + 6))) {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16))
            j += 6
          } else {
            s += '\\' + e
            j += 2
          }
        } else {
          s += d
          j++
        }
      }
      toks.push({ k: 'str', v: s, value: s })
      i = j + 1
      continue
    }
    if (sm && /f/i.test(sm[1]!)) fail('f-strings are not supported')
    const nm = /^(\d[\d_]*\.?[\d_]*([eE][+-]?\d+)?|\.\d[\d_]*([eE][+-]?\d+)?)/.exec(src.slice(i))
    if (nm) {
      const text = nm[0].replace(/_/g, '')
      const isFloat = /[.eE]/.test(text)
      toks.push({ k: 'num', v: text, value: isFloat ? Number(text) : BigInt(text) })
      i += nm[0].length
      continue
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))
    if (id) {
      toks.push({ k: 'name', v: id[0] })
      i += id[0].length
      continue
    }
    const op = OPS.find((o) => src.startsWith(o, i))
    if (!op) fail(`unexpected character ${JSON.stringify(c)}`)
    toks.push({ k: 'op', v: op! })
    i += op!.length
  }
  toks.push({ k: 'end', v: '' })
  return toks
}

const MAX_DEPTH = 64

function parseExpression(src: string, line: number): Expr {
  const toks = tokenizeExpr(src, line)
  let at = 0
  let depth = 0
  const peek = () => toks[at]!
  const isOp = (v: string, t = peek()) => t.k === 'op' && t.v === v
  const isKw = (v: string, t = peek()) => t.k === 'name' && t.v === v
  const fail = (msg: string): never => {
    throw new TemplateError(`invalid syntax: ${msg} in ${JSON.stringify(src.slice(0, 60))} at line ${line}`, { line })
  }
  const expect = (v: string) => {
    if (!isOp(v)) fail(`expected "${v}" but found ${peek().k === 'end' ? 'the end' : JSON.stringify(peek().v)}`)
    at++
  }
  const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'lambda', 'for', 'None', 'True', 'False', 'import', 'from', 'as', 'yield', 'await', 'del', 'global', 'nonlocal', 'def', 'class', 'return', 'with', 'assert', 'raise', 'while', 'pass', 'try', 'except', 'finally', 'elif', 'break', 'continue', 'async'])

  function ternary(): Expr {
    if (++depth > MAX_DEPTH) fail('the expression is nested too deeply')
    if (isKw('lambda')) fail('lambda is not supported')
    const e = or()
    if (isKw('if')) {
      at++
      const cond = or()
      if (!isKw('else')) fail('expected "else" in a conditional expression')
      at++
      const other = ternary()
      depth--
      return { k: 'ifexp', cond, then: e, else: other }
    }
    depth--
    return e
  }
  function or(): Expr {
    let l = and()
    while (isKw('or')) {
      at++
      l = { k: 'bool', op: 'or', l, r: and() }
    }
    return l
  }
  function and(): Expr {
    let l = not()
    while (isKw('and')) {
      at++
      l = { k: 'bool', op: 'and', l, r: not() }
    }
    return l
  }
  function not(): Expr {
    if (isKw('not')) {
      at++
      return { k: 'unary', op: 'not', arg: not() }
    }
    return comparison()
  }
  function comparison(): Expr {
    const first = arith()
    const rest: [string, Expr][] = []
    for (;;) {
      const t = peek()
      let op: string | undefined
      if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        op = t.v
        at++
      } else if (isKw('in')) {
        op = 'in'
        at++
      } else if (isKw('not') && isKw('in', toks[at + 1])) {
        op = 'not in'
        at += 2
      } else if (isKw('is')) {
        at++
        if (isKw('not')) {
          at++
          op = 'is not'
        } else op = 'is'
      }
      if (!op) break
      rest.push([op, arith()])
    }
    return rest.length === 0 ? first : { k: 'cmp', first, rest, line }
  }
  function arith(): Expr {
    let l = term()
    while (isOp('+') || isOp('-')) {
      const op = peek().v
      at++
      l = { k: 'bin', op, l, r: term(), line }
    }
    return l
  }
  function term(): Expr {
    let l = unary()
    while (isOp('*') || isOp('/') || isOp('//') || isOp('%')) {
      const op = peek().v
      at++
      l = { k: 'bin', op, l, r: unary(), line }
    }
    return l
  }
  function unary(): Expr {
    if (isOp('-') || isOp('+')) {
      const op = peek().v
      at++
      return { k: 'unary', op, arg: unary() }
    }
    if (isOp('~')) fail('"~" is not supported')
    const base = postfix()
    if (isOp('**')) throw syntaxError('Invalid BinOp: Pow()', { line })
    return base
  }
  function postfix(): Expr {
    let e = atom()
    for (;;) {
      if (isOp('(')) {
        at++
        const args: Expr[] = []
        const kwargs: [string, Expr][] = []
        while (!isOp(')')) {
          if (isOp('*') || isOp('**')) fail('*args and **kwargs are not supported')
          if (peek().k === 'name' && isOp('=', toks[at + 1])) {
            const key = peek().v
            at += 2
            kwargs.push([key, ternary()])
          } else {
            if (kwargs.length > 0) fail('positional argument follows keyword argument')
            args.push(ternary())
          }
          if (!isOp(',')) break
          at++
        }
        expect(')')
        e = { k: 'call', fn: e, args, kwargs, line }
      } else if (isOp('[')) {
        at++
        let lo: Expr | undefined
        if (!isOp(':')) lo = ternary()
        if (isOp(':')) {
          at++
          const hi = isOp(']') || isOp(':') ? undefined : ternary()
          let step: Expr | undefined
          if (isOp(':')) {
            at++
            if (!isOp(']')) step = ternary()
          }
          expect(']')
          e = { k: 'slice', obj: e, ...(lo && { lo }), ...(hi && { hi }), ...(step && { step }) }
        } else {
          expect(']')
          e = { k: 'index', obj: e, index: lo! }
        }
      } else if (isOp('.')) {
        at++
        const t = peek()
        if (t.k !== 'name') fail('expected a method name after "."')
        if (t.v.startsWith('_')) fail(`attribute ${JSON.stringify(t.v)} is not accessible`)
        at++
        e = { k: 'attr', obj: e, attr: t.v, line }
      } else return e
    }
  }
  function atom(): Expr {
    const t = peek()
    if (t.k === 'num' || t.k === 'str') {
      at++
      if (t.k === 'str') {
        let s = t.v
        while (peek().k === 'str') s += toks[at++]!.v
        return { k: 'const', v: s }
      }
      return { k: 'const', v: t.value! }
    }
    if (t.k === 'name') {
      if (t.v === 'None' || t.v === 'True' || t.v === 'False') {
        at++
        return { k: 'const', v: t.v === 'None' ? null : t.v === 'True' }
      }
      if (KEYWORDS.has(t.v)) fail(`unexpected keyword ${JSON.stringify(t.v)}`)
      if (t.v.startsWith('__')) fail(`name ${JSON.stringify(t.v)} is not accessible`)
      at++
      return { k: 'name', id: t.v, line }
    }
    if (isOp('(')) {
      at++
      if (isOp(')')) {
        at++
        return { k: 'tuple', items: [] }
      }
      const first = ternary()
      if (isKw('for')) fail('comprehensions are not supported')
      if (!isOp(',')) {
        expect(')')
        return first
      }
      const items = [first]
      while (isOp(',')) {
        at++
        if (isOp(')')) break
        items.push(ternary())
      }
      expect(')')
      return { k: 'tuple', items }
    }
    if (isOp('[')) {
      at++
      const items: Expr[] = []
      while (!isOp(']')) {
        items.push(ternary())
        if (isKw('for')) fail('comprehensions are not supported')
        if (!isOp(',')) break
        at++
      }
      expect(']')
      return { k: 'list', items }
    }
    if (isOp('{')) {
      at++
      const entries: [Expr, Expr][] = []
      while (!isOp('}')) {
        const key = ternary()
        if (!isOp(':')) fail('set literals are not supported; a nested {{ }} inside {% %} is not template syntax')
        at++
        entries.push([key, ternary()])
        if (!isOp(',')) break
        at++
      }
      expect('}')
      return { k: 'dict', entries }
    }
    return fail(t.k === 'end' ? 'unexpected end of expression' : `unexpected ${JSON.stringify(t.v)}`)
  }
  const e = ternary()
  if (peek().k !== 'end') fail(`unexpected ${JSON.stringify(peek().v)}`)
  return e
}

// ---------------------------------------------------------------------------------------------------
// Functions

const INT_TYPES: Record<string, [bigint, bigint, boolean]> = {}
for (const bits of [8, 16, 32, 64, 128, 256]) {
  const b = BigInt(bits)
  INT_TYPES[`Int${bits}`] = [-(2n ** (b - 1n)), 2n ** (b - 1n), false]
  INT_TYPES[`UInt${bits}`] = [0n, 2n ** b, bits >= 128]
}
const FLOAT_TYPES = new Set(['Float32', 'Float64'])
const SCALAR_TYPES = ['String', 'Boolean', 'bool', 'DateTime64', 'DateTime', 'Date', 'Float32', 'Float64', 'Int', 'Integer', ...Object.keys(INT_TYPES), 'JSON']
const TYPED_FUNCTIONS = new Set([...SCALAR_TYPES, 'Array'])

const HELPERS = new Set([
  'defined', 'column', 'columns', 'symbol', 'Symbol', 'Column', 'table', 'TABLE', 'sql_and', 'sql_unescape', 'split_to_array', 'enumerate_with_last',
  'day_diff', 'date_diff_in_days', 'date_diff_in_hours', 'date_diff_in_minutes', 'date_diff_in_seconds', 'error', 'custom_error',
  'max_threads', 'cache_ttl', 'backend_hint', 'activate', 'disable', 'tb_secret', 'tb_var',
])
const BUILTIN_CALLS = new Set(['len', 'sum', 'range', 'enumerate', 'int', 'str', 'float', 'bool', 'max', 'min', 'abs', 'round', 'list', 'tuple', 'sorted', 'reversed', 'any', 'all', 'zip', 'dict', 'repr', 'isinstance'])
const FUNCTIONS = new Set([...TYPED_FUNCTIONS, ...HELPERS, ...BUILTIN_CALLS])

const METHODS: Record<string, readonly string[]> = {
  str: ['split', 'join', 'lower', 'upper', 'strip', 'lstrip', 'rstrip', 'startswith', 'endswith', 'replace', 'isdigit', 'isnumeric', 'isalpha', 'isalnum', 'title', 'capitalize', 'find', 'count', 'index', 'zfill'],
  list: ['index', 'count', 'append', 'extend'],
  dict: ['get', 'keys', 'values', 'items'],
}

const testers: Record<string, (x: string) => boolean> = {
  Date: (x) => /^\d\d\d\d-\d\d-\d\d\n?$/.test(x),
  DateTime: (x) => /^(\d\d\d\d.\d\d.\d\d(T|\s)\d\d:\d\d:\d\d|\d\d.\d\d.\d\d\d\d.\d{1,2}:\d{1,2}:\d{1,2})/.test(x),
  DateTime64: (x) => /^(\d\d\d\d.\d\d.\d\d(T|\s)\d\d:\d\d:\d\d.\d\d\d|\d\d.\d\d.\d\d\d\d.\d{1,2}:\d{1,2}:\d{1,2}.\d{1,3})/.test(x),
  Float32: (x) => !x.includes('_') && pyFloat(x) !== undefined,
  Float64: (x) => !x.includes('_') && pyFloat(x) !== undefined,
}
for (const [type, [lo, hi, signedSyntax]] of Object.entries(INT_TYPES)) {
  const re = type.startsWith('U') && !signedSyntax ? /^\d+\n?$/ : /^[+-]?\d+\n?$/
  testers[type] = (x) => re.test(x) && BigInt(x.trim()) >= lo && BigInt(x.trim()) < hi
}

/** Python's float(): undefined when it would raise. */
function pyFloat(x: string): number | undefined {
  const t = x.trim()
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity
  if (/^[+-]?nan$/i.test(t)) return NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined
  return Number(t)
}

// strptime, for the date_diff_* helpers: %Y %m %d %H %M %S %f %y %b %B %z %Z %% and literals, case-insensitive.
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const LONG_MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']
function strptime(text: string, format: string): number {
  let re = ''
  const fields: string[] = []
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!
    if (c === '%') {
      const d = format[++i]
      const part: Record<string, string> = { Y: '(\\d{4})', m: '(\\d{1,2})', d: '(\\d{1,2})', H: '(\\d{1,2})', M: '(\\d{1,2})', S: '(\\d{1,2})', f: '(\\d{1,6})', y: '(\\d{2})', b: '([a-z]{3})', B: '([a-z]+)', z: '([+-]\\d{2}:?\\d{2}|z)?', Z: '(utc|gmt)?', '%': '%' }
      if (d === undefined || !(d in part)) throw new Error(`unsupported directive %${d}`)
      re += part[d]
      if (d !== '%') fields.push(d)
    } else if (/\s/.test(c)) re += '\\s+'
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }
  const m = new RegExp(`^${re}$`, 'i').exec(text)
  if (!m) throw new Error('no match')
  const v: Record<string, string> = {}
  fields.forEach((f, i) => (v[f] = m[i + 1] ?? ''))
  const year = v.Y !== undefined ? Number(v.Y) : v.y !== undefined ? 2000 + Number(v.y) - (Number(v.y) >= 69 ? 100 : 0) : 1900
  const month = v.m !== undefined ? Number(v.m) : v.b !== undefined ? MONTHS.indexOf(v.b.toLowerCase()) + 1 : v.B !== undefined ? LONG_MONTHS.indexOf(v.B.toLowerCase()) + 1 : 1
  const day = v.d !== undefined ? Number(v.d) : 1
  const [h, mi, s] = [Number(v.H ?? 0), Number(v.M ?? 0), Number(v.S ?? 0)]
  const micro = v.f !== undefined ? Number(v.f.padEnd(6, '0')) : 0
  if (!(month >= 1 && month <= 12) || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate() || h > 23 || mi > 59 || s > 61) throw new Error('out of range')
  let ms = Date.UTC(year, month - 1, day, h, mi, s) + micro / 1000
  if (year < 100) ms = new Date(ms).setUTCFullYear(year)
  if (v.z && v.z.toLowerCase() !== 'z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(v.z)!
    ms -= (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3])) * 60_000
  }
  return ms
}

// ---------------------------------------------------------------------------------------------------
// Compile: chunks + checks + signature

export interface TemplateParam {
  readonly name: string
  /** `String`, `Int32`, `DateTime`, `Array(Int32)`, `JSON`, `Boolean`, … Untyped variables are `String`. */
  readonly type: string
  /** The default as written in the template (a number, string, boolean or list), if any. */
  readonly default?: string | number | boolean | readonly (string | number)[]
  /** The explicit `required=` flag (metadata; Tinybird does not enforce it). */
  readonly required: boolean
  readonly description?: string
  readonly example?: string
  readonly enum?: readonly string[]
  readonly format?: string
  /** True when the name only appears untyped (`{{x}}`, `defined(x)`, `{% if x %}`). */
  readonly untyped: boolean
  /** First line (in the template) where the parameter appears. */
  readonly line: number
}

export interface CompiledTemplate {
  readonly source: string
  readonly chunks: readonly Chunk[]
  readonly params: readonly TemplateParam[]
  /** Reserved names used as parameters (Tinybird accepts them with a warning). */
  readonly warnings: readonly string[]
  /** Parameters used as `Array(name, 'Type')`, with their element type, for preprocessing. */
  readonly arrays: ReadonlyMap<string, string>
  /** Names assigned by `{% set %}`, `{% for %}` or `except … as`. */
  readonly locals: ReadonlySet<string>
}

function literalOf(e: Expr | undefined): Py | undefined {
  if (!e) return undefined
  if (e.k === 'const') return e.v
  if (e.k === 'unary' && e.op === '-' && e.arg.k === 'const' && (typeof e.arg.v === 'bigint' || typeof e.arg.v === 'number')) return typeof e.arg.v === 'bigint' ? -e.arg.v : -e.arg.v
  if (e.k === 'list') {
    const items = e.items.map(literalOf)
    return items.every((x) => x !== undefined) ? (items as Py[]) : undefined
  }
  return undefined
}

function metaValue(v: Py | undefined): string | number | boolean | (string | number)[] | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v
  if (isList(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : pyStr(x)))
  return undefined
}

function walkExpr(e: Expr, visit: (e: Expr, parent: Expr | undefined) => void, parent?: Expr): void {
  visit(e, parent)
  const sub = (x: Expr | undefined) => x && walkExpr(x, visit, e)
  switch (e.k) {
    case 'list':
    case 'tuple':
      e.items.forEach(sub)
      break
    case 'dict':
      e.entries.forEach(([a, b]) => (sub(a), sub(b)))
      break
    case 'call':
      sub(e.fn)
      e.args.forEach(sub)
      e.kwargs.forEach(([, x]) => sub(x))
      break
    case 'attr':
      sub(e.obj)
      break
    case 'index':
      sub(e.obj)
      sub(e.index)
      break
    case 'slice':
      sub(e.obj)
      sub(e.lo)
      sub(e.hi)
      sub(e.step)
      break
    case 'unary':
      sub(e.arg)
      break
    case 'bin':
    case 'bool':
      sub(e.l)
      sub(e.r)
      break
    case 'cmp':
      sub(e.first)
      e.rest.forEach(([, x]) => sub(x))
      break
    case 'ifexp':
      sub(e.cond)
      sub(e.then)
      sub(e.else)
      break
    default:
  }
}

function walkChunks(chunks: readonly Chunk[], onExpr: (e: Expr, line: number) => void, onTarget: (t: Target) => void): void {
  for (const c of chunks) {
    switch (c.t) {
      case 'expr':
        onExpr(c.expr, c.line)
        break
      case 'if':
        for (const b of c.branches) {
          if (b.cond) onExpr(b.cond, c.line)
          walkChunks(b.body, onExpr, onTarget)
        }
        break
      case 'for':
        onTarget(c.target)
        onExpr(c.iter, c.line)
        walkChunks(c.body, onExpr, onTarget)
        walkChunks(c.orelse, onExpr, onTarget)
        break
      case 'while':
        onExpr(c.cond, c.line)
        walkChunks(c.body, onExpr, onTarget)
        walkChunks(c.orelse, onExpr, onTarget)
        break
      case 'try':
        walkChunks(c.body, onExpr, onTarget)
        if (c.as) onTarget({ k: 'name', id: c.as })
        walkChunks(c.handler ?? [], onExpr, onTarget)
        walkChunks(c.final, onExpr, onTarget)
        break
      case 'set':
        onTarget(c.target)
        onExpr(c.expr, c.line)
        break
      default:
    }
  }
}

const compiledCache = new Map<string, CompiledTemplate>()

/**
 * Parses a template (the text after a node's `%`) and checks it: syntax, unknown functions, `format`/`q`
 * as variables, `**`, imports. Throws TemplateError (400) naming the line. Results are cached by text.
 */
export function compileTemplate(source: string): CompiledTemplate {
  const cached = compiledCache.get(source)
  if (cached) return cached
  const chunks = parseChunks(lex(source))
  const locals = new Set<string>()
  const addTarget = (t: Target) => (t.k === 'name' ? locals.add(t.id) : t.items.forEach(addTarget))
  walkChunks(chunks, () => undefined, addTarget)
  const params = new Map<string, { name: string; type: string; default?: Py; required?: boolean; description?: string; example?: string; enum?: string[]; format?: string; untyped: boolean; line: number }>()
  const warnings = new Set<string>()
  const arrays = new Map<string, string>()
  walkChunks(
    chunks,
    (root, line) =>
      walkExpr(root, (e, parent) => {
        if (e.k === 'name') {
          if (FORBIDDEN_VARIABLE_NAMES.includes(e.id)) throw new TemplateError(`"${e.id}" can not be used as a variable name, line ${line}`, { line, param: e.id })
          const asCallee = parent?.k === 'call' && parent.fn === e
          if (asCallee) {
            if (!FUNCTIONS.has(e.id)) throw syntaxError(`'${e.id}' is not a valid function, line ${line}`, { line })
            return
          }
          if (FUNCTIONS.has(e.id) || (PY_BUILTINS.has(e.id) && e.id !== 'id') || locals.has(e.id) || e.id.startsWith('__')) return
          if (RESERVED_PARAM_NAMES.includes(e.id)) warnings.add(e.id)
          if (!params.has(e.id)) params.set(e.id, { name: e.id, type: 'String', untyped: true, line })
          return
        }
        if (e.k === 'attr') {
          const ok = Object.values(METHODS).some((m) => m.includes(e.attr))
          if (!ok) throw syntaxError(`'${e.attr}' is not an allowed method, line ${line}`, { line })
          if (parent?.k !== 'call' || parent.fn !== e) throw syntaxError(`attribute access (.${e.attr}) is only allowed as a method call, line ${line}`, { line })
          return
        }
        if (e.k === 'call' && e.fn.k === 'name' && TYPED_FUNCTIONS.has(e.fn.id)) {
          const first = e.args[0]
          if (!first || first.k !== 'name' || locals.has(first.id)) return
          const fn = e.fn.id
          const kw = new Map(e.kwargs)
          const type = fn === 'Array' ? `Array(${pyStr(literalOf(e.args[1] ?? kw.get('_type')) ?? 'String')})` : fn === 'Int' || fn === 'Integer' ? 'Int32' : fn === 'bool' ? 'Boolean' : fn
          if (fn === 'Array') arrays.set(first.id, pyStr(literalOf(e.args[1] ?? kw.get('_type')) ?? 'String'))
          const def = literalOf(kw.get('default') ?? e.args[fn === 'Array' ? 2 : 1])
          const str = (k: string) => {
            const v = literalOf(kw.get(k))
            return typeof v === 'string' ? v : undefined
          }
          const existing = params.get(first.id)
          if (existing && !existing.untyped) {
            if (existing.default === undefined && def !== undefined && def !== null) existing.default = def
            existing.description ??= str('description')
            if (literalOf(kw.get('required')) === true) existing.required = true
            return
          }
          const enumValue = literalOf(kw.get('enum'))
          params.set(first.id, {
            name: first.id,
            type,
            untyped: false,
            line: existing?.line ?? line,
            ...(def !== undefined && def !== null && { default: def }),
            ...(literalOf(kw.get('required')) === true && { required: true }),
            ...(str('description') !== undefined && { description: str('description') }),
            ...(str('example') !== undefined && { example: str('example') }),
            ...(str('format') !== undefined && { format: str('format') }),
            ...(isList(enumValue ?? null) && { enum: (enumValue as Py[]).map(pyStr) }),
          })
          if (RESERVED_PARAM_NAMES.includes(first.id)) warnings.add(first.id)
        }
      }),
    () => undefined,
  )
  const signature: TemplateParam[] = [...params.values()]
    .filter((p) => !RESERVED_PARAM_NAMES.includes(p.name) || p.name === JOB_TIMESTAMP)
    .map((p) => {
      const d = metaValue(p.default)
      return {
        name: p.name,
        type: p.type,
        required: p.required === true,
        untyped: p.untyped,
        line: p.line,
        ...(d !== undefined && { default: d }),
        ...(p.description !== undefined && { description: p.description }),
        ...(p.example !== undefined && { example: p.example }),
        ...(p.enum !== undefined && { enum: p.enum }),
        ...(p.format !== undefined && { format: p.format }),
      }
    })
  const compiled: CompiledTemplate = { source, chunks, params: signature, warnings: [...warnings], arrays, locals }
  if (compiledCache.size > 2000) compiledCache.clear()
  compiledCache.set(source, compiled)
  return compiled
}

/** The parameter signature of a template: name, type, default, required, description… */
export function templateParameters(source: string): readonly TemplateParam[] {
  return compileTemplate(source).params
}

// ---------------------------------------------------------------------------------------------------
// Rendering

/** A request value: query-string values are strings, repeated keys are lists, JSON bodies may carry numbers. */
export type ParamValue = string | readonly string[] | number | boolean | null | readonly (string | number)[]

export interface RenderOptions {
  /** Request parameters (reserved request names already stripped by the caller). */
  readonly params?: Readonly<Record<string, ParamValue>>
  /** `bind` (default): values as `{pN:Type}` parameters. `inline`: Tinybird's exact text. */
  readonly mode?: 'bind' | 'inline'
  /** Shared across the nodes of one pipe request so parameter names do not collide. */
  readonly binder?: Binder
  /** `tb_secret(name)` values. */
  readonly secrets?: Readonly<Record<string, string>>
  /** `tb_var(name)` values. */
  readonly vars?: Readonly<Record<string, string>>
  /** Tinybird's test mode: every parameter is a placeholder, errors are no-ops (load-time checks). */
  readonly testMode?: boolean
  /** Clock for `job_timestamp`. */
  readonly now?: Date
}

export interface RenderedTemplate {
  readonly sql: string
  /** Bound parameters (name → value text) for ClickHouse `query_params`. */
  readonly params: Record<string, string>
  /** Query options set by `max_threads`, `cache_ttl`, `backend_hint`, `activate`, `disable`. */
  readonly settings: { max_threads?: number; cache_ttl?: string; backend_hint?: string | null; activate?: string; disable?: string }
  readonly warnings: readonly string[]
}

class Break {}
class Continue {}

const MAX_STEPS = 100_000
const MAX_OUTPUT = 4_000_000
const MAX_SEQUENCE = 100_000

class Renderer {
  private out = ''
  private steps = 0
  readonly scopes: Map<string, Py>
  readonly settings: RenderedTemplate['settings'] = {}
  constructor(
    private readonly compiled: CompiledTemplate,
    private readonly request: Map<string, Py>,
    private readonly mode: 'bind' | 'inline',
    private readonly binder: Binder,
    private readonly opts: RenderOptions,
  ) {
    this.scopes = new Map()
  }

  private get test(): boolean {
    return this.opts.testMode === true
  }

  run(chunks: readonly Chunk[]): string {
    this.exec(chunks)
    return this.out
  }

  private tick(line: number) {
    if (++this.steps > MAX_STEPS) throw new TemplateError(`the template runs more than ${MAX_STEPS} steps (line ${line})`, { line })
  }

  private emit(text: string) {
    this.out += text
    if (this.out.length > MAX_OUTPUT) throw new TemplateError('the rendered SQL is too large')
  }

  /** One pass of a loop's body: true when it ended with `break` (`continue` just ends the pass). */
  private loopBody(body: readonly Chunk[]): boolean {
    try {
      this.exec(body)
      return false
    } catch (e) {
      if (e instanceof Break) return true
      if (e instanceof Continue) return false
      throw e
    }
  }

  private exec(chunks: readonly Chunk[]): void {
    for (const c of chunks) {
      switch (c.t) {
        case 'text':
          this.emit(c.text)
          break
        case 'expr':
          this.tick(c.line)
          this.emit(this.render(this.eval(c.expr), c.source))
          break
        case 'if': {
          this.tick(c.line)
          const branch = c.branches.find((b) => b.cond === undefined || truthy(this.eval(b.cond)))
          if (branch) this.exec(branch.body)
          break
        }
        case 'for': {
          const seq = this.iterate(this.eval(c.iter), c.line)
          let broke = false
          for (const item of seq) {
            this.tick(c.line)
            this.assign(c.target, item, c.line)
            if (this.loopBody(c.body)) {
              broke = true
              break
            }
          }
          if (!broke) this.exec(c.orelse)
          break
        }
        case 'while': {
          let broke = false
          while (truthy(this.eval(c.cond))) {
            this.tick(c.line)
            if (this.loopBody(c.body)) {
              broke = true
              break
            }
          }
          if (!broke) this.exec(c.orelse)
          break
        }
        case 'try':
          try {
            this.exec(c.body)
          } catch (e) {
            if (!(e instanceof TemplateError) || !c.handler) throw e
            if (c.as) this.scopes.set(c.as, e.message)
            this.exec(c.handler)
          } finally {
            this.exec(c.final)
          }
          break
        case 'set': {
          this.tick(c.line)
          let value = this.eval(c.expr)
          if (c.op !== '=') {
            if (c.target.k !== 'name') throw new TemplateError(`augmented assignment needs a single name (line ${c.line})`, { line: c.line })
            value = this.binary(c.op[0]!, this.lookup(c.target.id, c.line), value, c.line)
          }
          this.assign(c.target, value, c.line)
          break
        }
        case 'break':
          throw new Break()
        case 'continue':
          throw new Continue()
      }
    }
  }

  private assign(t: Target, v: Py, line: number) {
    if (t.k === 'name') {
      this.scopes.set(t.id, v)
      return
    }
    const items = this.iterate(v, line)
    if (items.length !== t.items.length) throw new TemplateError(`cannot unpack ${items.length} values into ${t.items.length} names (line ${line})`, { line })
    t.items.forEach((x, i) => this.assign(x, items[i]!, line))
  }

  private iterate(v: Py, line: number): Py[] {
    if (isList(v)) return v
    if (typeof v === 'string') return [...v]
    if (isDict(v)) return [...v.keys()]
    if (v instanceof Placeholder) return [new Placeholder(v.name), new Placeholder(v.name), new Placeholder(v.name)]
    throw new TemplateError(`'${typeName(v)}' object is not iterable (line ${line})`, { line })
  }

  private lookup(id: string, line: number): Py {
    if (this.scopes.has(id)) return this.scopes.get(id)!
    // A name assigned anywhere by set/for/except is local to the whole template (one Python function),
    // so reading it before the assignment fails in Tinybird too, even when a request parameter has that name.
    if (this.compiled.locals.has(id)) throw syntaxError(`local variable '${id}' referenced before assignment, line ${line}`, { line })
    // Tinybird sets these to None in the template namespace.
    if (id === 'open' || id === 'close' || id === 'print' || id === 'input') return null
    if (FUNCTIONS.has(id)) throw new TemplateError(`'${id}' is a function, not a value (line ${line})`, { line })
    // A request value named like a Python builtin (`?filter=product`) shadows it, as a name passed to a
    // Tornado template's namespace does (the seed's api_ui_filters reads `filter`). Absent, Tinybird would
    // see the builtin function itself, which no SQL can use: here it is an absent parameter (None, or the
    // typed function's default). Both unverified.
    if (this.request.has(id)) return this.request.get(id)!
    return this.test ? new Placeholder(id) : null
  }

  // ---- rendering a value into SQL

  private bindString(s: string): string {
    return this.mode === 'bind' ? this.binder.bind(tinybirdStringValue(s), 'String') : `'${escapeString(s)}'`
  }

  render(v: Py, source: string): string {
    if (typeof v === 'string') return this.bindString(v)
    if (v instanceof Sql) return v.text
    if (v instanceof Placeholder) return "'__no_value__'"
    if (v === null) throw syntaxError(`expression "${source.length > 20 ? `${source.slice(0, 20)}...` : source}" evaluated to null`)
    if (typeof v === 'boolean') return v ? 'True' : 'False'
    if (typeof v === 'bigint') return v.toString()
    if (typeof v === 'number') return pyFloatRepr(v)
    if (v instanceof TypedInt) return this.mode === 'bind' ? this.binder.bind(v.value.toString(), v.type) : pyStr(v)
    if (v instanceof TypedFloat) return this.mode === 'bind' ? this.binder.bind(pyFloatRepr(v.value), v.type) : pyStr(v)
    if (isList(v)) return `[${v.map((x) => this.render(x, source)).join(',')}]`
    if (isDict(v)) throw new TemplateError(`expression "${source.slice(0, 20)}" is a JSON object; use its values, not the object, in SQL`)
    throw new TemplateError(`expression "${source.slice(0, 20)}" is a function, not a value`)
  }

  // ---- expressions

  eval(e: Expr): Py {
    switch (e.k) {
      case 'const':
        return e.v
      case 'name':
        return this.lookup(e.id, e.line)
      case 'list':
        return e.items.map((x) => this.eval(x))
      case 'tuple':
        return e.items.map((x) => this.eval(x))
      case 'dict':
        return new Map(e.entries.map(([k, v]) => [this.key(this.eval(k)), this.eval(v)]))
      case 'unary': {
        const v = this.eval(e.arg)
        if (e.op === 'not') return !truthy(v)
        const n = num(v)
        if (n === undefined) throw new TemplateError(`bad operand type for unary ${e.op}: '${typeName(v)}'`)
        return e.op === '-' ? (typeof n === 'bigint' ? -n : -n) : n
      }
      case 'bool': {
        const l = this.eval(e.l)
        if (e.op === 'and') return truthy(l) ? this.eval(e.r) : l
        return truthy(l) ? l : this.eval(e.r)
      }
      case 'ifexp':
        return truthy(this.eval(e.cond)) ? this.eval(e.then) : this.eval(e.else)
      case 'bin':
        return this.binary(e.op, this.eval(e.l), this.eval(e.r), e.line)
      case 'cmp': {
        let left = this.eval(e.first)
        for (const [op, rx] of e.rest) {
          const right = this.eval(rx)
          if (!this.compare(op, left, right)) return false
          left = right
        }
        return true
      }
      case 'index': {
        const obj = this.eval(e.obj)
        const idx = this.eval(e.index)
        if (isDict(obj)) {
          const k = this.key(idx)
          if (!obj.has(k)) throw new TemplateError(`KeyError: ${pyRepr(k)}`)
          return obj.get(k)!
        }
        if (obj instanceof Placeholder) return new Placeholder(obj.name)
        const seq = typeof obj === 'string' ? [...obj] : isList(obj) ? obj : undefined
        const n = num(idx)
        if (!seq || typeof n !== 'bigint') throw new TemplateError(`'${typeName(obj)}' object is not subscriptable with '${typeName(idx)}'`)
        const i = Number(n < 0n ? BigInt(seq.length) + n : n)
        if (i < 0 || i >= seq.length) {
          if (typeof obj === 'string') throw new TemplateError('String index out of range. Check that string parameters have values before accessing specific characters (e.g., param[0]). Provide default values or add length checks in your template.')
          throw new TemplateError('list index out of range')
        }
        return seq[i]!
      }
      case 'slice': {
        const obj = this.eval(e.obj)
        const seq = typeof obj === 'string' ? [...obj] : isList(obj) ? obj : undefined
        if (!seq) throw new TemplateError(`'${typeName(obj)}' object is not subscriptable`)
        const bound = (x: Expr | undefined): number | undefined => {
          if (!x) return undefined
          const n = num(this.eval(x))
          if (typeof n !== 'bigint') throw new TemplateError('slice indices must be integers')
          return Number(n)
        }
        const step = bound(e.step) ?? 1
        if (step === 0) throw new TemplateError('slice step cannot be zero')
        const len = seq.length
        const norm = (i: number | undefined, dflt: number) => (i === undefined ? dflt : i < 0 ? Math.max(i + len, step < 0 ? -1 : 0) : Math.min(i, step < 0 ? len - 1 : len))
        const lo = norm(bound(e.lo), step > 0 ? 0 : len - 1)
        const hi = norm(bound(e.hi), step > 0 ? len : -1)
        const picked: Py[] = []
        for (let i = lo; step > 0 ? i < hi : i > hi; i += step) picked.push(seq[i]!)
        return typeof obj === 'string' ? (picked as string[]).join('') : picked
      }
      case 'attr':
        throw new TemplateError(`attribute access (.${e.attr}) is only allowed as a method call`)
      case 'call':
        return this.call(e)
    }
  }

  private key(v: Py): Py {
    if (v instanceof TypedInt) return v.value
    if (v instanceof Sql) return v.text
    if (typeof v === 'boolean') return v ? 1n : 0n
    if (isList(v) || isDict(v)) throw new TemplateError(`unhashable type: '${typeName(v)}'`)
    return v
  }

  private compare(op: string, a: Py, b: Py): boolean {
    switch (op) {
      case '==':
        return pyEquals(a, b)
      case '!=':
        return !pyEquals(a, b)
      case 'is':
        return a === b || (a === null && b === null) || (typeof a === 'boolean' && a === b)
      case 'is not':
        return !this.compare('is', a, b)
      case 'in':
      case 'not in': {
        let found: boolean
        const sb = strOf(b)
        if (sb !== undefined) {
          const sa = strOf(a)
          if (sa === undefined) throw new TemplateError(`'in <string>' requires string as left operand, not ${typeName(a)}`)
          found = sb.includes(sa)
        } else if (isList(b)) found = b.some((x) => pyEquals(x, a))
        else if (isDict(b)) found = b.has(this.key(a))
        else if (b instanceof Placeholder) found = false
        else throw new TemplateError(`argument of type '${typeName(b)}' is not iterable`)
        return op === 'in' ? found : !found
      }
      default: {
        if (a instanceof Placeholder || b instanceof Placeholder) {
          if (this.test) return false
        }
        const c = pyCompare(a, b, op)
        return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0
      }
    }
  }

  private binary(op: string, a: Py, b: Py, line: number): Py {
    if (a instanceof Placeholder || b instanceof Placeholder) return new Placeholder(a instanceof Placeholder ? a.name : (b as Placeholder).name)
    const sa = strOf(a)
    const sb = strOf(b)
    const na = num(a)
    const nb = num(b)
    const unsupported = () => new TemplateError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}' (line ${line})`, { line })
    if (op === '+') {
      if (sa !== undefined && sb !== undefined) return this.sized(sa + sb)
      if (isList(a) && isList(b)) return this.sized([...a, ...b])
    }
    if (op === '*') {
      const rep = (s: string | Py[], n: bigint | number | undefined) => {
        if (typeof n !== 'bigint') throw unsupported()
        const count = Number(n) < 0 ? 0 : Number(n)
        if (count * s.length > MAX_SEQUENCE) throw new TemplateError(`the result of * is too large (line ${line})`, { line })
        return typeof s === 'string' ? s.repeat(count) : Array.from({ length: count }, () => s).flat()
      }
      if (sa !== undefined && nb !== undefined) return rep(sa, nb)
      if (sb !== undefined && na !== undefined) return rep(sb, na)
      if (isList(a) && nb !== undefined) return rep(a, nb)
      if (isList(b) && na !== undefined) return rep(b, na)
    }
    if (op === '%' && sa !== undefined) throw new TemplateError(`string formatting with % is not supported (line ${line})`, { line })
    if (na === undefined || nb === undefined) throw unsupported()
    if (typeof na === 'bigint' && typeof nb === 'bigint') {
      switch (op) {
        case '+':
          return na + nb
        case '-':
          return na - nb
        case '*':
          return na * nb
        case '/':
          if (nb === 0n) throw new TemplateError('division by zero')
          return Number(na) / Number(nb)
        case '//':
        case '%': {
          if (nb === 0n) throw new TemplateError('integer division or modulo by zero')
          let q = na / nb
          if ((na % nb !== 0n) && ((na < 0n) !== (nb < 0n))) q -= 1n
          return op === '//' ? q : na - q * nb
        }
      }
    }
    const x = Number(na)
    const y = Number(nb)
    switch (op) {
      case '+':
        return x + y
      case '-':
        return x - y
      case '*':
        return x * y
      case '/':
        if (y === 0) throw new TemplateError('float division by zero')
        return x / y
      case '//':
        if (y === 0) throw new TemplateError('float divmod()')
        return Math.floor(x / y)
      case '%':
        if (y === 0) throw new TemplateError('float modulo')
        return x - Math.floor(x / y) * y
    }
    throw unsupported()
  }

  private sized<T extends string | Py[]>(v: T): T {
    if (v.length > MAX_OUTPUT) throw new TemplateError('a value in the template is too large')
    return v
  }

  // ---- calls

  private call(e: Extract<Expr, { k: 'call' }>): Py {
    if (e.fn.k === 'attr') return this.method(e.fn, e.args.map((a) => this.eval(a)), e.line)
    if (e.fn.k !== 'name') throw new TemplateError(`only named functions can be called (line ${e.line})`, { line: e.line })
    const name = e.fn.id
    const args = e.args.map((a) => this.eval(a))
    const kwargs = new Map(e.kwargs.map(([k, v]) => [k, this.eval(v)] as const))
    const paramName = e.args[0]?.k === 'name' ? e.args[0].id : undefined
    if (TYPED_FUNCTIONS.has(name)) return this.typed(name, args, kwargs, paramName, e.line)
    return this.helper(name, args, kwargs, e.line)
  }

  private arg(args: Py[], kwargs: ReadonlyMap<string, Py>, index: number, key: string): Py | undefined {
    if (kwargs.has(key)) return kwargs.get(key)!
    return index < args.length ? args[index] : undefined
  }

  private typed(fn: string, args: Py[], kwargs: ReadonlyMap<string, Py>, paramName: string | undefined, line: number): Py {
    if (args.length === 0 && !kwargs.has('x')) throw syntaxError('one of the transform type functions is missing an argument', { line, documentation: `${DOCS}#transform-types-functions` })
    let x: Py = args[0] ?? kwargs.get('x') ?? null
    const named = paramName ? ` (parameter ${paramName})` : ''
    const required = () => {
      const missing = this.compiled.params.filter((p) => !p.untyped && p.default === undefined && p.name !== JOB_TIMESTAMP && !this.request.has(p.name)).map((p) => p.name)
      const names = missing.length === 0 ? (paramName ? [paramName] : []) : missing
      const list = names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
      return syntaxError(names.length > 0 ? `${REQUIRED_PARAM_NOT_DEFINED}. Check the parameters ${list}. Please provide a value or set a default value in the pipe code.` : REQUIRED_PARAM_NOT_DEFINED, { line, ...(paramName !== undefined && { param: paramName }) })
    }
    if (fn === 'Array') {
      const type = pyStr(this.arg(args, kwargs, 1, '_type') ?? 'String')
      const def = this.arg(args, kwargs, 2, 'default') ?? null
      const definedFlag = kwargs.has('defined') ? truthy(kwargs.get('defined')!) : true
      if (x instanceof Placeholder) {
        if (truthy(def)) x = def
        else if (type === 'String' || !(type in testers || type === 'Boolean' || type === 'Int' || type === 'Integer')) x = ''
        else x = type in testers && (type.startsWith('Date')) ? [this.placeholderScalar(type), this.placeholderScalar(type)].join(',') : '0,0'
      } else if (x === null) {
        x = def
        if (x === null) {
          if (definedFlag) throw required()
          return null
        }
      }
      const raw = x
      const items: Py[] = isList(raw) ? raw : typeof raw === 'string' ? raw.split(',') : strOf(raw) !== undefined ? strOf(raw)!.split(',') : [raw]
      if (items.length > MAX_SEQUENCE) throw new TemplateError(`the array parameter${named} has more than ${MAX_SEQUENCE} elements`)
      const rendered = items.map((item, i) => {
        const t = pyStr(item)
        if (type in testers) {
          if (!testers[type]!(t)) throw syntaxError(`Error validating [${isList(raw) ? pyRepr(raw).replace(/^\[|\]$/g, '').replace(/^/, '') : pyStr(raw)}][${i}] (${t === '' ? 'empty string' : t}) to type ${type}${named}`, { line, ...(paramName !== undefined && { param: paramName }) })
          if (type in INT_TYPES) return BigInt(t.trim()).toString()
          if (FLOAT_TYPES.has(type)) return pyFloatRepr(pyFloat(t)!)
          return this.bindString(t)
        }
        if (type === 'Int' || type === 'Integer') {
          if (!testers.Int32!(t)) throw syntaxError(`Error validating [${pyStr(raw)}][${i}] (${t === '' ? 'empty string' : t}) to type Int32${named}`, { line, ...(paramName !== undefined && { param: paramName }) })
          return BigInt(t.trim()).toString()
        }
        if (type === 'Boolean' || type === 'bool') return String(booleanOf(item, null))
        return this.bindString(t)
      })
      return new Sql(`[${rendered.join(',')}]`)
    }
    if (isList(x)) x = x[0] ?? null
    if (fn === 'Boolean' || fn === 'bool') {
      const def = this.arg(args, kwargs, 1, 'default') ?? null
      if (x instanceof Placeholder) return booleanOf(def, null)
      return booleanOf(x, def)
    }
    if (fn === 'JSON') {
      const def = this.arg(args, kwargs, 1, 'default') ?? null
      if (x instanceof Placeholder) x = truthy(def) ? def : '__no_value__'
      if (x === null) x = typeof def === 'string' ? def : '{}'
      if (typeof x !== 'string') return x
      try {
        return fromJson(JSON.parse(x))
      } catch (err) {
        throw syntaxError(`Error parsing JSON: '${x.length > 16 ? `${x.slice(0, 16)}...` : x}' - ${(err as Error).message}`, { line, ...(paramName !== undefined && { param: paramName }) })
      }
    }
    const def = this.arg(args, kwargs, 1, 'default') ?? null
    const definedFlag = kwargs.has('defined') ? truthy(kwargs.get('defined')!) : true
    if (x instanceof Placeholder) x = truthy(def) ? def : this.placeholderScalar(fn)
    else if (x === null) {
      x = def
      if (x === null) {
        if (definedFlag) throw required()
        return null
      }
    }
    const text = pyStr(x)
    const tester = fn === 'Int' || fn === 'Integer' ? testers.Int32! : testers[fn]
    if (fn !== 'String' && tester && !tester(text)) throw syntaxError(`Error validating '${text}' to type ${fn === 'Int' || fn === 'Integer' ? 'Int32' : fn}${named}`, { line, ...(paramName !== undefined && { param: paramName }) })
    if (fn === 'String' || fn === 'Date' || fn === 'DateTime' || fn === 'DateTime64') return text
    if (fn === 'Int' || fn === 'Integer') return BigInt(text.trim())
    if (fn in INT_TYPES) return new TypedInt(BigInt(text.trim()), fn)
    return new TypedFloat(pyFloat(text)!, fn)
  }

  private placeholderScalar(fn: string): Py {
    if (fn === 'DateTime64') return '2019-01-01 00:00:00.000'
    if (fn === 'DateTime') return '2019-01-01 00:00:00'
    if (fn === 'Date') return '2019-01-01'
    if (fn === 'String') return '__no_value__'
    if (FLOAT_TYPES.has(fn)) return 0
    return 0n
  }

  private helper(name: string, args: Py[], kwargs: ReadonlyMap<string, Py>, line: number): Py {
    const a = (i: number, key: string) => this.arg(args, kwargs, i, key)
    switch (name) {
      case 'defined': {
        const x = args[0] ?? null
        return !(x === null || x instanceof Placeholder)
      }
      case 'column': {
        let x = a(0, 'x') ?? null
        const def = a(1, 'default') ?? null
        if (x === null || x instanceof Placeholder) {
          if (def === null) throw syntaxError("Missing column() default value, use `column(column_name, 'default_column_name')`", { line, documentation: `${DOCS}#column` })
          x = def
        }
        return new Sql(columnSql(this.identifierText(x, 'column', line)))
      }
      case 'columns': {
        let x = a(0, 'x') ?? null
        const def = a(1, 'default') ?? null
        const fnArg = a(2, 'fn') ?? null
        if (x === null || x instanceof Placeholder) {
          if (def === null) throw syntaxError("Missing columns() default value, use `columns(column_names, 'default_column_name')`", { line, documentation: `${DOCS}#columns` })
          x = def
        }
        if (isList(x)) throw syntaxError("The 'columns' function expects a String not an Array", { line, documentation: `${DOCS}#columns` })
        const cols = this.identifierText(x, 'columns', line).split(',').map((c) => c.trim())
        if (fnArg !== null && truthy(fnArg)) {
          const fn = pyStr(fnArg)
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(fn)) throw syntaxError(`columns() fn must be a function name, found ${JSON.stringify(fn)}`, { line })
          return new Sql(cols.map((c) => `${fn}(${columnSql(c)}) as \`${escapeIdentifier(c)}\``).join(','))
        }
        return new Sql(cols.map(columnSql).join(','))
      }
      case 'symbol':
      case 'Symbol':
      case 'Column': {
        const x = a(0, 'x') ?? null
        const quote = pyStr(a(1, 'quote') ?? '`')
        if (quote !== '`' && quote !== '"') throw syntaxError('symbol() quote must be ` or "', { line })
        if (x instanceof Placeholder) return new Sql('`placeholder`')
        return new Sql(quote + escapeIdentifier(this.identifierText(x, 'symbol', line)) + quote)
      }
      case 'table':
      case 'TABLE': {
        const x = a(0, 'x') ?? null
        if (x instanceof Placeholder) return new Sql('placeholder')
        const t = escapeIdentifier(this.identifierText(x, 'table', line))
        if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(t)) throw syntaxError(`table() expects a table name (letters, digits, _ and one optional db. prefix), found ${JSON.stringify(t.slice(0, 60))}`, { line })
        return new Sql(t)
      }
      case 'sql_and': {
        if (args.length > 0) throw syntaxError('sql_and() takes keyword arguments only (column=value, column__in=Array(x), …)', { line })
        const ops: Record<string, string> = { in: 'in', not_in: 'not in', gt: '>', lt: '<', gte: '>=', lte: '<=' }
        const parts: string[] = []
        for (const [k, v] of kwargs) {
          if (v === null) continue
          const cut = k.lastIndexOf('__')
          const col = cut > 0 ? k.slice(0, cut) : k
          const suffix = cut > 0 ? k.slice(cut + 2) : undefined
          if (suffix !== undefined && !(suffix in ops)) throw syntaxError(`operand ${suffix} not supported`, { line, documentation: `${DOCS}#sql_and` })
          parts.push(`${col} ${suffix === undefined ? '=' : ops[suffix]} ${this.render(v, k)}`)
        }
        return new Sql(parts.join(' and '))
      }
      case 'sql_unescape': {
        const x = a(0, 'x') ?? null
        const what = pyStr(a(1, 'what') ?? '')
        const s = strOf(x)
        if (s === undefined) throw syntaxError(`sql_unescape() expects a String, found ${typeName(x)}`, { line })
        const literal = `'${escapeString(s).split(`\\${what}`).join(what)}'`
        const value = decodeClickHouseLiteral(literal)
        if (value === undefined) throw syntaxError(`sql_unescape(…, ${JSON.stringify(what)}) would not produce a well-formed string literal`, { line })
        return new Sql(this.mode === 'bind' ? this.binder.bind(value, 'String') : literal)
      }
      case 'split_to_array': {
        let x = a(0, 'x') ?? null
        const def = a(1, 'default') ?? ''
        const sep = pyStr(a(2, 'separator') ?? ',')
        if (x === null || x instanceof Placeholder) x = def
        const s = strOf(x)
        if (s === undefined) throw syntaxError('First argument of split_to_array has to be a value that can be split to a list of elements, but found a PlaceHolder with no value instead', { line, documentation: `${DOCS}#split_to_array` })
        if (sep === '') throw new TemplateError('empty separator')
        return s.split(sep).map((p) => p.trim())
      }
      case 'enumerate_with_last': {
        const seq = this.iterate(args[0] ?? null, line)
        return seq.map((x, i) => [i === seq.length - 1, x])
      }
      case 'day_diff':
        try {
          return this.dateDiff(args, kwargs, 'days', '%Y-%m-%d', true)
        } catch {
          throw syntaxError('invalid date format in function `day_diff`, it must be ISO format date YYYY-MM-DD, e.g. 2018-09-26. For other fotmats, try `date_diff_in_days`', { line, documentation: `${DOCS}#date_diff_in_days` })
        }
      case 'date_diff_in_days':
      case 'date_diff_in_hours':
      case 'date_diff_in_minutes':
      case 'date_diff_in_seconds': {
        const unit = name.slice('date_diff_in_'.length) as 'days' | 'hours' | 'minutes' | 'seconds'
        try {
          return this.dateDiff(args, kwargs, unit, unit === 'days' ? '%Y-%m-%d' : '%Y-%m-%d %H:%M:%S', false)
        } catch {
          const messages = {
            days: 'invalid date format in function `date_diff_in_days`, it must be ISO format date YYYY-MM-DD, e.g. 2018-09-26',
            hours: 'invalid date_format in function `date_diff_in_hours`, defaults to YYYY-MM-DD hh:mm:ss. Or %Y-%m-%d %H:%M:%S [.ssssss]Z, e.g. ms: 2022-12-19T18:42:22.591Z s:2022-12-19T18:42:22Z',
            minutes: 'invalid date_format in function `date_diff_in_seconds`, defaults to YYYY-MM-DD hh:mm:ss. Or %Y-%m-%d %H:%M:%S [.ssssss]Z, e.g. ms: 2022-12-19T18:42:22.591Z s:2022-12-19T18:42:22Z',
            seconds: 'invalid date_format in function `date_diff_in_seconds`, defaults to YYYY-MM-DD hh:mm:ss. Or %Y-%m-%d %H:%M:%S [.ssssss]Z, e.g. ms: 2022-12-19T18:42:22.591Z s:2022-12-19T18:42:22Z',
          }
          throw syntaxError(messages[unit], { line, documentation: `${DOCS}#date_diff_in_${unit}` })
        }
      }
      case 'error': {
        if (this.test) return new Sql('-- error launched \n')
        const msg = pyStr(a(0, 's') ?? null)
        throw new TemplateError(msg, { line })
      }
      case 'custom_error': {
        if (this.test) return new Sql('-- error launched \n')
        const obj = a(0, 's') ?? null
        const codeValue = num(a(1, 'code') ?? 400n)
        const code = codeValue !== undefined && Number(codeValue) >= 100 && Number(codeValue) <= 599 && Number.isInteger(Number(codeValue)) ? Number(codeValue) : 400
        if (isDict(obj)) {
          const body = toJson(obj) as Record<string, unknown>
          const error = typeof body.error === 'string' ? body.error : JSON.stringify(body)
          throw new TemplateError(error, { status: code, body: { ...body, error }, line })
        }
        throw new TemplateError(pyStr(obj), { status: code, line })
      }
      case 'max_threads': {
        const v = args[0] ?? null
        const n = num(v) ?? (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? BigInt(v.trim()) : undefined)
        if (n === undefined || (typeof n === 'number' && !Number.isFinite(n))) return new Sql('-- max_threads: wrong argument\n')
        this.settings.max_threads = Math.trunc(Number(n))
        return new Sql(`-- max_threads ${this.settings.max_threads}\n`)
      }
      case 'cache_ttl': {
        const t = pyStr(args[0] ?? null)
        const valid = ['5s', '1m', '5m', '30m', '1h']
        if (!valid.includes(t)) throw syntaxError(`Invalid TTL cache expression, valid expressions are ('5s', '1m', '5m', '30m', '1h')`, { line })
        this.settings.cache_ttl = t
        return new Sql(`-- cache_ttl ${t}\n`)
      }
      case 'backend_hint': {
        const h = args[0] ?? null
        if (h === null || h === false) {
          this.settings.backend_hint = null
          return new Sql(`-- backend_hint ${pyStr(h)}\n`)
        }
        const text = pyStr(h)
        if (!/^[A-Za-z0-9_.:@/-]{0,128}$/.test(text)) throw syntaxError('backend_hint() takes letters, digits and _.:@/- only', { line })
        this.settings.backend_hint = text
        return new Sql(`-- backend_hint ${text}\n`)
      }
      case 'activate': {
        const f = pyStr(args[0] ?? null)
        if (f !== 'analyzer' && f !== 'parallel_replicas') throw syntaxError(`'${f.slice(0, 40)}' is not a valid 'activate' argument`, { line })
        this.settings.activate = f
        return new Sql(`-- activate ${f}\n`)
      }
      case 'disable': {
        const f = pyStr(args[0] ?? null)
        if (f !== 'analyzer') throw syntaxError(`'${f.slice(0, 40)}' is not a valid 'disable' argument`, { line })
        this.settings.disable = f
        return new Sql(`-- disable ${f}\n`)
      }
      case 'tb_secret':
      case 'tb_var': {
        const key = args[0] ?? null
        const def = a(1, 'default') ?? null
        const store = name === 'tb_secret' ? this.opts.secrets : this.opts.vars
        const k = strOf(key)
        const missing = syntaxError(`Cannot access secret '${k ?? pyStr(key)}'. Check the secret exists in the Workspace and the token has the required scope.`, { line })
        if (k === undefined) throw missing
        const value = store && Object.prototype.hasOwnProperty.call(store, k) ? store[k] : undefined
        if (value !== undefined) return new Sql(this.mode === 'bind' ? this.binder.bind(value, 'String') : `'${escapeString(value)}'`)
        if (def !== null) return def
        if (this.test) return new Sql(this.mode === 'bind' ? this.binder.bind('', 'String') : "''")
        throw missing
      }
      default:
        return this.builtin(name, args, kwargs, line)
    }
  }

  private identifierText(x: Py, fn: string, line: number): string {
    const s = strOf(x)
    if (s === undefined) throw syntaxError(`${fn}() expects a String, found ${typeName(x)}`, { line })
    if (s === '') throw syntaxError(`${fn}() got an empty name`, { line })
    if (s.length > 512) throw syntaxError(`${fn}() got a name longer than 512 characters`, { line })
    return s
  }

  private dateDiff(args: Py[], kwargs: ReadonlyMap<string, Py>, unit: 'days' | 'hours' | 'minutes' | 'seconds', format: string, dayDiff: boolean): Py {
    const d0 = args[0] ?? null
    const d1 = args[1] ?? null
    const fmt = dayDiff ? format : pyStr(this.arg(args, kwargs, 2, 'date_format') ?? format)
    const def = this.arg(args, kwargs, 3, 'default') ?? null
    const backup = this.arg(args, kwargs, 4, 'backup_date_format') ?? null
    const noneIfError = truthy(this.arg(args, kwargs, 5, 'none_if_error') ?? false)
    if (d0 instanceof Placeholder || d1 instanceof Placeholder) return truthy(def) ? def : 0n
    const parse = (d: Py) => {
      const s = strOf(d)
      if (s === undefined) throw new Error('not a string')
      for (const f of backup !== null ? [fmt, pyStr(backup)] : [fmt]) {
        try {
          return strptime(s, f)
        } catch {
          continue
        }
      }
      throw new Error('no format matched')
    }
    try {
      const diff = Math.abs(parse(d1) - parse(d0)) / 1000
      const per = { days: 86400, hours: 3600, minutes: 60, seconds: 1 }[unit]
      return BigInt(Math.trunc(diff / per))
    } catch (e) {
      if (noneIfError) return null
      throw e
    }
  }

  private builtin(name: string, args: Py[], kwargs: ReadonlyMap<string, Py>, line: number): Py {
    const fail = (msg: string) => new TemplateError(`${msg} (line ${line})`, { line })
    const one = () => {
      if (args.length < 1) throw fail(`${name}() needs an argument`)
      return args[0]!
    }
    switch (name) {
      case 'len': {
        const v = one()
        const s = strOf(v)
        if (s !== undefined) return BigInt([...s].length)
        if (isList(v)) return BigInt(v.length)
        if (isDict(v)) return BigInt(v.size)
        throw fail(`object of type '${typeName(v)}' has no len()`)
      }
      case 'sum': {
        let total: Py = num(args[1] ?? 0n) ?? 0n
        for (const x of this.iterate(one(), line)) total = this.binary('+', total, x, line)
        return total
      }
      case 'range': {
        const ns = args.map((x) => num(x))
        if (ns.some((n) => typeof n !== 'bigint') || ns.length === 0 || ns.length > 3) throw fail('range() takes 1 to 3 integers')
        const [start, stop, step] = ns.length === 1 ? [0n, ns[0] as bigint, 1n] : [ns[0] as bigint, ns[1] as bigint, (ns[2] as bigint | undefined) ?? 1n]
        if (step === 0n) throw fail('range() arg 3 must not be zero')
        const out: Py[] = []
        for (let i = start; step > 0n ? i < stop : i > stop; i += step) {
          out.push(i)
          if (out.length > MAX_SEQUENCE) throw fail(`range() is larger than ${MAX_SEQUENCE}`)
        }
        return out
      }
      case 'enumerate': {
        const start = num(args[1] ?? kwargs.get('start') ?? 0n)
        return this.iterate(one(), line).map((x, i) => [BigInt(i) + (typeof start === 'bigint' ? start : 0n), x])
      }
      case 'int': {
        const v = args[0] ?? 0n
        const s = strOf(v)
        if (s !== undefined) {
          if (!/^\s*[+-]?\d[\d_]*\s*$/.test(s)) throw fail(`invalid literal for int() with base 10: ${pyRepr(s)}`)
          return BigInt(s.trim().replace(/_/g, ''))
        }
        const n = num(v)
        if (n === undefined) throw fail(`int() argument must be a string or a number, not '${typeName(v)}'`)
        return typeof n === 'bigint' ? n : BigInt(Math.trunc(n))
      }
      case 'float': {
        const v = args[0] ?? 0
        const s = strOf(v)
        if (s !== undefined) {
          const f = pyFloat(s)
          if (f === undefined) throw fail(`could not convert string to float: ${pyRepr(s)}`)
          return f
        }
        const n = num(v)
        if (n === undefined) throw fail(`float() argument must be a string or a number, not '${typeName(v)}'`)
        return Number(n)
      }
      case 'str':
        return pyStr(args[0] ?? '')
      case 'repr':
        return pyRepr(one())
      case 'bool':
        return truthy(args[0] ?? false)
      case 'abs': {
        const n = num(one())
        if (n === undefined) throw fail(`bad operand type for abs(): '${typeName(args[0]!)}'`)
        return typeof n === 'bigint' ? (n < 0n ? -n : n) : Math.abs(n)
      }
      case 'round': {
        const n = num(one())
        if (n === undefined) throw fail('round() needs a number')
        const digits = num(args[1] ?? null)
        if (digits === undefined) {
          if (typeof n === 'bigint') return n
          const r = Math.round(n)
          return BigInt(Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r)
        }
        const f = 10 ** Number(digits)
        return Math.round(Number(n) * f) / f
      }
      case 'max':
      case 'min': {
        const items = args.length === 1 ? this.iterate(args[0]!, line) : args
        if (items.length === 0) throw fail(`${name}() arg is an empty sequence`)
        return items.reduce((best, x) => (pyCompare(x, best, name === 'max' ? '>' : '<') * (name === 'max' ? 1 : -1) > 0 ? x : best))
      }
      case 'list':
      case 'tuple':
        return args.length === 0 ? [] : [...this.iterate(args[0]!, line)]
      case 'sorted': {
        const items = [...this.iterate(one(), line)]
        items.sort((x, y) => pyCompare(x, y, '<'))
        return truthy(kwargs.get('reverse') ?? false) ? items.reverse() : items
      }
      case 'reversed':
        return [...this.iterate(one(), line)].reverse()
      case 'any':
        return this.iterate(one(), line).some(truthy)
      case 'all':
        return this.iterate(one(), line).every(truthy)
      case 'zip': {
        const seqs = args.map((x) => this.iterate(x, line))
        const n = seqs.length === 0 ? 0 : Math.min(...seqs.map((s) => s.length))
        return Array.from({ length: n }, (_, i) => seqs.map((s) => s[i]!))
      }
      case 'dict':
        return new Map([...kwargs].map(([k, v]) => [k as Py, v]))
      case 'isinstance':
        throw fail('isinstance() is not supported')
      default:
        throw syntaxError(`'${name}' is not a valid function, line ${line}`, { line })
    }
  }

  private method(e: Extract<Expr, { k: 'attr' }>, args: Py[], line: number): Py {
    const self = this.eval(e.obj)
    const fail = (msg: string) => new TemplateError(`${msg} (line ${line})`, { line })
    if (self instanceof Placeholder) {
      if (e.attr === 'split') return [new Placeholder(self.name), new Placeholder(self.name)]
      if (e.attr === 'startswith' || e.attr === 'endswith') return false
      return new Placeholder(self.name)
    }
    const s = strOf(self)
    if (s !== undefined) {
      const sarg = (i: number): string => {
        const v = strOf(args[i] ?? null)
        if (v === undefined) throw fail(`${e.attr}() argument ${i + 1} must be str, not ${typeName(args[i] ?? null)}`)
        return v
      }
      const chars = (i: number) => (args[i] === undefined || args[i] === null ? undefined : sarg(i))
      const strip = (text: string, set: string | undefined, left: boolean, right: boolean) => {
        let lo = 0
        let hi = text.length
        const inSet = (c: string) => (set === undefined ? /\s/.test(c) : set.includes(c))
        while (left && lo < hi && inSet(text[lo]!)) lo++
        while (right && hi > lo && inSet(text[hi - 1]!)) hi--
        return text.slice(lo, hi)
      }
      switch (e.attr) {
        case 'split': {
          const sep = chars(0)
          const max = num(args[1] ?? -1n)
          const parts = sep === undefined ? s.trim().split(/\s+/).filter((p) => p !== '') : s.split(sep)
          if (sep === '') throw fail('empty separator')
          if (typeof max === 'bigint' && max >= 0n && parts.length > Number(max) + 1) {
            const head = parts.slice(0, Number(max))
            return [...head, parts.slice(Number(max)).join(sep ?? ' ')]
          }
          return parts
        }
        case 'join': {
          const items = this.iterate(args[0] ?? null, line)
          return this.sized(items.map((x) => {
            const v = strOf(x)
            if (v === undefined) throw fail(`sequence item: expected str instance, ${typeName(x)} found`)
            return v
          }).join(s))
        }
        case 'lower':
          return s.toLowerCase()
        case 'upper':
          return s.toUpperCase()
        case 'title':
          return s.toLowerCase().replace(/(^|[^A-Za-z])([a-z])/g, (_, p: string, c: string) => p + c.toUpperCase())
        case 'capitalize':
          return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase()
        case 'strip':
          return strip(s, chars(0), true, true)
        case 'lstrip':
          return strip(s, chars(0), true, false)
        case 'rstrip':
          return strip(s, chars(0), false, true)
        case 'startswith':
          return s.startsWith(sarg(0))
        case 'endswith':
          return s.endsWith(sarg(0))
        case 'replace':
          return this.sized(s.split(sarg(0)).join(sarg(1)))
        case 'isdigit':
        case 'isnumeric':
          return s !== '' && /^\d+$/.test(s)
        case 'isalpha':
          return s !== '' && /^\p{L}+$/u.test(s)
        case 'isalnum':
          return s !== '' && /^[\p{L}\p{N}]+$/u.test(s)
        case 'find':
          return BigInt(s.indexOf(sarg(0)))
        case 'index': {
          const i = s.indexOf(sarg(0))
          if (i < 0) throw fail('substring not found')
          return BigInt(i)
        }
        case 'count':
          return BigInt(sarg(0) === '' ? s.length + 1 : s.split(sarg(0)).length - 1)
        case 'zfill': {
          const w = Number(num(args[0] ?? 0n) ?? 0)
          return s.padStart(Math.min(w, MAX_SEQUENCE), '0')
        }
      }
    }
    if (isList(self)) {
      switch (e.attr) {
        case 'index': {
          const i = self.findIndex((x) => pyEquals(x, args[0] ?? null))
          if (i < 0) throw fail(`${pyRepr(args[0] ?? null)} is not in list`)
          return BigInt(i)
        }
        case 'count':
          return BigInt(self.filter((x) => pyEquals(x, args[0] ?? null)).length)
        case 'append':
          if (self.length >= MAX_SEQUENCE) throw fail('the list is too large')
          self.push(args[0] ?? null)
          return null
        case 'extend':
          self.push(...this.iterate(args[0] ?? null, line))
          if (self.length > MAX_SEQUENCE) throw fail('the list is too large')
          return null
      }
    }
    if (isDict(self)) {
      switch (e.attr) {
        case 'get': {
          const k = this.key(args[0] ?? null)
          return self.has(k) ? self.get(k)! : (args[1] ?? null)
        }
        case 'keys':
          return [...self.keys()]
        case 'values':
          return [...self.values()]
        case 'items':
          return [...self].map(([k, v]) => [k, v])
      }
    }
    if (e.attr === 'get' && typeof self === 'string') throw syntaxError("'str' object has no attribute 'get'. Make sure you're using an object/dictionary where trying to use .get()", { line })
    throw syntaxError(`'${typeName(self)}' object has no attribute '${e.attr}'`, { line })
  }
}

function columnSql(name: string): string {
  return name.split('.').map((part) => '`' + escapeIdentifier(part) + '`').join('.')
}

/** Tinybird's boolean(): '0' and any-case 'false' are 0; other values by Python truth; absent → default or 0. */
function booleanOf(x: Py, def: Py): bigint {
  if (x === null) return def === null ? 0n : booleanOf(def, null)
  if (x instanceof Placeholder) return booleanOf(def, null)
  if (typeof x === 'string' && (x === '0' || x.toLowerCase() === 'false')) return 0n
  return truthy(x) ? 1n : 0n
}

function requestValue(v: ParamValue): Py {
  if (v === null) return null
  if (Array.isArray(v)) return (v as readonly (string | number)[]).map((x) => (typeof x === 'number' ? (Number.isInteger(x) ? BigInt(x) : x) : x))
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v
  return v as string | boolean
}

/** Array parameters become lists before rendering (Tinybird's preprocess_variables). */
function preprocess(compiled: CompiledTemplate, request: Map<string, Py>): void {
  for (const [name, type] of compiled.arrays) {
    const v = request.get(name)
    if (v === undefined || v === null) continue
    const items: Py[] = isList(v) ? v : typeof v === 'string' ? v.split(',') : []
    if (items.length === 0 && !isList(v)) continue
    const converted: Py[] = []
    let ok = true
    for (const item of items) {
      const t = pyStr(item)
      if (type in INT_TYPES || type === 'Int' || type === 'Integer') {
        const tester = testers[type in INT_TYPES ? type : 'Int32']!
        if (!tester(t)) {
          ok = false
          break
        }
        converted.push(BigInt(t.trim()))
      } else if (FLOAT_TYPES.has(type)) {
        if (!testers[type]!(t)) {
          ok = false
          break
        }
        converted.push(pyFloat(t)!)
      } else converted.push(t)
    }
    if (ok) request.set(name, converted)
  }
}

/**
 * Renders a template (the text after a node's `%`) for one request. Throws TemplateError: 400 with
 * Tinybird's `{"error": …}` body, or `custom_error`'s status and body.
 */
export function renderTemplate(template: string | CompiledTemplate, options: RenderOptions = {}): RenderedTemplate {
  const compiled = typeof template === 'string' ? compileTemplate(template) : template
  const binder = options.binder ?? new Binder()
  const request = new Map<string, Py>()
  if (!options.testMode) for (const [k, v] of Object.entries(options.params ?? {})) if (!FORBIDDEN_VARIABLE_NAMES.includes(k)) request.set(k, requestValue(v))
  if (!request.has(JOB_TIMESTAMP) && compiled.params.some((p) => p.name === JOB_TIMESTAMP)) {
    request.set(JOB_TIMESTAMP, (options.now ?? new Date()).toISOString().slice(0, 19).replace('T', ' '))
  }
  if (!options.testMode) preprocess(compiled, request)
  const before = Object.keys(binder.params).length
  const renderer = new Renderer(compiled, request, options.mode ?? 'bind', binder, options)
  const sql = renderer.run(compiled.chunks)
  const params = Object.fromEntries(Object.entries(binder.params).slice(options.binder ? before : 0))
  return { sql, params, settings: renderer.settings, warnings: compiled.warnings }
}
