import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { grants, INTERNAL_TABLES, scopeFor, type Principal } from '../auth/scopes.js'
import type { TokenService } from '../auth/tokens.js'
import { ForbiddenError } from '../errors.js'
import {
  datasourceDdl,
  jsonMapping,
  loadProject,
  mapJsonRow,
  projectTokens,
  parseDatasource,
  quarantineDdl,
  quarantineRow,
  type Datasource,
  type JsonMapping,
  type Pipe,
  type Project,
  type RowMisfit,
  nextCronRun,
} from '../project/datafile.js'
import { planDatasource, planMaterializedView } from '../project/migrate.js'
import { checkPipes, materializedViewSql, pipeParameters, pipeSql, type PipeSql } from '../project/pipeline.js'
import { RESERVED_REQUEST_PARAMS, TemplateError, type ParamValue, type TemplateParam } from '../project/template.js'
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
  /** Where pipe reads, copies and appends are recorded (the service logs and metrics of the built-in surface). */
  readonly observer?: ProjectObserver
}

/** What a project request did, for the service logs (`operation_log` ≈ pipe_stats_rt, `ingest_log`, `error_log`). */
export interface ProjectObserver {
  operation(facts: OperationRecord): void
  ingested(entry: { readonly table: string; readonly rows: number; readonly quarantined: number; readonly durationMs: number; readonly token: string }): void
}

export interface OperationRecord {
  readonly requestId: string
  readonly principal: Principal | null
  /** The pipe (as scopes name it), or `copy:<pipe>`. */
  readonly name: string
  readonly durationMs: number
  readonly rowsRead: number
  readonly bytesRead: number
  readonly error?: { readonly code: string; readonly message: string }
}

/** A copy pipe's run. */
export interface CopyRun {
  readonly pipe: string
  readonly target: string
  readonly mode: 'append' | 'replace'
  readonly rows: number
  readonly startedAt: Date
  readonly finishedAt: Date
}

/** Time for the copy scheduler (tests drive their own). */
export interface ScheduleClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

const SYSTEM_CLOCK: ScheduleClock = {
  now: () => Date.now(),
  // Unref'd: a pending copy does not keep the process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

/** The principal of scheduled copies (COPY_SCHEDULE): recorded under this name in the service logs. */
const SCHEDULER: Principal = { name: 'copy scheduler', scopes: ['admin'], workspaceId: null }

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
  /** Keyed Events API batches in flight, by datasource and key. */
  private readonly keyed = new Map<string, Promise<{ successful_rows: number; quarantined_rows: number; deduplicated: boolean }>>()

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
   * Like `read`, as a Parquet file (ClickHouse's `FORMAT Parquet`, strings as Parquet strings): the same
   * scope, parameters, limits, errors and service log, the pipe's rows without Tinybird's envelope.
   */
  async readParquet(principal: Principal, name: string, request: URLSearchParams, requestId = ''): Promise<Buffer> {
    const params = this.readableParams(principal, name, request)
    return this.observed(principal, this.scopeName('pipe', name), requestId, async () => {
      const rendered = this.render(name, params, 'bind')
      const answer = await this.repo.selectParquet(withSettings(rendered, { output_format_parquet_string_as_string: 1 }), rendered.params)
      return { value: answer.bytes, rowsRead: answer.rowsRead, bytesRead: answer.bytesRead }
    })
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
    let stopped = false
    const timers = new Set<unknown>()
    const running = new Set<Promise<void>>()
    const plan = (pipe: Pipe, after: Date) => {
      if (stopped) return
      const next = nextCronRun(pipe.copySchedule!, after)
      if (!next) return
      // setTimeout holds at most ~24.8 days: a far run is planned again from a nearer wake-up.
      const wait = Math.min(next.getTime() - clock.now(), 86_400_000)
      const timer = clock.setTimeout(() => {
        timers.delete(timer)
        if (stopped) return
        if (clock.now() < next.getTime()) return plan(pipe, new Date(clock.now() - 60_000))
        const run = this.copy(SCHEDULER, pipe.name, new URLSearchParams(), `schedule:${pipe.name}:${next.toISOString()}`).then(
          (r) => onRun?.(r),
          (err: unknown) => onError(pipe.name, err),
        )
        running.add(run)
        void run.finally(() => {
          running.delete(run)
          plan(pipe, next)
        })
      }, Math.max(0, wait))
      timers.add(timer)
    }
    for (const pipe of this.scheduledCopies()) plan(pipe, new Date(clock.now()))
    return async () => {
      stopped = true
      for (const t of timers) clock.clearTimeout(t)
      timers.clear()
      await Promise.allSettled([...running])
    }
  }

  private render(name: string, params: Record<string, ParamValue>, mode: 'bind' | 'inline'): PipeSql {
    return pipeSql(this.project, name, {
      database: this.repo.database,
      params,
      mode,
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
  async append(principal: Principal, name: string, ndjson: string, key?: string): Promise<{ successful_rows: number; quarantined_rows: number; deduplicated: boolean }> {
    const ds = this.datasource(name)
    if (!ds) throw new Error(`no datasource named ${name}`)
    const scope = `append:${this.scopeName('datasource', name)}`
    if (!grants(principal.scopes, scope)) throw new ForbiddenError(`Appending to this datasource needs the scope "${scope}"`)
    if (key === undefined) return { ...(await this.store(principal, ds, ndjson)), deduplicated: false }
    // A retried batch with the same key is stored once: batches with one key run one after another here,
    // and one that was recorded answers what it stored. (A crash between its rows and its record stores
    // it again on retry: unlike the built-in datasources, a project's tables keep no batch markers.)
    const slot = `${ds.name}\0${key}`
    const previous = this.keyed.get(slot) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(async () => {
      const known = await this.repo.importOf(ds.name, key)
      if (known) return { successful_rows: known.successful, quarantined_rows: known.quarantined, deduplicated: true }
      const stored = await this.store(principal, ds, ndjson)
      await this.repo.recordImport(ds.name, key, stored.successful_rows, stored.quarantined_rows)
      return { ...stored, deduplicated: false }
    })
    this.keyed.set(slot, run)
    try {
      return await run
    } finally {
      if (this.keyed.get(slot) === run) this.keyed.delete(slot)
    }
  }

  private async store(principal: Principal, ds: Datasource, ndjson: string): Promise<{ successful_rows: number; quarantined_rows: number }> {
    const started = performance.now()
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
    this.options.observer?.ingested({
      table: `${this.repo.database}.${ds.name}`,
      rows: good.length,
      quarantined: bad.length,
      durationMs: performance.now() - started,
      token: principal.name,
    })
    return { successful_rows: good.length, quarantined_rows: bad.length }
  }

  private mappingOf(ds: Datasource): JsonMapping {
    let mapping = this.mappings.get(ds.name)
    if (!mapping) this.mappings.set(ds.name, (mapping = jsonMapping(ds)))
    return mapping
  }
}

/** Request parameters as template values: reserved names dropped, repeated keys as lists. */
function requestParams(request: URLSearchParams): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {}
  for (const key of new Set(request.keys())) {
    if (RESERVED_REQUEST_PARAMS.includes(key)) continue
    const values = request.getAll(key)
    params[key] = values.length === 1 ? (values[0] as string) : values
  }
  return params
}

/**
 * The rendered SQL with the options its templates set that ClickHouse runs per statement (`max_threads`),
 * as a SETTINGS clause of this statement only (chDB keeps session settings). `cache_ttl`, `backend_hint`,
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
