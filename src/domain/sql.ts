/**
 * `/v0/sql`: a read-only query over the datasources a caller may read (built-in, a loaded project's, and
 * pipes read by name as inline sources), checked, rewritten and run with the caller's limits. Over 300 lines
 * because the checks (statement kind, tables, functions) and the rewrite share one walk of the query.
 */
import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import { Catalog, SERVICE_VIEWS, serviceView, type DatasourceEntry, type DatasourceRead } from '../catalog/index.js'
import type { JsonDocument, QueryParams } from '../store/clickhouse.js'
import { SqlQueryError, type SqlSource } from '../store/sql-query.js'
import type { Store } from '../store/store.js'
import { APPS, type App } from '../store/types.js'
import { renderTemplate, requestParams } from '../project/template.js'
import { DomainError } from './errors.js'

/** The caller may not run this SQL (a write, another table, a forbidden function): 403, with why. */
export class SqlRefusedError extends DomainError {
  override name = 'SqlRefusedError'
  constructor(message: string) {
    super('FORBIDDEN', message)
  }
}

/** The SQL is not a query Sightline can run (syntax, several statements, ClickHouse's own refusal): 400. */
export class SqlInvalidError extends DomainError {
  override name = 'SqlInvalidError'
  constructor(message: string) {
    super('BAD_USER_INPUT', message)
  }
}

/** The answer to a query: ClickHouse's JSON document, 64-bit integers as exact numbers (bigint past 2^53). */
export interface SqlAnswer {
  readonly meta: ReadonlyArray<{ name: string; type: string }>
  readonly data: Array<Record<string, unknown>>
  readonly rowsBeforeLimit?: number
  readonly statistics: { readonly rows_read: number; readonly bytes_read: number }
}

/**
 * Rows computed elsewhere that a query may read by `name`: a pipe's answer (Tinybird lets SQL read pipes
 * by name, and `q=` on a pipe read its answer as `_`), as JSONEachRow text of `columns`.
 */
export interface InlineSource {
  readonly name: string
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly ndjson: string
}

/** A table a caller's SQL may name, and who may read which of its rows. */
interface Readable {
  readonly name: string
  readonly table: string
  /** `SELECT * FROM t FINAL`: a table of upserts (products), read as its latest rows. */
  readonly final?: boolean
  /** The rows `who` may read: a condition over bound parameters, '' for all; undefined when none. */
  rows(who: Principal): string | undefined
}

/**
 * Tinybird's templated query: SQL whose first character is `%` is a template (TINYBIRD.md §4), rendered
 * with the request's parameters (reserved names aside), values written as literals as Tinybird writes
 * them; the rendered statement is then checked and run like any other. Other SQL is returned as it is.
 * Throws TemplateError (Tinybird's body and status) for a template that does not render.
 */
export function renderedQuery(sql: string, request: URLSearchParams): string {
  const text = sql.trimStart()
  if (!text.startsWith('%')) return sql
  return renderTemplate(text.slice(1), { params: requestParams(request), mode: 'inline' }).sql
}

/** How many JWT row filters SqlService keeps formatted and parsed. */
const MAX_PARSED_FILTERS = 1_000

/** The most rows one answer carries (a larger one is refused, not cut short). */
export const MAX_ROWS = 100_000

/** Where ClickHouse reads a SELECT without FROM: one row, one `dummy` column, no data. */
const ONE_ROW = 'system.one'
/** Aggregating views hold one marker row per keyed batch (product = '\0' || id, every sum 0): not data. */
const NO_MARKERS = 'NOT startsWith(product, char(0))'

const readableApps = (who: Principal): App[] => APPS.filter((app) => grants(who.scopes, scopeFor.analytics(app)))

/** A workspace-bound token reads its workspace's rows only. */
const inWorkspace = (who: Principal): string => (who.workspaceId === null ? '' : 'workspace_id = {sql_workspace:String}')

const and = (...conditions: string[]): string => conditions.filter((c) => c !== '').join(' AND ')

const service = (name: string): Readable => ({ name, table: name, rows: (who) => (grants(who.scopes, 'admin') ? '' : undefined) })

/** The rows of a built-in datasource `who` may read (see DatasourceRead), or undefined when none. */
function rowsOf(entry: DatasourceEntry, read: DatasourceRead): Readable['rows'] {
  const markers = entry.markerColumn ? NO_MARKERS : ''
  if (read.rows === 'apps') {
    return (who) => {
      const apps = readableApps(who)
      if (apps.length === 0) return undefined
      return and(apps.length === APPS.length ? '' : 'event_type IN {sql_apps:Array(String)}', inWorkspace(who), markers)
    }
  }
  const workspace = read.rows === 'workspace'
  return (who) => (grants(who.scopes, read.scope) ? and(workspace ? inWorkspace(who) : '', markers) : undefined)
}

/** The service-log tables (no datasources) and Tinybird's service datasources over them: admins read them. */
const SERVICE_TABLES = ['operation_log', 'ingest_log', 'error_log', ...SERVICE_VIEWS]

/**
 * `statement` with `rewrite` applied to each run of text outside string literals and quoted names. For
 * ClickHouse's canonical text, where a plain name is never quoted.
 */
function rewriteUnquoted(statement: string, rewrite: (text: string) => string): string {
  let out = ''
  let from = 0
  let i = 0
  while (i < statement.length) {
    const c = statement[i]!
    if (c !== "'" && c !== '"' && c !== '`') {
      i++
      continue
    }
    let j = i + 1
    while (j < statement.length && statement[j] !== c) j += statement[j] === '\\' ? 2 : 1
    out += rewrite(statement.slice(from, i)) + statement.slice(i, j + 1)
    from = i = j + 1
  }
  return out + rewrite(statement.slice(from))
}

/**
 * The statement with each `tinybird.<name>` of a service datasource Sightline keeps written as its view's
 * name (`tinybird_<name>`, a readable name like any other), outside string literals and quoted names.
 */
export function withServiceViews(statement: string): string {
  return rewriteUnquoted(statement, (text) => text.replace(/(?<![\w.$])tinybird\.[A-Za-z_][A-Za-z0-9_]*/g, (name) => serviceView(name) ?? name))
}

/**
 * The statement without the `FINAL` modifier after a name of `names` (`users FINAL`, `users AS u FINAL`),
 * and the names that had it: a source is a common table expression, which takes no FINAL, so the source
 * itself is then read with FINAL (every reference to it, in the whole statement).
 */
export function liftFinal(statement: string, names: ReadonlySet<string>): { statement: string; final: Set<string> } {
  const final = new Set<string>()
  const lifted = rewriteUnquoted(statement, (text) =>
    text.replace(/(?<![\w.$])([A-Za-z_][A-Za-z0-9_]*)(\s+AS\s+[A-Za-z_][A-Za-z0-9_]*)?\s+FINAL\b/gi, (whole, name: string, alias: string | undefined) => {
      if (!names.has(name)) return whole
      final.add(name)
      return `${name}${alias ?? ''}`
    }),
  )
  return { statement: lifted, final }
}

/**
 * What `/v0/sql` reads of the built-in surface, by the names Tinybird's clients use, derived from the
 * catalog's datasources (`read`: the scope GraphQL asks for the same data, confined to the token's
 * workspace; an alias such as the seed's `barely_events` reads its datasource), their quarantine tables,
 * and the service-log tables for admins. Nothing else (tokens, the change log, batch records, system
 * tables) can be named.
 */
function builtinReadables(entries: readonly DatasourceEntry[]): Readable[] {
  const out: Readable[] = []
  for (const entry of entries) {
    const { read } = entry
    if (!read || entry.database !== undefined) continue
    const rows = rowsOf(entry, read)
    for (const name of [entry.name, ...(entry.aliases ?? [])]) out.push({ name, table: entry.name, ...(read.final ? { final: true } : {}), rows })
  }
  for (const entry of entries) {
    const scope = entry.read?.quarantineScope
    if (entry.database !== undefined || !entry.quarantine || scope === undefined) continue
    const quarantine = entry.quarantine
    out.push({ name: quarantine, table: quarantine, rows: (who) => (grants(who.scopes, scope) ? '' : undefined) })
  }
  return [...out, ...SERVICE_TABLES.map(service)]
}

/** A loaded project's tables for `/v0/sql`: its name there, the table it reads and whether `who` may read it. */
interface ProjectTable {
  readonly name: string
  /** `` `db`.`table` `` */
  readonly from: string
  /** `db.table`, as ClickHouse's query tree names it. */
  readonly qualified: string
  readonly readable: boolean
}

const quoted = (name: string): string => `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``

/**
 * The catalog's project datasources and their quarantine tables, each readable by `who` with its read scope
 * (`read:datasource:<ds>`, or `read`, or admin). Their names shadow built-in tables of the same name. A
 * datasource `who` reads through a row filter keeps its quarantine closed (its rows are not the datasource's
 * columns, so the filter cannot apply to them).
 */
function projectTables(entries: readonly DatasourceEntry[], who: Principal): ProjectTable[] {
  const out: ProjectTable[] = []
  for (const entry of entries) {
    const db = entry.database
    if (db === undefined || !entry.read) continue
    const quarantineScope = who.rowFilters?.has(entry.name) ? undefined : entry.read.quarantineScope
    const tables: Array<[string, string | undefined]> = [[entry.name, entry.read.scope], ...(entry.quarantine ? [[entry.quarantine, quarantineScope] as [string, string | undefined]] : [])]
    for (const [name, scope] of tables) {
      out.push({ name, from: `${quoted(db)}.${quoted(name)}`, qualified: `${db}.${name}`, readable: scope !== undefined && grants(who.scopes, scope) })
    }
  }
  return out
}

/** Inline sources as SqlSources reading their rows from bound parameters (`format(JSONEachRow, …)`). */
function inlineSources(inline: readonly InlineSource[], sources: SqlSource[], params: QueryParams): void {
  inline.forEach((source, i) => {
    params[`sql_structure_${i}`] = source.columns.map((c) => `\`${c.name.replaceAll('`', '')}\` ${c.type}`).join(', ')
    // format() needs a row to learn nothing from; an empty answer is one row of defaults, LIMIT 0.
    params[`sql_rows_${i}`] = source.ndjson === '' ? '{}' : source.ndjson
    sources.push({
      name: source.name,
      from: `format(JSONEachRow, {sql_structure_${i}:String}, {sql_rows_${i}:String})`,
      ...(source.ndjson === '' ? { empty: true } : {}),
    })
  })
}

/** Table functions that read nothing but their arguments. */
const TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generate_series', 'generateseries', 'values'])

/**
 * Functions a query may not call: they read files, dictionaries, other tables by name, settings or the
 * server's identity, or only wait. Lower case; ClickHouse's own internal `__` functions too.
 */
const FORBIDDEN_FUNCTIONS =
  /^(__.*|file|dictget.*|dicthas|dictisin|joinget.*|hascolumnintable|getsetting.*|getserversetting|getmergetreesetting|sleep|sleepeachrow|getmacro|hostname|fqdn|displayname|serveruuid|getserverport|tcpport|uptime|currentdatabase|currentschemas|currentuser|currentprofiles|currentroles|enabledroles|defaultroles|initialqueryid|initial_query_id|queryid|query_id|initialquerystarttime|shardnum|shardcount|filesystem.*|getoskernelversion|buildid|revision|zookeepersessionuptime|getclienthttpheader|showcertificate|catboostevaluate|evalmlmethod|modelevaluate|naivebayesclassifier|transactionid|transactionlatestsnapshot|transactionoldestsnapshot|addresstoline.*|addresstosymbol|demangle|trap|connectionid|connection_id|getsubcolumn)$/

/** One node of EXPLAIN AST's indented text. */
interface AstNode {
  readonly label: string
  readonly children: AstNode[]
}

function parseTree(lines: readonly string[]): AstNode | undefined {
  const root: AstNode = { label: '', children: [] }
  const stack: Array<{ depth: number; node: AstNode }> = [{ depth: -1, node: root }]
  for (const line of lines) {
    if (line.trim() === '') continue
    const depth = line.length - line.trimStart().length
    const node: AstNode = { label: line.trim(), children: [] }
    while ((stack.at(-1)?.depth ?? -1) >= depth) stack.pop()
    stack.at(-1)?.node.children.push(node)
    stack.push({ depth, node })
  }
  return root.children.length === 1 ? root.children[0] : undefined
}

/** True for a FROM clause of ClickHouse's one-row table alone (what it reads a SELECT without FROM from). */
function readsOneRow(node: AstNode): boolean {
  const leaves = (n: AstNode): AstNode[] => (n.children.length === 0 ? [n] : n.children.flatMap(leaves))
  const all = leaves(node)
  return all.length === 1 && all[0]?.label === `TableIdentifier ${ONE_ROW}`
}

/** The name an AST line gives after its kind (`Function count (children 1)` → `count`). */
function nameOf(label: string, kind: string): string {
  return label
    .slice(kind.length + 1)
    .replace(/ \((alias [^)]*|children \d+)\)/g, '')
    .trim()
}

/**
 * One statement: a trailing `;` is dropped, any other refused outright. chDB runs every statement of a
 * multi-statement text, even after EXPLAIN, so nothing with a second `;` (in a string or not) is ever sent.
 */
export function singleStatement(sql: string): string {
  const text = sql.trim().replace(/;\s*$/, '').trimEnd()
  if (text === '') throw new SqlInvalidError('The query is empty: send it as q=<SQL> or as the POST body')
  if (text.includes(';')) throw new SqlInvalidError('Send one statement: a ";" may only end the query (write char(59) for the character)')
  if (text.includes('\0')) throw new SqlInvalidError('The query contains a NUL character')
  return text
}

/**
 * Tinybird's Query API as a use case: read-only SQL over the datasources a principal may read. A
 * statement is first rewritten by ClickHouse's formatter from a bound parameter, so what is spliced into
 * SQL afterwards is complete and balanced. It is then checked twice before it runs: its syntax tree
 * (ClickHouse's own parser, EXPLAIN AST: only SELECT, no SETTINGS, INTO OUTFILE or database-qualified
 * names, no table function but number generators, no function that reaches outside the data), then the
 * analyser's query tree of the statement under a WITH clause that binds each readable name to the rows
 * the principal may read: every table it resolves to must be one of those. It runs with the dashboard
 * limits, and an answer over MAX_ROWS rows is refused.
 */
export class SqlService {
  /** JWT row filters as ClickHouse formats and parses them, by their text (at most MAX_PARSED_FILTERS). */
  private readonly parsedFilters = new Map<string, { readonly canonical: string; readonly lines: readonly string[] }>()

  /**
   * `catalog`: the datasources that can be read, the built-in ones and a loaded Tinybird project's (in its
   * own database; their names shadow the built-in ones).
   */
  constructor(
    private readonly store: Store,
    private readonly catalog: Catalog = new Catalog(),
  ) {}

  /**
   * Runs `sql` as `who`. `inline` sources are rows the caller has already been allowed to read (pipes'
   * answers); with `inlineOnly` (`q=` on a pipe) they are all the query may read, and the `sql` scope is
   * not needed.
   */
  async query(who: Principal, sql: string, inline: readonly InlineSource[] = [], options: { readonly inlineOnly?: boolean } = {}): Promise<SqlAnswer> {
    const inlineOnly = options.inlineOnly === true
    if (!inlineOnly && !grants(who.scopes, 'sql')) throw new SqlRefusedError('The Query API needs the scope "sql"')
    const written = singleStatement(sql)
    if (/\bINTO\s+OUTFILE\b/i.test(written)) throw new SqlRefusedError('INTO OUTFILE is not allowed')
    // From here on only ClickHouse's canonical form of the statement is spliced into SQL (see canonical).
    const canonical = withServiceViews(singleStatement(await this.explain(() => this.store.sqlApi.canonical(written))))
    if (/\bINTO\s+OUTFILE\b/i.test(canonical)) throw new SqlRefusedError('INTO OUTFILE is not allowed')
    const entries = this.catalog.datasources
    // `<datasource> FINAL` reads the datasource's source with FINAL (a source takes no modifier itself).
    const { statement, final } = liftFinal(canonical, new Set(entries.flatMap((e) => [e.name, ...(e.aliases ?? [])])))
    const tree = parseTree(await this.explain(() => this.store.sqlApi.syntaxTree(statement)))
    if (!tree) throw new SqlInvalidError('The query could not be parsed')
    const reserved = await this.store.sqlApi.reservedNames()
    const readables = builtinReadables(entries)
    const byName: ReadonlyMap<string, Readable> = new Map(readables.map((r) => [r.name, r]))
    const more = inlineOnly ? [] : projectTables(entries, who)
    const extra = more.filter((t) => t.readable)
    const inlineNames = new Set([...inline.map((s) => s.name), ...extra.map((t) => t.name)])
    const denied = more.filter((t) => !t.readable && !inlineNames.has(t.name)).map((t) => t.name)
    const names: SyntaxRules = {
      databases: new Set(reserved.databases.map((d) => d.toLowerCase())),
      // Unqualified names resolve in the current database unless a readable name shadows them.
      tables: new Set([
        ...reserved.tables.filter((t) => !inlineNames.has(t) && (inlineOnly || !byName.has(t) || byName.get(t)?.rows(who) === undefined)),
        ...denied,
      ]),
      inline: inlineNames,
      inlineOnly,
      readable: byName,
    }
    checkSyntax(tree, who, names)
    const filters = inlineOnly ? new Map<string, string>() : await this.rowFilters(who, names)

    const sources: SqlSource[] = []
    const params: QueryParams = { sql_apps: readableApps(who), ...(who.workspaceId === null ? {} : { sql_workspace: who.workspaceId }) }
    inlineSources(inline, sources, params)
    const allowed = new Set<string>()
    for (const table of extra) {
      const where = filters.get(table.name)
      sources.push({ name: table.name, from: table.from, ...(final.has(table.name) && { final: true }), ...(where !== undefined && { where }) })
      allowed.add(table.qualified)
    }
    for (const readable of inlineOnly ? [] : readables) {
      const rows = readable.rows(who)
      if (rows === undefined || inlineNames.has(readable.name)) continue
      const where = and(rows, filters.get(readable.name) ?? '')
      sources.push({ name: readable.name, table: readable.table, ...(readable.final || final.has(readable.name) ? { final: true } : {}), ...(where ? { where } : {}) })
      allowed.add(this.store.sqlApi.qualified(readable.table))
    }
    const functions = inline.length > 0 ? new Set([...TABLE_FUNCTIONS, 'format']) : TABLE_FUNCTIONS

    for (const line of await this.explain(() => this.store.sqlApi.queryTree(statement, sources, params))) {
      const table = /\btable_name: ([^\s,]+)/.exec(line)?.[1]
      if (table !== undefined && table !== ONE_ROW && !allowed.has(table)) throw new SqlRefusedError(`The query reads ${table.split('.').pop() ?? table}, which this token may not read`)
      const fn = /\btable_function_name: ([^\s,]+)/.exec(line)?.[1]
      if (fn !== undefined && !functions.has(fn.toLowerCase())) throw new SqlRefusedError(`The table function ${fn} is not allowed`)
    }

    const doc = await this.explain(() => this.store.sqlApi.select(statement, sources, params, MAX_ROWS))
    if (doc.data.length > MAX_ROWS) throw new SqlInvalidError(`The answer has more than ${MAX_ROWS} rows: add a LIMIT or aggregate`)
    return answer(doc)
  }

  /**
   * Rows a caller has already been allowed to read (a built-in pipe's answer) in one of ClickHouse's own
   * output formats (Parquet; Prometheus, whose column rules ClickHouse checks: a misfit is a 400).
   */
  async encode(source: InlineSource, format: 'Parquet' | 'Prometheus'): Promise<Buffer> {
    const sources: SqlSource[] = []
    const params: QueryParams = {}
    inlineSources([source], sources, params)
    return this.explain(() => this.store.sqlApi.selectFormat(`SELECT * FROM ${source.name}`, sources, params, format))
  }

  /**
   * A Tinybird JWT's row filters (its `DATASOURCES:READ` scopes' `filter`), each as one condition in
   * ClickHouse's canonical text, ready to splice: the filter is formatted inside `SELECT 1 WHERE (…)` (which
   * drops comments and re-escapes literals), that statement must stay one SELECT of a WHERE and nothing else
   * (a filter that closes its bracket to add a clause, a UNION or SETTINGS is refused), and its names and
   * functions obey the statement's own rules; the tables its subqueries read are checked with the statement's
   * in the query tree. A filter that fails is the token's fault: 403, with ClickHouse's reason.
   */
  private async rowFilters(who: Principal, names: SyntaxRules): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (const [datasource, filter] of who.rowFilters ?? []) {
      const refused = (why: string) => new SqlRefusedError(`The token's filter on ${datasource} is not one SQL condition: ${why}`)
      let parsed = this.parsedFilters.get(filter)
      if (!parsed) {
        try {
          const text = singleStatement(await this.store.sqlApi.canonical(singleStatement(`SELECT 1 WHERE (${filter})`)))
          parsed = { canonical: text, lines: await this.store.sqlApi.syntaxTree(text) }
        } catch (err) {
          if (err instanceof SqlQueryError || err instanceof SqlInvalidError) throw refused(err.message)
          throw err
        }
        // A JWT is sent again and again: its filters are formatted and parsed once (the checks below depend on the caller, so they run each time).
        if (this.parsedFilters.size >= MAX_PARSED_FILTERS) this.parsedFilters.delete(this.parsedFilters.keys().next().value!)
        this.parsedFilters.set(filter, parsed)
      }
      const { canonical, lines } = parsed
      const tree = parseTree(lines)
      const union = tree?.children
      const only = union?.length === 1 && union[0]?.children.length === 1 ? union[0].children[0] : undefined
      // The SELECT list, the WHERE condition and nothing else but the FROM system.one ClickHouse reads it from.
      const clauses = only?.children.filter((c) => !(c.label.startsWith('TablesInSelectQuery') && readsOneRow(c)))
      const condition = /^SELECT 1\s+WHERE\s+([\s\S]+)$/.exec(canonical)?.[1]
      if (!tree || condition === undefined || !only?.label.startsWith('SelectQuery') || clauses?.length !== 2) throw refused('it adds clauses to the query')
      try {
        checkSyntax(tree, who, names)
      } catch (err) {
        if (err instanceof SqlRefusedError || err instanceof SqlInvalidError) throw refused(err.message)
        throw err
      }
      out.set(datasource, `(${condition.trim()})`)
    }
    return out
  }

  /**
   * ClickHouse's refusal of the statement as a 400 with its message; EXPLAIN's own refusal of anything
   * but a SELECT (it explains SELECTs only, as a subquery) as a 403.
   */
  private async explain<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof SqlQueryError)) throw err
      if (/supports only SELECT queries/i.test(err.message)) throw new SqlRefusedError('Only SELECT queries are allowed')
      if (/cannot have output options/i.test(err.message)) throw new SqlInvalidError('FORMAT must be the last clause of the query')
      throw new SqlInvalidError(err.message)
    }
  }
}

/** What a statement may name: see checkSyntax. */
interface SyntaxRules {
  readonly databases: ReadonlySet<string>
  readonly tables: ReadonlySet<string>
  readonly inline: ReadonlySet<string>
  readonly inlineOnly: boolean
  readonly readable: ReadonlyMap<string, Readable>
}

/** The first check, on ClickHouse's syntax tree: what the statement is and what it names. */
function checkSyntax(tree: AstNode, who: Principal, reserved: SyntaxRules): void {
  if (!tree.label.startsWith('SelectWithUnionQuery')) {
    throw new SqlRefusedError(`Only SELECT queries are allowed (this is ${tree.label.split(' ')[0] ?? 'another statement'})`)
  }
  for (const extra of tree.children.slice(1)) {
    if (extra.label.startsWith('Literal')) throw new SqlRefusedError('INTO OUTFILE is not allowed')
    if (extra.label === 'Set' || extra.label.startsWith('Set ')) throw new SqlRefusedError('SETTINGS are not allowed')
    throw new SqlInvalidError('FORMAT must be the last clause of the query')
  }
  const walk = (node: AstNode, parent: AstNode | undefined): void => {
    const { label } = node
    if (label === 'Set' || label.startsWith('Set ')) throw new SqlRefusedError('SETTINGS are not allowed')
    if (/^(Insert|Alter|Create|Drop|Rename|Delete|Update|Optimize|System|Kill|Grant|Revoke|Use|SetQuery|Show|Describe|Explain|Watch|Backup|Undrop|Truncate|Check|Exists)/.test(label)) {
      throw new SqlRefusedError('Only SELECT queries are allowed')
    }
    if (label.startsWith('Function ')) {
      const name = nameOf(label, 'Function').toLowerCase()
      if (parent?.label.startsWith('TableExpression')) {
        if (!TABLE_FUNCTIONS.has(name)) throw new SqlRefusedError(`The table function ${name} is not allowed; query the datasources by name`)
      } else if (FORBIDDEN_FUNCTIONS.test(name)) throw new SqlRefusedError(`The function ${name} is not allowed`)
    }
    if (label.startsWith('TableIdentifier ')) {
      const name = nameOf(label, 'TableIdentifier')
      // ClickHouse reads a SELECT without FROM from system.one (one row, no data), and says so in its tree.
      if (name === ONE_ROW) return
      if (name.includes('.')) throw new SqlRefusedError('Tables are read by their names alone, without a database')
      if (reserved.inline.has(name)) return
      if (reserved.inlineOnly && reserved.readable.has(name)) throw new SqlRefusedError(`q= reads the pipe's answer only, as _: ${name} is not readable here`)
      const readable = reserved.readable.get(name)
      if (readable && readable.rows(who) === undefined) throw new SqlRefusedError(`This token may not read ${name}`)
    }
    if (label.startsWith('Identifier ') || label.startsWith('TableIdentifier ')) {
      const name = nameOf(label, label.startsWith('Identifier ') ? 'Identifier' : 'TableIdentifier')
      const first = name.split('.')[0]?.toLowerCase() ?? ''
      if (name.includes('.') && reserved.databases.has(first)) throw new SqlRefusedError('Databases cannot be named: tables are read by their names alone')
      if (reserved.tables.has(name)) throw new SqlRefusedError(`This token may not read ${name}`)
    }
    for (const child of node.children) walk(child, node)
  }
  walk(tree, undefined)
}

const WIDE_INTEGER = /^(Nullable\()?(LowCardinality\()?U?Int(64|128|256)\b/

/** ClickHouse's JSON with 64-bit integers (strings there) as numbers, or bigints where a number would round. */
function answer(doc: JsonDocument<Record<string, unknown>>): SqlAnswer {
  const wide = doc.meta.filter((c) => WIDE_INTEGER.test(c.type)).map((c) => c.name)
  const data =
    wide.length === 0
      ? doc.data
      : doc.data.map((row) => {
          const out = { ...row }
          for (const name of wide) {
            const v = out[name]
            if (typeof v === 'string' && /^-?\d+$/.test(v)) out[name] = Number.isSafeInteger(Number(v)) ? Number(v) : BigInt(v)
          }
          return out
        })
  return {
    meta: doc.meta,
    data,
    ...(doc.rows_before_limit_at_least === undefined ? {} : { rowsBeforeLimit: Number(doc.rows_before_limit_at_least) }),
    statistics: { rows_read: Number(doc.statistics?.rows_read ?? 0), bytes_read: Number(doc.statistics?.bytes_read ?? 0) },
  }
}
