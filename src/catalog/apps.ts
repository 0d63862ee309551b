/**
 * The four apps of every workspace: their actions (anything else is a bad row) and the metrics each
 * app's analytics answer. The GraphQL `App` enum and `<App>Metrics` types, validation, the store's
 * metric SQL and the REST pipes' columns derive from here.
 */
export interface ActionMetric {
  /** The action as rows carry it. */
  readonly action: string
  /** The GraphQL field counting it (distinct sessions with the action). */
  readonly field: string
  /** The REST column (ClickHouse-style snake_case). */
  readonly column: string
}

export interface AppEntry {
  /** The GraphQL `App` enum value. */
  readonly key: string
  /** The app as rows carry it (`event_type`). */
  readonly name: string
  /** The materialized view holding its events. */
  readonly table: string
  /** The GraphQL type of its metrics. */
  readonly metricsType: string
  readonly actions: readonly ActionMetric[]
  /** The action whose rows' revenue is summed into a `revenue` metric, when the app has one. */
  readonly revenueAction?: string
}

export const APPS = [
  {
    key: 'CART',
    name: 'cart',
    table: 'cart_events_mv',
    metricsType: 'CartMetrics',
    actions: [
      { action: 'view', field: 'views', column: 'views' },
      { action: 'add_to_cart', field: 'addToCarts', column: 'add_to_carts' },
      { action: 'purchase', field: 'purchases', column: 'purchases' },
    ],
    revenueAction: 'purchase',
  },
  {
    key: 'FM',
    name: 'fm',
    table: 'fm_events_mv',
    metricsType: 'FmMetrics',
    actions: [
      { action: 'play', field: 'plays', column: 'plays' },
      { action: 'pause', field: 'pauses', column: 'pauses' },
      { action: 'share', field: 'shares', column: 'shares' },
    ],
  },
  {
    key: 'LINK',
    name: 'link',
    table: 'link_events_mv',
    metricsType: 'LinkMetrics',
    actions: [
      { action: 'click', field: 'clicks', column: 'clicks' },
      { action: 'redirect', field: 'redirects', column: 'redirects' },
    ],
  },
  {
    key: 'PAGE',
    name: 'page',
    table: 'page_events_mv',
    metricsType: 'PageMetrics',
    actions: [
      { action: 'view', field: 'views', column: 'views' },
      { action: 'interaction', field: 'interactions', column: 'interactions' },
    ],
  },
] as const satisfies readonly AppEntry[]

/** An app's row name. */
export type AppName = (typeof APPS)[number]['name']

/** A metric column of the REST pipes: its name and ClickHouse type. */
export interface MetricColumn {
  readonly name: string
  readonly field: string
  readonly type: 'UInt64' | 'Float64'
}

/** The counts every app has, before its action metrics. */
export const COUNT_METRICS: readonly MetricColumn[] = [
  { name: 'events', field: 'events', type: 'UInt64' },
  { name: 'sessions', field: 'sessions', type: 'UInt64' },
  { name: 'visitors', field: 'visitors', type: 'UInt64' },
]

/** The revenue metric of an app with a `revenueAction`. */
export const REVENUE_METRIC: MetricColumn = { name: 'revenue', field: 'revenue', type: 'Float64' }

/** Every metric of an app, in column order: counts, action metrics, revenue. */
export function appMetricColumns(app: AppEntry): MetricColumn[] {
  return [
    ...COUNT_METRICS,
    ...app.actions.map((a) => ({ name: a.column, field: a.field, type: 'UInt64' as const })),
    ...(app.revenueAction ? [REVENUE_METRIC] : []),
  ]
}

const BY_NAME: ReadonlyMap<string, AppEntry> = new Map(APPS.map((a): [string, AppEntry] => [a.name, a]))

/** An app by its row name (`cart`). */
export function appByName(name: string): AppEntry | undefined {
  return BY_NAME.get(name)
}
