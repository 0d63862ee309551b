import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Column } from './format.js'
import { FORMATS } from './format.js'
import type { Pipe, PipeParameter } from './pipes.js'

export const PIPES_PATH = '/v0/pipes'
export const OPENAPI_PATH = '/v0/pipes/openapi.json'

/** The version the OpenAPI document states: the package's (src/rest and dist/rest both sit two levels down). */
export const OPENAPI_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0'

/**
 * How the pipes describe themselves: Tinybird's `GET /v0/pipes` list (TINYBIRD.md §6.2) and an OpenAPI 3.0
 * document of every pipe. Both read only the pipe table's own metadata, so they cannot drift from what
 * the routes accept. Just over 300 lines: the list and the document are two views of the same metadata.
 */

/** A stable Tinybird-style id (`t_` + 32 hex) for a pipe or one of its nodes. */
function id(...parts: string[]): string {
  return `t_${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32)}`
}

/** A parameter as Tinybird lists a node's `params`. */
function listedParameter(p: PipeParameter): Record<string, unknown> {
  return {
    name: p.name,
    type: p.type,
    default: p.default ?? null,
    required: p.required === true,
    description: p.description,
    ...(p.enum ? { enum: p.enum } : {}),
    ...(p.aliases ? { aliases: p.aliases } : {}),
  }
}

/**
 * Tinybird's pipe list: `{pipes: [{id, name, description, endpoint, type, url, nodes, parameters, …}]}`.
 * Each built-in pipe has one endpoint node. Its `sql` is null: a built-in pipe runs a use case of the
 * domain layer (its SQL lives in `sql/queries/`); `dependencies` names the tables it reads.
 * `created_at`/`updated_at` are null: built-in pipes have no history.
 */
export function pipeList(pipes: readonly Pipe[], base: string): { pipes: Array<Record<string, unknown>> } {
  return {
    pipes: pipes.map((pipe) => {
      const parameters = pipe.parameters.map(listedParameter)
      const node = {
        id: id(pipe.name, 'endpoint'),
        name: 'endpoint',
        description: pipe.description,
        sql: null,
        materialized: null,
        node_type: 'endpoint',
        dependencies: pipe.dependencies,
        params: parameters,
        columns: pipe.output,
        created_at: null,
        updated_at: null,
      }
      return {
        id: id(pipe.name),
        name: pipe.name,
        description: pipe.description,
        type: 'endpoint',
        endpoint: node.id,
        url: `${base}/v0/pipes/${pipe.name}.json`,
        parent: null,
        created_at: null,
        updated_at: null,
        nodes: [node],
        parameters,
        columns: pipe.output,
        scope: pipe.scope,
      }
    }),
  }
}

// ---- OpenAPI 3.0 -------------------------------------------------------------------------------

type Schema = Record<string, unknown>

const WIDE_INTEGER = /^U?Int(64|128|256)$/

/** The JSON Schema (OpenAPI 3.0 dialect) of a column's values in a JSON answer. */
export function columnSchema(type: string): Schema {
  const nullable = /^Nullable\((.*)\)$/.exec(type)
  if (nullable) return { ...columnSchema(nullable[1] ?? 'String'), nullable: true }
  const low = /^LowCardinality\((.*)\)$/.exec(type)
  if (low) return columnSchema(low[1] ?? 'String')
  if (WIDE_INTEGER.test(type)) {
    return { type: 'integer', format: 'int64', description: `${type}; a string with output_format_json_quote_64bit_integers=1` }
  }
  if (/^U?Int(8|16|32)$/.test(type)) return { type: 'integer', format: 'int32', description: type }
  if (/^Float(32|64)$/.test(type)) return { type: 'number', format: 'double', description: type }
  if (/^DateTime64/.test(type)) return { type: 'string', example: '2024-01-31 10:00:00.000', description: `${type}, in the column's zone` }
  if (/^DateTime/.test(type)) return { type: 'string', example: '2024-01-31 10:00:00', description: `${type}, in the column's zone` }
  if (type === 'Date') return { type: 'string', format: 'date', description: type }
  if (type === 'Bool') return { type: 'boolean' }
  return { type: 'string', description: type }
}

function parameterSchema(p: PipeParameter): Schema {
  switch (p.type) {
    case 'Int32':
      return {
        type: 'integer',
        format: 'int32',
        ...(p.minimum !== undefined ? { minimum: p.minimum } : {}),
        ...(p.maximum !== undefined ? { maximum: p.maximum } : {}),
        ...(p.default !== undefined ? { default: Number(p.default) } : {}),
      }
    case 'Array(String)':
      return { type: 'array', items: { type: 'string' } }
    case 'DateTime64':
      return { type: 'string', example: '2024-11-01 00:00:00.000' }
    case 'Boolean':
      return { type: 'boolean', ...(p.default !== undefined ? { default: p.default === 'true' || p.default === '1' } : {}) }
    default:
      return { type: 'string', ...(p.enum ? { enum: [...p.enum] } : {}), ...(p.default !== undefined ? { default: p.default } : {}) }
  }
}

function parameterObject(p: PipeParameter): Schema {
  const aliases = p.aliases && p.aliases.length > 0 ? ` Also read as ${p.aliases.join(', ')}.` : ''
  const list = p.type === 'Array(String)' ? { style: 'form', explode: true } : {}
  return {
    name: p.name,
    in: 'query',
    required: p.required === true,
    description: `${p.description}.${aliases} Tinybird type: ${p.type}.`,
    schema: parameterSchema(p),
    ...list,
  }
}

const FORMAT_PARAMETER: Schema = {
  name: 'format',
  in: 'path',
  required: true,
  description: 'json: the envelope below; csv: rows without a header; csvwithnames: with a header row; ndjson: one JSON object per row',
  schema: { type: 'string', enum: [...FORMATS], default: 'json' },
}

const QUOTE_PARAMETER: Schema = {
  name: 'output_format_json_quote_64bit_integers',
  in: 'query',
  required: false,
  description: '1: 64-bit (and wider) integers are JSON strings; 0 (default, as Tinybird): JSON numbers',
  schema: { type: 'integer', enum: [0, 1], default: 0 },
}

const ERROR_SCHEMA: Schema = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } }

const ERRORS: Record<string, string> = {
  '400': 'A parameter is missing or invalid',
  '403': 'No token, an invalid or expired token, or a token without the scope for this pipe',
  '404': 'No such pipe',
  '429': 'Rate limited; Retry-After gives the seconds to wait',
  '503': 'The store is unavailable or busy; retry later',
  '504': 'The query ran over its time or memory limit',
}

/** A stable, readable key for a shared component (parameters repeat across pipes). */
function componentKey(used: Map<string, string>, name: string, value: Schema): string {
  const json = JSON.stringify(value)
  for (let n = 0; ; n++) {
    const key = n === 0 ? name : `${name}_${n + 1}`
    const existing = used.get(key)
    if (existing === undefined) {
      used.set(key, json)
      return key
    }
    if (existing === json) return key
  }
}

function rowSchema(columns: readonly Column[], optional: ReadonlySet<string>): Schema {
  return {
    type: 'object',
    required: columns.filter((c) => !optional.has(c.name)).map((c) => c.name),
    properties: Object.fromEntries(columns.map((c) => [c.name, { ...columnSchema(c.type), 'x-clickhouse-type': c.type }])),
  }
}

/**
 * An OpenAPI 3.0 document of every pipe in `pipes`: one GET operation per pipe at
 * `/v0/pipes/<name>.{format}`, its parameters with types, defaults and whether they are required, its
 * output columns as the JSON answer's row schema, and both ways to send the token.
 */
export function openApiDocument(pipes: readonly Pipe[], version: string): Record<string, unknown> {
  const parameters = new Map<string, string>()
  const parameterComponents: Record<string, Schema> = { format: FORMAT_PARAMETER, output_format_json_quote_64bit_integers: QUOTE_PARAMETER }
  parameters.set('format', JSON.stringify(FORMAT_PARAMETER))
  parameters.set('output_format_json_quote_64bit_integers', JSON.stringify(QUOTE_PARAMETER))
  const schemas: Record<string, Schema> = {
    Error: ERROR_SCHEMA,
    Column: { type: 'object', required: ['name', 'type'], properties: { name: { type: 'string' }, type: { type: 'string' } } },
    Statistics: {
      type: 'object',
      required: ['elapsed', 'rows_read', 'bytes_read'],
      properties: {
        elapsed: { type: 'number', description: 'Seconds' },
        rows_read: { type: 'integer', format: 'int64' },
        bytes_read: { type: 'integer', format: 'int64' },
      },
    },
  }
  const paths: Record<string, unknown> = {}
  for (const pipe of pipes) {
    const refs = pipe.parameters.map((p) => {
      const object = parameterObject(p)
      const key = componentKey(parameters, p.name, object)
      parameterComponents[key] = object
      return { $ref: `#/components/parameters/${key}` }
    })
    // api_ui_filters answers `id` only for filter=product: every column the pipe may answer is listed, the
    // ones not always present are optional.
    const optional = new Set(pipe.name === 'api_ui_filters' ? ['id'] : [])
    schemas[`${pipe.name}_row`] = rowSchema(pipe.output, optional)
    schemas[`${pipe.name}_response`] = {
      type: 'object',
      required: ['meta', 'data', 'rows', 'statistics'],
      properties: {
        meta: { type: 'array', items: { $ref: '#/components/schemas/Column' } },
        data: { type: 'array', items: { $ref: `#/components/schemas/${pipe.name}_row` } },
        rows: { type: 'integer' },
        rows_before_limit_at_least: { type: 'integer', description: 'Rows there would be without skip/limit; present when a limit applied' },
        statistics: { $ref: '#/components/schemas/Statistics' },
      },
    }
    paths[`/v0/pipes/${pipe.name}.{format}`] = {
      get: {
        operationId: pipe.name,
        summary: pipe.description,
        description: `${pipe.description}. Needs a token with ${pipe.scope} (or read:pipe:${pipe.name}, or admin).`,
        tags: [pipe.name.startsWith('v2_') ? `analytics: ${pipe.name.split('_')[1]}` : 'ecommerce'],
        parameters: [
          { $ref: '#/components/parameters/format' },
          ...refs,
          { $ref: '#/components/parameters/output_format_json_quote_64bit_integers' },
        ],
        responses: {
          '200': {
            description: "The pipe's rows in the requested format",
            content: {
              'application/json': { schema: { $ref: `#/components/schemas/${pipe.name}_response` } },
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string', description: `One ${pipe.name}_row JSON object per line` } },
            },
          },
          ...Object.fromEntries(Object.keys(ERRORS).map((code) => [code, { $ref: `#/components/responses/E${code}` }])),
        },
      },
    }
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Sightline pipes',
      version,
      description:
        "Tinybird-compatible pipe endpoints of a Sightline gateway. Parameters follow Tinybird's conventions: an empty value is absent, lists are comma lists or repeated keys, unknown parameters are ignored, and from= (added by the SDKs) is ignored.",
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { tokenQuery: [] }],
    tags: [
      { name: 'ecommerce', description: "The seed's ecommerce endpoints" },
      ...['cart', 'fm', 'link', 'page'].map((app) => ({ name: `analytics: ${app}`, description: `The v2 analytics pipes of the ${app} app` })),
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <token> (a Sightline token or JWT)' },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: "Tinybird's ?token=<token>" },
      },
      parameters: parameterComponents,
      schemas,
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([code, description]) => [
          `E${code}`,
          { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        ]),
      ),
    },
  }
}
