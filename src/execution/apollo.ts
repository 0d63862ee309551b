import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server'
import type { ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql'

type Gateway<TContext extends BaseContext> = NonNullable<ApolloServerOptionsWithGateway<TContext>['gateway']>

/**
 * Apollo Server's hook for an executor of one's own is its gateway interface: a "gateway" that serves a
 * fixed schema and runs each operation with `execute` (graphql-js's signature). Apollo still parses,
 * validates (with the configured rules), runs every plugin hook and formats errors as it does without it.
 * Pass it as `new ApolloServer({ gateway })` instead of `schema`.
 */
export function executorGateway<TContext extends BaseContext>(
  schema: GraphQLSchema,
  execute: (args: ExecutionArgs, headers?: { set(name: string, value: string): void }) => Promise<ExecutionResult> | ExecutionResult,
): Gateway<TContext> {
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' })
      return () => {}
    },
    async load() {
      return {
        executor: async (request) =>
          execute(
            {
              schema,
              document: request.document,
              contextValue: request.context,
              variableValues: request.request.variables,
              operationName: request.operationName,
            },
            request.response?.http?.headers,
          ),
      }
    },
    async stop() {},
  }
}
