import { ApolloServerErrorCode } from '@apollo/server/errors'
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit'
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives'
import { GraphQLError, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationContext, type ValidationRule } from 'graphql'
import type { QueryLimits } from './config.js'

/**
 * Armor's rules throw by default (`propagateOnRejection`), which Apollo and graphql-ws treat as an
 * unexpected failure (500 / INTERNAL_SERVER_ERROR). Reported instead, a refusal is an ordinary
 * validation error (400, GRAPHQL_VALIDATION_FAILED) whose message names the limit.
 */
const REPORT = {
  exposeLimits: true,
  propagateOnRejection: false,
  onReject: [
    (ctx: ValidationContext | null, err: GraphQLError) => {
      ctx?.reportError(new GraphQLError(err.message.replace(/^Syntax Error: /, '')))
    },
  ],
}

/**
 * Validation rules that bound what one document may ask for (GraphQL Armor's, well kept): selection
 * depth, an estimated cost, aliases (so one request cannot fan out into thousands of store queries)
 * and directives. A document over a limit fails validation with a message naming the limit; the
 * number of lexical tokens is bounded at parse time (`parseOptions.maxTokens`).
 */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true, ...REPORT }),
    costLimitRule({ maxCost: limits.maxCost, ...REPORT }),
    maxAliasesRule({ n: limits.maxAliases, ...REPORT }),
    maxDirectivesRule({ n: 50, ...REPORT }),
  ] as ValidationRule[]
}

/**
 * graphql-ws's `validate` with the same limits as HTTP. Its errors carry the code Apollo gives them
 * (graphql-js leaves them without one, which formatError would mask as an internal error).
 */
export function limitedValidate(limits: QueryLimits): (schema: GraphQLSchema, document: DocumentNode) => ReturnType<typeof validate> {
  const rules = [...specifiedRules, ...queryLimitRules(limits)]
  return (schema, document) =>
    validate(schema, document, rules).map(
      (e) =>
        new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          originalError: e.originalError,
          extensions: { ...e.extensions, code: ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED },
        }),
    )
}
