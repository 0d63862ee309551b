import 'reflect-metadata'
import type { GraphQLSchema } from 'graphql'
import { buildSchema, type PubSub } from 'type-graphql'
import { authChecker } from '../auth/guard.js'
import { DateTimeScalar } from './date-time.js'
import { AnalyticsResolver } from '../resolvers/analytics.resolver.js'
import { EcommerceResolver } from '../resolvers/ecommerce.resolver.js'
import { IngestResolver } from '../resolvers/ingest.resolver.js'
import { ServiceResolver } from '../resolvers/service.resolver.js'
import { StockResolver } from '../resolvers/stock.resolver.js'
import { TokenResolver } from '../resolvers/token.resolver.js'

export const resolvers = [EcommerceResolver, AnalyticsResolver, IngestResolver, TokenResolver, StockResolver, ServiceResolver] as const

/**
 * type-graphql insists on a PubSub once a schema has subscriptions, even when each one brings its own
 * `subscribe` (ours read the StockFeed), so this one only exists to refuse use.
 */
const unusedPubSub: PubSub = {
  publish: () => {
    throw new Error('subscriptions read the StockFeed, not a PubSub')
  },
  subscribe: () => {
    throw new Error('subscriptions read the StockFeed, not a PubSub')
  },
}

/** Builds the executable schema from the type-graphql classes. */
export function createSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    authMode: 'error',
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    pubSub: unusedPubSub,
  })
}
