import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql'
import type { Context } from '../context.js'
import { BadUserInputError } from '../errors.js'
import { EcommTrendPoint, Product, ProductGridItem, Stock, UiFilterOption } from '../schema/ecommerce.type.js'
import { Granularity, GridRanking, StockStatus, UiFilterKind } from '../schema/enums.js'
import { stockStatus } from '../store/stock-status.js'

const READ = 'read:ecommerce'
const KPIS = ['sales', 'carts', 'views']
const MAX_PAGE = 1000
const MAX_IDS = 1000

/** Default trend window when `from` is absent, per granularity. */
const DEFAULT_SPAN_MS: Record<Granularity, number> = {
  MINUTE: 3600e3,
  HOUR: 24 * 3600e3,
  DAY: 30 * 24 * 3600e3,
  WEEK: 12 * 7 * 24 * 3600e3,
  MONTH: 365 * 24 * 3600e3,
}

function toStock(ctx: Context, s: { product: string; available: number }): Stock {
  return { product: s.product, available: s.available, status: stockStatus(s.available, ctx.config.lowStockThreshold) as StockStatus }
}

function checkPage(limit: number, offset: number): void {
  if (limit < 0 || limit > MAX_PAGE) throw new BadUserInputError(`limit must be between 0 and ${MAX_PAGE}`)
  if (offset < 0) throw new BadUserInputError('offset must not be negative')
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
    const rows = await ctx.store.productGrid(
      { category: category ?? 'all', showOutOfStock: showOutOfStock ?? false, ranking: ranking ?? GridRanking.PRICE },
      ctx.config.lowStockThreshold,
    )
    // The store's rows are the GraphQL shape already (its StockStatus strings are the enum's values).
    return rows as ProductGridItem[]
  }

  @Authorized(READ)
  @Query(() => [UiFilterOption], { description: "The seed's api_ui_filters" })
  async uiFilters(
    @Ctx() ctx: Context,
    @Arg('filter', () => UiFilterKind) filter: UiFilterKind,
    @Arg('category', () => String, { nullable: true, defaultValue: 'all' }) category: string | null,
  ): Promise<UiFilterOption[]> {
    if (filter === UiFilterKind.VALUE) return KPIS.map((value) => ({ id: null, value }))
    return [{ id: 'All', value: 'All' }, ...(await ctx.store.productFilterOptions(category ?? 'all'))]
  }

  @Authorized(READ)
  @Query(() => [Product])
  async products(
    @Ctx() ctx: Context,
    @Arg('category', () => String, { nullable: true }) category: string | null,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
  ): Promise<Product[]> {
    checkPage(limit ?? 100, offset ?? 0)
    const products = await ctx.store.products(category ?? undefined, limit ?? 100, offset ?? 0)
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
    const g = granularity ?? Granularity.HOUR
    const end = to ?? new Date()
    return ctx.store.ecommTrend({
      product: product ?? undefined,
      category: category ?? 'all',
      from: from ?? new Date(end.getTime() - DEFAULT_SPAN_MS[g]),
      to: end,
      granularity: g,
      timezone: timezone ?? 'UTC',
    })
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
