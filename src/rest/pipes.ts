import { App, Dimension } from '../schema/enums.js'
import type { Column, Row } from './format.js'
import { chDateTime, ParamError, type PipeParams } from './params.js'

/**
 * One Tinybird pipe served from GraphQL: the operation behind it (named after the pipe, so metrics and
 * the operation log show pipe names), how the pipe's query parameters become its variables, and how
 * its answer becomes the pipe's flat rows and `meta` columns.
 */
export interface Pipe {
  readonly name: string
  readonly query: string
  variables(params: PipeParams): Record<string, unknown>
  columns(params: PipeParams): readonly Column[]
  rows(data: Record<string, unknown>, params: PipeParams): Row[]
}

type AppKey = keyof typeof App
type DimensionKey = keyof typeof Dimension

const APP_KEYS = Object.keys(App) as AppKey[]
const DIMENSION_KEYS = Object.keys(Dimension) as DimensionKey[]

// ---- ecommerce (seed 001) ---------------------------------------------------------------------

/** The seed's stock_status: 0 in stock, 1 low stock, 2 out of stock. */
const STOCK_STATUS: Record<string, number> = { IN_STOCK: 0, LOW_STOCK: 1, OUT_OF_STOCK: 2 }

const productGrid: Pipe = {
  name: 'api_product_grid',
  query: `query api_product_grid($category: String, $showOutOfStock: Boolean, $ranking: GridRanking) {
  productGrid(category: $category, showOutOfStock: $showOutOfStock, ranking: $ranking) {
    id name stockExact stockStatus hits rankStatus photo price
  }
}`,
  variables: (p) => ({
    category: p.text(['category']) ?? 'all',
    showOutOfStock: p.flag('show_oos'),
    ranking: p.flag('ranking') ? 'TRENDING' : 'PRICE',
  }),
  // The output columns of the seed project's api_product_grid endpoint node.
  columns: () => [
    { name: 'id', type: 'String' },
    { name: 'name', type: 'String' },
    { name: 'stock', type: 'Int64' },
    { name: 'stock_status', type: 'UInt8' },
    { name: 'hits', type: 'UInt64' },
    { name: 'rank_status', type: 'Nullable(String)' },
    { name: 'photo', type: 'String' },
    { name: 'price', type: 'Float64' },
  ],
  rows: (data) =>
    list(data.productGrid).map((r) => ({
      id: r.id,
      name: r.name,
      stock: exactInteger(r.stockExact),
      stock_status: STOCK_STATUS[String(r.stockStatus)],
      hits: r.hits,
      rank_status: r.rankStatus,
      photo: r.photo,
      price: r.price,
    })),
}

const UI_FILTER_KINDS = ['PRODUCT', 'VALUE'] as const

function uiFilterKind(p: PipeParams): (typeof UI_FILTER_KINDS)[number] {
  const raw = p.text(['filter'])
  const kind = UI_FILTER_KINDS.find((k) => k.toLowerCase() === raw?.toLowerCase())
  // The seed pipe's own message.
  if (!kind) throw new ParamError('filter (String) query param is required and must be product or value')
  return kind
}

const uiFilters: Pipe = {
  name: 'api_ui_filters',
  query: `query api_ui_filters($filter: UiFilterKind!, $category: String) {
  uiFilters(filter: $filter, category: $category) { id value }
}`,
  variables: (p) => ({ filter: uiFilterKind(p), category: p.text(['category']) ?? 'all' }),
  // The seed pipe answers `id, value` for products and only `value` for the KPI list.
  columns: (p) =>
    uiFilterKind(p) === 'PRODUCT'
      ? [
          { name: 'id', type: 'String' },
          { name: 'value', type: 'String' },
        ]
      : [{ name: 'value', type: 'String' }],
  rows: (data) => list(data.uiFilters).map((r) => ({ id: r.id, value: r.value })),
}

// ---- app analytics (seed 000) -----------------------------------------------------------------

interface MetricColumn extends Column {
  /** The AppMetrics field the column reads. */
  readonly field: string
}

const COUNTS: readonly MetricColumn[] = [
  { name: 'events', field: 'events', type: 'UInt64' },
  { name: 'sessions', field: 'sessions', type: 'UInt64' },
  { name: 'visitors', field: 'visitors', type: 'UInt64' },
]

/** Each app's metrics type and columns: the counts, then its action metrics (snake_case, as ClickHouse columns). */
const APP_METRICS: Record<AppKey, { readonly type: string; readonly columns: readonly MetricColumn[] }> = {
  CART: {
    type: 'CartMetrics',
    columns: [
      ...COUNTS,
      { name: 'views', field: 'views', type: 'UInt64' },
      { name: 'add_to_carts', field: 'addToCarts', type: 'UInt64' },
      { name: 'purchases', field: 'purchases', type: 'UInt64' },
      { name: 'revenue', field: 'revenue', type: 'Float64' },
    ],
  },
  FM: {
    type: 'FmMetrics',
    columns: [
      ...COUNTS,
      { name: 'plays', field: 'plays', type: 'UInt64' },
      { name: 'pauses', field: 'pauses', type: 'UInt64' },
      { name: 'shares', field: 'shares', type: 'UInt64' },
    ],
  },
  LINK: {
    type: 'LinkMetrics',
    columns: [...COUNTS, { name: 'clicks', field: 'clicks', type: 'UInt64' }, { name: 'redirects', field: 'redirects', type: 'UInt64' }],
  },
  PAGE: {
    type: 'PageMetrics',
    columns: [...COUNTS, { name: 'views', field: 'views', type: 'UInt64' }, { name: 'interactions', field: 'interactions', type: 'UInt64' }],
  },
}

/** The selection of every app's metrics; each pipe reads only its app's columns. */
const METRICS_SELECTION = `events sessions visitors ${APP_KEYS.map(
  (app) =>
    `... on ${APP_METRICS[app].type} { ${APP_METRICS[app].columns
      .filter((c) => !COUNTS.includes(c))
      .map((c) => c.field)
      .join(' ')} }`,
).join(' ')}`

interface DimensionRest {
  /** The pipe name's suffix: `v2_<app>_<slug>`, as the seed project names them. */
  readonly slug: string
  /** The output column: the seed datasource's column. */
  readonly column: string
  /** The seed project's filter parameter, where it differs from the GraphQL field and the column. */
  readonly seedParam?: string
}

const DIMENSIONS: Record<DimensionKey, DimensionRest> = {
  BROWSER: { slug: 'browsers', column: 'browser' },
  OS: { slug: 'os', column: 'os' },
  DEVICE: { slug: 'devices', column: 'device' },
  COUNTRY: { slug: 'countries', column: 'country' },
  REGION: { slug: 'regions', column: 'region' },
  CITY: { slug: 'cities', column: 'city' },
  REFERER: { slug: 'referers', column: 'referer' },
  PLATFORM: { slug: 'platforms', column: 'platform' },
  EMAIL_BROADCAST: { slug: 'emailBroadcasts', column: 'email_broadcast_id', seedParam: 'sessionEmailBroadcastId' },
  EMAIL_TEMPLATE: { slug: 'emailTemplates', column: 'email_template_id', seedParam: 'sessionEmailTemplateId' },
  FLOW_ACTION: { slug: 'flowActions', column: 'flow_action_id', seedParam: 'sessionFlowActionId' },
  LANDING_PAGE: { slug: 'landingPages', column: 'landing_page_id', seedParam: 'sessionLandingPageId' },
  META_AD: { slug: 'metaAds', column: 'meta_ad_id', seedParam: 'sessionMetaAdId' },
  META_AD_SET: { slug: 'metaAdSets', column: 'meta_ad_set_id', seedParam: 'sessionMetaAdSetId' },
  META_CAMPAIGN: { slug: 'metaCampaigns', column: 'meta_campaign_id', seedParam: 'sessionMetaCampaignId' },
  META_PLACEMENT: { slug: 'metaPlacements', column: 'meta_placement_id', seedParam: 'sessionMetaPlacementId' },
}

/** The parameters that filter on a dimension: the seed project's name, the GraphQL filter field, the column. */
function filterParams(key: DimensionKey): string[] {
  const { seedParam, column } = DIMENSIONS[key]
  return [...new Set([...(seedParam ? [seedParam] : []), Dimension[key], column])]
}

const ASSET_PARAMS = ['assetId', 'asset_id']
const START_PARAMS = ['start', 'date_from']
const END_PARAMS = ['end', 'date_to']
const GRANULARITIES = ['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH'] as const
const MAX_ROWS = 1000

const ANALYTICS_VARIABLES = '$app: App!, $workspaceId: ID!, $from: DateTime, $to: DateTime, $filter: AnalyticsFilter'
const ANALYTICS_ARGS = 'app: $app, workspaceId: $workspaceId, from: $from, to: $to, filter: $filter'

/** The analytics arguments every v2 pipe takes: workspace, range and equality filters. */
function analyticsVariables(app: AppKey, p: PipeParams): Record<string, unknown> {
  const zone = p.timezone()
  const filter: Record<string, string> = {}
  const asset = p.filter(ASSET_PARAMS)
  if (asset !== undefined) filter.assetId = asset
  for (const key of DIMENSION_KEYS) {
    const value = p.filter(filterParams(key))
    if (value !== undefined) filter[Dimension[key]] = value
  }
  return {
    app,
    workspaceId: p.required(['workspaceId']),
    from: p.instant(START_PARAMS, zone),
    to: p.instant(END_PARAMS, zone),
    filter,
  }
}

function metricValues(app: AppKey, metrics: unknown): Row {
  const m = (metrics ?? {}) as Record<string, unknown>
  return Object.fromEntries(APP_METRICS[app].columns.map((c) => [c.name, m[c.field]]))
}

/** `limit` rows after `skip`: GraphQL's breakdown has no offset, so ask for skip + limit and drop the first. */
function page(p: PipeParams): { skip: number; limit: number } {
  const skip = p.int('skip', 0, 0, MAX_ROWS - 1)
  const limit = p.int('limit', 50, 1, MAX_ROWS)
  if (skip + limit > MAX_ROWS) throw new ParamError(`skip + limit must be at most ${MAX_ROWS}`)
  return { skip, limit }
}

function dimensionPipe(app: AppKey, dimension: DimensionKey): Pipe {
  const { slug, column } = DIMENSIONS[dimension]
  const name = `v2_${App[app]}_${slug}`
  return {
    name,
    query: `query ${name}(${ANALYTICS_VARIABLES}, $by: Dimension!, $limit: Int) {
  analytics(${ANALYTICS_ARGS}) { breakdown(by: $by, limit: $limit) { value metrics { ${METRICS_SELECTION} } } }
}`,
    variables: (p) => {
      const { skip, limit } = page(p)
      return { ...analyticsVariables(app, p), by: dimension, limit: skip + limit }
    },
    columns: () => [{ name: column, type: 'String' }, ...APP_METRICS[app].columns.map(({ name: n, type }) => ({ name: n, type }))],
    rows: (data, p) =>
      list(field(data.analytics, 'breakdown'))
        .slice(page(p).skip)
        .map((r) => ({ [column]: r.value, ...metricValues(app, r.metrics) })),
  }
}

function timeseriesPipe(app: AppKey): Pipe {
  const name = `v2_${App[app]}_timeseries`
  return {
    name,
    query: `query ${name}(${ANALYTICS_VARIABLES}, $granularity: Granularity, $timezone: String) {
  analytics(${ANALYTICS_ARGS}) { timeseries(granularity: $granularity, timezone: $timezone) { start metrics { ${METRICS_SELECTION} } } }
}`,
    variables: (p) => ({
      ...analyticsVariables(app, p),
      granularity: p.choice('granularity', GRANULARITIES, 'DAY'),
      timezone: p.timezone(),
    }),
    columns: (p) => [{ name: 'start', type: `DateTime('${p.timezone()}')` }, ...APP_METRICS[app].columns.map(({ name: n, type }) => ({ name: n, type }))],
    rows: (data, p) => {
      const zone = p.timezone()
      return list(field(data.analytics, 'timeseries')).map((r) => ({ start: chDateTime(r.start, zone), ...metricValues(app, r.metrics) }))
    },
  }
}

// ---- the table ---------------------------------------------------------------------------------

/** An Int64 sent as decimal text: a number where exact, else a bigint (written as an exact JSON number). */
function exactInteger(value: unknown): number | bigint | null {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) return null
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : BigInt(value)
}

function list(value: unknown): Array<Record<string, unknown>> {
  return Array.isArray(value) ? (value as Array<Record<string, unknown>>) : []
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined
}

/**
 * Every Tinybird pipe Sightline serves, by name: the seed's two ecommerce endpoints, then for each app
 * one `v2_<app>_<dimension>` pipe per Dimension and its `v2_<app>_timeseries`.
 */
export const PIPES: ReadonlyMap<string, Pipe> = new Map(
  [
    productGrid,
    uiFilters,
    ...APP_KEYS.flatMap((app) => [...DIMENSION_KEYS.map((d) => dimensionPipe(app, d)), timeseriesPipe(app)]),
  ].map((pipe) => [pipe.name, pipe]),
)
