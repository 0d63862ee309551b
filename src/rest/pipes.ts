import { grants, type Principal, type Scope } from '../auth/scopes.js'
import {
  APPS,
  DIMENSIONS,
  dimensionParams,
  GRANULARITIES,
  MAX_PIPE_BUCKETS,
  MAX_PIPE_ROWS,
  rankOfStockStatus,
  SESSION_REFERER,
  PIPES as PIPE_ENTRIES,
  type AppEntry,
  type Catalog,
  type DimensionEntry,
  type PipeEntry,
  type ProjectPipeSource,
} from '../catalog/index.js'
import { metricColumnsOf, type AnalyticsRequest, type AppMetricValues } from '../domain/analytics.js'
import type { Domain } from '../domain/index.js'
import type { ProjectService } from '../domain/project.js'
import type { AnalyticsFilter, App, DimensionField } from '../store/types.js'
import type { Column, Row } from './format.js'
import { chDateTime, ParamError, type PipeParams } from './params.js'

export type { PipeParameter } from '../catalog/index.js'

/** What a pipe's answer carries beyond its rows: Tinybird's `rows_before_limit_at_least`, when a limit applies. */
export interface PipeRows {
  readonly rows: Row[]
  readonly rowsBeforeLimit?: number
}

/**
 * One built-in Tinybird pipe: its catalog entry, how its query parameters become its use case's input
 * (`variables`, checked before anything runs), and how that use case's answer becomes the pipe's flat
 * rows and `meta` columns. The REST layer runs `answer` as an operation named after the pipe, so
 * metrics and the operation log show pipe names.
 */
export interface Pipe extends PipeEntry {
  readonly scope: Scope
  variables(params: PipeParams): unknown
  columns(params: PipeParams): readonly Column[]
  answer(domain: Domain, who: Principal, params: PipeParams): Promise<PipeRows>
  /**
   * Where the store's own answer already has the pipe's shape: its `.json` answer (Tinybird's envelope) as
   * the store's JSON bytes, streamed through without being decoded, mapped and written again.
   */
  json?(domain: Domain, who: Principal, params: PipeParams, quote64BitIntegers: boolean): Promise<Buffer>
}

/** Whether `who` may read `pipe`: its scope, or a `read:pipe:<name>` grant. */
export function mayRead(who: Principal, pipe: Pick<Pipe, 'name' | 'scope'>): boolean {
  return grants(who.scopes, pipe.scope) || grants(who.scopes, `read:pipe:${pipe.name}`)
}

// ---- ecommerce (seed 001) ---------------------------------------------------------------------

function gridRequest(p: PipeParams) {
  return { category: p.text(['category']) ?? 'all', showOutOfStock: p.flag('show_oos'), ranking: p.flag('ranking') ? ('TRENDING' as const) : ('PRICE' as const) }
}

function productGrid(entry: PipeEntry): Pipe {
  return {
    ...entry,
    variables: gridRequest,
    // The output columns of the seed project's api_product_grid endpoint node.
    columns: () => entry.output,
    // The store's FORMAT JSON with these columns, as written (the same rows and meta as `answer`).
    json: (domain, who, p, quote) => domain.ecommerce.productGridJson(who, gridRequest(p), quote),
    answer: async (domain, who, p) => ({
      rows: (await domain.ecommerce.productGrid(who, gridRequest(p))).map((r) => ({
        id: r.id,
        name: r.name,
        stock: exactInteger(r.stockExact),
        // The seed's stock_status: the status's rank (0 in stock, 1 low, 2 out).
        stock_status: rankOfStockStatus(r.stockStatus),
        hits: r.hits,
        rank_status: r.rankStatus,
        photo: r.photo,
        price: r.price,
      })),
    }),
  }
}

const UI_FILTER_KINDS = ['PRODUCT', 'VALUE'] as const

function uiFilterKind(p: PipeParams): (typeof UI_FILTER_KINDS)[number] {
  const raw = p.text(['filter'])
  const kind = UI_FILTER_KINDS.find((k) => k.toLowerCase() === raw?.toLowerCase())
  // The seed pipe's own message.
  if (!kind) throw new ParamError('filter (String) query param is required and must be product or value')
  return kind
}

function uiFilters(entry: PipeEntry): Pipe {
  const variables = (p: PipeParams) => ({ filter: uiFilterKind(p), category: p.text(['category']) ?? 'all' })
  return {
    ...entry,
    variables,
    // The seed pipe answers `id, value` for products and only `value` for the KPI list.
    columns: (p) => (uiFilterKind(p) === 'PRODUCT' ? entry.output : entry.output.filter((c) => c.name === 'value')),
    answer: async (domain, who, p) => {
      const { filter, category } = variables(p)
      return { rows: (await domain.ecommerce.uiFilters(who, filter, category)).map((r) => ({ id: r.id, value: r.value })) }
    },
  }
}

// ---- app analytics (seed 000) -----------------------------------------------------------------

const ASSET_PARAMS = ['assetId', 'asset_id']
const SESSION_REFERER_PARAMS = [SESSION_REFERER.field, SESSION_REFERER.column]
const PLATFORMS_PARAMS = ['platforms']
const TYPES_PARAMS = ['types']
const START_PARAMS = ['start', 'date_from']
const END_PARAMS = ['end', 'date_to']
/** The dimension filters: each dimension's field and the parameters that set it, worked out once. */
const DIMENSION_FILTERS: ReadonlyArray<readonly [DimensionField, readonly string[]]> = DIMENSIONS.map((d) => [d.field, dimensionParams(d)] as const)

/** An instant parameter (ISO text from PipeParams.instant) as a Date. */
function date(iso: string | undefined, name: string): Date | undefined {
  if (iso === undefined) return undefined
  const d = new Date(iso)
  if (!/^\d{4}-/.test(iso) || Number.isNaN(d.getTime())) throw new ParamError(`${name} "${iso}" is not a date-time`)
  return d
}

/**
 * The analytics request every v2 pipe makes: workspace, range and filters. `start` and `end` are UTC
 * unless they carry an offset; `end` is inclusive, as the original pipes' `timestamp <= end` (the
 * timestamps have millisecond precision, so the exclusive `to` is `end` + 1 ms).
 */
function analyticsRequest(app: AppEntry, p: PipeParams, withTypes: boolean): AnalyticsRequest & { readonly filter: AnalyticsFilter } {
  const filter: Record<string, string | string[]> = {}
  const asset = p.filter(ASSET_PARAMS)
  if (asset !== undefined) filter.assetId = asset
  for (const [field, names] of DIMENSION_FILTERS) {
    const value = p.filter(names)
    if (value !== undefined) filter[field] = value
  }
  const sessionReferer = p.filter(SESSION_REFERER_PARAMS)
  if (sessionReferer !== undefined) filter[SESSION_REFERER.field] = sessionReferer
  const platforms = p.list(PLATFORMS_PARAMS)
  if (platforms) filter.platforms = platforms
  if (withTypes) {
    // The original types are `<app>/<action>`; Sightline's rows carry the action alone (SPEC §2).
    const types = p.list(TYPES_PARAMS)
    if (types) filter.actions = types.map((t) => (t.toLowerCase().startsWith(`${app.name}/`) ? t.slice(app.name.length + 1) : t))
  }
  const end = date(p.instant(END_PARAMS), 'end')
  return {
    app: app.name as App,
    workspaceId: p.required(['workspaceId']),
    from: date(p.instant(START_PARAMS), 'start'),
    to: end === undefined ? undefined : new Date(end.getTime() + 1),
    filter: filter as AnalyticsFilter,
  }
}

/** The metric columns of an app's rows, by column name. */
function metricRow(columns: ReturnType<typeof metricColumnsOf>, metrics: AppMetricValues): Row {
  const row: Record<string, unknown> = {}
  for (const c of columns) row[c.name] = metrics[c.field]
  return row
}

/** `limit` rows after `skip`, at most `max` in all; `limited` when the request asked for either. */
function page(p: PipeParams, max = MAX_PIPE_ROWS): { skip: number; limit: number; limited: boolean } {
  const skip = p.int('skip', 0, 0, max - 1)
  const limit = p.int('limit', max - skip, 1, max)
  if (skip + limit > max) throw new ParamError(`skip + limit must be at most ${max}`)
  return { skip, limit, limited: p.has(['skip']) || p.has(['limit']) }
}

function breakdownPipe(entry: PipeEntry, app: AppEntry, dimension: DimensionEntry): Pipe {
  const metrics = metricColumnsOf(app.name as App)
  const variables = (p: PipeParams) => {
    const { skip, limit } = page(p)
    // The breakdown has no offset: ask for skip + limit rows and drop the first skip.
    return { ...analyticsRequest(app, p, false), by: dimension.field as DimensionField, limit: skip + limit }
  }
  return {
    ...entry,
    variables,
    columns: () => entry.output,
    answer: async (domain, who, p) => {
      const { by, limit, ...request } = variables(p)
      const { skip, limited } = page(p)
      const query = domain.analytics.query(who, request)
      const [buckets, total] = await Promise.all([domain.analytics.breakdown(query, by, limit), domain.analytics.breakdownCount(query, by)])
      const rows = buckets.slice(skip).map((r) => ({ [dimension.column]: r.value, ...metricRow(metrics, r.metrics) }))
      // Present when the request set a limit, or when the row cap cut the answer short.
      return limited || total > skip + rows.length ? { rows, rowsBeforeLimit: total } : { rows }
    },
  }
}

function timeseriesPipe(entry: PipeEntry, app: AppEntry): Pipe {
  const metrics = metricColumnsOf(app.name as App)
  const variables = (p: PipeParams) => {
    page(p, MAX_PIPE_BUCKETS) // checked before the query runs
    return { ...analyticsRequest(app, p, true), granularity: p.choice('granularity', GRANULARITIES, 'DAY'), timezone: p.timezone() }
  }
  return {
    ...entry,
    variables,
    columns: (p) => entry.output.map((c) => (c.name === 'start' ? { name: 'start', type: `DateTime('${p.timezone()}')` } : c)),
    answer: async (domain, who, p) => {
      const { granularity, timezone, ...request } = variables(p)
      const { skip, limit, limited } = page(p, MAX_PIPE_BUCKETS)
      const buckets = await domain.analytics.timeseries(domain.analytics.query(who, request), granularity, timezone)
      const all = buckets.map((r) => ({ start: chDateTime(r.start, timezone), ...metricRow(metrics, r.metrics) }))
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

const APP_BY_NAME: ReadonlyMap<string, AppEntry> = new Map(APPS.map((a): [string, AppEntry] => [a.name, a]))
const DIMENSION_BY_FIELD: ReadonlyMap<string, DimensionEntry> = new Map(DIMENSIONS.map((d): [string, DimensionEntry] => [d.field, d]))

/** A built-in catalog entry as the pipe REST serves; undefined for sources REST does not run here (a project's). */
export function restPipe(entry: PipeEntry): Pipe | undefined {
  const { source } = entry
  switch (source.kind) {
    case 'productGrid':
      return productGrid(entry)
    case 'uiFilters':
      return uiFilters(entry)
    case 'breakdown': {
      const app = APP_BY_NAME.get(source.app)
      const dimension = DIMENSION_BY_FIELD.get(source.dimension)
      return app && dimension ? breakdownPipe(entry, app, dimension) : undefined
    }
    case 'timeseries': {
      const app = APP_BY_NAME.get(source.app)
      return app ? timeseriesPipe(entry, app) : undefined
    }
    case 'project':
      return undefined
  }
}

const BUILT = new WeakMap<PipeEntry, Pipe | null>()

/** `restPipe`, made once per catalog entry. */
export function builtinPipe(entry: PipeEntry | undefined): Pipe | undefined {
  if (!entry) return undefined
  let pipe = BUILT.get(entry)
  if (pipe === undefined) BUILT.set(entry, (pipe = restPipe(entry) ?? null))
  return pipe ?? undefined
}

/** A loaded project's pipe as the route serves it: its catalog entry and the project that runs it. */
export interface ProjectPipe {
  readonly entry: PipeEntry & { readonly source: ProjectPipeSource }
  readonly project: ProjectService
}

/**
 * The endpoint `/v0/pipes/<name>.<format>` answers, from the catalog: a loaded project's endpoint pipe of
 * that name (unless `builtin`), else the built-in pipe; undefined when neither exists.
 */
export function servedPipe(catalog: Catalog, project: ProjectService | undefined, name: string, builtin: boolean): ProjectPipe | Pipe | undefined {
  const entry = builtin || !project ? undefined : catalog.pipe(name)
  if (entry?.source.kind === 'project' && entry.source.type === 'endpoint' && entry.source.project === project?.database) {
    return { entry: entry as ProjectPipe['entry'], project: project }
  }
  return builtinPipe(catalog.pipe(name, { builtin: true }))
}

export const isProject = (pipe: ProjectPipe | Pipe): pipe is ProjectPipe => 'project' in pipe && 'entry' in pipe

/**
 * The built-in seed pipes as REST runs them, by name: the seed's two ecommerce endpoints, then for each
 * app one `v2_<app>_<dimension>` pipe per dimension and its `v2_<app>_timeseries`. The server serves the
 * catalog it is given (`gateway.catalog`), whose built-in entries are these.
 */
export const PIPES: ReadonlyMap<string, Pipe> = new Map(
  PIPE_ENTRIES.flatMap((entry) => {
    const pipe = builtinPipe(entry)
    return pipe ? [[entry.name, pipe] as const] : []
  }),
)
