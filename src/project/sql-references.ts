/**
 * The tables, nodes and pipes a node's SQL reads: names after FROM/JOIN, outside strings, comments,
 * template tags and function-call parentheses (`extract(day FROM t)`).
 */

export interface SqlReference {
  /** The name as written (`db.table` keeps its dot). */
  readonly name: string
  /** Offset in the SQL text. */
  readonly offset: number
  readonly length: number
}

const NOT_ALIAS = new Set([
  'WHERE', 'PREWHERE', 'GROUP', 'ORDER', 'LIMIT', 'HAVING', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'OUTER', 'FULL', 'CROSS', 'ANY', 'ALL', 'ASOF',
  'SEMI', 'ANTI', 'ARRAY', 'GLOBAL', 'FINAL', 'SAMPLE', 'SETTINGS', 'UNION', 'EXCEPT', 'INTERSECT', 'FORMAT', 'ON', 'USING', 'WINDOW',
  'QUALIFY', 'OFFSET', 'INTO', 'AS', 'PASTE', 'LIKE', 'WITH',
])

type SqlToken = { kind: 'word' | 'quoted' | 'op' | 'string' | 'number'; text: string; offset: number; length: number }

const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y
const NUMBER = /[0-9][0-9A-Za-z_.]*/y

/** ClickHouse-ish tokens from `from` on (at most `limit`); template tags, strings and comments are skipped. */
function sqlTokens(sql: string, from = 0, limit = Infinity): SqlToken[] {
  const out: SqlToken[] = []
  let i = from
  while (i < sql.length && out.length < limit) {
    const c = sql[i]!
    const code = sql.charCodeAt(i)
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || /\s/.test(c)) i++
    else if (c === '{' && (sql[i + 1] === '{' || sql[i + 1] === '%' || sql[i + 1] === '#')) {
      const two = sql.slice(i, i + 2)
      const close = two === '{{' ? '}}' : two === '{%' ? '%}' : '#}'
      const end = sql.indexOf(close, i + 2)
      // A tag stands for something that is not a name (so `FROM {{ symbol(t) }}` reads nothing known).
      if (two === '{{') out.push({ kind: 'op', text: '?', offset: i, length: 2 })
      i = end < 0 ? sql.length : end + 2
    } else if ((c === '-' && sql[i + 1] === '-') || c === '#') {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? sql.length : end + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 2
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1
      const text = sql.slice(i + 1, j).replace(/\\(.)/g, '$1')
      out.push({ kind: c === "'" ? 'string' : 'quoted', text, offset: i, length: j + 1 - i })
      i = j + 1
    } else if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || c === '_') {
      WORD.lastIndex = i
      const m = WORD.exec(sql)!
      out.push({ kind: 'word', text: m[0], offset: i, length: m[0].length })
      i += m[0].length
    } else if (code >= 48 && code <= 57) {
      NUMBER.lastIndex = i
      const m = NUMBER.exec(sql)!
      out.push({ kind: 'number', text: m[0], offset: i, length: m[0].length })
      i += m[0].length
    } else {
      out.push({ kind: 'op', text: c, offset: i, length: 1 })
      i++
    }
  }
  return out
}

/**
 * Tables a query reads: the names after FROM and JOIN (not `ARRAY JOIN`, not table functions, not
 * subqueries, not CTE names, not `FROM` inside function calls such as `extract(day FROM t)`).
 */
export function sqlReferences(sql: string): SqlReference[] {
  const tokens = sqlTokens(sql)
  const isWord = (t: SqlToken | undefined, w?: string) => t !== undefined && t.kind === 'word' && (w === undefined || t.text.toUpperCase() === w)
  const isName = (t: SqlToken | undefined) => t !== undefined && (t.kind === 'word' || t.kind === 'quoted')
  const isOp = (t: SqlToken | undefined, o: string) => t !== undefined && t.kind === 'op' && t.text === o
  const ctes = new Set<string>()
  for (let k = 0; k + 2 < tokens.length; k++) {
    if (isName(tokens[k]) && isWord(tokens[k + 1], 'AS') && isOp(tokens[k + 2], '(')) {
      const prev = tokens[k - 1]
      if (prev === undefined || isWord(prev, 'WITH') || isOp(prev, ',')) ctes.add(tokens[k]!.text)
    }
  }
  const refs: SqlReference[] = []
  const parens: { call: boolean; select: boolean }[] = []
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!
    if (isOp(t, '(')) {
      parens.push({ call: isName(tokens[k - 1]) && !isWord(tokens[k - 1], 'IN') && !isWord(tokens[k - 1], 'FROM') && !isWord(tokens[k - 1], 'JOIN') && !isWord(tokens[k - 1], 'AS'), select: false })
      continue
    }
    if (isOp(t, ')')) {
      parens.pop()
      continue
    }
    if (isWord(t, 'SELECT') && parens.length > 0) parens[parens.length - 1]!.select = true
    const from = isWord(t, 'FROM')
    const join = isWord(t, 'JOIN') && !isWord(tokens[k - 1], 'ARRAY')
    if (!from && !join) continue
    const top = parens[parens.length - 1]
    if (top && top.call && !top.select) continue
    let n = k + 1
    const first = tokens[n]
    if (!isName(first) || isWord(first, 'SELECT')) continue
    let name = first!.text
    let end = first!.offset + first!.length
    if (isOp(tokens[n + 1], '.') && isName(tokens[n + 2])) {
      name = `${name}.${tokens[n + 2]!.text}`
      end = tokens[n + 2]!.offset + tokens[n + 2]!.length
      n += 2
    }
    if (isOp(tokens[n + 1], '(')) continue
    if (ctes.has(name)) continue
    refs.push({ name, offset: first!.offset, length: end - first!.offset })
  }
  return refs
}

/** The 0-based line of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 0
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++
  return line
}

/** Whether the token after a reference is an alias (so `(subquery) AS name` must not be added). */
export function hasAlias(sql: string, ref: SqlReference): boolean {
  const after = sqlTokens(sql, ref.offset + ref.length, 1)[0]
  return after !== undefined && (after.kind === 'quoted' || (after.kind === 'word' && (after.text.toUpperCase() === 'AS' || !NOT_ALIAS.has(after.text.toUpperCase()))))
}
