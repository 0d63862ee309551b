import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql'
import type { Context } from '../context.js'
import type { PassThroughField } from '../execution/pass-through.js'
import type { GridItem } from '../store/types.js'
import { BadUserInputError } from '../errors.js'
import { EcommTrendPoint, Product, ProductGridItem, Stock, UiFilterOption } from '../schema/ecommerce.type.js'
import { Granularity, GridRanking, UiFilterKind } from '../schema/enums.js'
import { domainOf } from './domain.js'

const READ = 'read:ecommerce'
const MAX_IDS = 1000
/** ProductGridItem's fields, all plain (the store's GridItem as it is). */
const GRID_FIELDS: ReadonlyArray<keyof GridItem & keyof ProductGridItem> = ['id', 'name', 'category', 'photo', 'price', 'stock', 'stockExact', 'stockStatus', 'hits', 'trending', 'rankStatus']

/**
 * `productGrid` answered with the store's own JSON when only plain fields are selected (src/execution/
 * pass-through.ts): the resolver's call (the domain checks the same scope as `@Authorized`), the items
 * written by ClickHouse.
 */
export const productGridPassThrough: PassThroughField = {
  field: 'productGrid',
  fields: new Set(GRID_FIELDS),
  write(context, args, selected) {
    const ctx = context as Context
    const request = { category: args.category as string | null, showOutOfStock: args.showOutOfStock as boolean | null, ranking: args.ranking as GridRanking | null }
    return domainOf(ctx).ecommerce.productGridRows(ctx.principal, request, selected as ReadonlyArray<readonly [string, keyof GridItem]>)
  },
}

function toStock(ctx: Context, s: { product: string; available: number }): Stock {
  return { product: s.product, available: s.available, status: domainOf(ctx).ecommerce.status(s.available) }
}

@Resolver(() => Product)
export class EcommerceResolver {
  @Authorized(READ)
  @Query(() => [ProductGridItem], { description: "The seed's api_product_grid" })
  async productGrid(
    @Ctx() ctx: Context,
    @Arg('category', () => String, { nullable: true, defaultValue: 'all' }) category: string | null,
    @Arg('showOutOfStock', () => Boolean, { nullable: true, defaultValue: false }) showOutOfStock: boolean | null,
    @Arg('ranking', () => GridRanking, { nullable: true, defaultValue: GridRanking.PRICE }) ranking: GridRanking | null,
  ): Promise<ProductGridItem[]> {
    // The grid's rows are the GraphQL shape already (its StockStatus strings are the enum's values).
    return domainOf(ctx).ecommerce.productGrid(ctx.principal, { category, showOutOfStock, ranking }) as Promise<ProductGridItem[]>
  }

  @Authorized(READ)
  @Query(() => [UiFilterOption], { description: "The seed's api_ui_filters" })
  async uiFilters(
    @Ctx() ctx: Context,
    @Arg('filter', () => UiFilterKind) filter: UiFilterKind,
    @Arg('category', () => String, { nullable: true, defaultValue: 'all' }) category: string | null,
  ): Promise<UiFilterOption[]> {
    return domainOf(ctx).ecommerce.uiFilters(ctx.principal, filter, category)
  }

  @Authorized(READ)
  @Query(() => [Product])
  async products(
    @Ctx() ctx: Context,
    @Arg('category', () => String, { nullable: true }) category: string | null,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
  ): Promise<Product[]> {
    const products = await domainOf(ctx).ecommerce.products(ctx.principal, category ?? undefined, limit ?? 100, offset ?? 0)
    for (const p of products) ctx.loaders.product.prime(p.id, p)
    return products
  }

  @Authorized(READ)
  @Query(() => Product, { nullable: true })
  product(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<Product | null> {
    return ctx.loaders.product.load(id)
  }

  @Authorized(READ)
  @Query(() => [Stock])
  async stock(@Ctx() ctx: Context, @Arg('products', () => [ID]) products: string[]): Promise<Stock[]> {
    if (products.length > MAX_IDS) throw new BadUserInputError(`at most ${MAX_IDS} products per request`)
    const levels = await ctx.loaders.stock.loadMany(products)
    return levels.map((s) => {
      if (s instanceof Error) throw s
      return toStock(ctx, s)
    })
  }

  @Authorized(READ)
  @Query(() => [EcommTrendPoint], { description: 'Views, carts, sales and revenue per bucket, from the rollups' })
  ecommTrend(
    @Ctx() ctx: Context,
    @Arg('product', () => ID, { nullable: true }) product: string | null,
    @Arg('category', () => String, { nullable: true, defaultValue: 'all' }) category: string | null,
    @Arg('from', () => Date, { nullable: true }) from: Date | null,
    @Arg('to', () => Date, { nullable: true }) to: Date | null,
    @Arg('granularity', () => Granularity, { nullable: true, defaultValue: Granularity.HOUR }) granularity: Granularity | null,
    @Arg('timezone', () => String, { nullable: true, defaultValue: 'UTC' }) timezone: string | null,
  ): Promise<EcommTrendPoint[]> {
    return domainOf(ctx).ecommerce.ecommTrend(ctx.principal, { product, category, from, to, granularity, timezone })
  }

  @FieldResolver(() => Stock, { name: 'stock' })
  async stockOf(@Root() product: Product, @Ctx() ctx: Context): Promise<Stock> {
    return toStock(ctx, await ctx.loaders.stock.load(product.id))
  }

  @FieldResolver(() => Int, { description: 'Sale events in the last hour' })
  recentSales(@Root() product: Product, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.recentSales.load(product.id)
  }
}
