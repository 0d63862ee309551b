import type { ApolloServerPlugin } from '@apollo/server'
import { visit, type DocumentNode, type GraphQLError } from 'graphql'
import { grants, type Principal } from './auth/scopes.js'
import type { Context } from './context.js'
import { ForbiddenError, withStatus } from './errors.js'

function introspects(document: DocumentNode): boolean {
  let found = false
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true
    },
  })
  return found
}

/**
 * The refusal for a document that introspects the schema, or null when it may run: introspection is
 * for admins in production, for everyone in development. Shared by every transport that executes
 * documents (Apollo's plugin below; graphql-ws's onSubscribe runs queries too).
 */
export function introspectionRefusal(document: DocumentNode, principal: Principal | null, development: boolean): GraphQLError | null {
  if (development || !introspects(document)) return null
  if (principal && grants(principal.scopes, 'admin')) return null
  // Thrown from didResolveOperation, an error is a 500 unless it names its status.
  return withStatus(new ForbiddenError('Introspection is open to admin tokens only (or NODE_ENV=development)'), 403)
}

/** Apollo's side of introspectionRefusal. */
export function introspectionGuard(development: boolean): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          const refusal = introspectionRefusal(document, contextValue.principal, development)
          if (refusal) throw refusal
        },
      }
    },
  }
}
