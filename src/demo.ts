import type { TokenService } from './auth/tokens.js'
import { prng } from './random.js'
import type { Store } from './store/store.js'
import { appByName, DIMENSIONS, type DemoValues } from './catalog/index.js'
import { APPS, type App, type AppEventRow, type EcommEventRow, type ProductRow, type WarehouseStockRow } from './store/types.js'
import { APP_ACTIONS } from './store/validate.js'

const CATEGORIES: Record<string, string[]> = {
  shoes: ['Trail Runner', 'City Sneaker', 'Leather Boot', 'Canvas Slip-on', 'Court Classic', 'Hiking Boot', 'Sandal', 'Loafer', 'Racing Flat', 'High-top'],
  shirts: ['Oxford Shirt', 'Linen Shirt', 'Flannel', 'Polo', 'Graphic Tee', 'Henley', 'Denim Shirt', 'Tank Top', 'Rugby Shirt', 'Camp Collar'],
  bags: ['Daypack', 'Tote', 'Messenger', 'Duffel', 'Sling', 'Laptop Sleeve', 'Weekender', 'Bum Bag', 'Backpack XL', 'Crossbody'],
  hats: ['Beanie', 'Cap', 'Bucket Hat', 'Sun Hat', 'Trapper', 'Visor', 'Fedora', 'Panama'],
  "kids' wear": ['Rain Jacket', 'Dungarees', 'Hoodie', 'Joggers', 'Raincoat', 'Snowsuit'],
}

/** The (country, region, city) triples demo events come from (dimensions with a `place` demo rule). */
export const PLACES: Array<[string, string, string]> = [
  ['US', 'California', 'San Francisco'],
  ['US', 'New York', 'New York'],
  ['GB', 'England', 'London'],
  ['DE', 'Berlin', 'Berlin'],
  ['FR', 'Île-de-France', 'Paris'],
  ['BR', 'São Paulo', 'São Paulo'],
  ['JP', 'Tokyo', 'Tokyo'],
]
export const DEMO_WORKSPACES = ['ws_acme', 'ws_globex']
export const DEMO_CATEGORIES = Object.keys(CATEGORIES)

export interface DemoSize {
  readonly ecommEvents: number
  readonly appEvents: number
}

const DEFAULT_SIZE: DemoSize = { ecommEvents: 150_000, appEvents: 40_000 }
const BATCH = 10_000
const HOUR = 3600e3
const WEEK = 7 * 24 * HOUR

/** Demo photos are drawn by the server (`/photos/<id>.svg`), so the page works offline. */
export function demoPhotoPath(id: string): string {
  return `/photos/${id}.svg`
}

/** Products that sell in the last hour (a burst at load, then the trickle). */
function isHot(index: number): boolean {
  return index % 9 === 1
}

/** Products that are never restocked once sold out, so the demo always shows some out of stock. */
function neverRestocked(index: number): boolean {
  return index % 11 === 3
}

export function demoProducts(): ProductRow[] {
  const rand = prng(1)
  const out: ProductRow[] = []
  for (const [category, names] of Object.entries(CATEGORIES)) {
    names.forEach((name, i) => {
      const id = `${category.replace(/\W+/g, '').slice(0, 5)}_${String(i + 1).padStart(2, '0')}`
      out.push({ id, category, name, photo: demoPhotoPath(id), price: Math.round((10 + rand() * 190) * 100) / 100 })
    })
  }
  return out
}

/**
 * Loads the demo dataset into an empty store: products in five categories, stock that leaves some
 * products low and some out, a week of ecommerce events with a burst of sales in the last hour,
 * and a week of app events for two workspaces and all four apps.
 */
export async function loadDemo(store: Store, progress: (line: string) => void, size: DemoSize = DEFAULT_SIZE): Promise<boolean> {
  if ((await store.products(undefined, 1, 0)).length > 0) {
    progress('demo data already present, skipping the load')
    return false
  }
  const rand = prng(42)
  const now = Date.now()
  const products = demoProducts()
  await store.upsertProducts(products)
  progress(`products: ${products.length} in ${Object.keys(CATEGORIES).length} categories`)

  // Stock: most products well stocked, every 7th low, every 11th never restocked after selling out.
  const stock: WarehouseStockRow[] = []
  products.forEach((p, i) => {
    const target = neverRestocked(i) ? 0 : i % 7 === 2 ? 40 + Math.floor(rand() * 50) : 300 + Math.floor(rand() * 700)
    stock.push({ product: p.id, store: 'central', amount: target, timestamp: new Date(now - WEEK) })
  })
  await store.ingestWarehouseStock(stock)
  progress(`warehouse stock: ${stock.length} rows`)

  // Sales and views over the week; a few "hot" products sell in the last hour.
  const hot = new Set(products.filter((_, i) => isHot(i)).map((p) => p.id))
  let sent = 0
  while (sent < size.ecommEvents) {
    const n = Math.min(BATCH, size.ecommEvents - sent)
    const batch: EcommEventRow[] = []
    for (let i = 0; i < n; i++) {
      const product = products[Math.floor(rand() * products.length)]!
      const recent = hot.has(product.id) && rand() < 0.08
      const age = recent ? rand() * HOUR * 0.9 : HOUR + rand() * (WEEK - 2 * HOUR)
      const r = rand()
      const event = recent ? (r < 0.5 ? 'sale' : 'view') : r < 0.75 ? 'view' : r < 0.93 ? 'cart' : 'sale'
      batch.push({ product: product.id, event, timestamp: new Date(now - age) })
    }
    await store.ingestEcommEvents(batch)
    sent += n
    progress(`ecommerce events: ${sent}/${size.ecommEvents}`)
  }
  // Top the sold stock back up, so the demo keeps a mix of statuses.
  const levels = await store.stock(products.map((p) => p.id))
  const restock = levels
    .map((l, i) => ({ l, i }))
    .filter(({ i }) => !neverRestocked(i))
    .map(({ l, i }) => ({ product: l.product, store: 'central', amount: (i % 7 === 2 ? 60 : 500) - l.available, timestamp: new Date(now - 2 * HOUR) }))
  await store.ingestWarehouseStock(restock)

  sent = 0
  while (sent < size.appEvents) {
    const n = Math.min(BATCH, size.appEvents - sent)
    const batch: AppEventRow[] = []
    for (let i = 0; i < n; i++) batch.push(appEvent(rand, APPS, now))
    await store.ingestAppEvents(batch)
    sent += n
    progress(`app events: ${sent}/${size.appEvents}`)
  }
  return true
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!
}

/** One demo value of a dimension, by its catalog demo rule. */
function demoValue(rand: () => number, rule: DemoValues, row: { app: App; fromMeta: boolean; place: readonly string[] }): string {
  if ('pool' in rule) return row.fromMeta && rule.metaPool ? pick(rand, rule.metaPool) : pick(rand, rule.pool)
  if ('place' in rule) return row.place[rule.place] ?? ''
  if ('metaChoice' in rule) return row.fromMeta ? pick(rand, rule.metaChoice) : ''
  const { only, share } = rule
  const applies = only === undefined ? share === undefined || rand() < share : only === 'meta' ? row.fromMeta : row.app === only.app
  return applies ? `${rule.prefix}${Math.floor(rand() * rule.count)}` : ''
}

/** Every dimension's demo value for an event of `app` at `place`, from Meta's ads or not (by default one of PLACES, 30% from Meta). */
export function demoDimensions(
  rand: () => number,
  app: App,
  at: { place: readonly string[]; fromMeta: boolean } = { place: pick(rand, PLACES), fromMeta: rand() < 0.3 },
): Record<string, string> {
  return Object.fromEntries(DIMENSIONS.map((d) => [d.field, demoValue(rand, d.demo, { app, ...at })]))
}

function appEvent(rand: () => number, apps: readonly App[], now: number): AppEventRow {
  const app = pick(rand, apps)
  const workspaceId = rand() < 0.65 ? DEMO_WORKSPACES[0]! : DEMO_WORKSPACES[1]!
  const visitor = Math.floor(rand() * 3000)
  const place = pick(rand, PLACES)
  const action = pick(rand, APP_ACTIONS[app])
  const dimensions = demoDimensions(rand, app, { place, fromMeta: rand() < 0.3 })
  const revenueAction = appByName(app)?.revenueAction
  return {
    ...dimensions,
    app,
    action,
    workspaceId,
    sessionId: `s_${visitor}_${Math.floor(rand() * 3)}`,
    visitorId: `v_${visitor}`,
    timestamp: new Date(now - rand() * WEEK),
    assetId: `asset_${Math.floor(rand() * 12)}`,
    revenue: action === revenueAction ? Math.round(rand() * 20000) / 100 : 0,
  }
}

/**
 * Puts sales back into the last hour of a demo store loaded earlier (a restart an hour or more after
 * the load would otherwise show "0 sales in the last hour" everywhere). Returns the events written.
 */
export async function refreshDemo(store: Store, progress: (line: string) => void, now = Date.now()): Promise<number> {
  const products = demoProducts()
  const recent = (await store.recentSales(products.map((p) => p.id))).reduce((a, b) => a + b, 0)
  if (recent > 0) return 0
  const rand = prng(now)
  const hot = products.filter((_, i) => isHot(i))
  const batch: EcommEventRow[] = []
  for (let i = 0; i < 40 * hot.length; i++) {
    const product = hot[Math.floor(rand() * hot.length)]!
    batch.push({ product: product.id, event: rand() < 0.5 ? 'sale' : 'view', timestamp: new Date(now - rand() * HOUR * 0.9) })
  }
  await store.ingestEcommEvents(batch)
  progress(`ecommerce events: ${batch.length} in the last hour (the demo data was older)`)
  return batch.length
}

/**
 * While the demo runs, a trickle of shoppers and app users: every `intervalMs` a few views, carts
 * and sales of products in stock (hot products sell most), a few app events for both workspaces,
 * and a restock of products running out (except those never restocked). The product grid, trending,
 * last-hour sales, live stock badges and the dashboards thus move on their own.
 */
export class DemoTrickle {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> = Promise.resolve()
  private readonly rand: () => number
  private readonly products = demoProducts()
  private readonly hot = new Set(this.products.filter((_, i) => isHot(i)).map((p) => p.id))
  private ticks = 0

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.rand = prng(Date.now())
  }

  /** Ticks so far (each one a write of events). */
  get count(): number {
    return this.ticks
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick()).catch(this.onError)
    }, this.intervalMs)
    this.timer.unref()
  }

  /** Stops the timer and waits for a write in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  private async tick(): Promise<void> {
    const rand = this.rand
    const now = new Date()
    const ids = this.products.map((p) => p.id)
    const levels = await this.store.stock(ids)
    const inStock = this.products.filter((_, i) => (levels[i]?.available ?? 0) > 0)
    const hot = inStock.filter((p) => this.hot.has(p.id))
    const events: EcommEventRow[] = []
    for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n && inStock.length > 0; i++) {
      const pool = hot.length > 0 && rand() < 0.6 ? hot : inStock
      const product = pool[Math.floor(rand() * pool.length)]!
      const r = rand()
      events.push({ product: product.id, event: r < 0.55 ? 'view' : r < 0.75 ? 'cart' : 'sale', timestamp: now })
    }
    if (events.length > 0) await this.store.ingestEcommEvents(events)

    const restock = this.products
      .map((p, i) => ({ p, i, available: levels[i]?.available ?? 0 }))
      .filter(({ i, available }) => !neverRestocked(i) && available < 10 && rand() < 0.2)
      .map(({ p, i, available }) => ({ product: p.id, store: 'central', amount: (i % 7 === 2 ? 60 : 300) - available, timestamp: now }))
    if (restock.length > 0) await this.store.ingestWarehouseStock(restock)

    const apps: AppEventRow[] = []
    for (let i = 0, n = 2 + Math.floor(rand() * 4); i < n; i++) apps.push({ ...appEvent(rand, APPS, now.getTime()), timestamp: now })
    await this.store.ingestAppEvents(apps)
    this.ticks++
  }
}

/** The seed's tokens (plus one for analytics), created anew on each demo start so they can be printed. */
export const DEMO_TOKENS = [
  { name: 'app_read_token', scopes: ['read:ecommerce'] },
  { name: 'app_append_token', scopes: ['append:ecomm_events', 'append:warehouse_stock'] },
  { name: 'app_analytics_token', scopes: ['read:analytics'] },
] as const

/** An admin for the demo, so its admin features can be tried; only when SIGHTLINE_ADMIN_TOKEN is unset. */
export const DEMO_ADMIN_TOKEN = { name: 'demo_admin_token', scopes: ['admin'] } as const

export async function createDemoTokens(tokens: TokenService, options: { admin: boolean }): Promise<Array<{ name: string; secret: string }>> {
  const out: Array<{ name: string; secret: string }> = []
  if (!options.admin) await tokens.revoke(DEMO_ADMIN_TOKEN.name)
  for (const t of options.admin ? [...DEMO_TOKENS, DEMO_ADMIN_TOKEN] : DEMO_TOKENS) {
    await tokens.revoke(t.name)
    const { secret } = await tokens.create({ name: t.name, scopes: t.scopes })
    out.push({ name: t.name, secret })
  }
  return out
}
