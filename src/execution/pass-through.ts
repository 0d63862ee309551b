import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isEnumType,
  isListType,
  isObjectType,
  isSpecifiedScalarType,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLField,
  type GraphQLSchema,
  type VariableDefinitionNode,
} from 'graphql'
import { answeredWith } from '../cache/read-cache.js'

/**
 * A root list field whose items the store can write as JSON itself (ClickHouse's `FORMAT JSONEachRow` as
 * one array): an answer that selects only plain fields of it goes out as the store's bytes, never parsed,
 * turned into objects, executed or serialised again.
 */
export interface PassThroughField {
  /** The root query field. */
  readonly field: string
  /** The item fields the writer can write (GraphQL names). */
  readonly fields: ReadonlySet<string>
  /**
   * The items as one JSON array of objects, each with `selected` (`[response key, field]`, in order) valued
   * as GraphQL serialises them, for the caller of `context` and the field's coerced arguments. Throws when it
   * cannot (a refused caller, a value that does not fit): the request then runs on the executor, which
   * reports it as it always does.
   */
  write(context: unknown, args: Record<string, unknown>, selected: ReadonlyArray<readonly [key: string, field: string]>): Promise<Buffer>
}

/** What a document's plan keeps: the passed-through field, its node and the item fields selected. */
interface Plan {
  readonly writer: PassThroughField
  readonly key: string
  readonly node: FieldNode
  readonly definition: GraphQLField<unknown, unknown>
  readonly variables: readonly VariableDefinitionNode[]
  readonly selected: ReadonlyArray<readonly [string, string]>
}

const NONE = Symbol('none')
const MAX_PLANS = 500

/**
 * Decides, once per document, whether an operation is one passed-through root field selecting plain
 * fields, and answers it from the store's bytes. Anything else (fragments, `__typename`, directives,
 * other root fields, mutations, variables that do not coerce) is left to `next`, and so is a request the
 * writer refuses: its error is then reported by the executor, exactly as without this.
 */
export class PassThrough {
  private readonly writers: ReadonlyMap<string, PassThroughField>
  private readonly plans = new Map<string, Plan | typeof NONE>()

  constructor(
    private readonly schema: GraphQLSchema,
    writers: readonly PassThroughField[],
    /** Each request answered from the store's bytes (passed), or refused by the writer and then executed. */
    private readonly counted: (outcome: 'passed' | 'refused') => void = () => undefined,
  ) {
    this.writers = new Map(writers.map((w) => [w.field, w]))
  }

  execute(args: ExecutionArgs, next: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult): Promise<ExecutionResult> | ExecutionResult {
    if (this.writers.size === 0 || args.schema !== this.schema || args.rootValue !== undefined || args.fieldResolver || args.typeResolver) return next(args)
    const plan = this.plan(args.document, args.operationName ?? undefined)
    if (plan === NONE) return next(args)
    const variables = getVariableValues(this.schema, plan.variables, args.variableValues ?? {}, { maxErrors: 1 })
    if (variables.errors) return next(args)
    let values: Record<string, unknown>
    try {
      values = getArgumentValues(plan.definition, plan.node, variables.coerced)
    } catch {
      return next(args)
    }
    // A refusal may be thrown at once (a scope check) or later (the store): either way the executor runs.
    return new Promise<Buffer>((resolve) => resolve(plan.writer.write(args.contextValue, values, plan.selected))).then(
      (bytes) => {
        this.counted('passed')
        return answer(plan.key, bytes)
      },
      () => {
        this.counted('refused')
        return next(args)
      },
    )
  }

  private plan(document: DocumentNode, operationName: string | undefined): Plan | typeof NONE {
    const source = document.loc?.source.body
    if (source === undefined) return NONE
    const cacheKey = `${operationName ?? ''}\u0000${source}`
    let plan = this.plans.get(cacheKey)
    if (plan === undefined) {
      plan = this.planOf(document, operationName)
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string)
      this.plans.set(cacheKey, plan)
    }
    return plan
  }

  private planOf(document: DocumentNode, operationName: string | undefined): Plan | typeof NONE {
    const operation = getOperationAST(document, operationName)
    if (!operation || operation.operation !== 'query' || operation.directives?.length) return NONE
    const [node, ...others] = operation.selectionSet.selections
    if (!node || others.length > 0 || node.kind !== Kind.FIELD || node.directives?.length || !node.selectionSet) return NONE
    const writer = this.writers.get(node.name.value)
    const definition = this.schema.getQueryType()?.getFields()[node.name.value]
    if (!writer || !definition) return NONE
    const list = getNullableType(definition.type)
    const item = isListType(list) ? getNullableType(list.ofType) : undefined
    if (!item || !isObjectType(item)) return NONE
    const itemFields = item.getFields()
    const selected: Array<readonly [string, string]> = []
    const keys = new Set<string>()
    for (const s of node.selectionSet.selections) {
      if (s.kind !== Kind.FIELD || s.directives?.length || s.arguments?.length || s.selectionSet) return NONE
      const name = s.name.value
      const field = itemFields[name]
      // Only fields the default resolver reads (see plainFields), of types whose serialised form the writer
      // writes: the specified scalars, and enums whose values are their names.
      if (!field || field.resolve || !writer.fields.has(name) || !writesAsIs(field.type)) return NONE
      const key = s.alias?.value ?? name
      // The same key twice is the same field (validation merged them); graphql-js answers it once, first place.
      if (keys.has(key)) continue
      keys.add(key)
      selected.push([key, name])
    }
    if (selected.length === 0) return NONE
    return { writer, key: node.alias?.value ?? node.name.value, node, definition, variables: operation.variableDefinitions ?? [], selected }
  }
}

function writesAsIs(type: Parameters<typeof getNamedType>[0]): boolean {
  const named = getNamedType(type)
  if (!named || isListType(getNullableType(type))) return false
  if (isEnumType(named)) return named.getValues().every((v) => v.value === v.name)
  return isSpecifiedScalarType(named)
}

const CLOSING = Buffer.from('}}\n')

/**
 * `{"data":{"<key>": <items>}}` as the response's body, kept with the answer so that it is written as it is
 * (see `answeredWith`); its `data` parses the items only if something reads them (a subscription's message,
 * a test calling the executor).
 */
function answer(key: string, items: Buffer): ExecutionResult {
  const parts = [Buffer.from(`{"data":{${JSON.stringify(key)}:`), items, CLOSING]
  let parsed: unknown
  const data: Record<string, unknown> = {}
  Object.defineProperty(data, key, {
    enumerable: true,
    configurable: true,
    get: () => (parsed ??= JSON.parse(items.toString('utf8'))),
  })
  answeredWith(data, parts)
  return { data }
}
