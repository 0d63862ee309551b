import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { grants, type Principal } from '../auth/scopes.js'
import { ForbiddenError } from '../errors.js'
import {
  datasourceDdl,
  jsonMapping,
  loadProject,
  mapJsonRow,
  parseDatasource,
  quarantineDdl,
  quarantineRow,
  type Datasource,
  type JsonMapping,
  type Pipe,
  type Project,
  type RowMisfit,
} from '../project/datafile.js'
import { planDatasource, planMaterializedView } from '../project/migrate.js'
import { checkPipes, materializedViewSql, pipeSql } from '../project/pipeline.js'
import { RESERVED_REQUEST_PARAMS, TemplateError, type ParamValue } from '../project/template.js'
import type { JsonDocument } from '../store/clickhouse.js'
import { ProjectQueryError, type AppliedDatafile, type ProjectRepository } from '../store/project.js'

export { DatafileError } from '../project/datafile.js'
export { ProjectQueryError, TemplateError }

/** Restarting with changed datafiles would lose or reinterpret rows (the planner's messages). */
export class ProjectRefusedError extends Error {
  override name = 'ProjectRefusedError'
}

export interface ProjectOptions {
  /** Names of the built-in pipes and datasources: a project resource of the same name is `<db>.<name>` in scopes. */
  readonly builtinPipes: ReadonlySet<string>
  readonly builtinDatasources: ReadonlySet<string>
  /** `tb_secret`/`tb_var` values (from SIGHTLINE_SECRET_<NAME> / SIGHTLINE_VAR_<NAME>). */
  readonly secrets?: Readonly<Record<string, string>>
  readonly vars?: Readonly<Record<string, string>>
}

/** What applying the datafiles did at start-up, one line per change. */
export interface ApplyReport {
  readonly changes: readonly string[]
}

/**
 * A loaded Tinybird project as use cases: parse it (`ProjectService.load`, which throws DatafileError
 * with file:line), bring its database up to the datafiles (`apply`), read its endpoint pipes and
 * append NDJSON to its datasources. Every value from a request reaches SQL as a bound parameter.
 */
export class ProjectService {
  private readonly mappings = new Map<string, JsonMapping>()

  constructor(
    readonly project: Project,
    private readonly repo: ProjectRepository,
    private readonly options: ProjectOptions,
  ) {}

  /**
   * Parses the folder and renders every pipe in Tinybird's test mode; a bad datafile throws
   * DatafileError (`file:line: what was expected`) before anything touches the store.
   */
  static parse(dir: string, database: string): Project {
    const project = loadProject(dir)
    const [problem] = checkPipes(project, database)
    if (problem) throw problem
    return project
  }

  get database(): string {
    return this.repo.database
  }

  /**
   * Creates the project database, every datasource with its quarantine table, then the materialized
   * views, idempotently. A datafile whose text changed since it was last applied goes through the
   * migration planner: every plan is made first, and any refusal stops here with nothing changed.
   */
  async apply(): Promise<ApplyReport> {
    const db = this.repo.database
    await this.repo.ensureDatabase()
    const applied = new Map((await this.repo.appliedDatafiles()).map((f) => [`${f.kind}:${f.name}`, f.text]))
    const statements: string[] = []
    const changes: string[] = []
    const refusals: string[] = []
    const record: AppliedDatafile[] = []
    const rebuilt = new Set<string>()
    for (const ds of this.project.datasources.values()) {
      const text = readFileSync(join(this.project.dir, ds.file), 'utf8')
      const before = applied.get(`datasource:${ds.name}`)
      if (before === undefined) {
        statements.push(datasourceDdl(ds, db), quarantineDdl(ds, db))
        changes.push(`datasource ${ds.name}: created`)
        record.push({ kind: 'datasource', name: ds.name, text })
        continue
      }
      if (before === text) {
        statements.push(datasourceDdl(ds, db), quarantineDdl(ds, db)) // IF NOT EXISTS: restores a table dropped by hand
        continue
      }
      const plan = planDatasource(parseDatasource(ds.file, before, ds.name), ds, db, await this.repo.rowCount(ds.name))
      refusals.push(...plan.refusals)
      statements.push(...plan.statements, quarantineDdl(ds, db))
      changes.push(...plan.changes)
      if (plan.rebuilt) rebuilt.add(ds.name)
      record.push({ kind: 'datasource', name: ds.name, text })
    }
    if (refusals.length > 0) throw new ProjectRefusedError(`The project's datafiles changed in ways that would lose data:\n${refusals.join('\n')}`)
    const views: string[] = []
    for (const pipe of this.project.pipes.values()) {
      if (pipe.type !== 'materialized') continue
      const sql = materializedViewSql(this.project, pipe.name, db)
      const before = applied.get(`view:${pipe.name}`)
      // A rebuilt target needs its views created again (a view is bound to the table, not its name).
      const previous = before !== undefined && pipe.datasource !== undefined && rebuilt.has(pipe.datasource) ? `${before}\n-- rebuilt` : before
      const planned = planMaterializedView(previous, sql, pipe.name, db)
      views.push(...(planned.length > 0 ? planned : [sql]))
      if (planned.length > 0) {
        changes.push(`materialized view ${pipe.name}: ${before === undefined ? 'created' : 'recreated'}`)
        record.push({ kind: 'view', name: pipe.name, text: sql })
      }
    }
    for (const statement of [...statements, ...views]) await this.repo.command(statement)
    if (record.length > 0) await this.repo.recordDatafiles(record)
    return { changes }
  }

  /** The project's endpoint pipe of that name, if any. */
  endpoint(name: string): Pipe | undefined {
    const pipe = this.project.pipes.get(name)
    return pipe?.type === 'endpoint' ? pipe : undefined
  }

  datasource(name: string): Datasource | undefined {
    return this.project.datasources.get(name)
  }

  /** The name scopes use for a project pipe or datasource: `<db>.<name>` when a built-in one has the name. */
  scopeName(kind: 'pipe' | 'datasource', name: string): string {
    const builtin = kind === 'pipe' ? this.options.builtinPipes : this.options.builtinDatasources
    return builtin.has(name) ? `${this.repo.database}.${name}` : name
  }

  /**
   * An endpoint pipe's answer for `request` (query string and body parameters). Needs `read:pipe:<pipe>`
   * (or a JWT for the pipe). Reserved request names are dropped and a JWT's `fixed_params` replace
   * whatever the request sent under those names. Throws TemplateError (400 with Tinybird's body) for
   * bad parameters and ProjectQueryError when ClickHouse refuses the rendered SQL.
   */
  async read(principal: Principal, name: string, request: URLSearchParams): Promise<JsonDocument<Record<string, unknown>>> {
    const pipe = this.endpoint(name)
    if (!pipe) throw new Error(`no endpoint pipe named ${name}`)
    const scope = `read:pipe:${this.scopeName('pipe', name)}`
    const fixed = principal.fixedParams?.get(name)
    if (!grants(principal.scopes, scope) && !fixed) throw new ForbiddenError(`This pipe needs the scope "${scope}"`)
    const params: Record<string, ParamValue> = {}
    for (const key of new Set(request.keys())) {
      if (RESERVED_REQUEST_PARAMS.includes(key)) continue
      const values = request.getAll(key)
      params[key] = values.length === 1 ? (values[0] as string) : values
    }
    for (const [key, value] of Object.entries(fixed ?? {})) params[key] = value
    const rendered = pipeSql(this.project, name, {
      database: this.repo.database,
      params,
      ...(this.options.secrets !== undefined && { secrets: this.options.secrets }),
      ...(this.options.vars !== undefined && { vars: this.options.vars }),
    })
    return this.repo.select(rendered.sql, rendered.params)
  }

  /**
   * Tinybird's Events API for a project datasource: each NDJSON line is mapped by the columns' `json:`
   * paths; rows that fit are inserted, the others go to `<ds>_quarantine` with Tinybird's columns.
   * Needs `append:<ds>`.
   */
  async append(principal: Principal, name: string, ndjson: string): Promise<{ successful_rows: number; quarantined_rows: number }> {
    const ds = this.datasource(name)
    if (!ds) throw new Error(`no datasource named ${name}`)
    const scope = `append:${this.scopeName('datasource', name)}`
    if (!grants(principal.scopes, scope)) throw new ForbiddenError(`Appending to this datasource needs the scope "${scope}"`)
    const mapping = this.mappingOf(ds)
    const good: Array<Record<string, unknown>> = []
    const bad: Array<Record<string, unknown>> = []
    const importId = randomUUID()
    const now = new Date()
    for (const line of ndjson.split('\n')) {
      const raw = line.trim()
      if (raw === '') continue
      let value: unknown
      let errors: readonly RowMisfit[] | undefined
      try {
        value = JSON.parse(raw)
      } catch {
        errors = [{ column: '', message: 'the line is not valid JSON' }]
      }
      if (!errors) {
        const mapped = mapJsonRow(mapping, value, raw)
        if (mapped.ok) {
          good.push(mapped.row)
          continue
        }
        errors = mapped.errors
      }
      bad.push(quarantineRow(mapping, value, errors, importId, now, raw))
    }
    await this.repo.insert(ds.name, good)
    await this.repo.insert(`${ds.name}_quarantine`, bad)
    return { successful_rows: good.length, quarantined_rows: bad.length }
  }

  private mappingOf(ds: Datasource): JsonMapping {
    let mapping = this.mappings.get(ds.name)
    if (!mapping) this.mappings.set(ds.name, (mapping = jsonMapping(ds)))
    return mapping
  }
}
