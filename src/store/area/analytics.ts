import {
  APP_TABLE,
  BUCKET_SQL,
  DIMENSION_SQL,
  emptyMetrics,
  filterSql,
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
import type { StoreQueries } from './queries.js'

/** App analytics: totals, breakdowns and time series of one app's metrics (the SQL pieces in ../analytics.ts). */
export class AnalyticsRepository {
  constructor(private readonly q: StoreQueries) {}

  async totals(query: AnalyticsQuery): Promise<AppMetricsRow> {
    const { params, slots } = analyticsParams(query)
    const [row] = await this.q.rows<MetricsRecord>('analytics_totals', params, slots)
    return row ? toMetrics(query.app, row) : emptyMetrics(query.app)
  }

  async breakdown(query: BreakdownQuery): Promise<Array<{ value: string; metrics: AppMetricsRow }>> {
    const { params, slots } = analyticsParams(query)
    params.limit = query.limit
    const rows = await this.q.rows<MetricsRecord & { value: string }>('analytics_breakdown', params, { ...slots, dimension: DIMENSION_SQL[query.by] })
    return rows.map((r) => ({ value: r.value, metrics: toMetrics(query.app, r) }))
  }

  async breakdownCount(query: BreakdownCountQuery): Promise<number> {
    const { params, slots } = analyticsParams(query)
    const [row] = await this.q.rows<{ total: number }>('analytics_breakdown_count', params, { ...slots, dimension: DIMENSION_SQL[query.by] })
    return Number(row?.total ?? 0)
  }

  async timeseries(query: TimeseriesQuery): Promise<Array<{ start: Date; metrics: AppMetricsRow }>> {
    const starts = bucketStarts(query.from, query.to, query.granularity, query.timezone)
    const { params, slots } = analyticsParams(query)
    params.tz = query.timezone
    const rows = await this.q.rows<MetricsRecord & { start: number }>('analytics_timeseries', params, {
      ...slots,
      bucket: BUCKET_SQL[query.granularity]('timestamp'),
    })
    const byStart = new Map(rows.map((r) => [Number(r.start) * 1000, toMetrics(query.app, r)]))
    return zeroFill(starts, byStart, emptyMetrics(query.app)).map(({ start, value }) => ({ start, metrics: value }))
  }
}

function analyticsParams(q: AnalyticsQuery): { params: QueryParams; slots: Record<string, string> } {
  const params: QueryParams = { workspace: q.workspaceId, from: toChDateTime64(q.from), to: toChDateTime64(q.to) }
  const slots = { table: APP_TABLE[q.app], metrics: metricsSql(q.app), filters: filterSql(q.filter, params) }
  return { params, slots }
}
