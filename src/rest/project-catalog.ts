import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { grants, scopeFor, type Principal } from '../auth/scopes.js'
import type { PipeEntry } from '../catalog/index.js'
import type { ProjectService } from '../domain/project.js'
import { sendJson } from '../http.js'
import type { Pipe } from '../project/datafile.js'
import { sqlReferences } from '../project/sql-references.js'
import type { TemplateParam } from '../project/template.js'
import { FORMATS } from './format.js'
import { columnSchema } from './openapi.js'
import { PARQUET_CONTENT_TYPE } from './pipe-route.js'

/**
 * A loaded project's pipes as `GET /v0/pipes` and `GET /v0/pipes/openapi.json` describe them: the
 * catalog's project entries (which pipes), with each pipe's nodes, SQL and template parameters from the
 * project itself.
 */

/** A stable Tinybird-style id (`t_` + 32 hex) for a project resource. */
export function stableId(...parts: string[]): string {
  return `t_${createHash('sha256').update(['project', ...parts].join('\0')).digest('hex').slice(0, 32)}`
}

/** Whether `who` may see the project pipe `entry` described: admin every pipe, others the endpoints they may read. */
export function mayDescribe(entry: PipeEntry, who: Principal | null): boolean {
  return who === null || grants(who.scopes, 'admin') || (entry.source.kind === 'project' && entry.source.type === 'endpoint' && (grants(who.scopes, entry.scope) || who.fixedParams?.has(entry.name) === true))
}

/** Which of the project's pipes (the catalog's entries) `who` may see listed, as the project defines them. */
function visiblePipes(project: ProjectService, entries: readonly PipeEntry[], who: Principal | null): Array<{ pipe: Pipe; entry: PipeEntry }> {
  return entries
    .filter((e) => e.source.kind === 'project' && mayDescribe(e, who))
    .flatMap((entry) => {
      const pipe = project.project.pipes.get(entry.name)
      return pipe ? [{ pipe, entry }] : []
    })
}

function listedParameter(p: TemplateParam): Record<string, unknown> {
  return {
    name: p.name,
    type: p.type,
    default: p.default ?? null,
    required: p.required,
    description: p.description ?? null,
    ...(p.enum ? { enum: p.enum } : {}),
  }
}

/**
 * `GET /v0/pipes` and `GET /v0/pipes/openapi.json` over the loaded project's catalog entries. The list is
 * Tinybird's shape (`{pipes: [projectPipeView…]}`); the OpenAPI document has one GET operation per
 * endpoint pipe with its template parameters.
 */
export function serveProjectCatalog(res: ServerResponse, project: ProjectService, entries: readonly PipeEntry[], who: Principal | null, openapi: boolean): void {
  const pipes = visiblePipes(project, entries, who)
  if (!openapi) {
    sendJson(res, 200, { pipes: pipes.map(({ pipe, entry }) => projectPipeView(project, pipe, entry)) })
    return
  }
  const paths: Record<string, unknown> = {}
  for (const { pipe } of pipes.filter(({ pipe: p }) => p.type === 'endpoint')) {
    paths[`/v0/pipes/${pipe.name}.{format}`] = {
      get: {
        operationId: pipe.name,
        summary: pipe.description ?? pipe.name,
        description: `${pipe.description ?? pipe.name}. Needs a token with ${scopeFor.pipe(project.scopeName('pipe', pipe.name))} (or admin).`,
        parameters: [
          { name: 'format', in: 'path', required: true, schema: { type: 'string', enum: [...FORMATS, 'parquet'], default: 'json' } },
          ...project.parameters(pipe.name).map((p) => ({
            name: p.name,
            in: 'query',
            required: p.required,
            description: `${p.description ?? p.name}. Tinybird type: ${p.type}.`,
            schema: parameterSchema(p),
            ...(p.type.startsWith('Array(') ? { style: 'form', explode: true } : {}),
          })),
          { name: 'q', in: 'query', required: false, description: 'SQL over the answer, which it reads as _', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: "The pipe's rows in the requested format",
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Envelope' } },
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
              [PARQUET_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } },
            },
          },
          ...Object.fromEntries(
            ['400', '403', '404', '429', '503', '504'].map((code) => [code, { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
          ),
        },
      },
    }
  }
  sendJson(res, 200, {
    openapi: '3.0.3',
    info: { title: `Sightline: Tinybird project ${project.database}`, version: '1.0.0', description: "Endpoint pipes of the loaded Tinybird project, with Tinybird's parameters and envelope." },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { tokenQuery: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer' },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, documentation: { type: 'string' } } },
        Envelope: {
          type: 'object',
          required: ['meta', 'data', 'rows', 'statistics'],
          properties: {
            meta: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } } },
            data: { type: 'array', items: { type: 'object', additionalProperties: true } },
            rows: { type: 'integer' },
            rows_before_limit_at_least: { type: 'integer' },
            statistics: { type: 'object', properties: { elapsed: { type: 'number' }, rows_read: { type: 'integer' }, bytes_read: { type: 'integer' } } },
          },
        },
      },
    },
  })
}

/**
 * One project pipe as Tinybird's Pipes API describes it (`GET /v0/pipes` lists these, `GET /v0/pipes/<name>`
 * answers one): `{id, name, description, type, endpoint, nodes: [{id, name, sql, params, node_type,
 * materialized, dependencies, columns?}], parameters, …}`. Each node's dependencies are the datasources,
 * nodes and pipes its SQL reads; the output node of an endpoint carries its described output columns. A
 * materialized or copy pipe also names its target as the official SDK reads it (`materialized_datasource`,
 * `copy_target_datasource`, `copy_schedule`, `copy_mode`).
 */
export function projectPipeView(project: ProjectService, pipe: Pipe, entry: PipeEntry): Record<string, unknown> {
  const parameters = pipe.type === 'endpoint' || pipe.type === 'copy' ? project.parameters(pipe.name).map(listedParameter) : []
  const known = (name: string) => project.project.datasources.has(name) || project.project.pipes.has(name) || pipe.nodes.some((n) => n.name === name)
  const nodes = pipe.nodes.map((n) => {
    const output = n.name === pipe.outputNode
    return {
      id: stableId(pipe.name, n.name),
      name: n.name,
      description: n.description ?? null,
      sql: n.sql,
      params: output ? parameters : [],
      node_type: output && pipe.type !== 'default' ? pipe.type : 'standard',
      materialized: output && pipe.type === 'materialized' ? (pipe.datasource ?? null) : null,
      dependencies: [...new Set(sqlReferences(n.text).map((r) => r.name))].filter(known),
      ...(output && entry.output.length > 0 && { columns: entry.output.map((c) => ({ name: c.name, type: c.type })) }),
    }
  })
  const output = nodes.find((n) => n.name === pipe.outputNode)
  const copyMode = pipe.copyMode ?? 'append'
  const copySchedule = pipe.copySchedule ?? '@on-demand'
  return {
    id: stableId(pipe.name),
    name: pipe.name,
    description: pipe.description ?? null,
    type: pipe.type,
    endpoint: pipe.type === 'endpoint' ? (output?.id ?? null) : null,
    url: pipe.type === 'endpoint' ? `/v0/pipes/${pipe.name}.json` : null,
    ...(pipe.type === 'copy' && {
      copy: { target_datasource: pipe.targetDatasource, mode: copyMode, schedule: copySchedule },
      copy_target_datasource: pipe.targetDatasource,
      copy_mode: copyMode,
      copy_schedule: copySchedule,
    }),
    ...(pipe.type === 'materialized' && { datasource: pipe.datasource, materialized_datasource: pipe.datasource }),
    nodes,
    parameters,
    scope: scopeFor.pipe(project.scopeName('pipe', pipe.name)),
    created_at: null,
    updated_at: null,
  }
}

/** A template parameter's JSON Schema: its Tinybird type as the column type it renders to. */
function parameterSchema(p: TemplateParam): Record<string, unknown> {
  const element = /^Array\((.*)\)$/.exec(p.type)
  const schema =
    element !== null
      ? { type: 'array', items: columnSchema(element[1] === 'String' || !element[1] ? 'String' : element[1]) }
      : p.type === 'Boolean'
        ? { type: 'boolean' }
        : p.type === 'Int' || p.type === 'Integer'
          ? { type: 'integer' }
          : p.type === 'JSON'
            ? { type: 'string', description: 'JSON text' }
            : columnSchema(p.type)
  const fallback = p.default === undefined || Array.isArray(p.default) ? {} : { default: p.default }
  return { ...schema, ...fallback, ...(p.enum ? { enum: p.enum } : {}) }
}

