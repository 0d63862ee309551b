/**
 * A loaded project's pipes as the SQL the server runs: an endpoint request (`pipeSql`), a copy
 * (`copySql`), a materialized view (`materializedViewSql`), the parameters a pipe accepts
 * (`pipeParameters`) and a load-time check of every pipe in Tinybird's test mode (`checkPipes`).
 * Pure: nothing here touches the store.
 *
 * Choices (TINYBIRD.md leaves them open or unverified):
 * - Every node a pipe's output reads is rendered once per request with the same parameters and one
 *   shared Binder, and composed as CTEs (`WITH node AS (…) …`), which ClickHouse inlines like
 *   Tinybird's subqueries. Nodes the output does not read are not rendered.
 * - A node that reads another pipe (`FROM other_pipe`) gets that pipe's output SQL as a CTE, rendered
 *   with the same request parameters (unverified in Tinybird); its parameters join the signature.
 * - Datasource names are qualified with the project database (`project.clicks AS clicks`), `tinybird.*`
 *   names go through `serviceTable` (left as written when it returns undefined).
 * - A materialized view is rendered once, inline (ClickHouse does not allow query parameters in a
 *   view), with each parameter's default; a parameter without default makes it fail like Tinybird.
 * - A copy renders with the request's parameters (or none, for a scheduled run) and bound values.
 */
import { composeNodeSql, DatafileError, errorAt, quoteIdentifier, type Pipe, type PipeNode, type Project } from './datafile.js'
import { Binder, renderTemplate, TemplateError, templateParameters, type ParamValue, type RenderedTemplate, type TemplateParam } from './template.js'

export interface PipeSqlOptions {
  /** The ClickHouse database holding the project's datasources. */
  readonly database: string
  /** Request parameters (reserved request names already removed). */
  readonly params?: Readonly<Record<string, ParamValue>>
  /** `bind` (default) or `inline` (Tinybird's exact text, no parameters). */
  readonly mode?: 'bind' | 'inline'
  readonly secrets?: Readonly<Record<string, string>>
  readonly vars?: Readonly<Record<string, string>>
  /** Render every node in Tinybird's test mode (placeholders, no errors). */
  readonly testMode?: boolean
  readonly now?: Date
  /** The table for a `tinybird.*` service datasource, e.g. `sightline.pipe_stats_rt`. */
  readonly serviceTable?: (name: string) => string | undefined
  /** Render this node instead of the pipe's output node (a playground or a node endpoint). */
  readonly node?: string
}

export interface PipeSql {
  readonly sql: string
  /** Bound parameters for ClickHouse `query_params` (empty in inline mode). */
  readonly params: Record<string, string>
  /** Query options set by the templates (`max_threads`, `cache_ttl`, …); later nodes win. */
  readonly settings: RenderedTemplate['settings']
  /** Reserved names the templates use as parameters. */
  readonly warnings: readonly string[]
}

function pipeOf(project: Project, name: string): Pipe {
  const pipe = project.pipes.get(name)
  if (!pipe) throw new Error(`no pipe named ${name} in the project`)
  return pipe
}

/** The SQL of a pipe's output node (or `options.node`) for one request. Throws TemplateError (400…). */
export function pipeSql(project: Project, pipeName: string, options: PipeSqlOptions): PipeSql {
  const binder = new Binder()
  let settings: RenderedTemplate['settings'] = {}
  const warnings = new Set<string>()
  const mode = options.mode ?? 'bind'
  const table = (name: string): string | undefined => {
    if (project.datasources.has(name)) return `${quoteIdentifier(options.database)}.${quoteIdentifier(name)}`
    if (name.startsWith('tinybird.')) return options.serviceTable?.(name)
    return undefined
  }
  const compose = (pipe: Pipe, node: string, seen: ReadonlySet<string>): string => {
    const rendered = (name: string): string => {
      const n = pipe.nodes.find((x) => x.name === name)
      if (!n) throw new Error(`no node named ${name} in pipe ${pipe.name}`)
      if (!n.template) return n.text
      let r: RenderedTemplate
      try {
        r = renderTemplate(n.text, {
          binder,
          mode,
          ...(options.params !== undefined && { params: options.params }),
          ...(options.secrets !== undefined && { secrets: options.secrets }),
          ...(options.vars !== undefined && { vars: options.vars }),
          ...(options.testMode !== undefined && { testMode: options.testMode }),
          ...(options.now !== undefined && { now: options.now }),
        })
      } catch (e) {
        throw e instanceof TemplateError && e.node === undefined ? e.at(pipe.name, name) : e
      }
      settings = { ...settings, ...r.settings }
      for (const w of r.warnings) warnings.add(w)
      return r.sql
    }
    const otherPipe = (name: string): string | undefined => {
      const other = project.pipes.get(name)
      if (!other || seen.has(name)) return undefined
      return compose(other, other.outputNode, new Set([...seen, name]))
    }
    return composeNodeSql(pipe, node, rendered, { otherPipe, table })
  }
  const pipe = pipeOf(project, pipeName)
  const sql = compose(pipe, options.node ?? pipe.outputNode, new Set([pipe.name]))
  return { sql, params: binder.params, settings, warnings: [...warnings] }
}

/** Nodes (and other pipes' nodes) the output node of a pipe reads, transitively, in dependency order. */
function reachable(project: Project, pipeName: string, node: string, out: { pipe: Pipe; node: string }[] = [], seen = new Set<string>()): { pipe: Pipe; node: string }[] {
  const key = `${pipeName}.${node}`
  if (seen.has(key)) return out
  seen.add(key)
  const pipe = pipeOf(project, pipeName)
  for (const dep of project.dependencies.get(pipeName)?.get(node) ?? []) {
    if (dep.kind === 'node') reachable(project, pipeName, dep.name, out, seen)
    else if (dep.kind === 'pipe') reachable(project, dep.name, pipeOf(project, dep.name).outputNode, out, seen)
  }
  out.push({ pipe, node })
  return out
}

/** The nodes the output node of a pipe reads (its own and other pipes'), transitively, itself included. */
export function nodesRead(project: Project, pipeName: string): PipeNode[] {
  return reachable(project, pipeName, pipeOf(project, pipeName).outputNode).map(({ pipe, node }) => pipe.nodes.find((n) => n.name === node)!)
}

/**
 * The parameters a pipe's endpoint accepts: every template parameter of the nodes its output reads
 * (other pipes included), first occurrence first; a typed use wins over an untyped one, the first
 * default and description found are kept, `required` is true when any use says so.
 */
export function pipeParameters(project: Project, pipeName: string, node?: string): TemplateParam[] {
  const pipe = pipeOf(project, pipeName)
  const merged = new Map<string, TemplateParam>()
  for (const { pipe: p, node: n } of reachable(project, pipeName, node ?? pipe.outputNode)) {
    const text = p.nodes.find((x) => x.name === n)!
    if (!text.template) continue
    for (const param of templateParameters(text.text)) {
      const known = merged.get(param.name)
      if (!known) {
        merged.set(param.name, param)
        continue
      }
      const base = known.untyped && !param.untyped ? { ...param, line: known.line } : known
      merged.set(param.name, {
        ...base,
        required: known.required || param.required,
        ...(base.default === undefined && param.default !== undefined && { default: param.default }),
        ...(base.description === undefined && param.description !== undefined && { description: param.description }),
      })
    }
  }
  return [...merged.values()]
}

/**
 * `CREATE MATERIALIZED VIEW IF NOT EXISTS <db>.<pipe> TO <db>.<target> AS <SQL>` for a TYPE
 * MATERIALIZED pipe, rendered inline with the templates' defaults and qualified table names.
 */
export function materializedViewSql(project: Project, pipeName: string, database: string, options: Omit<PipeSqlOptions, 'database' | 'mode' | 'params' | 'node'> = {}): string {
  const pipe = pipeOf(project, pipeName)
  if (pipe.type !== 'materialized') throw new Error(`pipe ${pipeName} is not TYPE MATERIALIZED`)
  const { sql } = pipeSql(project, pipeName, { ...options, database, mode: 'inline' })
  const db = quoteIdentifier(database)
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${quoteIdentifier(pipe.name)} TO ${db}.${quoteIdentifier(pipe.datasource!)} AS\n${sql}`
}

export interface CopySql extends PipeSql {
  /** `replace`: empty the target first (Tinybird's COPY_MODE replace); `append` otherwise. */
  readonly mode: 'append' | 'replace'
  readonly target: string
}

/** `INSERT INTO <db>.<target> <SQL>` for a TYPE COPY pipe, with the request's parameters bound. */
export function copySql(project: Project, pipeName: string, options: PipeSqlOptions): CopySql {
  const pipe = pipeOf(project, pipeName)
  if (pipe.type !== 'copy') throw new Error(`pipe ${pipeName} is not TYPE COPY`)
  const rendered = pipeSql(project, pipeName, options)
  const target = `${quoteIdentifier(options.database)}.${quoteIdentifier(pipe.targetDatasource!)}`
  return { ...rendered, sql: `INSERT INTO ${target}\n${rendered.sql}`, mode: pipe.copyMode ?? 'append', target }
}

/**
 * Renders every pipe's output in Tinybird's test mode (as `tb build` does) and materialized views with
 * their defaults; returns one DatafileError per pipe that fails, at the pipe's output node.
 */
export function checkPipes(project: Project, database = 'project'): DatafileError[] {
  const problems: DatafileError[] = []
  for (const pipe of project.pipes.values()) {
    try {
      if (pipe.type === 'materialized') materializedViewSql(project, pipe.name, database)
      else pipeSql(project, pipe.name, { database, testMode: true })
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e
      const owner = project.pipes.get(e.pipe ?? pipe.name) ?? pipe
      const node = owner.nodes.find((n) => n.name === (e.node ?? owner.outputNode))!
      const where = owner === pipe ? `node ${node.name}` : `pipe ${owner.name}, node ${node.name} (read by ${pipe.name})`
      problems.push(errorAt(owner, node.sqlLine + (e.line ?? 1) - 1, `${where}${pipe.type === 'materialized' ? ' (materialized with defaults)' : ''}: ${e.message}`))
    }
  }
  return problems
}
