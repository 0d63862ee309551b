import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql'
import { requireScope, requireWorkspace } from '../auth/guard.js'
import { scopeFor } from '../auth/scopes.js'
import type { Context } from '../context.js'
import { BadUserInputError } from '../errors.js'
import { AnalyticsFilter } from '../schema/analytics.input.js'
import {
  AppAnalytics,
  AppMetrics,
  CartMetrics,
  DimensionBucket,
  FmMetrics,
  LinkMetrics,
  PageMetrics,
  TimeBucket,
} from '../schema/analytics.type.js'
import { App, Dimension, Granularity } from '../schema/enums.js'
import type { AnalyticsFilter as StoreFilter, AnalyticsQuery, AppMetricsRow } from '../store/types.js'
import { assertRange } from '../store/buckets.js'

const WEEK_MS = 7 * 24 * 3600e3

/** What `analytics` hands its field resolvers: the GraphQL object plus the store query behind its fields. */
type AnalyticsRoot = AppAnalytics & { readonly query: AnalyticsQuery }
const MAX_BREAKDOWN = 1000

/** The store's per-action counts as the app's GraphQL metrics type. */
export function toAppMetrics(app: App, m: AppMetricsRow): AppMetrics {
  const base = { events: m.events, sessions: m.sessions, visitors: m.visitors }
  const a = m.actions
  switch (app) {
    case App.CART:
      return Object.assign(new CartMetrics(), base, {
        views: a.view ?? 0,
        addToCarts: a.add_to_cart ?? 0,
        purchases: a.purchase ?? 0,
        revenue: m.revenue,
      })
    case App.FM:
      return Object.assign(new FmMetrics(), base, { plays: a.play ?? 0, pauses: a.pause ?? 0, shares: a.share ?? 0 })
    case App.LINK:
      return Object.assign(new LinkMetrics(), base, { clicks: a.click ?? 0, redirects: a.redirect ?? 0 })
    case App.PAGE:
      return Object.assign(new PageMetrics(), base, { views: a.view ?? 0, interactions: a.interaction ?? 0 })
  }
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
    const principal = requireScope(ctx, scopeFor.analytics(app))
    requireWorkspace(principal, workspaceId)
    const end = to ?? new Date()
    const start = from ?? new Date(end.getTime() - WEEK_MS)
    assertRange(start, end) // a StoreInputError answers BAD_USER_INPUT (formatError)
    const query: AnalyticsQuery = { app, workspaceId, from: start, to: end, filter: storeFilter(filter) }
    return Object.assign(new AppAnalytics(), { app, workspaceId, from: start, to: end, query })
  }

  @FieldResolver(() => AppMetrics)
  async totals(@Root() root: AnalyticsRoot, @Ctx() ctx: Context): Promise<AppMetrics> {
    return toAppMetrics(root.app, await ctx.store.analyticsTotals(root.query))
  }

  @FieldResolver(() => [DimensionBucket], { description: 'Metrics per non-empty value, by sessions then value' })
  async breakdown(
    @Root() root: AnalyticsRoot,
    @Ctx() ctx: Context,
    @Arg('by', () => Dimension) by: Dimension,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 50 }) limit: number | null,
  ): Promise<DimensionBucket[]> {
    const n = limit ?? 50
    if (n < 1 || n > MAX_BREAKDOWN) throw new BadUserInputError(`limit must be between 1 and ${MAX_BREAKDOWN}`)
    const rows = await ctx.store.analyticsBreakdown({ ...root.query, by, limit: n })
    return rows.map((r) => ({ value: r.value, metrics: toAppMetrics(root.app, r.metrics) }))
  }

  @FieldResolver(() => Int, { description: 'How many rows breakdown(by:) has without its limit: the non-empty values of the dimension' })
  async breakdownCount(@Root() root: AnalyticsRoot, @Ctx() ctx: Context, @Arg('by', () => Dimension) by: Dimension): Promise<number> {
    return ctx.store.analyticsBreakdownCount({ ...root.query, by })
  }

  @FieldResolver(() => [TimeBucket], { description: 'Every bucket of the range, empty ones as zeros' })
  async timeseries(
    @Root() root: AnalyticsRoot,
    @Ctx() ctx: Context,
    @Arg('granularity', () => Granularity, { nullable: true, defaultValue: Granularity.DAY }) granularity: Granularity | null,
    @Arg('timezone', () => String, { nullable: true, defaultValue: 'UTC' }) timezone: string | null,
  ): Promise<TimeBucket[]> {
    const rows = await ctx.store.analyticsTimeseries({
      ...root.query,
      granularity: granularity ?? Granularity.DAY,
      timezone: timezone ?? 'UTC',
    })
    return rows.map((r) => ({ start: r.start, metrics: toAppMetrics(root.app, r.metrics) }))
  }
}
