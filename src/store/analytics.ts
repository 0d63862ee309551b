import { APPS, ASSET, DIMENSIONS, ROLLUPS, SESSION_REFERER, type AppEntry } from '../catalog/index.js'
import type { AnalyticsFilter, AnalyticsQuery, App, AppMetricsRow, EqualityFilterField, FilterField, Granularity, ListFilterField } from './types.js'
import { finite, toChDateTime64 } from './clickhouse.js'

// The query and row types are part of the Store interface: they live in ./types.js (re-exported here).
export type {
  AnalyticsFilter,
  AnalyticsQuery,
  AppMetricsRow,
  BreakdownCountQuery,
  BreakdownQuery,
  EqualityFilterField,
  FilterField,
  ListFilterField,
  TimeseriesQuery,
} from './types.js'

/**
 * The closed map from a dimension (and the asset) to its SQL expression, from the dimensions catalog:
 * the only text of a request that reaches SQL.
 */
export const DIMENSION_SQL = Object.fromEntries([[ASSET.field, ASSET.sql], ...DIMENSIONS.map((d) => [d.field, d.sql])]) as Readonly<Record<FilterField, string>>

/**
 * The start of the local hour holding `c`, matching bucketStarts (buckets.ts). ClickHouse's
 * toStartOfHour counts hours from the local midnight, so after Lord Howe's 30-minute clock change
 * it starts hours at :30 and the rows miss every bucket. Here: the wall-clock hour at the row's own
 * offset, if that instant reads :00 on the clock (also when a change lies between, as after
 * Chatham's fall back); else that wall-clock hour at the instant's offset (a gap, or a repeated
 * half hour).
 */
function startOfLocalHour(c: string): string {
  const t = `toInt64(toUnixTimestamp(toDateTime(${c}, {tz:String})))`
  const offset = `timeZoneOffset(toDateTime(${c}, {tz:String}))`
  const wall = `(${t} + ${offset} - ((${t} + ${offset}) % 3600))`
  const start = `(${wall} - ${offset})`
  const startOffset = `timeZoneOffset(toDateTime(${start}, {tz:String}))`
  return `toDateTime(if((${start} + ${startOffset}) % 3600 = 0, ${start}, ${wall} - ${startOffset}), {tz:String})`
}

/** Bucket expressions over `timestamp` in the `{tz:String}` parameter's zone. */
export const BUCKET_SQL: Readonly<Record<Granularity, (column: string) => string>> = {
  MINUTE: (c) => `toStartOfMinute(toDateTime(${c}, {tz:String}))`,
  HOUR: (c) => startOfLocalHour(c),
  DAY: (c) => `toStartOfDay(toDateTime(${c}, {tz:String}))`,
  WEEK: (c) => `toDateTime(toMonday(toDateTime(${c}, {tz:String})), {tz:String})`,
  MONTH: (c) => `toDateTime(toStartOfMonth(toDateTime(${c}, {tz:String})), {tz:String})`,
}

const APP_BY_NAME = Object.fromEntries(APPS.map((a) => [a.name, a])) as unknown as Readonly<Record<App, AppEntry>>

/** The view holding each app's events. */
export const APP_TABLE = Object.fromEntries(APPS.map((a) => [a.name, a.table])) as Readonly<Record<App, string>>

/** The SELECT list of an app's metrics; action names come from the closed apps catalog. */
export function metricsSql(app: App): string {
  const entry = APP_BY_NAME[app]
  const actions = entry.actions.map((a, i) => `toInt64(uniqExactIf(session_id, action = '${a.action}')) AS action_${i}`)
  const revenue = entry.revenueAction ? `sumIf(revenue, action = '${entry.revenueAction}')` : '0'
  return [
    'toInt64(count()) AS events',
    'toInt64(uniqExact(session_id)) AS sessions',
    'toInt64(uniqExact(visitor_id)) AS visitors',
    ...actions,
    // Rounded to 6 decimals: a float sum of amounts carries noise (26237.430000000004), sub-cent values stay.
    `round(toFloat64(${revenue}), 6) AS revenue`,
  ].join(',\n    ')
}

/**
 * The SELECT list of an app's metrics over merged parts (the hourly pre-aggregation's rows and the raw
 * edges' states, columns `action`, `n`, `money`, `s_state`, `v_state`): the same names and values as
 * metricsSql.
 */
export function mergedMetricsSql(app: App): string {
  const entry = APP_BY_NAME[app]
  const actions = entry.actions.map((a, i) => `toInt64(uniqExactMergeIf(s_state, action = '${a.action}')) AS action_${i}`)
  const revenue = entry.revenueAction ? `sumIf(money, action = '${entry.revenueAction}')` : '0'
  return [
    'toInt64(sum(n)) AS events',
    'toInt64(uniqExactMerge(s_state)) AS sessions',
    'toInt64(uniqExactMerge(v_state)) AS visitors',
    ...actions,
    `round(toFloat64(${revenue}), 6) AS revenue`,
  ].join(',\n    ')
}

/** The filter fields the hourly pre-aggregation keeps; a query on any other reads the per-app table. */
const HOURLY_KEEPS: ReadonlySet<string> = new Set(ROLLUPS.find((r) => r.name === 'app_events_hourly')?.keeps ?? [])

/** Hours in milliseconds: the pre-aggregation's bucket. */
const HOUR_MS = 3_600_000

/**
 * How a query reads the hourly pre-aggregation (sql/0081_app_events_hourly.sql): its rows for the whole
 * UTC hours `[wholeFrom, wholeTo)` of the range, under `hourly` (conditions on its dimension, value and
 * action columns, bound in `params`), and the per-app table for the ragged edges.
 */
export interface HourlyPlan {
  readonly wholeFrom: Date
  readonly wholeTo: Date
  readonly hourly: string
}

/**
 * The plan for a query, or undefined when it must read the per-app table alone: when the range holds no
 * whole hour, or its filters are not the pre-aggregation's (it keeps each dimension — and the asset — on
 * its own: at most one equality filter, on a non-empty value, and for a breakdown only on the dimension
 * broken down; no platform list). `by`: the breakdown's dimension. Parameters go in `params`.
 */
export function hourlyPlan(query: AnalyticsQuery, params: Record<string, unknown>, by?: FilterField): HourlyPlan | undefined {
  const wholeFrom = Math.ceil(query.from.getTime() / HOUR_MS) * HOUR_MS
  const wholeTo = Math.floor(query.to.getTime() / HOUR_MS) * HOUR_MS
  if (wholeFrom >= wholeTo) return undefined
  let equality: { field: FilterField; value: string } | undefined
  let actions: readonly string[] | undefined
  for (const [key, value] of Object.entries(query.filter) as Array<[string, unknown]>) {
    if (value === undefined || value === null) continue
    if (key === 'actions' && Array.isArray(value)) {
      actions = value as readonly string[]
      continue
    }
    if (typeof value !== 'string' || value === '' || equality) return undefined
    const field = (key === SESSION_REFERER.field ? SESSION_REFERER.sameAs : key) as FilterField
    if (!HOURLY_KEEPS.has(field)) return undefined
    equality = { field, value }
  }
  if (by !== undefined && (!HOURLY_KEEPS.has(by) || (equality !== undefined && equality.field !== by))) return undefined
  params.wholeFrom = toChDateTime64(new Date(wholeFrom))
  params.wholeTo = toChDateTime64(new Date(wholeTo))
  params.app = query.app
  params.h_dimension = by ?? equality?.field ?? ''
  let hourly = '\n      AND dimension = {h_dimension:String}'
  if (equality || by === undefined) {
    params.h_value = equality?.value ?? ''
    hourly += ' AND value = {h_value:String}'
  }
  if (actions) {
    params.h_actions = [...actions]
    hourly += ' AND action IN {h_actions:Array(String)}'
  }
  return { wholeFrom: new Date(wholeFrom), wholeTo: new Date(wholeTo), hourly }
}

/** The expression each equality filter compares (a closed map). */
const FILTER_SQL: Readonly<Record<EqualityFilterField, string>> = {
  ...DIMENSION_SQL,
  [SESSION_REFERER.field]: DIMENSION_SQL[SESSION_REFERER.sameAs],
}

/** The column each list filter reads (a closed map, like DIMENSION_SQL). */
export const LIST_FILTER_SQL: Readonly<Record<ListFilterField, string>> = {
  platforms: 'platform',
  actions: 'action',
}

/**
 * `AND col = {f_col:String}` for each given equality filter and `AND col IN {f_col:Array(String)}` for
 * each list filter, bound; the parameters go in `params`. Only closed-map expressions reach the SQL text.
 */
export function filterSql(filter: AnalyticsFilter, params: Record<string, unknown>): string {
  let sql = ''
  for (const [field, value] of Object.entries(filter)) {
    if (value === undefined || value === null) continue
    if (Array.isArray(value)) {
      const column = LIST_FILTER_SQL[field as ListFilterField]
      if (!column) continue
      sql += `\n  AND ${column} IN {f_${field}:Array(String)}`
      params[`f_${field}`] = [...(value as readonly string[])]
      continue
    }
    const expr = FILTER_SQL[field as EqualityFilterField]
    if (!expr || typeof value !== 'string') continue
    sql += `\n  AND ${expr} = {f_${field}:String}`
    params[`f_${field}`] = value
  }
  return sql
}

export type MetricsRecord = { events: number; sessions: number; visitors: number; revenue: number } & Record<
  `action_${number}`,
  number
>

export function toMetrics(app: App, r: MetricsRecord): AppMetricsRow {
  return {
    events: Number(r.events),
    sessions: Number(r.sessions),
    visitors: Number(r.visitors),
    actions: Object.fromEntries(APP_BY_NAME[app].actions.map((a, i) => [a.action, Number(r[`action_${i}`] ?? 0)])),
    revenue: finite(r.revenue, 'revenue'),
  }
}

export function emptyMetrics(app: App): AppMetricsRow {
  return { events: 0, sessions: 0, visitors: 0, actions: Object.fromEntries(APP_BY_NAME[app].actions.map((a) => [a.action, 0])), revenue: 0 }
}
