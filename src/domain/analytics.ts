import type { Principal } from '../auth/scopes.js'
import { APPS, appMetricColumns, DEFAULT_GRANULARITY, type AppEntry } from '../catalog/index.js'
import { assertRange } from '../store/buckets.js'
import type { Store } from '../store/store.js'
import type { AnalyticsFilter, AnalyticsQuery, App, AppMetricsRow, DimensionField, Granularity } from '../store/types.js'
import { badInput, inWorkspace, withScope } from './errors.js'

const WEEK_MS = 7 * 24 * 3600e3
export const MAX_BREAKDOWN = 1000
export const DEFAULT_BREAKDOWN = 50

/** An app's metrics by their field names (`events`, …, `addToCarts`, `revenue`): the catalog's columns. */
export type AppMetricValues = Readonly<Record<string, number>>

export interface AnalyticsRequest {
  readonly app: App
  readonly workspaceId: string
  /** Inclusive; defaults to 7 days before `to`. */
  readonly from?: Date | null | undefined
  /** Exclusive; defaults to now. */
  readonly to?: Date | null | undefined
  readonly filter?: AnalyticsFilter | null | undefined
}

const APP_BY_NAME: ReadonlyMap<string, AppEntry> = new Map(APPS.map((a): [string, AppEntry] => [a.name, a]))

/** The store's per-action counts as the app's metric fields (its catalog columns). */
export function metricValues(app: App, m: AppMetricsRow): AppMetricValues {
  const entry = APP_BY_NAME.get(app)
  const out: Record<string, number> = { events: m.events, sessions: m.sessions, visitors: m.visitors }
  for (const a of entry?.actions ?? []) out[a.field] = m.actions[a.action] ?? 0
  if (entry?.revenueAction) out.revenue = m.revenue
  return out
}

/** The metric columns of an app's REST answers, in order: name, field and ClickHouse type. */
export function metricColumnsOf(app: App): ReturnType<typeof appMetricColumns> {
  const entry = APP_BY_NAME.get(app)
  return entry ? appMetricColumns(entry) : []
}

/** An app's analytics: totals, breakdowns by a dimension and timeseries for one workspace and range. */
export class AnalyticsService {
  constructor(private readonly store: Store) {}

  /** The checked query: the caller reads the app (`read:analytics:<app>`) in that workspace, over a valid range. */
  query(who: Principal | null, request: AnalyticsRequest): AnalyticsQuery {
    const principal = withScope(who, `read:analytics:${request.app}`)
    inWorkspace(principal, request.workspaceId)
    const to = request.to ?? new Date()
    const from = request.from ?? new Date(to.getTime() - WEEK_MS)
    assertRange(from, to) // a StoreInputError: BAD_USER_INPUT
    return { app: request.app, workspaceId: request.workspaceId, from, to, filter: request.filter ?? {} }
  }

  async totals(q: AnalyticsQuery): Promise<AppMetricValues> {
    return metricValues(q.app, await this.store.analyticsTotals(q))
  }

  /** Metrics per non-empty value of `by`, by sessions then value; at most `limit` rows. */
  async breakdown(q: AnalyticsQuery, by: DimensionField, limit: number = DEFAULT_BREAKDOWN): Promise<Array<{ value: string; metrics: AppMetricValues }>> {
    if (limit < 1 || limit > MAX_BREAKDOWN) throw badInput(`limit must be between 1 and ${MAX_BREAKDOWN}`)
    const rows = await this.store.analyticsBreakdown({ ...q, by, limit })
    return rows.map((r) => ({ value: r.value, metrics: metricValues(q.app, r.metrics) }))
  }

  /** How many rows the breakdown has without its limit. */
  breakdownCount(q: AnalyticsQuery, by: DimensionField): Promise<number> {
    return this.store.analyticsBreakdownCount({ ...q, by })
  }

  /** Every bucket of the range, empty ones as zeros. */
  async timeseries(q: AnalyticsQuery, granularity: Granularity = DEFAULT_GRANULARITY, timezone = 'UTC'): Promise<Array<{ start: Date; metrics: AppMetricValues }>> {
    const rows = await this.store.analyticsTimeseries({ ...q, granularity, timezone })
    return rows.map((r) => ({ start: r.start, metrics: metricValues(q.app, r.metrics) }))
  }
}
