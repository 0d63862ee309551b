import type { Principal } from '../auth/scopes.js'
import { stockStatus, type Granularity, type StockStatus } from '../catalog/index.js'
import type { Store } from '../store/store.js'
import type { GridItem, GridQuery, GridRanking, Product, TrendPoint, UiFilterOption } from '../store/types.js'
import { badInput, withScope } from './errors.js'

const READ = 'read:ecommerce'
/** The KPI names `uiFilters(VALUE)` lists (the seed's). */
const KPIS = ['sales', 'carts', 'views']
const MAX_PAGE = 1000

/** Default trend window when `from` is absent, per granularity. */
const DEFAULT_SPAN_MS: Readonly<Record<Granularity, number>> = {
  MINUTE: 3600e3,
  HOUR: 24 * 3600e3,
  DAY: 30 * 24 * 3600e3,
  WEEK: 12 * 7 * 24 * 3600e3,
  MONTH: 365 * 24 * 3600e3,
}

export interface GridRequest {
  readonly category?: string | null | undefined
  readonly showOutOfStock?: boolean | null | undefined
  readonly ranking?: GridRanking | null | undefined
}

export interface TrendRequest {
  readonly product?: string | null | undefined
  readonly category?: string | null | undefined
  readonly from?: Date | null | undefined
  readonly to?: Date | null | undefined
  readonly granularity?: Granularity | null | undefined
  readonly timezone?: string | null | undefined
}

/** A grid request with its defaults: every category, in-stock products only, by price. */
function gridQuery(request: GridRequest): GridQuery {
  return { category: request.category ?? 'all', showOutOfStock: request.showOutOfStock ?? false, ranking: request.ranking ?? 'PRICE' }
}

/** The seed's ecommerce endpoints as use cases; every one needs `read:ecommerce`. */
export class EcommerceService {
  constructor(
    private readonly store: Store,
    private readonly lowStockThreshold: number,
  ) {}

  /** A category's products ('all': every one) with stock, status, last-hour sales and the trending flag. */
  productGrid(who: Principal | null, request: GridRequest = {}): Promise<GridItem[]> {
    withScope(who, READ)
    return this.store.productGrid(gridQuery(request), this.lowStockThreshold)
  }

  /** The same grid as REST's `api_product_grid` answers it: the store's JSON bytes, passed through. */
  productGridJson(who: Principal | null, request: GridRequest, quote64BitIntegers: boolean): Promise<Buffer> {
    withScope(who, READ)
    return this.store.productGridJson(gridQuery(request), this.lowStockThreshold, quote64BitIntegers)
  }

  /**
   * The same grid as one JSON array written by the store (see `Store.productGridRows`): each item with
   * `fields` (`[key, field]`) only. For GraphQL answers that select plain fields (src/execution).
   */
  productGridRows(who: Principal | null, request: GridRequest, fields: ReadonlyArray<readonly [key: string, field: keyof GridItem]>): Promise<Buffer> {
    withScope(who, READ)
    return this.store.productGridRows(gridQuery(request), this.lowStockThreshold, fields)
  }

  /** PRODUCT: an All row, then the category's products by name; VALUE: the KPI names. */
  async uiFilters(who: Principal | null, kind: 'PRODUCT' | 'VALUE', category: string | null | undefined = 'all'): Promise<UiFilterOption[]> {
    withScope(who, READ)
    if (kind === 'VALUE') return KPIS.map((value) => ({ id: null, value }))
    return [{ id: 'All', value: 'All' }, ...(await this.store.productFilterOptions(category ?? 'all'))]
  }

  products(who: Principal | null, category: string | undefined, limit = 100, offset = 0): Promise<Product[]> {
    withScope(who, READ)
    if (limit < 0 || limit > MAX_PAGE) throw badInput(`limit must be between 0 and ${MAX_PAGE}`)
    if (offset < 0) throw badInput('offset must not be negative')
    return this.store.products(category, limit, offset)
  }

  ecommTrend(who: Principal | null, request: TrendRequest = {}): Promise<TrendPoint[]> {
    withScope(who, READ)
    const granularity = request.granularity ?? 'HOUR'
    const to = request.to ?? new Date()
    return this.store.ecommTrend({
      product: request.product ?? undefined,
      category: request.category ?? 'all',
      from: request.from ?? new Date(to.getTime() - DEFAULT_SPAN_MS[granularity]),
      to,
      granularity,
      timezone: request.timezone ?? 'UTC',
    })
  }

  /** A stock level's status under this server's threshold. */
  status(available: number): StockStatus {
    return stockStatus(available, this.lowStockThreshold)
  }
}
