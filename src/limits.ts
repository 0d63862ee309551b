import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit'
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives'
import { specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql'
import type { QueryLimits } from './config.js'

/**
 * Validation rules that bound what one document may ask for (GraphQL Armor's, well kept): selection
 * depth, an estimated cost, aliases (so one request cannot fan out into thousands of store queries)
 * and directives. A document over a limit fails validation with a message naming the limit; the
 * number of lexical tokens is bounded at parse time (`parseOptions.maxTokens`).
 */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, exposeLimits: true, flattenFragments: true }),
    costLimitRule({ maxCost: limits.maxCost, exposeLimits: true }),
    maxAliasesRule({ n: limits.maxAliases, exposeLimits: true }),
    maxDirectivesRule({ n: 50, exposeLimits: true }),
  ] as ValidationRule[]
}

/** graphql-ws's `validate` with the same limits as HTTP. */
export function limitedValidate(limits: QueryLimits): (schema: GraphQLSchema, document: DocumentNode) => ReturnType<typeof validate> {
  const rules = [...specifiedRules, ...queryLimitRules(limits)]
  return (schema, document) => validate(schema, document, rules)
}
