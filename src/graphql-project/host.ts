/**
 * The loaded Tinybird project as the server serves it, swappable as a whole: the project's use cases
 * (`service`, which REST reads) and the GraphQL schema with its `pipes` namespace (`LiveSchema`, which
 * Apollo and graphql-ws read). `apply()` brings the database up to the datafiles and describes every
 * endpoint's output columns; `reload(next)` (`sightline dev`) does the same for a changed project and
 * swaps both only once everything worked, so a failed reload leaves the previous version serving.
 */
import { readFileSync } from 'node:fs'
import { parse as parseCsv } from 'csv-parse/sync'
import { execute, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql'
import type { Principal } from '../auth/scopes.js'
import { ProjectQueryError, ProjectRefusedError, ProjectService, TemplateError, type ApplyReport, type ProjectOptions } from '../domain/project.js'
import { parseDatasource, projectFixtures, type Project } from '../project/datafile.js'
import { planDatasource } from '../project/migrate.js'
import { pipeParameters, pipeSql } from '../project/pipeline.js'
import type { ProjectRepository } from '../store/project.js'
import { badInput, withPipes, type PipeShape } from './schema.js'

/** Who loads fixtures: every scope (fixtures are the project's own sample rows). */
const FIXTURES: Principal = { name: 'fixtures', scopes: ['admin'], workspaceId: null }

export interface ReloadReport extends ApplyReport {
  /** Datasources emptied and refilled from their fixtures because their change would have lost rows. */
  readonly rebuilt: readonly string[]
}

export interface FixtureLoad {
  readonly datasource: string
  readonly file: string
  readonly rows: number
  readonly quarantined: number
}

export class ProjectHost {
  private current: ProjectService
  private shapes: readonly PipeShape[] = []
  private readonly listeners = new Set<() => void>()
  private scheduled: { args: Parameters<ProjectService['schedule']>; stop: () => Promise<void> } | undefined

  constructor(
    project: Project,
    private readonly repo: ProjectRepository,
    private readonly options: ProjectOptions,
  ) {
    this.current = new ProjectService(project, repo, options)
  }

  /** The project's use cases, as REST serves them. */
  get service(): ProjectService {
    return this.current
  }

  get project(): Project {
    return this.current.project
  }

  get database(): string {
    return this.repo.database
  }

  /** The endpoint pipes as the generated GraphQL part sees them (after `apply`). */
  get pipes(): readonly PipeShape[] {
    return this.shapes
  }

  /**
   * Runs the project's COPY_SCHEDULE crons (`ProjectService.schedule`), moved to the new version on each
   * reload; the function returned stops them (and waits for a running copy).
   */
  schedule(...args: Parameters<ProjectService['schedule']>): () => Promise<void> {
    const scheduled = { args, stop: this.current.schedule(...args) }
    this.scheduled = scheduled
    return async () => {
      if (this.scheduled === scheduled) this.scheduled = undefined
      await scheduled.stop()
    }
  }

  /** Called after every successful apply or reload. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Applies the current project's datafiles and describes its endpoints. */
  async apply(): Promise<ApplyReport> {
    const report = await this.current.apply()
    this.shapes = await this.describe(this.current.project)
    for (const listener of this.listeners) listener()
    return report
  }

  /**
   * Serves `next` instead of the current project once its datafiles are applied and its endpoints
   * described. With `rebuild`, a datasource whose change would lose rows is emptied, changed and
   * refilled from its fixtures (`sightline dev` only; `say` tells the developer first); without it, the
   * ProjectRefusedError stops the reload and nothing changes.
   */
  async reload(next: Project, options: { rebuild?: boolean; say?: (line: string) => void } = {}): Promise<ReloadReport> {
    const service = new ProjectService(next, this.repo, this.options)
    let report: ApplyReport
    let rebuilt: string[] = []
    try {
      report = await service.apply()
    } catch (err) {
      if (!(err instanceof ProjectRefusedError) || !options.rebuild) throw err
      rebuilt = await this.refused(next)
      if (rebuilt.length === 0) throw err
      options.say?.(`${err.message}\nDev mode: emptying ${rebuilt.join(', ')} and loading ${rebuilt.length === 1 ? 'its' : 'their'} fixtures again.`)
      for (const name of rebuilt) {
        await this.repo.command(`TRUNCATE TABLE IF EXISTS ${this.repo.table(name)}`)
        await this.repo.command(`TRUNCATE TABLE IF EXISTS ${this.repo.table(`${name}_quarantine`)}`)
      }
      report = await service.apply()
    }
    const shapes = await this.describe(next)
    this.current = service
    this.shapes = shapes
    if (this.scheduled) {
      await this.scheduled.stop()
      this.scheduled.stop = service.schedule(...this.scheduled.args)
    }
    if (rebuilt.length > 0) await this.loadFixtures(new Set(rebuilt))
    for (const listener of this.listeners) listener()
    return { ...report, rebuilt }
  }

  /**
   * Loads `fixtures/<datasource>.ndjson|csv` (all, or those of `only`): NDJSON through the datasource's
   * JSON paths as the Events API maps it (misfits quarantined), CSV by column order.
   */
  async loadFixtures(only?: ReadonlySet<string>): Promise<FixtureLoad[]> {
    const loads: FixtureLoad[] = []
    for (const fixture of projectFixtures(this.project)) {
      if (only && !only.has(fixture.datasource)) continue
      const text = readFileSync(fixture.path, 'utf8')
      const file = fixture.path.slice(this.project.dir.length).replace(/^[/\\]/, '')
      if (fixture.format === 'ndjson') {
        const result = await this.current.append(FIXTURES, fixture.datasource, text)
        loads.push({ datasource: fixture.datasource, file, rows: result.successful_rows, quarantined: result.quarantined_rows })
        continue
      }
      const columns = this.project.datasources.get(fixture.datasource)!.columns.map((c) => c.name)
      const records = parseCsv(text, { relax_column_count: true, skip_empty_lines: true }) as string[][]
      // A header line naming the columns is skipped, as Tinybird does with CSV fixtures that have one.
      const body = records.length > 0 && records[0]!.every((cell, i) => cell === columns[i]) ? records.slice(1) : records
      const rows = body.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null]).filter(([, v]) => v !== null && v !== '')))
      await this.repo.insert(fixture.datasource, rows)
      loads.push({ datasource: fixture.datasource, file, rows: rows.length, quarantined: 0 })
    }
    return loads
  }

  /** `base` with the `pipes` namespace of the current project. */
  schema(base: GraphQLSchema): GraphQLSchema {
    return withPipes(
      base,
      this.shapes,
      async (principal, pipe, params, requestId) => (await this.current.read(principal, pipe, params, requestId)).data,
      (err) => {
        if (err instanceof TemplateError) return badInput(err.body.error, { status: err.status })
        if (err instanceof ProjectQueryError) return badInput(`[Error] ${err.message}`)
        return undefined
      },
    )
  }

  /** Datasources of `next` whose change the planner refuses (they have rows), by name. */
  private async refused(next: Project): Promise<string[]> {
    const applied = new Map((await this.repo.appliedDatafiles()).filter((f) => f.kind === 'datasource').map((f) => [f.name, f.text]))
    const names: string[] = []
    for (const ds of next.datasources.values()) {
      const before = applied.get(ds.name)
      if (before === undefined) continue
      const plan = planDatasource(parseDatasource(ds.file, before, ds.name), ds, this.repo.database, await this.repo.rowCount(ds.name))
      if (plan.refusals.length > 0) names.push(ds.name)
    }
    return names
  }

  /**
   * Every endpoint pipe's parameters and output columns. Columns come from ClickHouse describing the
   * endpoint query rendered in Tinybird's test mode (placeholders for every parameter), else rendered
   * with the templates' defaults; a pipe neither describes is served with JSON rows.
   */
  private async describe(project: Project): Promise<PipeShape[]> {
    const shapes: PipeShape[] = []
    const base = {
      database: this.repo.database,
      mode: 'inline' as const,
      ...(this.options.serviceTable !== undefined && { serviceTable: this.options.serviceTable }),
      ...(this.options.secrets !== undefined && { secrets: this.options.secrets }),
      ...(this.options.vars !== undefined && { vars: this.options.vars }),
    }
    for (const pipe of project.pipes.values()) {
      if (pipe.type !== 'endpoint') continue
      let columns: PipeShape['columns']
      for (const testMode of [true, false]) {
        try {
          const { sql } = pipeSql(project, pipe.name, { ...base, testMode })
          const doc = await this.repo.select(`DESCRIBE (${sql})`, {})
          columns = doc.data.map((row) => ({ name: String(row.name), type: String(row.type) }))
          break
        } catch {
          // the other rendering, else JSON rows
        }
      }
      const shadowsBuiltin = this.options.builtinPipes.has(pipe.name)
      shapes.push({ name: pipe.name, description: pipe.description, params: pipeParameters(project, pipe.name), columns, shadowsBuiltin })
    }
    return shapes
  }
}

/** graphql-js's `execute`, or one with its signature (a compiled executor). */
export type Execute = (args: ExecutionArgs, headers?: { set(name: string, value: string): void }) => Promise<ExecutionResult> | ExecutionResult

type SchemaContext = { apiSchema: GraphQLSchema; coreSupergraphSdl: string }

/**
 * The schema Apollo and graphql-ws serve: the built-in one, plus the loaded project's `pipes` once it
 * is applied, replaced on every reload. `gateway` is Apollo Server's hook for a schema that changes (its
 * gateway interface). With `executorFor`, operations run on the executor made for the current schema
 * (an operation validated against an earlier one runs on that schema, as graphql-js would run it).
 */
export class LiveSchema {
  private schema: GraphQLSchema
  private executor: Execute | undefined
  private readonly subscribers = new Set<(context: SchemaContext) => void>()

  constructor(
    private readonly base: GraphQLSchema,
    host?: ProjectHost,
    private readonly executorFor?: (schema: GraphQLSchema) => Execute,
  ) {
    this.schema = base
    this.executor = executorFor?.(base)
    host?.onChange(() => this.publish(host.schema(this.base)))
  }

  get current(): GraphQLSchema {
    return this.schema
  }

  /** Runs an operation on the current schema's executor (graphql-ws's `execute`). */
  execute(args: ExecutionArgs, headers?: { set(name: string, value: string): void }): Promise<ExecutionResult> | ExecutionResult {
    return this.executor ? this.executor(args, headers) : execute(args)
  }

  private publish(schema: GraphQLSchema): void {
    this.schema = schema
    this.executor = this.executorFor?.(schema)
    for (const notify of this.subscribers) notify({ apiSchema: schema, coreSupergraphSdl: '' })
  }

  readonly gateway = {
    onSchemaLoadOrUpdate: (callback: (context: SchemaContext) => void) => {
      this.subscribers.add(callback)
      return () => {
        this.subscribers.delete(callback)
      }
    },
    load: async () => {
      for (const notify of this.subscribers) notify({ apiSchema: this.schema, coreSupergraphSdl: '' })
      if (!this.executorFor) return { executor: null }
      return {
        executor: async (request: {
          schema: GraphQLSchema
          document: DocumentNode
          context: unknown
          request: { variables?: Record<string, unknown> }
          operationName: string | null
          response?: { http?: { headers: { set(name: string, value: string): void } } }
        }) =>
          this.execute(
            {
              schema: request.schema,
              document: request.document,
              contextValue: request.context,
              variableValues: request.request.variables,
              operationName: request.operationName,
            },
            request.response?.http?.headers, // perf: x-sightline-cache
          ),
      }
    },
    stop: async () => {
      this.subscribers.clear()
    },
  }
}
