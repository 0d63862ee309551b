import { grants, type Principal, type Scope } from '../auth/scopes.js'
import { App, Dimension } from '../schema/enums.js'
import type { Column, Row } from './format.js'
import { chDateTime, ParamError, type PipeParams } from './params.js'

/**
 * A parameter a pipe reads, as `GET /v0/pipes` and the OpenAPI document describe it. `type` is Tinybird's
 * template type (`String`, `DateTime64`, `Int32`, `Array(String)`, `Boolean`).
 */
export interface PipeParameter {
  readonly name: string
  readonly type: 'String' | 'DateTime64' | 'Int32' | 'Array(String)' | 'Boolean'
  readonly description: string
  readonly required?: boolean
  /** The value used when the parameter is absent, as text. */
  readonly default?: string
  /** The only values accepted (case-insensitive). */
  readonly enum?: readonly string[]
  /** Other spellings read as this parameter. */
  readonly aliases?: readonly string[]
  readonly minimum?: number
  readonly maximum?: number
}

/** What a pipe's answer carries beyond its rows: Tinybird's `rows_before_limit_at_least`, when a limit applies. */
export interface PipeRows {
  readonly rows: Row[]
  readonly rowsBeforeLimit?: number
}

/**
 * One Tinybird pipe served from GraphQL: the operation behind it (named after the pipe, so metrics and
 * the operation log show pipe names), how the pipe's query parameters become its variables, and how
 * its answer becomes the pipe's flat rows and `meta` columns; with what lists and documents it.
 */
export interface Pipe {
  readonly name: string
  readonly description: string
  /** The scope that reads it (a token also reads it with `read:pipe:<name>`). */
  readonly scope: Scope
  readonly parameters: readonly PipeParameter[]
  /** The tables it reads. */
  readonly dependencies: readonly string[]
  /** Every column the pipe may answer, for documentation; `columns` gives one request's. */
  readonly output: readonly Column[]
  readonly query: string
  variables(params: PipeParams): Record<string, unknown>
  columns(params: PipeParams): readonly Column[]
  rows(data: Record<string, unknown>, params: PipeParams): PipeRows
}

/** Whether `who` may read `pipe`: its scope, or a `read:pipe:<name>` grant. */
export function mayRead(who: Principal, pipe: Pipe): boolean {
  return grants(who.scopes, pipe.scope) || grants(who.scopes, `read:pipe:${pipe.name}`)
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
  description: "The seed's product grid: a category's products with stock, stock status, last-hour sales and the trending flag",
  scope: 'read:ecommerce',
  dependencies: ['products', 'mv_latest_availability', 'ecomm_events'],
  parameters: [
    { name: 'category', type: 'String', default: 'all', description: "A product category; 'all' (or absent) means every product" },
    { name: 'show_oos', type: 'String', default: '0', enum: ['0', '1'], description: "'1' lists out-of-stock products too" },
    { name: 'ranking', type: 'String', default: '0', enum: ['0', '1'], description: "'1' orders by trending (stock status, then last-hour sales); else by price descending" },
  ],
  output: [
    { name: 'id', type: 'String' },
    { name: 'name', type: 'String' },
    { name: 'stock', type: 'Int64' },
    { name: 'stock_status', type: 'UInt8' },
    { name: 'hits', type: 'UInt64' },
    { name: 'rank_status', type: 'Nullable(String)' },
    { name: 'photo', type: 'String' },
    { name: 'price', type: 'Float64' },
  ],
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
  columns: () => productGrid.output,
  rows: (data) => ({
    rows: list(data.productGrid).map((r) => ({
      id: r.id,
      name: r.name,
      stock: exactInteger(r.stockExact),
      stock_status: STOCK_STATUS[String(r.stockStatus)],
      hits: r.hits,
      rank_status: r.rankStatus,
      photo: r.photo,
      price: r.price,
    })),
  }),
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
  description: "The seed's UI filter options: a category's products (filter=product) or the KPI names (filter=value)",
  scope: 'read:ecommerce',
  dependencies: ['products'],
  parameters: [
    { name: 'filter', type: 'String', required: true, enum: ['product', 'value'], description: 'product: an All row, then the products by name; value: the KPI names' },
    { name: 'category', type: 'String', default: 'all', description: "The products' category (filter=product); 'all' means every product" },
  ],
  output: [
    { name: 'id', type: 'String' },
    { name: 'value', type: 'String' },
  ],
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
  rows: (data) => ({ rows: list(data.uiFilters).map((r) => ({ id: r.id, value: r.value })) }),
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
  /** The original pipes' filter parameter, where it differs from the GraphQL field and the column. */
  readonly seedParam?: string
  /** Further spellings accepted. */
  readonly aliases?: readonly string[]
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
  // The original pipes spell it sessionMetaPlacement; the Id form is kept for earlier Sightline clients.
  META_PLACEMENT: { slug: 'metaPlacements', column: 'meta_placement_id', seedParam: 'sessionMetaPlacement', aliases: ['sessionMetaPlacementId'] },
}

/** The parameters that filter on a dimension: the original pipes' name first, then the GraphQL field, the column and aliases. */
function filterParams(key: DimensionKey): string[] {
  const { seedParam, column, aliases = [] } = DIMENSIONS[key]
  return [...new Set([...(seedParam ? [seedParam] : []), Dimension[key], column, ...aliases])]
}

const ASSET_PARAMS = ['assetId', 'asset_id']
const SESSION_REFERER_PARAMS = ['sessionReferer', 'session_referer']
const PLATFORMS_PARAMS = ['platforms']
const TYPES_PARAMS = ['types']
const START_PARAMS = ['start', 'date_from']
const END_PARAMS = ['end', 'date_to']
const GRANULARITIES = ['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH'] as const
const MAX_ROWS = 1000
/** A timeseries has at most this many buckets (SPEC §4), so skip and limit range over them. */
const MAX_BUCKETS = 10_000

const ANALYTICS_VARIABLES = '$app: App!, $workspaceId: ID!, $from: DateTime, $to: DateTime, $filter: AnalyticsFilter'
const ANALYTICS_ARGS = 'app: $app, workspaceId: $workspaceId, from: $from, to: $to, filter: $filter'

/**
 * The analytics arguments every v2 pipe takes: workspace, range and filters. `start` and `end` are UTC
 * unless they carry an offset; `end` is inclusive, as the original pipes' `timestamp <= end` (the
 * timestamps have millisecond precision, so GraphQL's exclusive `to` is `end` + 1 ms).
 */
function analyticsVariables(app: AppKey, p: PipeParams, withTypes: boolean): Record<string, unknown> {
  const filter: Record<string, string | string[]> = {}
  const asset = p.filter(ASSET_PARAMS)
  if (asset !== undefined) filter.assetId = asset
  for (const key of DIMENSION_KEYS) {
    const value = p.filter(filterParams(key))
    if (value !== undefined) filter[Dimension[key]] = value
  }
  const sessionReferer = p.filter(SESSION_REFERER_PARAMS)
  if (sessionReferer !== undefined) filter.sessionReferer = sessionReferer
  const platforms = p.list(PLATFORMS_PARAMS)
  if (platforms) filter.platforms = platforms
  if (withTypes) {
    // The original types are `<app>/<action>`; Sightline's rows carry the action alone (SPEC §2).
    const types = p.list(TYPES_PARAMS)
    if (types) filter.actions = types.map((t) => (t.toLowerCase().startsWith(`${App[app]}/`) ? t.slice(App[app].length + 1) : t))
  }
  const end = p.instant(END_PARAMS)
  return {
    app,
    workspaceId: p.required(['workspaceId']),
    from: p.instant(START_PARAMS),
    to: end === undefined ? undefined : new Date(Date.parse(end) + 1).toISOString(),
    filter,
  }
}

function metricValues(app: AppKey, metrics: unknown): Row {
  const m = (metrics ?? {}) as Record<string, unknown>
  return Object.fromEntries(APP_METRICS[app].columns.map((c) => [c.name, m[c.field]]))
}

/** `limit` rows after `skip`, at most `max` in all; `limited` when the request asked for either. */
function page(p: PipeParams, max = MAX_ROWS): { skip: number; limit: number; limited: boolean } {
  const skip = p.int('skip', 0, 0, max - 1)
  const limit = p.int('limit', max - skip, 1, max)
  if (skip + limit > max) throw new ParamError(`skip + limit must be at most ${max}`)
  return { skip, limit, limited: p.has(['skip']) || p.has(['limit']) }
}

const text = (name: string, description: string, aliases: readonly string[] = []): PipeParameter => ({
  name,
  type: 'String',
  description,
  ...(aliases.length > 0 ? { aliases } : {}),
})

/** The parameters every v2 pipe reads, in the original pipes' order. */
function analyticsParameters(timeseries: boolean): PipeParameter[] {
  const max = timeseries ? MAX_BUCKETS : MAX_ROWS
  const dimension = (key: DimensionKey, what: string): PipeParameter => {
    const [name = '', ...aliases] = filterParams(key)
    return text(name, `Only events whose ${what} is this ('all' means no filter)`, aliases)
  }
  return [
    { name: 'workspaceId', type: 'String', required: true, description: 'The ID of the workspace' },
    text('assetId', "Only this asset's events", ['asset_id']),
    {
      name: 'start',
      type: 'DateTime64',
      aliases: ['date_from'],
      description: 'Inclusive start, YYYY-MM-DD hh:mm:ss[.fff] or ISO-8601; UTC unless it carries an offset (timezone does not shift it). Defaults to 7 days before end',
    },
    {
      name: 'end',
      type: 'DateTime64',
      aliases: ['date_to'],
      description: 'Inclusive end, like start (the original pipes read timestamp <= end). Defaults to now',
    },
    ...(timeseries
      ? ([
          { name: 'timezone', type: 'String', default: 'UTC', description: 'IANA time zone of the bucket boundaries (start and end are not read in it)' },
          {
            name: 'granularity',
            type: 'String',
            default: 'day',
            enum: ['hour', 'day', 'month', 'minute', 'week'],
            description: 'Bucket size: hour, day or month as the original pipes; minute and week too',
          },
          { name: 'types', type: 'Array(String)', description: "Only these event types: the app's actions, bare (view) or as <app>/<action> (cart/view); a comma list or repeated keys" },
        ] satisfies PipeParameter[])
      : []),
    { name: 'platforms', type: 'Array(String)', description: 'Only events on these platforms: a comma list or repeated keys' },
    dimension('BROWSER', 'browser'),
    dimension('OS', 'operating system'),
    dimension('DEVICE', 'device'),
    dimension('COUNTRY', 'country'),
    dimension('REGION', 'region'),
    dimension('CITY', 'city'),
    text('referer', "Only events whose referer's registrable domain is this one's (l.instagram.com matches instagram.com)"),
    text('sessionReferer', "Only events whose session came from this referer (Sightline's events carry their session's attribution: the referer column, matched like referer)", ['session_referer']),
    dimension('EMAIL_TEMPLATE', "session's email template (email_template_id)"),
    dimension('EMAIL_BROADCAST', "session's email broadcast (email_broadcast_id)"),
    dimension('LANDING_PAGE', "session's landing page (landing_page_id)"),
    dimension('FLOW_ACTION', "session's flow action (flow_action_id)"),
    dimension('META_CAMPAIGN', "session's Meta campaign (meta_campaign_id)"),
    dimension('META_AD_SET', "session's Meta ad set (meta_ad_set_id)"),
    dimension('META_AD', "session's Meta ad (meta_ad_id)"),
    dimension('META_PLACEMENT', "session's Meta placement (meta_placement_id)"),
    dimension('PLATFORM', 'platform'),
    { name: 'skip', type: 'Int32', default: '0', minimum: 0, maximum: max - 1, description: 'Rows to skip' },
    {
      name: 'limit',
      type: 'Int32',
      ...(timeseries ? {} : { default: String(MAX_ROWS) }),
      minimum: 1,
      maximum: max,
      description: `Rows to answer at most (skip + limit <= ${max}${timeseries ? '; default: every bucket' : ''}); with either, the JSON answer carries rows_before_limit_at_least`,
    },
  ]
}

const metricColumns = (app: AppKey): Column[] => APP_METRICS[app].columns.map(({ name: n, type }) => ({ name: n, type }))

function dimensionPipe(app: AppKey, dimension: DimensionKey): Pipe {
  const { slug, column } = DIMENSIONS[dimension]
  const name = `v2_${App[app]}_${slug}`
  const output: Column[] = [{ name: column, type: 'String' }, ...metricColumns(app)]
  return {
    name,
    description: `${App[app]} metrics per non-empty ${column}, by sessions descending then ${column}`,
    scope: `read:analytics:${App[app]}`,
    parameters: analyticsParameters(false),
    dependencies: [`${App[app]}_events_mv`],
    output,
    query: `query ${name}(${ANALYTICS_VARIABLES}, $by: Dimension!, $limit: Int) {
  analytics(${ANALYTICS_ARGS}) {
    breakdown(by: $by, limit: $limit) { value metrics { ${METRICS_SELECTION} } }
    breakdownCount(by: $by)
  }
}`,
    // GraphQL's breakdown has no offset: ask for skip + limit rows and drop the first skip.
    variables: (p) => {
      const { skip, limit } = page(p)
      return { ...analyticsVariables(app, p, false), by: dimension, limit: skip + limit }
    },
    columns: () => output,
    rows: (data, p) => {
      const { skip, limited } = page(p)
      const rows = list(field(data.analytics, 'breakdown'))
        .slice(skip)
        .map((r) => ({ [column]: r.value, ...metricValues(app, r.metrics) }))
      const total = Number(field(data.analytics, 'breakdownCount') ?? 0)
      // Present when the request set a limit, or when the row cap cut the answer short.
      return limited || total > skip + rows.length ? { rows, rowsBeforeLimit: total } : { rows }
    },
  }
}

function timeseriesPipe(app: AppKey): Pipe {
  const name = `v2_${App[app]}_timeseries`
  return {
    name,
    description: `${App[app]} metrics per time bucket (granularity, in timezone), every bucket of the range, empty ones as zeros`,
    scope: `read:analytics:${App[app]}`,
    parameters: analyticsParameters(true),
    dependencies: [`${App[app]}_events_mv`],
    output: [{ name: 'start', type: 'DateTime' }, ...metricColumns(app)],
    query: `query ${name}(${ANALYTICS_VARIABLES}, $granularity: Granularity, $timezone: String) {
  analytics(${ANALYTICS_ARGS}) { timeseries(granularity: $granularity, timezone: $timezone) { start metrics { ${METRICS_SELECTION} } } }
}`,
    variables: (p) => {
      page(p, MAX_BUCKETS) // checked before the query runs
      return {
        ...analyticsVariables(app, p, true),
        granularity: p.choice('granularity', GRANULARITIES, 'DAY'),
        timezone: p.timezone(),
      }
    },
    columns: (p) => [{ name: 'start', type: `DateTime('${p.timezone()}')` }, ...metricColumns(app)],
    rows: (data, p) => {
      const zone = p.timezone()
      const { skip, limit, limited } = page(p, MAX_BUCKETS)
      const all = list(field(data.analytics, 'timeseries')).map((r) => ({ start: chDateTime(r.start, zone), ...metricValues(app, r.metrics) }))
      return limited ? { rows: all.slice(skip, skip + limit), rowsBeforeLimit: all.length } : { rows: all }
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
