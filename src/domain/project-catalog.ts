import { scopeFor } from '../auth/scopes.js'
import type { DatasourceEntry, PipeEntry, PipeParameter } from '../catalog/index.js'
import { sqlReferences } from '../project/datafile.js'
import type { TemplateParam } from '../project/template.js'
import type { ProjectService } from './project.js'

/** An endpoint's output columns, once ClickHouse has described them (undefined: it could not). */
export type DescribedColumns = (pipe: string) => ReadonlyArray<{ readonly name: string; readonly type: string }> | undefined

/**
 * A loaded project as catalog entries: every datasource (landing, or materialized when a pipe writes it)
 * and every pipe (only endpoints answer `/v0/pipes/<name>.<format>`; the others are listed). Names are
 * the project's; scopes write a name a built-in entry also has as `<database>.<name>`.
 */
export function projectEntries(service: ProjectService, columns: DescribedColumns): { datasources: DatasourceEntry[]; pipes: PipeEntry[] } {
  const { project, database } = service
  const written = new Set([...project.pipes.values()].flatMap((p) => [p.datasource, p.targetDatasource].filter((d): d is string => d !== undefined)))
  const datasources = [...project.datasources.values()].map((ds): DatasourceEntry => {
    const scopeName = service.scopeName('datasource', ds.name)
    const read = scopeFor.readDatasource(scopeName)
    return {
      name: ds.name,
      database,
      kind: written.has(ds.name) ? 'materialized' : 'landing',
      description: ds.description ?? '',
      columns: ds.columns.map((c) => ({ name: c.name, type: c.type })),
      appendScope: `append:${scopeName}`,
      quarantine: `${ds.name}_quarantine`,
      read: { scope: read, quarantineScope: read },
    }
  })
  const pipes = [...project.pipes.values()].map((pipe): PipeEntry => {
    const scopeName = service.scopeName('pipe', pipe.name)
    const endpoint = pipe.type === 'endpoint'
    return {
      name: pipe.name,
      description: pipe.description ?? '',
      scope: scopeFor.pipe(scopeName),
      parameters: endpoint || pipe.type === 'copy' ? service.parameters(pipe.name).map(parameter) : [],
      dependencies: [...new Set(pipe.nodes.flatMap((n) => sqlReferences(n.text).map((r) => r.name)))].filter((name) => project.datasources.has(name)),
      output: (endpoint ? columns(pipe.name) : undefined) ?? [],
      source: { kind: 'project', project: database, type: pipe.type, scopeName, ...(pipe.cache !== undefined && { cacheSeconds: pipe.cache }) },
    }
  })
  return { datasources, pipes }
}

function parameter(p: TemplateParam): PipeParameter {
  return {
    name: p.name,
    type: p.type,
    description: p.description ?? '',
    required: p.required,
    ...(p.default !== undefined && { default: Array.isArray(p.default) ? p.default.join(',') : String(p.default as string | number | boolean) }),
    ...(p.enum && { enum: p.enum }),
  }
}
