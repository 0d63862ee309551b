/**
 * The endpoint pipes of a loaded Tinybird project as one GraphQL namespace, merged into the built-in
 * schema: `query { pipes { top_pages(limit: 10) { page visits } } }`.
 *
 * - One field per endpoint pipe, named like the pipe. Its arguments are the template's typed
 *   parameters (types from `types.ts`; a parameter is non-null only when the template says
 *   `required=True` and gives no default; defaults and descriptions go into the schema's docs).
 * - Its result is a list of rows of a generated object type (`<Pipe>Row`) with one field per output
 *   column, typed from ClickHouse's description of the endpoint query. A column name that is no GraphQL
 *   name (`count()`) becomes one (`count__`), and the column's own name is in the field's description.
 *   A pipe whose columns could not be described answers `[JSON!]` rows. The list is nullable, so a pipe
 *   that fails (a bad parameter, a missing scope) leaves the other pipes of the request answered.
 * - Each field reads the pipe exactly as `GET /v0/pipes/<pipe>.json` does (the same use case, so the
 *   same scope check: `read:pipe:<pipe>`, a scope above it, `admin`, or a Tinybird JWT for the pipe);
 *   the pipe fields of one request run concurrently, like any sibling query fields.
 */
import {
  GraphQLError,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  isInputType,
  valueFromAST,
  astFromValue,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
} from 'graphql'
import type { Principal } from '../auth/scopes.js'
import { BadUserInputError, UnauthenticatedError } from '../errors.js'
import type { TemplateParam } from '../project/template.js'
import { inputType, Int64Scalar, JsonScalar, outputType } from './types.js'

/** What the generated schema needs to know about one endpoint pipe. */
export interface PipeShape {
  readonly name: string
  readonly description?: string | undefined
  readonly params: readonly TemplateParam[]
  /** Output columns in SELECT order, or undefined when ClickHouse could not describe them. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }> | undefined
  /** A built-in pipe has the same name: scopes name this one `<database>.<pipe>`. */
  readonly shadowsBuiltin?: boolean
}

/** Reads one endpoint pipe as `principal` with request-style parameters; returns its rows. */
export type PipeReader = (principal: Principal, pipe: string, params: URLSearchParams, requestId: string) => Promise<ReadonlyArray<Record<string, unknown>>>

/** Errors a pipe read may throw, told apart without importing the domain (a template's 400, ClickHouse's refusal). */
export type ReadErrorMapper = (err: unknown) => GraphQLError | undefined

/** A GraphQL name for any text: invalid characters become `_`, a leading digit or `__` gets a prefix. */
export function graphqlName(text: string): string {
  let name = text.replace(/[^_0-9A-Za-z]/g, '_')
  if (!/^[_A-Za-z]/.test(name)) name = `_${name}`
  if (name.startsWith('__')) name = `x${name}`
  return name
}

/** `top_pages` → `TopPages` */
function pascal(name: string): string {
  const words = name.split(/[^0-9A-Za-z]+/).filter(Boolean)
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')
  return graphqlName(joined || 'Pipe')
}

function unique(name: string, taken: Set<string>): string {
  let candidate = name
  for (let i = 2; taken.has(candidate); i++) candidate = `${name}${i}`
  taken.add(candidate)
  return candidate
}

/** A template default as a GraphQL default of `type`, when it coerces to it; undefined otherwise. */
function defaultFor(value: TemplateParam['default'], type: GraphQLInputType): unknown {
  if (value === undefined) return undefined
  const list = type instanceof GraphQLList
  const candidate = list && typeof value === 'string' ? value.split(',') : value
  try {
    const ast = astFromValue(candidate, type)
    if (!ast) return undefined
    const parsed = valueFromAST(ast, type)
    return parsed === undefined ? undefined : parsed
  } catch {
    return undefined
  }
}

function argumentsOf(params: readonly TemplateParam[]): { args: GraphQLFieldConfigArgumentMap; names: Map<string, string> } {
  const args: GraphQLFieldConfigArgumentMap = {}
  const names = new Map<string, string>() // argument → template parameter
  const taken = new Set<string>()
  for (const p of params) {
    const base = inputType(p.untyped ? 'String' : p.type)
    const defaultValue = defaultFor(p.default, base)
    const required = p.required && p.default === undefined
    const notes = [
      p.description === undefined || p.description === '' ? undefined : /[.!?]$/.test(p.description) ? p.description : `${p.description}.`,
      p.untyped ? 'Untyped in the template (passed as text).' : `Template type: ${p.type}.`,
      p.default !== undefined && defaultValue === undefined ? `Default: ${JSON.stringify(p.default)}.` : undefined,
      p.example !== undefined ? `Example: ${p.example}.` : undefined,
      p.enum !== undefined ? `One of: ${p.enum.join(', ')}.` : undefined,
    ].filter((x): x is string => x !== undefined && x !== '')
    const name = unique(graphqlName(p.name), taken)
    names.set(name, p.name)
    const type = required ? new GraphQLNonNull(base) : base
    if (!isInputType(type)) continue
    args[name] = {
      type,
      description: notes.join(' '),
      ...(defaultValue !== undefined && { defaultValue }),
    }
  }
  return { args, names }
}

/** GraphQL argument values as the query string REST would have received. */
function toSearch(args: Record<string, unknown>, names: ReadonlyMap<string, string>): URLSearchParams {
  const search = new URLSearchParams()
  const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v))
  for (const [arg, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue
    const param = names.get(arg) ?? arg
    if (Array.isArray(value)) {
      // Tinybird reads a repeated key as a list, and one value as a comma-separated list.
      if (value.length === 0) search.append(param, '')
      for (const v of value) search.append(param, text(v))
    } else search.append(param, text(value))
  }
  return search
}

function rowType(pipe: PipeShape, typeName: string): { type: GraphQLOutputType; fields: Map<string, string> | undefined } {
  if (!pipe.columns || pipe.columns.length === 0) return { type: new GraphQLList(new GraphQLNonNull(JsonScalar)), fields: undefined }
  const fields = new Map<string, string>() // field → column
  const taken = new Set<string>()
  const config: Record<string, GraphQLFieldConfig<Record<string, unknown>, unknown>> = {}
  for (const column of pipe.columns) {
    const field = unique(graphqlName(column.name), taken)
    fields.set(field, column.name)
    config[field] = {
      type: outputType(column.type),
      description: field === column.name ? `ClickHouse type: ${column.type}` : `Column \`${column.name}\` (ClickHouse type: ${column.type})`,
      resolve: (row) => row[column.name],
    }
  }
  const object = new GraphQLObjectType({ name: typeName, description: `A row of the endpoint pipe \`${pipe.name}\`.`, fields: config })
  // Nullable: a pipe that fails (a bad parameter, a missing scope) leaves its siblings' answers standing.
  return { type: new GraphQLList(new GraphQLNonNull(object)), fields }
}

/**
 * `base` with a `pipes: Pipes!` field on Query whose fields are the given endpoint pipes. `base` is
 * returned as it is when there are none. Generated type names that the base schema already uses get
 * a number.
 */
export function withPipes(base: GraphQLSchema, pipes: readonly PipeShape[], read: PipeReader, mapError: ReadErrorMapper): GraphQLSchema {
  if (pipes.length === 0) return base
  const config = base.toConfig()
  const query = base.getQueryType()
  if (!query) throw new Error('the base schema has no Query type')
  const taken = new Set(Object.keys(base.getTypeMap()))
  const extraTypes: GraphQLNamedType[] = []
  for (const scalar of [Int64Scalar, JsonScalar]) {
    const existing = base.getType(scalar.name)
    if (existing && existing !== scalar) throw new Error(`the base schema already has a type named ${scalar.name}`)
    taken.add(scalar.name)
    extraTypes.push(scalar)
  }
  const fieldNames = new Set<string>()
  const pipeFields: Record<string, GraphQLFieldConfig<unknown, { principal: Principal | null; requestId?: string }>> = {}
  for (const pipe of [...pipes].sort((a, b) => a.name.localeCompare(b.name))) {
    const { args, names } = argumentsOf(pipe.params)
    const { type } = rowType(pipe, unique(`${pascal(pipe.name)}Row`, taken))
    const field = unique(graphqlName(pipe.name), fieldNames)
    pipeFields[field] = {
      type,
      args,
      description: [pipe.description?.trim(), `The endpoint pipe \`${pipe.name}\` (REST: \`/v0/pipes/${pipe.name}.json\`; scope \`read:pipe:${pipe.shadowsBuiltin ? '<database>.' : ''}${pipe.name}\`${pipe.shadowsBuiltin ? ', as a built-in pipe has its name' : ''}).`]
        .filter(Boolean)
        .join('\n\n'),
      resolve: async (_parent, fieldArgs: Record<string, unknown>, context) => {
        if (!context.principal) throw new UnauthenticatedError()
        try {
          return await read(context.principal, pipe.name, toSearch(fieldArgs, names), context.requestId ?? '')
        } catch (err) {
          throw mapError(err) ?? err
        }
      },
    }
  }
  const namespace = new GraphQLObjectType({
    name: unique('Pipes', taken),
    description: "The loaded Tinybird project's endpoint pipes, one field each (generated at start-up from the datafiles).",
    fields: pipeFields,
  })
  const queryConfig = query.toConfig()
  if (queryConfig.fields.pipes) throw new Error('the base schema already has a Query.pipes field')
  const extended = new GraphQLObjectType({
    ...queryConfig,
    fields: {
      ...queryConfig.fields,
      pipes: {
        type: new GraphQLNonNull(namespace),
        description: "The loaded Tinybird project's endpoint pipes, as typed fields; several in one request run concurrently.",
        resolve: () => ({}),
      },
    },
  })
  return new GraphQLSchema({
    ...config,
    query: extended,
    types: [...config.types.filter((t) => t.name !== query.name), extended, namespace, ...extraTypes],
  })
}

/** A template's 400 or ClickHouse's refusal of a pipe's SQL, as BAD_USER_INPUT with the REST message. */
export function badInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new BadUserInputError(message, extensions)
}
