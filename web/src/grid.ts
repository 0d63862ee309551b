import { ApiError, request, subscribe, tokens, type LiveState } from './api.js'
import { lineChart } from './chart.js'
import { byId, fill, format, h } from './dom.js'
import {
  CategoriesDocument,
  FiltersDocument,
  GridDocument,
  LiveStockDocument,
  SellOneDocument,
  TrendDocument,
  type GridQuery,
  type GridRanking,
  type LiveStockSubscription,
  type StockStatus,
} from './generated/graphql.js'
import { Notice } from './notice.js'

type Item = GridQuery['productGrid'][number]
type Update = LiveStockSubscription['stockChanged']

const STATUS_LABEL: Record<StockStatus, string> = { IN_STOCK: 'In stock', LOW_STOCK: 'Low stock', OUT_OF_STOCK: 'Out of stock' }
const KPI_COLOR: Record<string, string> = { sales: '#e4572e', carts: '#f3a712', views: '#4e79a7' }
const FEED_LENGTH = 8

/** The product grid (the seed's product page): filters from uiFilters, stock badges, trending, live stock. */
export class ShopPanel {
  private readonly category = byId<HTMLSelectElement>('category')
  private readonly ranking = byId<HTMLSelectElement>('ranking')
  private readonly outOfStock = byId<HTMLInputElement>('out-of-stock')
  private readonly product = byId<HTMLSelectElement>('product')
  private readonly kpi = byId<HTMLSelectElement>('kpi')
  private readonly grid = byId<HTMLUListElement>('grid')
  private readonly summary = byId('grid-summary')
  private readonly liveBadge = byId('live-state')
  private readonly feed = byId<HTMLOListElement>('live-feed')
  private readonly trend = byId('trend')
  private readonly notice: Notice
  private readonly sellNotice: Notice
  private readonly items = new Map<string, Item>()
  private gridSeq = 0
  private trendSeq = 0
  private stopLive: (() => void) | undefined
  private liveToken = ''
  private wasLive = false
  private refetchTimer: ReturnType<typeof setTimeout> | undefined

  constructor() {
    this.notice = new Notice(byId('grid-notice'), 'grid', 'The demo prints app_read_token (read:ecommerce).', () => this.reload())
    this.sellNotice = new Notice(byId('sell-notice'), 'ingest', 'The demo prints app_append_token (append:ecomm_events).', () => this.sellNotice.clear(), '"Sell one"')
    this.category.addEventListener('change', () => void this.loadFilters().then(() => Promise.all([this.loadGrid(), this.loadTrend()])))
    this.ranking.addEventListener('change', () => void this.loadGrid())
    this.outOfStock.addEventListener('change', () => void this.loadGrid())
    this.product.addEventListener('change', () => {
      this.highlight()
      void this.loadTrend()
    })
    this.kpi.addEventListener('change', () => void this.loadTrend())
    byId('shop-form').addEventListener('submit', (event) => event.preventDefault())
  }

  private get token(): string {
    return tokens.for('grid')
  }

  /** Everything again, for a new token: categories, filters, grid, trend, and the live subscription. */
  async reload(): Promise<void> {
    this.notice.clear()
    this.sellNotice.clear()
    this.live()
    try {
      const { productGrid } = await request(CategoriesDocument, {}, this.token)
      const categories = [...new Set(productGrid.map((p) => p.category))].sort()
      const current = this.category.value || 'all'
      fill(this.category, h('option', { value: 'all' }, 'All categories'), ...categories.map((c) => h('option', { value: c }, c)))
      this.category.value = categories.includes(current) ? current : 'all'
      await this.loadFilters()
    } catch (err) {
      this.fail(err)
      return
    }
    await Promise.all([this.loadGrid(), this.loadTrend()])
  }

  /** The product and KPI pickers, fed by uiFilters(PRODUCT, category) and uiFilters(VALUE). */
  private async loadFilters(): Promise<void> {
    try {
      const { products, kpis } = await request(FiltersDocument, { category: this.category.value || 'all' }, this.token)
      const product = this.product.value
      fill(this.product, ...products.map((o) => h('option', { value: o.id ?? 'All' }, o.value)))
      this.product.value = products.some((o) => o.id === product) ? product : 'All'
      const kpi = this.kpi.value || 'sales'
      fill(this.kpi, ...kpis.map((o) => h('option', { value: o.value }, o.value)))
      this.kpi.value = kpis.some((o) => o.value === kpi) ? kpi : (kpis[0]?.value ?? 'sales')
    } catch (err) {
      this.fail(err)
    }
  }

  private async loadGrid(): Promise<void> {
    const seq = ++this.gridSeq
    const variables = {
      category: this.category.value || 'all',
      showOutOfStock: this.outOfStock.checked,
      ranking: (this.ranking.value || 'TRENDING') as GridRanking,
    }
    this.grid.setAttribute('aria-busy', 'true')
    try {
      const { productGrid } = await request(GridDocument, variables, this.token)
      if (seq !== this.gridSeq) return
      this.items.clear()
      for (const item of productGrid) this.items.set(item.id, item)
      fill(this.grid, ...productGrid.map((item) => this.card(item)))
      const trending = productGrid.filter((p) => p.trending).length
      this.summary.textContent = `${productGrid.length} products in ${variables.category === 'all' ? 'all categories' : variables.category}, ranked by ${variables.ranking === 'TRENDING' ? 'trend' : 'price'}${variables.showOutOfStock ? '' : ', out of stock hidden'} · ${trending} trending`
      this.grid.dataset.category = variables.category
      this.grid.dataset.showOutOfStock = String(variables.showOutOfStock)
      this.highlight()
      this.notice.clear()
    } catch (err) {
      if (seq === this.gridSeq) this.fail(err)
    } finally {
      if (seq === this.gridSeq) this.grid.removeAttribute('aria-busy')
    }
  }

  private card(item: Item): HTMLLIElement {
    const initials = item.name
      .split(/\s+/)
      .map((w) => w[0] ?? '')
      .join('')
      .slice(0, 2)
    const photo = h('div', { class: 'photo', 'data-initials': initials, style: `--hue: ${hue(item.id)}` })
    // Absolute URLs, or paths on this server (the demo's photos are drawn at /photos/<id>.svg).
    if (/^(https?:\/\/|\/(?!\/))/.test(item.photo)) {
      const img = h('img', { src: item.photo, alt: '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' })
      img.addEventListener('error', () => img.remove())
      photo.appendChild(img)
    }
    const sell = h('button', { type: 'button', class: 'sell', 'data-testid': 'sell' }, 'Sell one')
    setSellable(sell, item.stock)
    sell.addEventListener('click', () => void this.sell(item.id, sell))
    return h(
      'li',
      { class: 'card', 'data-product': item.id, 'data-status': item.stockStatus, 'data-testid': 'product' },
      photo,
      h(
        'div',
        { class: 'body' },
        item.rankStatus ? h('span', { class: 'trending', 'data-testid': 'trending' }, item.rankStatus) : null,
        h('h3', {}, item.name),
        h('p', { class: 'meta' }, h('span', {}, item.category), ' · ', h('span', { class: 'price' }, format.money(item.price))),
        this.badge(item.stockStatus, item.stock),
        h('p', { class: 'hits', 'data-testid': 'hits' }, item.hits === 1 ? '1 sale in the last hour' : `${format.int(item.hits)} sales in the last hour`),
        sell,
      ),
    )
  }

  /**
   * The stock badge. The API answers the signed sum of stock movements (sales of a sold-out product
   * take it below 0, as in the seed); a shopper sees 0 and "Out of stock". `data-stock` keeps the API's value.
   */
  private badge(status: StockStatus, stock: number): HTMLSpanElement {
    return h(
      'span',
      { class: `badge ${status.toLowerCase().replace(/_/g, '-')}`, 'data-testid': 'stock', 'data-stock': stock },
      `${STATUS_LABEL[status]} · `,
      h('span', { class: 'stock-number' }, format.int(shownStock(stock))),
    )
  }

  /** Marks the product picked in the trend's product filter. */
  private highlight(): void {
    for (const card of this.grid.querySelectorAll<HTMLElement>('.card')) card.classList.toggle('picked', card.dataset.product === this.product.value)
  }

  private async loadTrend(): Promise<void> {
    const seq = ++this.trendSeq
    const product = this.product.value && this.product.value !== 'All' ? this.product.value : null
    const category = this.category.value || 'all'
    const kpi = this.kpi.value || 'sales'
    try {
      const { ecommTrend } = await request(TrendDocument, { product, category, granularity: 'HOUR', timezone: timezone() }, this.token)
      if (seq !== this.trendSeq) return
      const values = ecommTrend.map((p) => (kpi === 'views' ? p.views : kpi === 'carts' ? p.carts : p.sales))
      const label = product ? (this.product.selectedOptions[0]?.textContent ?? product) : category === 'all' ? 'all products' : category
      fill(
        this.trend,
        h('h3', {}, `${kpi[0]?.toUpperCase()}${kpi.slice(1)} per hour, last 24 hours: ${label}`),
        lineChart({
          times: ecommTrend.map((p) => p.start),
          series: [{ name: kpi, color: KPI_COLOR[kpi] ?? '#4e79a7', values }],
          label: (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
          width: 360,
          height: 200,
        }),
      )
    } catch (err) {
      if (seq === this.trendSeq) fill(this.trend, h('p', { class: 'muted' }, err instanceof ApiError ? err.explain() : String(err)))
    }
  }

  /** One subscription to every product's stock; restarted only when the token changes. */
  private live(): void {
    const token = this.token
    if (this.stopLive && token === this.liveToken) return
    this.stopLive?.()
    this.stopLive = undefined
    this.liveToken = token
    this.wasLive = false
    if (!token) {
      this.setLiveState('off')
      return
    }
    this.stopLive = subscribe(LiveStockDocument, { category: null }, token, {
      next: (data) => this.apply(data.stockChanged),
      error: (err) => {
        this.setLiveState('rejected')
        this.fail(err)
      },
      state: (state) => this.setLiveState(state),
    })
  }

  private setLiveState(state: LiveState): void {
    const text: Record<LiveState, string> = {
      off: 'Live stock: off (no token)',
      connecting: 'Live stock: connecting…',
      live: 'Live stock: on',
      retrying: 'Live stock: reconnecting…',
      rejected: 'Live stock: refused',
    }
    this.liveBadge.textContent = text[state]
    this.liveBadge.dataset.state = state
    // Updates sent while the socket was down are gone: read the grid again once it is back.
    if (state === 'live' && this.wasLive) this.scheduleRefetch()
    if (state === 'live') this.wasLive = true
  }

  /** A stock change: the card's badge and number in place, and a line in the feed. */
  private apply(update: Update): void {
    const item = this.items.get(update.product)
    const card = this.grid.querySelector<HTMLElement>(`.card[data-product="${CSS.escape(update.product)}"]`)
    if (item && card) {
      this.items.set(update.product, { ...item, stock: update.available, stockStatus: update.status })
      card.dataset.status = update.status
      card.querySelector('[data-testid="stock"]')?.replaceWith(this.badge(update.status, update.available))
      const sell = card.querySelector<HTMLButtonElement>('[data-testid="sell"]')
      if (sell && !sell.classList.contains('busy')) setSellable(sell, update.available)
      card.classList.remove('flash')
      void card.offsetWidth // restart the animation
      card.classList.add('flash')
    } else if (!item && update.status !== 'OUT_OF_STOCK' && update.available - update.delta <= 0) {
      // A hidden out-of-stock product came back: it may belong in the grid now.
      this.scheduleRefetch()
    }
    const name = item?.name ?? update.product
    const delta = update.delta > 0 ? `+${format.int(update.delta)}` : `−${format.int(-update.delta)}`
    this.feed.prepend(
      h(
        'li',
        { 'data-product': update.product },
        h('time', {}, format.time(update.at)),
        ' ',
        h('strong', {}, name),
        ` ${delta} → ${format.int(shownStock(update.available))} `,
        h('span', { class: `dot ${update.status.toLowerCase().replace(/_/g, '-')}` }, STATUS_LABEL[update.status]),
      ),
    )
    while (this.feed.children.length > FEED_LENGTH) this.feed.lastElementChild?.remove()
  }

  private scheduleRefetch(): void {
    clearTimeout(this.refetchTimer)
    this.refetchTimer = setTimeout(() => void this.loadGrid(), 800)
  }

  private async sell(product: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true
    button.classList.add('busy')
    try {
      const { ingestEcommEvents } = await request(SellOneDocument, { product }, tokens.for('ingest'))
      if (ingestEcommEvents.quarantined > 0) this.sellNotice.info(`The sale was quarantined: ${ingestEcommEvents.errors[0]?.message ?? 'invalid row'}`)
      else this.sellNotice.clear()
    } catch (err) {
      this.sellNotice.error(err)
    } finally {
      button.classList.remove('busy')
      setSellable(button, this.items.get(product)?.stock ?? 0)
    }
  }

  private fail(err: unknown): void {
    this.notice.error(err)
    if (err instanceof ApiError && (err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED')) {
      this.items.clear()
      fill(this.grid)
      this.summary.textContent = ''
    }
  }
}

function hue(id: string): number {
  let n = 0
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) % 360
  return n
}

export function timezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}

/** What a shopper sees of a stock level: never below 0. */
function shownStock(stock: number): number {
  return Math.max(0, stock)
}

/** "Sell one" is for products in stock. */
function setSellable(button: HTMLButtonElement, stock: number): void {
  button.disabled = stock <= 0
  button.title = stock <= 0 ? 'Out of stock: nothing to sell' : 'Ingest one sale event for this product'
}
