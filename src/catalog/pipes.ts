import { APPS, appMetricColumns, type AppEntry } from './apps.js'
import { DIMENSIONS, dimensionParams, SESSION_REFERER, type DimensionEntry } from './dimensions.js'
import { GRANULARITIES } from './granularity.js'

/**
 * The Tinybird pipes Sightline serves over REST (`/v0/pipes/<name>.<format>`): name, parameters, output
 * columns with their ClickHouse types, the scope that reads them and what they run. The seed's two
 * ecommerce endpoints, then per app one `v2_<app>_<slug>` breakdown per dimension and a timeseries:
 * adding a dimension or an app adds its pipes.
 */

/** A pipe parameter, as `GET /v0/pipes` and the OpenAPI document describe it (Tinybird's template types). */
export interface PipeParameter {
  readonly name: string
  /** A Tinybird template type: the built-in pipes use `String`, `DateTime64`, `Int32`, `Array(String)`, `Boolean`. */
  readonly type: string
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

/** An output column: its name and ClickHouse type. */
export interface PipeColumn {
  readonly name: string
  readonly type: string
}

/**
 * What a pipe runs: a built-in use case (the domain layer answers it), or — for entries added at
 * start-up — a loaded project's pipe, which the project's own service renders and runs.
 */
export type PipeSource =
  | { readonly kind: 'productGrid' }
  | { readonly kind: 'uiFilters' }
  | { readonly kind: 'breakdown'; readonly app: string; readonly dimension: string }
  | { readonly kind: 'timeseries'; readonly app: string }
  | ProjectPipeSource

/** A loaded Tinybird project's pipe: its database, its Tinybird type and the name scopes and logs use for it. */
export interface ProjectPipeSource {
  readonly kind: 'project'
  /** The project's database (`SIGHTLINE_PROJECT_DATABASE`). */
  readonly project: string
  /** Only `endpoint` pipes answer `/v0/pipes/<name>.<format>`; the others are listed (copy pipes run on `/copy`). */
  readonly type: 'endpoint' | 'copy' | 'materialized' | 'sink' | 'default'
  /** `<database>.<name>` when a built-in pipe has the name, else the name (API.md, Scopes). */
  readonly scopeName: string
  /** The pipe's `CACHE`: how long, in seconds, its REST answers may be kept (0: never). */
  readonly cacheSeconds?: number
}

export interface PipeEntry {
  readonly name: string
  readonly description: string
  /** The scope that reads it (a token also reads it with `read:pipe:<name>`). */
  readonly scope: string
  readonly parameters: readonly PipeParameter[]
  /** The tables it reads. */
  readonly dependencies: readonly string[]
  /** Every column the pipe may answer (a request may answer fewer, as `api_ui_filters`). */
  readonly output: readonly PipeColumn[]
  readonly source: PipeSource
}

/** Most rows a breakdown pipe answers (skip + limit). */
export const MAX_PIPE_ROWS = 1000
/** A timeseries has at most this many buckets (SPEC §4), so skip and limit range over them. */
export const MAX_PIPE_BUCKETS = 10_000

/** The seed's `stock_status` column: the stock status's rank (catalog/stock.ts). */
const productGrid: PipeEntry = {
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
  source: { kind: 'productGrid' },
}

const uiFilters: PipeEntry = {
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
  source: { kind: 'uiFilters' },
}

const text = (name: string, description: string, aliases: readonly string[] = []): PipeParameter => ({
  name,
  type: 'String',
  description,
  ...(aliases.length > 0 ? { aliases } : {}),
})

function dimensionParameter(d: DimensionEntry): PipeParameter {
  const [name = '', ...aliases] = dimensionParams(d)
  return text(name, d.filterDescription ?? `Only events whose ${d.describes} is this ('all' means no filter)`, aliases)
}

/** The parameters every v2 pipe reads. */
function analyticsParameters(timeseries: boolean): PipeParameter[] {
  const max = timeseries ? MAX_PIPE_BUCKETS : MAX_PIPE_ROWS
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
            enum: GRANULARITIES.map((g) => g.toLowerCase()),
            description: 'Bucket size: hour, day or month as the original pipes; minute and week too',
          },
          { name: 'types', type: 'Array(String)', description: "Only these event types: the app's actions, bare (view) or as <app>/<action> (cart/view); a comma list or repeated keys" },
        ] satisfies PipeParameter[])
      : []),
    { name: 'platforms', type: 'Array(String)', description: 'Only events on these platforms: a comma list or repeated keys' },
    ...DIMENSIONS.map(dimensionParameter),
    text(SESSION_REFERER.field, `Only events whose session came from this referer (Sightline's events carry their session's attribution: the ${SESSION_REFERER.sameAs} column, matched like ${SESSION_REFERER.sameAs})`, [SESSION_REFERER.column]),
    { name: 'skip', type: 'Int32', default: '0', minimum: 0, maximum: max - 1, description: 'Rows to skip' },
    {
      name: 'limit',
      type: 'Int32',
      ...(timeseries ? {} : { default: String(MAX_PIPE_ROWS) }),
      minimum: 1,
      maximum: max,
      description: `Rows to answer at most (skip + limit <= ${max}${timeseries ? '; default: every bucket' : ''}); with either, the JSON answer carries rows_before_limit_at_least`,
    },
  ]
}

const metricOutput = (app: AppEntry): PipeColumn[] => appMetricColumns(app).map(({ name, type }) => ({ name, type }))

function breakdownPipe(app: AppEntry, d: DimensionEntry): PipeEntry {
  return {
    name: `v2_${app.name}_${d.slug}`,
    description: `${app.name} metrics per non-empty ${d.column}, by sessions descending then ${d.column}`,
    scope: `read:analytics:${app.name}`,
    parameters: analyticsParameters(false),
    dependencies: [app.table],
    output: [{ name: d.column, type: 'String' }, ...metricOutput(app)],
    source: { kind: 'breakdown', app: app.name, dimension: d.field },
  }
}

function timeseriesPipe(app: AppEntry): PipeEntry {
  return {
    name: `v2_${app.name}_timeseries`,
    description: `${app.name} metrics per time bucket (granularity, in timezone), every bucket of the range, empty ones as zeros`,
    scope: `read:analytics:${app.name}`,
    parameters: analyticsParameters(true),
    dependencies: [app.table],
    // The start column's type carries the request's time zone (`DateTime('<timezone>')`).
    output: [{ name: 'start', type: 'DateTime' }, ...metricOutput(app)],
    source: { kind: 'timeseries', app: app.name },
  }
}

/** The built-in pipes, in listing order. */
export const PIPES: readonly PipeEntry[] = [
  productGrid,
  uiFilters,
  ...APPS.flatMap((app) => [...DIMENSIONS.map((d) => breakdownPipe(app, d)), timeseriesPipe(app)]),
]
