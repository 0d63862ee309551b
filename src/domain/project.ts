/**
 * A loaded Tinybird project's use cases: parse and apply its datafiles, its tokens, read its endpoints
 * (JSON, JSON text, Parquet), run its copies, describe its datasources: one class over one repository, each
 * method a use case the transports call. Applying the datafiles (`project-apply.ts`), the Events API
 * (`project-ingest.ts`), the copy schedule (`project-schedule.ts`) and the catalog entries
 * (`project-catalog.ts`) live beside it. Just over 300 lines: the reads, copies and descriptions left here
 * share the parsed project, its scope names (`scopeName`) and the service-log recording (`observed`).
 */
import { grants, INTERNAL_TABLES, scopeFor, type Principal } from '../auth/scopes.js'
import type { TokenService } from '../auth/tokens.js'
import { ForbiddenError } from '../errors.js'
import { loadProject, nextCronRun, projectTokens, type Datasource, type Pipe, type Project } from '../project/datafile.js'
import { checkPipes, nodesRead, pipeParameters, pipeSql, type PipeSql } from '../project/pipeline.js'
import { requestParams, TemplateError, type ParamValue, type TemplateParam } from '../project/template.js'
import type { JsonDocument } from '../store/clickhouse.js'
import { ProjectQueryError, type ProjectRepository } from '../store/project.js'
import { applyProject, type ApplyReport } from './project-apply.js'
import { bindCondition } from './condition.js'
import { ProjectIngest, type AppendResult, type ProjectObserver, type UploadRecord } from './project-ingest.js'
import { scheduleCopies, SYSTEM_CLOCK, type CopyRun, type ScheduleClock } from './project-schedule.js'

export { DatafileError } from '../project/datafile.js'
export { ProjectQueryError, TemplateError }
export { ProjectRefusedError, type ApplyReport } from './project-apply.js'
export type { OperationRecord, ProjectObserver } from './project-ingest.js'
export type { CopyRun, ScheduleClock } from './project-schedule.js'

/** The principal of scheduled copies (COPY_SCHEDULE): recorded under this name in the service logs. */
const SCHEDULER: Principal = { name: 'copy scheduler', scopes: ['admin'], workspaceId: null }


export interface ProjectOptions {
  /** Names of the built-in pipes and datasources: a project resource of the same name is `<db>.<name>` in scopes. */
  readonly builtinPipes: ReadonlySet<string>
  readonly builtinDatasources: ReadonlySet<string>
  /** `tb_secret`/`tb_var` values (from SIGHTLINE_SECRET_<NAME> / SIGHTLINE_VAR_<NAME>). */
  readonly secrets?: Readonly<Record<string, string>>
  readonly vars?: Readonly<Record<string, string>>
  /** Where pipe reads, copies and appends are recorded (the service logs and metrics of the built-in surface). */
  readonly observer?: ProjectObserver
  /** The table that answers a `tinybird.*` service datasource in the project's pipes (Sightline's view of its logs). */
  readonly serviceTable?: (name: string) => string | undefined
}


/**
 * A loaded Tinybird project as use cases: parse it (`ProjectService.load`, which throws DatafileError
 * with file:line), bring its database up to the datafiles (`apply`), read its endpoint pipes and
 * append NDJSON to its datasources. Every value from a request reaches SQL as a bound parameter.
 */
export class ProjectService {
  private readonly ingest: ProjectIngest
  /** Per endpoint, whether a node its output reads calls `cache_ttl` (read once: each REST request asks). */
  private readonly callsCacheTtl = new Map<string, boolean>()

  constructor(
    readonly project: Project,
    private readonly repo: ProjectRepository,
    private readonly options: ProjectOptions,
  ) {
    this.ingest = new ProjectIngest(repo, options.observer)
  }

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
    const report = await applyProject(this.project, this.repo)
    // New tables (and tables a migration rebuilt) take the store's durability before any append.
    await this.repo.ensureDurability()
    return report
  }

  /**
   * The project's datasources as Tinybird's Data Sources API describes them (`GET /v0/datasources`):
   * columns with their types and `json:` paths, the engine's settings, the row count, the quarantine table.
   * `landing` datasources take rows; `materialized` ones are written by a materialized or copy pipe.
   */
  async describeDatasources(only?: string): Promise<Array<Record<string, unknown>>> {
    const written = new Set([...this.project.pipes.values()].flatMap((p) => [p.datasource, p.targetDatasource].filter((d): d is string => d !== undefined)))
    const out: Array<Record<string, unknown>> = []
    for (const ds of this.project.datasources.values()) {
      if (only !== undefined && ds.name !== only) continue
      const e = ds.engine
      out.push({
        id: ds.name,
        name: ds.name,
        description: ds.description ?? null,
        type: written.has(ds.name) ? 'materialized' : 'landing',
        columns: ds.columns.map((c) => ({
          name: c.name,
          type: c.type,
          nullable: c.type.startsWith('Nullable('),
          normalized_name: c.name,
          jsonpath: c.jsonPath ?? null,
          default_value: c.default ?? null,
        })),
        engine: {
          engine: e.type,
          sorting_key: e.sortingKey ?? null,
          partition_key: e.partitionKey ?? null,
          primary_key: e.primaryKey ?? null,
          ttl: e.ttl ?? null,
          settings: Object.fromEntries(e.settings),
          // The engine's arguments under the names the official SDK reads.
          ...(e.ver !== undefined && { engine_ver: e.ver }),
          ...(e.isDeleted !== undefined && { engine_is_deleted: e.isDeleted }),
          ...(e.sign !== undefined && { engine_sign: e.sign }),
          ...(e.version !== undefined && { engine_version: e.version }),
          ...(e.summingColumns !== undefined && { engine_summing_columns: e.summingColumns }),
        },
        stats: { row_count: await this.repo.rowCount(ds.name) },
        quarantine: `${ds.name}_quarantine`,
        database: this.repo.database,
      })
    }
    return out
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
    const taken = builtin.has(name) || (kind === 'datasource' && INTERNAL_TABLES.includes(name))
    return taken ? `${this.repo.database}.${name}` : name
  }

  /**
   * The datafiles' `TOKEN` lines as Sightline tokens: `PIPES:READ:<pipe>` → `read:pipe:<pipe>`,
   * `DATASOURCES:APPEND:<ds>` → `append:<ds>`, `DATASOURCES:READ:<ds>` → `read:datasource:<ds>` and `sql`
   * (Tinybird's READ on a datasource is for its Query API). Names as scopes write them (`scopeName`).
   */
  tokenGrants(): Array<{ name: string; scopes: string[]; sources: readonly string[] }> {
    return projectTokens(this.project).map((t) => {
      const scopes = new Set<string>()
      for (const tinybird of t.scopes) {
        const [kind, action, ...rest] = tinybird.split(':')
        const resource = rest.join(':')
        if (kind === 'PIPES') scopes.add(scopeFor.pipe(this.scopeName('pipe', resource)))
        else if (action === 'APPEND') scopes.add(`append:${this.scopeName('datasource', resource)}`)
        else scopes.add(scopeFor.readDatasource(this.scopeName('datasource', resource))).add('sql')
      }
      return { name: t.name, scopes: [...scopes].sort(), sources: t.sources }
    })
  }

  /**
   * Creates the stored token of every `TOKEN` name that has none yet and returns their secrets (shown once,
   * never kept). A token that exists keeps its secret and scopes; when the datafiles now grant it other
   * scopes, `changes` says so and how to re-mint it.
   */
  async ensureTokens(tokens: TokenService): Promise<{ minted: Array<{ name: string; secret: string; scopes: string[] }>; changes: string[] }> {
    const live = new Map((await tokens.list()).map((t) => [t.name, t]))
    const minted: Array<{ name: string; secret: string; scopes: string[] }> = []
    const changes: string[] = []
    for (const grant of this.tokenGrants()) {
      const existing = live.get(grant.name)
      if (existing) {
        const held = [...existing.scopes].sort()
        if (held.join(' ') !== grant.scopes.join(' ')) {
          changes.push(
            `token "${grant.name}" exists with scopes ${held.join(', ')}; the datafiles (${grant.sources.join(', ')}) grant ${grant.scopes.join(', ')}: ` +
              `run \`npx sightline token revoke "${grant.name}"\` and restart to mint it with the datafiles' scopes`,
          )
        }
        continue
      }
      const { secret } = await tokens.create({ name: grant.name, scopes: grant.scopes })
      minted.push({ name: grant.name, secret, scopes: grant.scopes })
      changes.push(`token "${grant.name}": created with ${grant.scopes.join(', ')}`)
    }
    return { minted, changes }
  }

  /**
   * The template parameters of a read of endpoint `name` by `principal`, once it may read it (`read:pipe:<pipe>`
   * or a JWT for the pipe): the request's, with a JWT's `fixed_params` replacing whatever it sent under those names.
   */
  private readableParams(principal: Principal, name: string, request: URLSearchParams): Record<string, ParamValue> {
    if (!this.endpoint(name)) throw new Error(`no endpoint pipe named ${name}`)
    const scope = scopeFor.pipe(this.scopeName('pipe', name))
    const fixed = principal.fixedParams?.get(name)
    if (!grants(principal.scopes, scope) && !fixed) throw new ForbiddenError(`This pipe needs the scope "${scope}"`)
    const params = requestParams(request)
    for (const [key, value] of Object.entries(fixed ?? {})) params[key] = value
    return params
  }

  /**
   * An endpoint pipe's answer for `request` (query string and body parameters). Needs `read:pipe:<pipe>`
   * (or a JWT for the pipe). Reserved request names are dropped and a JWT's `fixed_params` replace
   * whatever the request sent under those names. Template settings (`max_threads`) apply to the query.
   * Throws TemplateError (400 with Tinybird's body) for bad parameters and ProjectQueryError when
   * ClickHouse refuses the rendered SQL.
   */
  async read(principal: Principal, name: string, request: URLSearchParams, requestId = ''): Promise<JsonDocument<Record<string, unknown>>> {
    const params = this.readableParams(principal, name, request)
    return this.observed(principal, this.scopeName('pipe', name), requestId, async () => {
      const rendered = this.render(name, params, 'bind')
      const doc = await this.repo.select(withSettings(rendered), rendered.params)
      return { value: doc, rowsRead: Number(doc.statistics?.rows_read ?? 0), bytesRead: Number(doc.statistics?.bytes_read ?? 0) }
    })
  }

  /**
   * Like `read`, as the JSON text Tinybird answers (ClickHouse's `FORMAT JSON` document, which is
   * Tinybird's envelope), passed through without being parsed and written again.
   */
  async readJson(principal: Principal, name: string, request: URLSearchParams, requestId = '', quote64BitIntegers = false): Promise<string> {
    const params = this.readableParams(principal, name, request)
    return this.observed(principal, this.scopeName('pipe', name), requestId, async () => {
      const rendered = this.render(name, params, 'bind')
      const text = await this.repo.selectText(withSettings(rendered, { output_format_json_quote_64bit_integers: quote64BitIntegers ? 1 : 0 }), rendered.params)
      const stat = (key: string) => Number(new RegExp(`"${key}":\\s*(\\d+)`).exec(text.slice(-300))?.[1] ?? 0)
      return { value: text, rowsRead: stat('rows_read'), bytesRead: stat('bytes_read') }
    })
  }

  /**
   * Like `read`, as a Parquet file (ClickHouse's `FORMAT Parquet`, strings as Parquet strings) or as
   * Prometheus's text exposition format (ClickHouse's `FORMAT Prometheus`: `name` and `value` columns,
   * optionally `help`, `type`, `labels` and `timestamp`, rows of one metric together): the same scope,
   * parameters, limits, errors and service log, the pipe's rows without Tinybird's envelope.
   */
  async readFormat(principal: Principal, name: string, request: URLSearchParams, format: 'Parquet' | 'Prometheus', requestId = ''): Promise<Buffer> {
    const params = this.readableParams(principal, name, request)
    return this.observed(principal, this.scopeName('pipe', name), requestId, async () => {
      const rendered = this.render(name, params, 'bind')
      const settings: Record<string, number> = format === 'Parquet' ? { output_format_parquet_string_as_string: 1 } : {}
      const answer = await this.repo.selectFormat(withSettings(rendered, settings), rendered.params, format)
      return { value: answer.bytes, rowsRead: answer.rowsRead, bytesRead: answer.bytesRead }
    })
  }

  /**
   * How long, in seconds, the answer to this request may be kept when the endpoint's templates say so with
   * `cache_ttl('5s'|'1m'|'5m'|'30m'|'1h')` for these parameters; undefined otherwise, and for a request that
   * does not render or may not read the pipe (its read answers that). Renders the pipe once more, only for
   * endpoints whose output reads a node (its own or another pipe's) that calls `cache_ttl`.
   */
  cacheTtlSeconds(principal: Principal, name: string, request: URLSearchParams): number | undefined {
    let calls = this.callsCacheTtl.get(name)
    if (calls === undefined) this.callsCacheTtl.set(name, (calls = this.endpoint(name) !== undefined && nodesRead(this.project, name).some((n) => /\bcache_ttl\s*\(/.test(n.text))))
    if (!calls) return undefined
    try {
      const ttl = this.render(name, this.readableParams(principal, name, request), 'bind').settings.cache_ttl
      return ttl === undefined ? undefined : TTL_SECONDS[ttl]
    } catch {
      return undefined
    }
  }

  /** The parameters an endpoint pipe accepts (for the pipe list and the OpenAPI document). */
  parameters(name: string): TemplateParam[] {
    return pipeParameters(this.project, name)
  }

  /**
   * Runs a copy pipe now: its output (rendered with `request`'s parameters, values escaped as Tinybird
   * renders them) into its TARGET_DATASOURCE, appended or replacing the rows (COPY_MODE). Needs
   * `read:pipe:<pipe>` and `append:<target>` (admin has both).
   */
  async copy(principal: Principal, name: string, request: URLSearchParams = new URLSearchParams(), requestId = ''): Promise<CopyRun> {
    const pipe = this.project.pipes.get(name)
    if (pipe?.type !== 'copy' || pipe.targetDatasource === undefined) throw new Error(`no copy pipe named ${name}`)
    const target = pipe.targetDatasource
    for (const scope of [scopeFor.pipe(this.scopeName('pipe', name)), `append:${this.scopeName('datasource', target)}`]) {
      if (!grants(principal.scopes, scope)) throw new ForbiddenError(`Running this copy needs the scopes "${scopeFor.pipe(this.scopeName('pipe', name))}" and "append:${this.scopeName('datasource', target)}"`)
    }
    const params = requestParams(request)
    const mode = pipe.copyMode ?? 'append'
    return this.observed(principal, `copy:${this.scopeName('pipe', name)}`, requestId, async () => {
      const startedAt = new Date()
      const rendered = this.render(name, params, 'inline')
      const rows = await this.repo.copy(target, withSettings(rendered), mode)
      return { value: { pipe: name, target, mode, rows, startedAt, finishedAt: new Date() }, rowsRead: 0, bytesRead: 0 }
    })
  }

  /** The copy pipes with a COPY_SCHEDULE cron (not `@on-demand`). */
  scheduledCopies(): Pipe[] {
    return [...this.project.pipes.values()].filter((p) => p.type === 'copy' && p.copySchedule !== undefined && nextCronRun(p.copySchedule, new Date()) !== undefined)
  }

  /**
   * Runs every scheduled copy at its cron times (UTC) until the returned stop is called; stop waits for a
   * copy that is running. A failed run is reported to `onError` and the schedule goes on.
   */
  schedule(onError: (pipe: string, err: unknown) => void, onRun?: (run: CopyRun) => void, clock: ScheduleClock = SYSTEM_CLOCK): () => Promise<void> {
    return scheduleCopies(this.scheduledCopies(), (pipe, requestId) => this.copy(SCHEDULER, pipe, new URLSearchParams(), requestId), onError, onRun, clock)
  }

  private render(name: string, params: Record<string, ParamValue>, mode: 'bind' | 'inline'): PipeSql {
    return pipeSql(this.project, name, {
      database: this.repo.database,
      params,
      mode,
      ...(this.options.serviceTable !== undefined && { serviceTable: this.options.serviceTable }),
      ...(this.options.secrets !== undefined && { secrets: this.options.secrets }),
      ...(this.options.vars !== undefined && { vars: this.options.vars }),
    })
  }

  /** Runs `work` and records it (duration, reads, the error's code) in the service logs. */
  private async observed<T>(principal: Principal, name: string, requestId: string, work: () => Promise<{ value: T; rowsRead: number; bytesRead: number }>): Promise<T> {
    const started = performance.now()
    try {
      const { value, rowsRead, bytesRead } = await work()
      this.options.observer?.operation({ requestId, principal, name, durationMs: performance.now() - started, rowsRead, bytesRead })
      return value
    } catch (err) {
      const code = err instanceof TemplateError || err instanceof ProjectQueryError ? 'BAD_USER_INPUT' : ((err as { extensions?: { code?: string } }).extensions?.code ?? 'INTERNAL_SERVER_ERROR')
      const message = err instanceof TemplateError || err instanceof ProjectQueryError ? err.message : 'Internal server error'
      this.options.observer?.operation({ requestId, principal, name, durationMs: performance.now() - started, rowsRead: 0, bytesRead: 0, error: { code, message } })
      throw err
    }
  }

  /**
   * Tinybird's Events API for a project datasource: each NDJSON line is mapped by the columns' `json:`
   * paths; rows that fit are inserted, the others go to `<ds>_quarantine` with Tinybird's columns.
   * Needs `append:<ds>`.
   */
  async append(principal: Principal, name: string, batch: string | readonly UploadRecord[], key?: string): Promise<AppendResult> {
    const ds = this.datasource(name)
    if (!ds) throw new Error(`no datasource named ${name}`)
    const scope = `append:${this.scopeName('datasource', name)}`
    if (!grants(principal.scopes, scope)) throw new ForbiddenError(`Appending to this datasource needs the scope "${scope}"`)
    return this.ingest.append(principal, ds, batch, key)
  }

  /**
   * Tinybird's Data Sources truncate for a project datasource: empties it and its quarantine; the
   * datasources its materialized views feed keep their rows, as in Tinybird. Needs `manage:<ds>`.
   */
  async truncate(principal: Principal, name: string): Promise<void> {
    this.manageable(principal, name)
    await this.repo.truncate(name)
    await this.repo.truncate(`${name}_quarantine`)
  }

  /**
   * Tinybird's Data Sources delete for a project datasource: the rows matching `condition` (parsed, every
   * value bound; ConditionError when it does not parse), or with `dryRun` only their count. Needs
   * `manage:<ds>`.
   */
  async delete(principal: Principal, name: string, condition: string, dryRun: boolean): Promise<{ rows: number }> {
    const ds = this.manageable(principal, name)
    const where = bindCondition(condition, new Map(ds.columns.map((c) => [c.name, c.type])))
    const rows = await this.repo.count(name, where.sql, where.params)
    if (!dryRun && rows > 0) await this.repo.delete(name, where.sql, where.params)
    return { rows }
  }

  /** The datasource `name`, once `principal` may truncate, replace or delete its rows (`manage:<ds>`). */
  private manageable(principal: Principal, name: string): Datasource {
    const ds = this.datasource(name)
    if (!ds) throw new Error(`no datasource named ${name}`)
    const scope = scopeFor.manage(this.scopeName('datasource', name))
    if (!grants(principal.scopes, scope)) throw new ForbiddenError(`This operation needs the scope "${scope}"`)
    return ds
  }
}

/** `cache_ttl`'s expressions (the only ones the template engine accepts), in seconds. */
const TTL_SECONDS: Readonly<Record<string, number>> = { '5s': 5, '1m': 60, '5m': 300, '30m': 1800, '1h': 3600 }

/**
 * The rendered SQL with the options its templates set that ClickHouse runs per statement (`max_threads`),
 * as a SETTINGS clause of this statement only (chDB keeps session settings). `cache_ttl` is the REST route's
 * (how long the read cache keeps the answer); `backend_hint`,
 * `activate` and `disable` are Tinybird's own and have no effect here.
 */
export function withSettings(rendered: Pick<PipeSql, 'sql' | 'settings'>, more: Readonly<Record<string, number>> = {}): string {
  const threads = rendered.settings.max_threads
  const settings = { ...(threads !== undefined && Number.isInteger(threads) && threads > 0 ? { max_threads: threads } : {}), ...more }
  const list = Object.entries(settings).map(([k, v]) => `${k} = ${v}`)
  if (list.length === 0) return rendered.sql
  // A SETTINGS clause the pipe's last node already ends with gets more settings, not a second clause.
  const tail = /\bSETTINGS\b[^()]*$/i.test(rendered.sql)
  return `${rendered.sql.replace(/\s+$/, '')}${tail ? ',' : '\nSETTINGS'} ${list.join(', ')}`
}
