import type { ApolloServerPlugin } from '@apollo/server'
import { visit, type DocumentNode } from 'graphql'
import { grants } from './auth/scopes.js'
import type { Context } from './context.js'
import { ForbiddenError } from './errors.js'

function introspects(document: DocumentNode): boolean {
  let found = false
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true
    },
  })
  return found
}

/** Introspection is for admins in production, for everyone in development. */
export function introspectionGuard(development: boolean): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          if (development || !introspects(document)) return
          if (!contextValue.principal || !grants(contextValue.principal.scopes, 'admin')) {
            throw new ForbiddenError('Introspection is open to admin tokens only (or NODE_ENV=development)')
          }
        },
      }
    },
  }
}
