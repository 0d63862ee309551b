import { Arg, Authorized, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql'
import { requireScope } from '../auth/guard.js'
import type { Context } from '../context.js'
import { StockStatus } from '../schema/enums.js'
import { StockUpdate } from '../schema/stock.type.js'
import type { StockUpdate as FeedUpdate } from '../live/stock-feed.js'

interface StockChangedArgs {
  products?: string[] | null
  category?: string | null
}

@Resolver()
export class StockResolver {
  @Authorized('read:ecommerce')
  @Subscription(() => StockUpdate, {
    description: 'A stock change of a matching product, once per change, in order',
    subscribe: ({ args, context }) => {
      requireScope(context as Context, 'read:ecommerce')
      const { products, category } = args as StockChangedArgs
      return (context as Context).feed.subscribe({ products, category })
    },
  })
  stockChanged(
    @Root() update: FeedUpdate,
    @Arg('products', () => [ID], { nullable: true }) _products: string[] | null,
    @Arg('category', () => String, { nullable: true }) _category: string | null,
    @Ctx() _ctx: Context,
  ): StockUpdate {
    return { ...update, status: update.status as StockStatus }
  }
}
