/**
 * A statement's `{name:Type}` placeholders replaced by the values as typed SQL literals, so it can run
 * without bound parameters; undefined when any placeholder's type or value is not one rendered here (the
 * statement is then run bound, as it was written).
 *
 * Why: chdb-node runs every statement with bound parameters through one process-wide chain (its binding
 * is not safe across sessions), so bound reads never overlap, whatever the sessions; statements without
 * parameters run side by side on separate sessions. Each literal is the value ClickHouse would bind:
 * strings quoted with every character that could end or escape the quote escaped, numbers checked against
 * their type's range, dates in the text form the binding parses, and each wrapped in `CAST(… AS Type)`
 * with the placeholder's own type, so the expression has exactly the type the parameter would have had.
 * Placeholders inside quoted strings, quoted identifiers and comments are left as they are, as
 * ClickHouse leaves them.
 */
export function inlineValues(query: string, params: Readonly<Record<string, unknown>>): string | undefined {
  const parts = placeholders(query)
  if (parts.length === 1) return query
  let out = parts[0] as string
  for (let i = 1; i < parts.length; i += 2) {
    const { name, render } = parts[i] as Placeholder
    if (!render || !Object.hasOwn(params, name)) return undefined
    const literal = render(params[name])
    if (literal === undefined) return undefined
    out += literal + (parts[i + 1] as string)
  }
  return out
}

interface Placeholder {
  readonly name: string
  /** Undefined for a type not rendered here: the statement then stays bound. */
  readonly render: Render | undefined
}

/**
 * Text, placeholder, text, …: a statement split around its placeholders, each with its type's renderer
 * (cached: statements come from a few files, so each is split and its types read once).
 */
type Split = ReadonlyArray<string | Placeholder>

const splits = new Map<string, Split>()
const MAX_SPLITS = 500

function placeholders(query: string): Split {
  let split = splits.get(query)
  if (split) return split
  split = splitQuery(query)
  if (splits.size >= MAX_SPLITS) splits.clear()
  splits.set(query, split)
  return split
}

const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/y

function splitQuery(query: string): Split {
  const parts: Array<string | Placeholder> = []
  let from = 0
  let i = 0
  while (i < query.length) {
    const c = query[i]
    if (c === "'" || c === '"' || c === '`') {
      i = afterQuoted(query, i)
    } else if (c === '-' && query[i + 1] === '-') {
      const eol = query.indexOf('\n', i)
      i = eol < 0 ? query.length : eol + 1
    } else if (c === '/' && query[i + 1] === '*') {
      const end = query.indexOf('*/', i + 2)
      i = end < 0 ? query.length : end + 2
    } else if (c === '{') {
      PLACEHOLDER.lastIndex = i
      const m = PLACEHOLDER.exec(query)
      if (m) {
        parts.push(query.slice(from, i), { name: m[1]!, render: typedLiteral(m[2]!) })
        i = from = PLACEHOLDER.lastIndex
      } else {
        i++
      }
    } else {
      i++
    }
  }
  parts.push(query.slice(from))
  return parts
}

/** The index after the quoted string or identifier opening at `start` (backslash escapes, doubled quotes). */
function afterQuoted(query: string, start: number): number {
  const quote = query[start]
  let i = start + 1
  while (i < query.length) {
    const c = query[i]
    if (c === '\\') {
      i += 2
    } else if (c === quote) {
      if (query[i + 1] !== quote) return i + 1
      i += 2
    } else {
      i++
    }
  }
  return i
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** A single-quoted SQL string literal: the quote, the backslash and the control characters with a named escape, escaped. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/[\\'\0\b\f\n\r\t]/g, (c) => ESCAPES[c]!)}'`
}

const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65_535n],
  UInt32: [0n, 4_294_967_295n],
  UInt64: [0n, 18_446_744_073_709_551_615n],
  Int8: [-128n, 127n],
  Int16: [-32_768n, 32_767n],
  Int32: [-2_147_483_648n, 2_147_483_647n],
  Int64: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
}

/** Text forms of a date and time that the binding of Date, DateTime and DateTime64 parses, and so does CAST. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,9})?)?$/
const DATE_TYPE = /^(Date|Date32|DateTime|DateTime64)(\(.*\))?$/

/** Renders one value as a literal, or undefined when the value is not one it takes. */
type Render = (value: unknown) => string | undefined

/** The renderer of a SQL expression of exactly `type`, or undefined when the type is not one rendered here. */
function typedLiteral(type: string): Render | undefined {
  const nullable = /^Nullable\((.+)\)$/.exec(type)
  if (nullable) {
    const inner = bareLiteral(nullable[1]!)
    if (!inner) return undefined
    return (value) => {
      if (value === null || value === undefined) return `CAST(NULL AS ${type})`
      const literal = inner(value)
      return literal === undefined ? undefined : `CAST(${literal} AS ${type})`
    }
  }
  const array = /^Array\((.+)\)$/.exec(type)
  if (array) {
    const item = bareLiteral(array[1]!)
    if (!item) return undefined
    return (value) => {
      if (!Array.isArray(value)) return undefined
      const items: string[] = []
      for (const v of value) {
        const literal = item(v)
        if (literal === undefined) return undefined
        items.push(literal)
      }
      return `CAST([${items.join(', ')}] AS ${type})`
    }
  }
  const scalar = bareLiteral(type)
  if (!scalar) return undefined
  // A quoted string is a String already; everything else takes its placeholder's type.
  if (type === 'String') return scalar
  return (value) => {
    const literal = scalar(value)
    return literal === undefined ? undefined : `CAST(${literal} AS ${type})`
  }
}

/** The renderer of a literal whose text CAST to `type` gives the value (without the CAST), for the scalar types rendered here. */
function bareLiteral(type: string): Render | undefined {
  if (type === 'String') {
    return (value) => {
      if (typeof value === 'string') return stringLiteral(value)
      if (typeof value === 'number' && Number.isFinite(value)) return stringLiteral(String(value))
      return undefined
    }
  }
  const range = INTEGER_RANGES[type]
  if (range) {
    return (value) => {
      const n = integerOf(value)
      return n !== undefined && n >= range[0] && n <= range[1] ? n.toString() : undefined
    }
  }
  if (type === 'Float64' || type === 'Float32') {
    return (value) => {
      const n = typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) ? Number(value) : value
      return typeof n === 'number' && Number.isFinite(n) ? String(n) : undefined
    }
  }
  if (type === 'Bool') return (value) => (typeof value === 'boolean' ? String(value) : undefined)
  if (DATE_TYPE.test(type)) {
    return (value) => {
      const text = value instanceof Date ? dateTimeText(value) : value
      return typeof text === 'string' && DATE_TIME.test(text) ? stringLiteral(text) : undefined
    }
  }
  return undefined
}

function integerOf(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined
  if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) return BigInt(value)
  return undefined
}

/** A Date as the binding sends it: UTC, to the second. */
function dateTimeText(d: Date): string | undefined {
  if (Number.isNaN(d.getTime())) return undefined
  return d.toISOString().slice(0, 19).replace('T', ' ')
}
