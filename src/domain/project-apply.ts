import { datasourceDdl, parseDatasource, quarantineDdl, type Project } from '../project/datafile.js'
import { planDatasource, planMaterializedView } from '../project/migrate.js'
import { materializedViewSql } from '../project/pipeline.js'
import type { AppliedDatafile, ProjectRepository } from '../store/project.js'

/** Restarting with changed datafiles would lose or reinterpret rows (the planner's messages). */
export class ProjectRefusedError extends Error {
  override name = 'ProjectRefusedError'
}

/** What applying the datafiles did at start-up, one line per change. */
export interface ApplyReport {
  readonly changes: readonly string[]
}

/**
 * Creates the project database, every datasource with its quarantine table, then the materialized
 * views, idempotently. A datafile whose text changed since it was last applied goes through the
 * migration planner: every plan is made first, and any refusal stops here with nothing changed.
 */
export async function applyProject(project: Project, repo: ProjectRepository): Promise<ApplyReport> {
  const db = repo.database
  await repo.ensureDatabase()
  const applied = new Map((await repo.appliedDatafiles()).map((f) => [`${f.kind}:${f.name}`, f.text]))
  const statements: string[] = []
  const changes: string[] = []
  const refusals: string[] = []
  const record: AppliedDatafile[] = []
  const rebuilt = new Set<string>()
  for (const ds of project.datasources.values()) {
    const text = ds.source
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
    const plan = planDatasource(parseDatasource(ds.file, before, ds.name), ds, db, await repo.rowCount(ds.name))
    refusals.push(...plan.refusals)
    statements.push(...plan.statements, quarantineDdl(ds, db))
    changes.push(...plan.changes)
    if (plan.rebuilt) rebuilt.add(ds.name)
    record.push({ kind: 'datasource', name: ds.name, text })
  }
  if (refusals.length > 0) throw new ProjectRefusedError(`The project's datafiles changed in ways that would lose data:\n${refusals.join('\n')}`)
  const views: string[] = []
  for (const pipe of project.pipes.values()) {
    if (pipe.type !== 'materialized') continue
    const sql = materializedViewSql(project, pipe.name, db)
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
  for (const statement of [...statements, ...views]) await repo.command(statement)
  if (record.length > 0) await repo.recordDatafiles(record)
  return { changes }
}
