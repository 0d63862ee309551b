/**
 * Tinybird's `delete_condition`: a SQL boolean expression over a datasource's columns. It is parsed
 * into a small tree and rendered again, with every value a bound parameter and every name a column of
 * the datasource, so nothing the caller wrote reaches ClickHouse as text. The language: comparisons
 * (`= == != <> < <= > >=`), `[NOT] IN (…)`, `[NOT] LIKE`, `IS [NOT] NULL`, `BETWEEN … AND …`, `AND`,
 * `OR`, `NOT`, parentheses, columns (bare or in backquotes), strings in single quotes, numbers,
 * `true`/`false`. Functions and subqueries are refused.
 */

export class ConditionError extends Error {
  override name = 'ConditionError'
}

/** The rendered condition: SQL with `{pN:Type}` placeholders and their values. */
export interface BoundCondition {
  readonly sql: string
  readonly params: Record<string, string | number>
}

type Token =
  | { kind: 'word'; text: string; quoted: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'op'; text: string }

const MAX_LENGTH = 4096
const MAX_TOKENS = 512
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'IS', 'NULL', 'BETWEEN', 'TRUE', 'FALSE'])

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === "'") {
      let value = ''
      i++
      for (;;) {
        if (i >= text.length) throw new ConditionError('a string is not closed')
        const d = text[i]!
        if (d === '\\' && i + 1 < text.length) {
          value += text[i + 1]
          i += 2
        } else if (d === "'" && text[i + 1] === "'") {
          value += "'"
          i += 2
        } else if (d === "'") {
          i++
          break
        } else {
          value += d
          i++
        }
      }
      tokens.push({ kind: 'string', value })
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1)
      if (end < 0) throw new ConditionError('a quoted column name is not closed')
      tokens.push({ kind: 'word', text: text.slice(i + 1, end), quoted: true })
      i = end + 1
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? '') && !endsOperand(tokens))) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))!
      tokens.push({ kind: 'number', text: m[0] })
      i += m[0].length
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!
      tokens.push({ kind: 'word', text: m[0], quoted: false })
      i += m[0].length
    } else {
      const op = ['<=', '>=', '!=', '<>', '==', '=', '<', '>', '(', ')', ','].find((o) => text.startsWith(o, i))
      if (!op) throw new ConditionError(`unexpected character ${JSON.stringify(c)} at position ${i + 1}`)
      tokens.push({ kind: 'op', text: op })
      i += op.length
    }
    if (tokens.length > MAX_TOKENS) throw new ConditionError(`the condition has more than ${MAX_TOKENS} tokens`)
  }
  return tokens
}

/** A `-` right after a value is subtraction (refused later), not a negative number. */
function endsOperand(tokens: readonly Token[]): boolean {
  const last = tokens[tokens.length - 1]
  return last !== undefined && (last.kind === 'number' || last.kind === 'string' || (last.kind === 'word' && !KEYWORDS.has(last.text.toUpperCase())) || (last.kind === 'op' && last.text === ')'))
}

/** Parses `text` and renders it over `columns` (name → ClickHouse type); throws ConditionError with a reason. */
export function bindCondition(text: string, columns: ReadonlyMap<string, string>): BoundCondition {
  if (text.trim() === '') throw new ConditionError('delete_condition is empty')
  if (text.length > MAX_LENGTH) throw new ConditionError(`delete_condition is longer than ${MAX_LENGTH} characters`)
  const tokens = tokenize(text)
  const params: Record<string, string | number> = {}
  let at = 0

  const peek = () => tokens[at]
  const isWord = (t: Token | undefined, w: string) => t?.kind === 'word' && !t.quoted && t.text.toUpperCase() === w
  const isOp = (t: Token | undefined, o: string) => t?.kind === 'op' && t.text === o
  const describe = (t: Token | undefined) =>
    t === undefined ? 'the end' : t.kind === 'string' ? `'${t.value}'` : t.kind === 'number' || t.kind === 'op' || t.kind === 'word' ? JSON.stringify(t.text) : '?'
  const expect = (o: string) => {
    if (!isOp(peek(), o)) throw new ConditionError(`expected "${o}" but found ${describe(peek())}`)
    at++
  }

  const bind = (value: string | number, type: string): string => {
    const name = `p${Object.keys(params).length}`
    params[name] = value
    return `{${name}:${type}}`
  }

  /** A value: a bound literal, or NULL/true/false. */
  const literal = (): string => {
    const t = peek()
    at++
    if (t?.kind === 'string') return bind(t.value, 'String')
    if (t?.kind === 'number') {
      const n = Number(t.text)
      if (!Number.isFinite(n)) throw new ConditionError(`${t.text} is not a finite number`)
      return Number.isSafeInteger(n) && !/[.eE]/.test(t.text) ? bind(n, 'Int64') : bind(n, 'Float64')
    }
    if (isWord(t, 'TRUE')) return 'true'
    if (isWord(t, 'FALSE')) return 'false'
    if (isWord(t, 'NULL')) return 'NULL'
    throw new ConditionError(`expected a value but found ${describe(t)}`)
  }

  const operand = (): string => {
    const t = peek()
    if (isOp(t, '(')) {
      at++
      const inner = or()
      expect(')')
      return `(${inner})`
    }
    if (t?.kind === 'word' && (t.quoted || !KEYWORDS.has(t.text.toUpperCase()))) {
      if (isOp(tokens[at + 1], '(')) throw new ConditionError(`functions are not allowed in delete_condition (${t.text})`)
      if (!columns.has(t.text)) throw new ConditionError(`unknown column "${t.text}"; the columns are ${[...columns.keys()].join(', ')}`)
      at++
      return `\`${t.text}\``
    }
    return literal()
  }

  const comparison = (): string => {
    const left = operand()
    const t = peek()
    if (t?.kind === 'op' && ['=', '==', '!=', '<>', '<', '<=', '>', '>='].includes(t.text)) {
      at++
      return `${left} ${t.text === '==' ? '=' : t.text} ${operand()}`
    }
    const negated = isWord(t, 'NOT') && (isWord(tokens[at + 1], 'IN') || isWord(tokens[at + 1], 'LIKE') || isWord(tokens[at + 1], 'BETWEEN'))
    if (negated) at++
    const not = negated ? 'NOT ' : ''
    if (isWord(peek(), 'IN')) {
      at++
      expect('(')
      const values = [literal()]
      while (isOp(peek(), ',')) {
        at++
        values.push(literal())
      }
      expect(')')
      return `${left} ${not}IN (${values.join(', ')})`
    }
    if (isWord(peek(), 'LIKE')) {
      at++
      const pattern = peek()
      if (pattern?.kind !== 'string') throw new ConditionError(`LIKE needs a string pattern, found ${describe(pattern)}`)
      return `${left} ${not}LIKE ${literal()}`
    }
    if (isWord(peek(), 'BETWEEN')) {
      at++
      const low = literal()
      if (!isWord(peek(), 'AND')) throw new ConditionError(`BETWEEN needs AND, found ${describe(peek())}`)
      at++
      return `${left} ${not}BETWEEN ${low} AND ${literal()}`
    }
    if (negated) throw new ConditionError('NOT must be followed by IN, LIKE or BETWEEN here')
    if (isWord(peek(), 'IS')) {
      at++
      const isNot = isWord(peek(), 'NOT')
      if (isNot) at++
      if (!isWord(peek(), 'NULL')) throw new ConditionError(`IS needs NULL, found ${describe(peek())}`)
      at++
      return `${left} IS ${isNot ? 'NOT ' : ''}NULL`
    }
    return left
  }

  const not = (): string => {
    if (isWord(peek(), 'NOT')) {
      at++
      return `NOT (${not()})`
    }
    return comparison()
  }

  const and = (): string => {
    const parts = [not()]
    while (isWord(peek(), 'AND')) {
      at++
      parts.push(not())
    }
    return parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' AND ')
  }

  function or(): string {
    const parts = [and()]
    while (isWord(peek(), 'OR')) {
      at++
      parts.push(and())
    }
    return parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' OR ')
  }

  const sql = or()
  if (at < tokens.length) throw new ConditionError(`unexpected ${describe(peek())} after the condition`)
  return { sql, params }
}
