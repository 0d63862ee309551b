import {
  APP_TABLE,
  BUCKET_SQL,
  DIMENSION_SQL,
  emptyMetrics,
  filterSql,
  hourlyPlan,
  mergedMetricsSql,
  metricsSql,
  toMetrics,
  type AnalyticsQuery,
  type AppMetricsRow,
  type BreakdownCountQuery,
  type BreakdownQuery,
  type MetricsRecord,
  type TimeseriesQuery,
} from '../analytics.js'
import { bucketStarts, zeroFill } from '../buckets.js'
import { toChDateTime64 } from '../clickhouse.js'
import type { QueryParams } from '../executor.js'
import type { FilterField } from '../types.js'
import type { StoreQueries } from './queries.js'

/**
 * App analytics: totals, breakdowns and time series of one app's metrics (the SQL pieces in ../analytics.ts).
 * Each reads the hourly pre-aggregation for the whole hours of its range and the per-app table for the
 * ragged edges (`analytics_hourly_*`) when hourlyPlan allows, else the per-app table alone
 * (`analytics_*`, which also serve as the oracle the pre-aggregated answers are tested against).
 */
export class AnalyticsRepository {
  constructor(private readonly q: StoreQueries) {}

  async totals(query: AnalyticsQuery): Promise<AppMetricsRow> {
    const { name, params, slots } = analyticsParams(query, 'analytics_totals')
    const [row] = await this.q.rows<MetricsRecord>(name, params, slots)
    return row ? toMetrics(query.app, row) : emptyMetrics(query.app)
  }

  async breakdown(query: BreakdownQuery): Promise<Array<{ value: string; metrics: AppMetricsRow }>> {
    const { name, params, slots } = analyticsParams(query, 'analytics_breakdown', query.by)
    params.limit = query.limit
    const rows = await this.q.rows<MetricsRecord & { value: string }>(name, params, { ...slots, dimension: DIMENSION_SQL[query.by] })
    return rows.map((r) => ({ value: r.value, metrics: toMetrics(query.app, r) }))
  }

  async breakdownCount(query: BreakdownCountQuery): Promise<number> {
    const { name, params, slots } = analyticsParams(query, 'analytics_breakdown_count', query.by)
    const [row] = await this.q.rows<{ total: number }>(name, params, { ...slots, dimension: DIMENSION_SQL[query.by] })
    return Number(row?.total ?? 0)
  }

  async timeseries(query: TimeseriesQuery): Promise<Array<{ start: Date; metrics: AppMetricsRow }>> {
    const starts = bucketStarts(query.from, query.to, query.granularity, query.timezone)
    // Hours nest in the buckets only when every bucket starts on a UTC hour (not minutes; not zones or
    // dates whose local midnight or hour falls at :30 or :45 UTC).
    const nested = query.granularity !== 'MINUTE' && starts.every((s) => s.getTime() % 3_600_000 === 0)
    const { name, params, slots } = analyticsParams(query, 'analytics_timeseries', undefined, nested)
    params.tz = query.timezone
    const rows = await this.q.rows<MetricsRecord & { start: number }>(name, params, {
      ...slots,
      bucket: BUCKET_SQL[query.granularity]('timestamp'),
      hourBucket: BUCKET_SQL[query.granularity]('bucket'),
    })
    const byStart = new Map(rows.map((r) => [Number(r.start) * 1000, toMetrics(query.app, r)]))
    return zeroFill(starts, byStart, emptyMetrics(query.app)).map(({ start, value }) => ({ start, metrics: value }))
  }
}

/**
 * The query file, parameters and closed-map slots of an analytics query: `raw` (the per-app table) or
 * its `analytics_hourly_*` twin when the hourly pre-aggregation can serve it (`hourly`: the caller's own
 * conditions allow it).
 */
function analyticsParams(
  q: AnalyticsQuery,
  raw: string,
  by?: FilterField,
  hourly = true,
): { name: string; params: QueryParams; slots: Record<string, string> } {
  const params: QueryParams = { workspace: q.workspaceId, from: toChDateTime64(q.from), to: toChDateTime64(q.to) }
  const filters = filterSql(q.filter, params)
  const plan = hourly ? hourlyPlan(q, params, by) : undefined
  if (!plan) return { name: raw, params, slots: { table: APP_TABLE[q.app], metrics: metricsSql(q.app), filters } }
  const name = raw.replace(/^analytics_/, 'analytics_hourly_')
  return { name, params, slots: { table: APP_TABLE[q.app], metrics: mergedMetricsSql(q.app), filters, hourly: plan.hourly } }
}
