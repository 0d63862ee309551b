import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql'
import type { Context } from '../context.js'
import { DEFAULT_BREAKDOWN, type AppMetricValues } from '../domain/analytics.js'
import { AnalyticsFilter } from '../schema/analytics.input.js'
import { AppAnalytics, AppMetrics, DimensionBucket, METRICS_TYPES, TimeBucket } from '../schema/analytics.type.js'
import { App, Dimension, Granularity } from '../schema/enums.js'
import type { AnalyticsFilter as StoreFilter, AnalyticsQuery } from '../store/types.js'
import { domainOf } from './domain.js'

/** What `analytics` hands its field resolvers: the GraphQL object plus the checked query behind its fields. */
type AnalyticsRoot = AppAnalytics & { readonly query: AnalyticsQuery }

/** An app's metric values as its GraphQL metrics type (CartMetrics, …). */
export function toAppMetrics(app: App, values: AppMetricValues): AppMetrics {
  const Type = METRICS_TYPES.get(app)
  if (!Type) throw new Error(`no metrics type for app ${app}`)
  return Object.assign(new Type(), values)
}

function storeFilter(filter: AnalyticsFilter | null): StoreFilter {
  const out: Record<string, string | readonly string[]> = {}
  for (const [k, v] of Object.entries(filter ?? {})) {
    if (typeof v === 'string') out[k] = v
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string')
  }
  return out as StoreFilter
}

@Resolver(() => AppAnalytics)
export class AnalyticsResolver {
  @Authorized()
  @Query(() => AppAnalytics, { description: "An app's metrics for one workspace; needs read:analytics:<app>" })
  analytics(
    @Ctx() ctx: Context,
    @Arg('app', () => App) app: App,
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('from', () => Date, { nullable: true, description: 'Inclusive; defaults to 7 days before `to`' }) from: Date | null,
    @Arg('to', () => Date, { nullable: true, description: 'Exclusive; defaults to now' }) to: Date | null,
    @Arg('filter', () => AnalyticsFilter, { nullable: true }) filter: AnalyticsFilter | null,
  ): AnalyticsRoot {
    const query = domainOf(ctx).analytics.query(ctx.principal, { app, workspaceId, from, to, filter: storeFilter(filter) })
    return Object.assign(new AppAnalytics(), { app, workspaceId, from: query.from, to: query.to, query })
  }

  @FieldResolver(() => AppMetrics)
  async totals(@Root() root: AnalyticsRoot, @Ctx() ctx: Context): Promise<AppMetrics> {
    return toAppMetrics(root.app, await domainOf(ctx).analytics.totals(root.query))
  }

  @FieldResolver(() => [DimensionBucket], { description: 'Metrics per non-empty value, by sessions then value' })
  async breakdown(
    @Root() root: AnalyticsRoot,
    @Ctx() ctx: Context,
    @Arg('by', () => Dimension) by: Dimension,
    @Arg('limit', () => Int, { nullable: true, defaultValue: DEFAULT_BREAKDOWN }) limit: number | null,
  ): Promise<DimensionBucket[]> {
    const rows = await domainOf(ctx).analytics.breakdown(root.query, by, limit ?? DEFAULT_BREAKDOWN)
    return rows.map((r) => ({ value: r.value, metrics: toAppMetrics(root.app, r.metrics) }))
  }

  @FieldResolver(() => Int, { description: 'How many rows breakdown(by:) has without its limit: the non-empty values of the dimension' })
  async breakdownCount(@Root() root: AnalyticsRoot, @Ctx() ctx: Context, @Arg('by', () => Dimension) by: Dimension): Promise<number> {
    return domainOf(ctx).analytics.breakdownCount(root.query, by)
  }

  @FieldResolver(() => [TimeBucket], { description: 'Every bucket of the range, empty ones as zeros' })
  async timeseries(
    @Root() root: AnalyticsRoot,
    @Ctx() ctx: Context,
    @Arg('granularity', () => Granularity, { nullable: true, defaultValue: Granularity.DAY }) granularity: Granularity | null,
    @Arg('timezone', () => String, { nullable: true, defaultValue: 'UTC' }) timezone: string | null,
  ): Promise<TimeBucket[]> {
    const rows = await domainOf(ctx).analytics.timeseries(root.query, granularity ?? Granularity.DAY, timezone ?? 'UTC')
    return rows.map((r) => ({ start: r.start, metrics: toAppMetrics(root.app, r.metrics) }))
  }
}
