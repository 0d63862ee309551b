import { randomInt } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hourlyPlan, type AnalyticsFilter, type AnalyticsQuery, type AppMetricsRow, type FilterField } from '../../src/store/analytics.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { bucketStarts } from '../../src/store/buckets.js'
import { StoreInputError } from '../../src/store/errors.js'
import { APPS, DIMENSION_FIELDS, type App, type AppEventRow, type DimensionField } from '../../src/store/types.js'
import { APP_ACTIONS } from '../../src/store/validate.js'
import { makeAppEvent, uid } from '../helpers/factories.js'
import { openTestStore, testStoreConfig } from '../helpers/store.js'
import { AnalyticsRepository } from '../../src/store/area/analytics.js'
import { StoreQueries } from '../../src/store/area/queries.js'
import { prng } from '../../src/random.js'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

/** Referers of the randomized data and their registrable domains (what ClickHouse groups by). */
const REFERERS: Readonly<Record<string, string>> = {
  '': '',
  'https://l.instagram.com/x': 'instagram.com',
  'https://www.instagram.com/y': 'instagram.com',
  'https://t.co/z': 't.co',
  'https://news.ycombinator.com/item?id=1': 'ycombinator.com',
  'https://www.google.com/search?q=shoes': 'google.com',
  'http://m.facebook.com/': 'facebook.com',
  'https://www.bbc.co.uk/news': 'bbc.co.uk',
}


// ---- the expected numbers, computed from the rows as the spec words them (§4) ------------------

function dimensionValue(e: AppEventRow, field: FilterField): string {
  if (field === 'referer') {
    const domain = REFERERS[e.referer ?? '']
    if (domain === undefined) throw new Error(`no known domain for referer ${e.referer}`)
    return domain
  }
  return e[field] ?? ''
}

function matches(e: AppEventRow, filter: AnalyticsFilter): boolean {
  return Object.entries(filter).every(([field, value]) => dimensionValue(e, field as FilterField) === value)
}

function inQuery(e: AppEventRow, q: AnalyticsQuery): boolean {
  const t = e.timestamp!.getTime()
  return (
    e.app === q.app && e.workspaceId === q.workspaceId && t >= q.from.getTime() && t < q.to.getTime() && matches(e, q.filter)
  )
}

function expectedMetrics(app: App, events: readonly AppEventRow[]): AppMetricsRow {
  const sessions = new Set(events.map((e) => e.sessionId))
  const visitors = new Set(events.map((e) => e.visitorId))
  const actions = Object.fromEntries(
    APP_ACTIONS[app].map((a) => [a, new Set(events.filter((e) => e.action === a).map((e) => e.sessionId)).size]),
  )
  // Revenue is generated in whole cents, so summing cents is exact.
  const cents =
    app === 'cart'
      ? events.filter((e) => e.action === 'purchase').reduce((sum, e) => sum + Math.round((e.revenue ?? 0) * 100), 0)
      : 0
  return { events: events.length, sessions: sessions.size, visitors: visitors.size, actions, revenue: cents / 100 }
}

function expectedBreakdown(all: readonly AppEventRow[], q: AnalyticsQuery, by: DimensionField, limit: number) {
  const groups = new Map<string, AppEventRow[]>()
  for (const e of all) {
    if (!inQuery(e, q)) continue
    const value = dimensionValue(e, by)
    if (value === '') continue
    groups.set(value, [...(groups.get(value) ?? []), e])
  }
  return [...groups]
    .map(([value, events]) => ({ value, metrics: expectedMetrics(q.app, events) }))
    .sort((a, b) => b.metrics.sessions - a.metrics.sessions || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, limit)
}

/** UTC buckets of a fixed length, from the one holding `from` to the one holding `to - 1ms`. */
function expectedUtcSeries(all: readonly AppEventRow[], q: AnalyticsQuery, size: number) {
  const out: Array<{ start: string; metrics: AppMetricsRow }> = []
  const events = all.filter((e) => inQuery(e, q))
  for (let start = Math.floor(q.from.getTime() / size) * size; start < q.to.getTime(); start += size) {
    const inBucket = events.filter((e) => e.timestamp!.getTime() >= start && e.timestamp!.getTime() < start + size)
    out.push({ start: new Date(start).toISOString(), metrics: expectedMetrics(q.app, inBucket) })
  }
  return out
}

/** Float sums from the store, rounded to the cents they were made of. */
const norm = (m: AppMetricsRow): AppMetricsRow => ({ ...m, revenue: Math.round(m.revenue * 100) / 100 })
const normSeries = (s: Array<{ start: Date; metrics: AppMetricsRow }>) =>
  s.map((p) => ({ start: p.start.toISOString(), metrics: norm(p.metrics) }))
const counts = (s: Array<{ start: Date; metrics: AppMetricsRow }>) => s.map((p) => [p.start.toISOString(), p.metrics.events])

// ---- tests ---------------------------------------------------------------------------------------

describe('app analytics on chDB', () => {
  let store: ClickHouseStore
  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(() => store.close())

  describe('a randomized dataset', () => {
    const seed = Number(process.env.SIGHTLINE_TEST_SEED ?? randomInt(2 ** 31))
    const msg = (what: string) => `${what} (seed ${seed})`
    const rand = prng(seed)
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!

    const now = Date.now()
    const workspaces = [uid('ws'), uid('ws'), uid('ws')]
    // Unaligned on purpose: the first and last buckets are partial, and some events fall outside.
    const from = new Date(now - 8 * DAY - 12_345)
    const to = new Date(now - 1 * DAY + 6_789)
    const events: AppEventRow[] = []

    const dimensionPool = (field: DimensionField): ReadonlyArray<string | null | undefined> => {
      if (field === 'referer') return [...Object.keys(REFERERS), null]
      if (field === 'browser') return ['', null, undefined, 'Chrome', 'Firefox', 'Safari', 'chrome']
      if (field === 'country') return ['', undefined, 'FR', 'US', 'DE', 'BR']
      return ['', null, undefined, `${field}_a`, `${field}_b`, `${field}_c`, `${field}_D`]
    }

    beforeAll(async () => {
      const sessions = new Map(workspaces.map((ws) => [ws, Array.from({ length: 30 }, () => uid('s'))]))
      const visitors = new Map(workspaces.map((ws) => [ws, Array.from({ length: 18 }, () => uid('v'))]))
      const assets = ['', 'asset_1', 'asset_2', 'asset_3']
      const make = (timestamp: Date): AppEventRow => {
        const workspaceId = pick(workspaces)
        const app = pick(APPS)
        const action = pick(APP_ACTIONS[app])
        const dims = Object.fromEntries(DIMENSION_FIELDS.map((f) => [f, pick(dimensionPool(f))]))
        // Revenue on purchases, and noise elsewhere that must never be summed.
        const cents = (max: number) => Math.floor(rand() * max) / 100
        const revenue = app === 'cart' && action === 'purchase' ? cents(20_000) : rand() < 0.5 ? 0.01 + cents(500) : undefined
        return {
          ...dims,
          timestamp,
          app,
          action,
          workspaceId,
          sessionId: pick(sessions.get(workspaceId)!),
          visitorId: pick(visitors.get(workspaceId)!),
          assetId: pick(assets),
          revenue,
        } as AppEventRow
      }
      for (let i = 0; i < 450; i++) events.push(make(new Date(now - Math.floor(rand() * 10 * DAY))))
      // The edges of [from, to): `from` and `to - 1ms` are in, `to` and `from - 1ms` are out.
      for (const t of [from.getTime(), from.getTime() - 1, to.getTime() - 1, to.getTime()]) {
        for (let i = 0; i < 8; i++) events.push(make(new Date(t)))
      }
      const result = await store.ingestAppEvents(events)
      expect(result.errors).toEqual([])
      expect(result.accepted).toBe(events.length)
    })

    const query = (app: App, workspaceId: string, filter: AnalyticsFilter = {}): AnalyticsQuery => ({
      app,
      workspaceId,
      from,
      to,
      filter,
    })

    it('has data inside and outside the range for every app', () => {
      for (const app of APPS) {
        const ofApp = events.filter((e) => e.app === app)
        expect(ofApp.filter((e) => e.timestamp! < from).length, msg(app)).toBeGreaterThan(0)
        expect(ofApp.filter((e) => e.timestamp! >= to).length, msg(app)).toBeGreaterThan(0)
      }
    })

    it('totals match for every app and workspace', async () => {
      for (const ws of workspaces) {
        for (const app of APPS) {
          const q = query(app, ws)
          const expected = expectedMetrics(app, events.filter((e) => inQuery(e, q)))
          expect(expected.events, msg('dataset')).toBeGreaterThan(5)
          expect(norm(await store.analyticsTotals(q)), msg(`${app} ${ws}`)).toEqual(expected)
        }
      }
    })

    it('revenue is summed over cart purchases only', async () => {
      const q = query('cart', workspaces[0]!)
      const purchases = events.filter((e) => inQuery(e, q) && e.action === 'purchase')
      const others = events.filter((e) => inQuery(e, q) && e.action !== 'purchase' && (e.revenue ?? 0) > 0)
      expect(purchases.length, msg('purchases')).toBeGreaterThan(0)
      expect(others.length, msg('noise revenue')).toBeGreaterThan(0)
      const total = await store.analyticsTotals(q)
      expect(total.revenue).toBeCloseTo(purchases.reduce((s, e) => s + e.revenue!, 0), 6)
      for (const app of ['fm', 'link', 'page'] as const) {
        expect((await store.analyticsTotals(query(app, workspaces[0]!))).revenue).toBe(0)
      }
    })

    it('breakdowns match for every app, workspace and dimension', async () => {
      for (const ws of workspaces) {
        for (const app of APPS) {
          for (const by of DIMENSION_FIELDS) {
            const q = query(app, ws)
            const expected = expectedBreakdown(events, q, by, 1000)
            expect(expected.length, msg(`${app} ${by}`)).toBeGreaterThan(0)
            const actual = await store.analyticsBreakdown({ ...q, by, limit: 1000 })
            expect(
              actual.map((r) => ({ value: r.value, metrics: norm(r.metrics) })),
              msg(`${app} ${ws} by ${by}`),
            ).toEqual(expected)
          }
        }
      }
    })

    it('a breakdown stops at its limit, keeping the order', async () => {
      for (const app of APPS) {
        for (const by of ['browser', 'referer', 'metaAdId'] as const) {
          const q = query(app, workspaces[1]!)
          const actual = await store.analyticsBreakdown({ ...q, by, limit: 2 })
          expect(actual.map((r) => ({ value: r.value, metrics: norm(r.metrics) })), msg(`${app} ${by}`)).toEqual(
            expectedBreakdown(events, q, by, 2),
          )
          expect(actual.length).toBeLessThanOrEqual(2)
        }
      }
    })

    it('REFERER groups by registrable domain', async () => {
      const q = query('page', workspaces[0]!)
      const values = (await store.analyticsBreakdown({ ...q, by: 'referer', limit: 1000 })).map((r) => r.value)
      expect(values.length).toBeGreaterThan(0)
      for (const v of values) expect(new Set(Object.values(REFERERS))).toContain(v)
      expect(values).not.toContain('l.instagram.com')
      expect(values).not.toContain('www.instagram.com')
    })

    it('hourly and daily UTC timeseries match for every app and workspace', async () => {
      for (const ws of workspaces) {
        for (const app of APPS) {
          const q = query(app, ws)
          for (const [granularity, size] of [
            ['HOUR', HOUR],
            ['DAY', DAY],
          ] as const) {
            const actual = await store.analyticsTimeseries({ ...q, granularity, timezone: 'UTC' })
            const expected = expectedUtcSeries(events, q, size)
            expect(actual.length).toBe(granularity === 'DAY' ? 8 : expected.length)
            expect(normSeries(actual), msg(`${app} ${ws} ${granularity}`)).toEqual(expected)
          }
        }
      }
    })

    it('a filter on any one dimension or the asset narrows every number', async () => {
      const ws = workspaces[0]!
      for (const app of APPS) {
        const all = events.filter((e) => inQuery(e, query(app, ws)))
        for (const field of [...DIMENSION_FIELDS, 'assetId'] as const) {
          // The most frequent non-empty value of the field in range, so the filter keeps some rows.
          const tally = new Map<string, number>()
          for (const e of all) {
            const v = dimensionValue(e, field)
            if (v !== '') tally.set(v, (tally.get(v) ?? 0) + 1)
          }
          const [value] = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!
          const q = query(app, ws, { [field]: value })
          const kept = all.filter((e) => matches(e, q.filter))
          expect(kept.length, msg(`${app} ${field}=${value}`)).toBeGreaterThan(0)
          expect(kept.length, msg(`${app} ${field}=${value}`)).toBeLessThan(all.length)
          expect(norm(await store.analyticsTotals(q)), msg(`${app} ${field}=${value}`)).toEqual(expectedMetrics(app, kept))
        }
      }
    })

    it('filters apply to breakdowns and timeseries too, and combine', async () => {
      const ws = workspaces[2]!
      for (const app of APPS) {
        for (const filter of [
          { country: 'FR' },
          { assetId: 'asset_2' },
          { referer: 'instagram.com' },
          { referer: 'instagram.com', assetId: 'asset_1' },
          { browser: 'Chrome', country: 'US' },
          { country: 'nowhere' },
        ] satisfies AnalyticsFilter[]) {
          const q = query(app, ws, filter)
          const label = msg(`${app} ${JSON.stringify(filter)}`)
          expect(norm(await store.analyticsTotals(q)), label).toEqual(
            expectedMetrics(app, events.filter((e) => inQuery(e, q))),
          )
          for (const by of ['os', 'referer', 'country'] as const) {
            const actual = await store.analyticsBreakdown({ ...q, by, limit: 1000 })
            expect(actual.map((r) => ({ value: r.value, metrics: norm(r.metrics) })), label).toEqual(
              expectedBreakdown(events, q, by, 1000),
            )
          }
          const series = await store.analyticsTimeseries({ ...q, granularity: 'DAY', timezone: 'UTC' })
          expect(normSeries(series), label).toEqual(expectedUtcSeries(events, q, DAY))
        }
      }
    })
  })

  describe('referer and workspace semantics', () => {
    const base = new Date(Date.now() - HOUR)
    const range = { from: new Date(base.getTime() - HOUR), to: new Date(base.getTime() + HOUR), filter: {} }

    it('the referer filter and breakdown take the registrable domain', async () => {
      const workspaceId = uid('ws')
      await store.ingestAppEvents([
        makeAppEvent({ workspaceId, app: 'link', action: 'click', referer: 'https://l.instagram.com/x', timestamp: base }),
        makeAppEvent({ workspaceId, app: 'link', action: 'click', referer: 'https://www.instagram.com/y', timestamp: base }),
        makeAppEvent({ workspaceId, app: 'link', action: 'redirect', referer: 'https://t.co/z', timestamp: base }),
        makeAppEvent({ workspaceId, app: 'link', action: 'click', referer: '', timestamp: base }),
      ])
      const q = { ...range, app: 'link' as const, workspaceId }
      const breakdown = await store.analyticsBreakdown({ ...q, by: 'referer', limit: 50 })
      expect(breakdown.map((r) => [r.value, r.metrics.sessions, r.metrics.actions])).toEqual([
        ['instagram.com', 2, { click: 2, redirect: 0 }],
        ['t.co', 1, { click: 0, redirect: 1 }],
      ])
      expect((await store.analyticsTotals({ ...q, filter: { referer: 'instagram.com' } })).events).toBe(2)
      expect((await store.analyticsTotals({ ...q, filter: { referer: 't.co' } })).events).toBe(1)
      expect((await store.analyticsTotals({ ...q, filter: { referer: 'l.instagram.com' } })).events).toBe(0)
    })

    it('two workspaces sharing session and visitor ids never mix', async () => {
      const [a, b] = [uid('ws'), uid('ws')]
      const shared = { sessionId: uid('s'), visitorId: uid('v'), app: 'cart' as const, timestamp: base }
      await store.ingestAppEvents([
        makeAppEvent({ ...shared, workspaceId: a, action: 'purchase', revenue: 10, country: 'FR' }),
        makeAppEvent({ ...shared, workspaceId: a, action: 'view', country: 'FR' }),
        makeAppEvent({ ...shared, workspaceId: b, action: 'purchase', revenue: 7, country: 'US' }),
        makeAppEvent({ ...shared, workspaceId: b, action: 'add_to_cart', sessionId: uid('s'), country: 'DE' }),
        makeAppEvent({ ...shared, workspaceId: b, action: 'add_to_cart', sessionId: uid('s'), country: 'DE' }),
      ])
      const qa = { ...range, app: 'cart' as const, workspaceId: a }
      const qb = { ...range, app: 'cart' as const, workspaceId: b }
      expect(await store.analyticsTotals(qa)).toEqual({
        events: 2,
        sessions: 1,
        visitors: 1,
        actions: { view: 1, add_to_cart: 0, purchase: 1 },
        revenue: 10,
      })
      expect(await store.analyticsTotals(qb)).toEqual({
        events: 3,
        sessions: 3,
        visitors: 1,
        actions: { view: 0, add_to_cart: 2, purchase: 1 },
        revenue: 7,
      })
      expect((await store.analyticsBreakdown({ ...qa, by: 'country', limit: 50 })).map((r) => r.value)).toEqual(['FR'])
      expect((await store.analyticsBreakdown({ ...qb, by: 'country', limit: 50 })).map((r) => r.value)).toEqual(['DE', 'US'])
      const series = await store.analyticsTimeseries({ ...qa, granularity: 'HOUR', timezone: 'UTC' })
      expect(series.reduce((s, p) => s + p.metrics.events, 0)).toBe(2)

      const nobody = { ...range, app: 'cart' as const, workspaceId: uid('ws') }
      expect(await store.analyticsTotals(nobody)).toEqual({
        events: 0,
        sessions: 0,
        visitors: 0,
        actions: { view: 0, add_to_cart: 0, purchase: 0 },
        revenue: 0,
      })
      expect(await store.analyticsBreakdown({ ...nobody, by: 'country', limit: 50 })).toEqual([])
    })
  })

  describe('timeseries in a time zone', () => {
    /** One page view per instant, each its own session, in a fresh workspace. */
    async function seed(instants: readonly string[]): Promise<string> {
      const workspaceId = uid('ws')
      const result = await store.ingestAppEvents(
        instants.map((t) => makeAppEvent({ workspaceId, app: 'page', action: 'view', timestamp: new Date(t) })),
      )
      expect(result.accepted).toBe(instants.length)
      return workspaceId
    }
    type Coarse = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH'
    const series = (workspaceId: string, from: string, to: string, granularity: Coarse, timezone: string) =>
      store.analyticsTimeseries({
        app: 'page',
        workspaceId,
        from: new Date(from),
        to: new Date(to),
        filter: {},
        granularity,
        timezone,
      })

    it('Europe/Paris days across the spring change: the 23-hour day', async () => {
      const ws = await seed([
        '2026-03-27T22:59:59.999Z', // 27 March 23:59:59.999 CET: before `from`
        '2026-03-27T23:00:00.000Z', // 28 March 00:00 CET
        '2026-03-28T22:59:59.999Z', // 28 March 23:59:59.999 CET
        '2026-03-28T23:00:00.000Z', // 29 March 00:00 CET
        '2026-03-29T00:59:00.000Z', // 29 March 01:59 CET
        '2026-03-29T01:00:00.000Z', // 29 March 03:00 CEST
        '2026-03-29T21:59:59.999Z', // 29 March 23:59:59.999 CEST
        '2026-03-29T22:00:00.000Z', // 30 March 00:00 CEST
        '2026-03-30T22:00:00.000Z', // 31 March 00:00 CEST: `to`, excluded
      ])
      const days = await series(ws, '2026-03-27T23:00:00Z', '2026-03-30T22:00:00Z', 'DAY', 'Europe/Paris')
      expect(counts(days)).toEqual([
        ['2026-03-27T23:00:00.000Z', 2],
        ['2026-03-28T23:00:00.000Z', 4],
        ['2026-03-29T22:00:00.000Z', 1],
      ])
      expect(days[1]!.metrics).toEqual({ events: 4, sessions: 4, visitors: 4, actions: { view: 4, interaction: 0 }, revenue: 0 })
    })

    it('Europe/Paris across the autumn change: the 25-hour day and its repeated hour', async () => {
      const ws = await seed([
        '2025-10-25T22:00:00.000Z', // 26 October 00:00 CEST
        '2025-10-26T00:30:00.000Z', // 02:30 CEST
        '2025-10-26T01:30:00.000Z', // 02:30 CET, the same wall-clock time an hour later
        '2025-10-26T22:59:59.999Z', // 23:59:59.999 CET, still 26 October
        '2025-10-26T23:00:00.000Z', // 27 October 00:00 CET
      ])
      const days = await series(ws, '2025-10-25T22:00:00Z', '2025-10-27T23:00:00Z', 'DAY', 'Europe/Paris')
      expect(counts(days)).toEqual([
        ['2025-10-25T22:00:00.000Z', 4],
        ['2025-10-26T23:00:00.000Z', 1],
      ])
      const hours = await series(ws, '2025-10-25T22:00:00Z', '2025-10-26T23:00:00Z', 'HOUR', 'Europe/Paris')
      expect(hours).toHaveLength(25)
      expect(hours.map((h) => h.start.getTime())).toEqual(
        Array.from({ length: 25 }, (_, i) => Date.parse('2025-10-25T22:00:00Z') + i * HOUR),
      )
      expect(counts(hours).filter(([, n]) => n !== 0)).toEqual([
        ['2025-10-25T22:00:00.000Z', 1],
        ['2025-10-26T00:00:00.000Z', 1],
        ['2025-10-26T01:00:00.000Z', 1],
        ['2025-10-26T22:00:00.000Z', 1],
      ])
    })

    it('America/New_York: the 25-hour day keeps its last evening hour', async () => {
      const ws = await seed([
        '2025-11-02T04:00:00.000Z', // 2 November 00:00 EDT
        '2025-11-03T04:30:00.000Z', // 2 November 23:30 EST
        '2025-11-03T05:00:00.000Z', // 3 November 00:00 EST
      ])
      const days = await series(ws, '2025-11-02T04:00:00Z', '2025-11-04T05:00:00Z', 'DAY', 'America/New_York')
      expect(counts(days)).toEqual([
        ['2025-11-02T04:00:00.000Z', 2],
        ['2025-11-03T05:00:00.000Z', 1],
      ])
    })

    it('hours in half- and quarter-hour zones start at the local hour', async () => {
      // Kolkata is UTC+05:30, Kathmandu UTC+05:45.
      const ws = await seed([
        '2026-01-01T00:14:59.999Z', // 05:44:59.999 Kolkata, 05:59:59.999 Kathmandu
        '2026-01-01T00:15:00.000Z', // 05:45 Kolkata, 06:00 Kathmandu
        '2026-01-01T00:29:59.999Z', // 05:59:59.999 Kolkata
        '2026-01-01T00:30:00.000Z', // 06:00 Kolkata
        '2026-01-01T00:44:59.999Z',
        '2026-01-01T00:45:00.000Z', // 06:15 Kolkata, 06:30 Kathmandu
      ])
      const kolkata = await series(ws, '2025-12-31T23:30:00Z', '2026-01-01T01:30:00Z', 'HOUR', 'Asia/Kolkata')
      expect(counts(kolkata)).toEqual([
        ['2025-12-31T23:30:00.000Z', 3],
        ['2026-01-01T00:30:00.000Z', 3],
      ])
      const kathmandu = await series(ws, '2025-12-31T23:15:00Z', '2026-01-01T01:15:00Z', 'HOUR', 'Asia/Kathmandu')
      expect(counts(kathmandu)).toEqual([
        ['2025-12-31T23:15:00.000Z', 1],
        ['2026-01-01T00:15:00.000Z', 5],
      ])
    })

    it('weeks start on local Monday midnight, empty weeks as zeros', async () => {
      const ws = await seed([
        '2026-03-22T22:59:00.000Z', // Sunday 22 March 23:59 CET
        '2026-03-22T23:00:00.000Z', // Monday 23 March 00:00 CET
        '2026-03-29T21:59:59.999Z', // Sunday 29 March 23:59:59.999 CEST
        '2026-03-29T22:00:00.000Z', // Monday 30 March 00:00 CEST
      ])
      const weeks = await series(ws, '2026-03-15T23:00:00Z', '2026-04-12T22:00:00Z', 'WEEK', 'Europe/Paris')
      expect(counts(weeks)).toEqual([
        ['2026-03-15T23:00:00.000Z', 1],
        ['2026-03-22T23:00:00.000Z', 2],
        ['2026-03-29T22:00:00.000Z', 1],
        ['2026-04-05T22:00:00.000Z', 0],
      ])
      expect(weeks[3]!.metrics).toEqual({
        events: 0,
        sessions: 0,
        visitors: 0,
        actions: { view: 0, interaction: 0 },
        revenue: 0,
      })
      const weekday = new Intl.DateTimeFormat('en', { weekday: 'short', timeZone: 'Europe/Paris' })
      for (const w of weeks) expect(weekday.format(w.start)).toBe('Mon')
    })

    it('months start on the local 1st, every month present', async () => {
      const ws = await seed([
        '2025-12-31T22:59:59.999Z', // 31 December 23:59:59.999 CET: before `from`
        '2026-01-31T22:59:59.999Z', // 31 January 23:59:59.999 CET
        '2026-03-31T21:59:59.999Z', // 31 March 23:59:59.999 CEST
        '2026-03-31T22:00:00.000Z', // 1 April 00:00 CEST
        '2026-04-30T22:00:00.000Z', // 1 May 00:00 CEST: `to`, excluded
      ])
      const months = await series(ws, '2025-12-31T23:00:00Z', '2026-04-30T22:00:00Z', 'MONTH', 'Europe/Paris')
      expect(counts(months)).toEqual([
        ['2025-12-31T23:00:00.000Z', 1],
        ['2026-01-31T23:00:00.000Z', 0],
        ['2026-02-28T23:00:00.000Z', 1],
        ['2026-03-31T22:00:00.000Z', 1],
      ])
    })

    it('puts every event in the bucket that contains it, in every kind of zone', async () => {
      // Events every 15 minutes, and 1 ms before each, over days with a clock change in some zone:
      // whole-hour, half-hour (Lord Howe's DST is 30 min) and 45-minute offsets, midnight changes.
      const windows = [
        ['2025-03-08', '2025-03-11'], // New York, St John's
        ['2025-03-29', '2025-04-01'], // Europe
        ['2025-04-04', '2025-04-08'], // Santiago, Lord Howe, Chatham
        ['2025-09-06', '2025-09-09'], // Santiago
        ['2025-09-27', '2025-09-30'], // Chatham
        ['2025-10-04', '2025-10-07'], // Lord Howe
        ['2025-10-25', '2025-10-28'], // Europe
        ['2025-11-01', '2025-11-04'], // New York, St John's
      ].map(([a, b]) => [new Date(`${a}T00:00:00Z`), new Date(`${b}T00:00:00Z`)] as const)
      const instants: Date[] = []
      for (const [a, b] of windows) {
        for (let t = a.getTime(); t < b.getTime(); t += 15 * MIN) instants.push(new Date(t), new Date(t + 15 * MIN - 1))
      }
      const ws = await seed(instants.map((d) => d.toISOString()))
      const zones = [
        'UTC',
        'Europe/Paris',
        'America/New_York',
        'America/St_Johns',
        'America/Santiago',
        'Australia/Lord_Howe',
        'Pacific/Chatham',
        'Asia/Kathmandu',
        'Asia/Kolkata',
      ]
      const check = async (from: Date, to: Date, granularity: 'HOUR' | 'DAY' | 'WEEK' | 'MONTH', timezone: string) => {
        const got = await series(ws, from.toISOString(), to.toISOString(), granularity, timezone)
        // Each bucket holds the instants from its start to the next one's (instants are sorted).
        const starts = bucketStarts(from, to, granularity, timezone).map((d) => d.getTime())
        const inRange = instants.map((d) => d.getTime()).filter((t) => t >= from.getTime() && t < to.getTime())
        const expected = starts.map((start, i) => {
          const end = starts[i + 1] ?? Number.POSITIVE_INFINITY
          return [new Date(start).toISOString(), inRange.filter((t) => t >= start && t < end).length]
        })
        expect(counts(got), `${timezone} ${granularity} ${from.toISOString()}`).toEqual(expected)
        expect(got.reduce((sum, p) => sum + p.metrics.events, 0)).toBe(inRange.length)
      }
      for (const timezone of zones) {
        for (const [from, to] of windows) await check(from, to, 'HOUR', timezone)
        for (const granularity of ['DAY', 'WEEK', 'MONTH'] as const) {
          await check(windows[0]![0], windows.at(-1)![1], granularity, timezone)
        }
      }
      // A range ending in Chatham's repeated quarter hour (14:00–14:15Z, 02:45–03:00 +12:45 after
      // 03:00–03:45 +13:45): its last bucket is the one that began at 03:00 +13:45.
      const chatham = await series(ws, '2025-04-05T12:30:00Z', '2025-04-05T14:10:00Z', 'HOUR', 'Pacific/Chatham')
      expect(counts(chatham)).toEqual([
        ['2025-04-05T12:15:00.000Z', 6],
        ['2025-04-05T13:15:00.000Z', 7],
      ])
    })

    it('refuses more than 10,000 buckets, a reversed range and an unknown zone', async () => {
      const ws = uid('ws')
      const at = '2026-01-01T00:00:00Z'
      const q = { app: 'fm' as const, workspaceId: ws, filter: {}, timezone: 'UTC' }
      const tenThousandMinutes = new Date(Date.parse(at) + 10_000 * MIN)
      const ok = await store.analyticsTimeseries({ ...q, from: new Date(at), to: tenThousandMinutes, granularity: 'MINUTE' })
      expect(ok).toHaveLength(10_000)
      expect(ok.every((p) => p.metrics.events === 0)).toBe(true)
      await expect(
        store.analyticsTimeseries({
          ...q,
          from: new Date(at),
          to: new Date(tenThousandMinutes.getTime() + 1),
          granularity: 'MINUTE',
        }),
      ).rejects.toBeInstanceOf(StoreInputError)
      await expect(
        store.analyticsTimeseries({ ...q, from: new Date(at), to: new Date(Date.parse(at) + 8 * DAY), granularity: 'MINUTE' }),
      ).rejects.toThrow(/10000/)
      await expect(
        store.analyticsTimeseries({ ...q, from: new Date('2026-01-02T00:00:00Z'), to: new Date(at), granularity: 'DAY' }),
      ).rejects.toBeInstanceOf(StoreInputError)
      await expect(
        store.analyticsTimeseries({ ...q, from: new Date(at), to: new Date(at), granularity: 'DAY' }),
      ).rejects.toBeInstanceOf(StoreInputError)
      await expect(
        store.analyticsTimeseries({
          ...q,
          from: new Date(at),
          to: new Date('2026-01-02T00:00:00Z'),
          granularity: 'DAY',
          timezone: 'Mars/Olympus_Mons',
        }),
      ).rejects.toBeInstanceOf(StoreInputError)
    })
  })

  describe('ingestAppEvents', () => {
    const wide = { from: new Date('2000-01-01T00:00:00Z'), to: new Date(Date.now() + 2 * DAY), filter: {} }

    it('quarantines each bad row with its index and reason, and stores the good ones', async () => {
      const ws = uid('ws')
      const marker = uid('batch')
      const t = new Date(Date.now() - 10 * MIN)
      const row = (over: Partial<AppEventRow>) => makeAppEvent({ workspaceId: ws, timestamp: t, assetId: marker, ...over })
      const rows = [
        row({ app: 'cart', action: 'purchase', revenue: 12.5 }), // 0 ok
        row({ app: 'cart', action: 'play' }), // 1
        row({ app: 'fm', action: 'play', workspaceId: '' }), // 2
        row({ app: 'fm', action: 'play', sessionId: '  ' }), // 3
        row({ app: 'fm', action: 'play', visitorId: '' }), // 4
        row({ app: 'cart', action: 'purchase', revenue: -1 }), // 5
        row({ app: 'cart', action: 'purchase', revenue: Number.NaN }), // 6
        row({ app: 'link', action: 'click', timestamp: new Date('1990-06-01T00:00:00Z') }), // 7
        row({ app: 'link', action: 'click', timestamp: new Date('2999-01-01T00:00:00Z') }), // 8
        row({ app: 'fm', action: 'share' }), // 9 ok
        row({ app: 'link', action: 'redirect' }), // 10 ok
        row({ app: 'page', action: 'view' }), // 11 ok
        row({ app: 'page', action: 'add_to_cart' }), // 12
        row({ app: 'cart', action: 'view', timestamp: undefined }), // 13 ok, stamped now
      ]
      const result = await store.ingestAppEvents(rows)
      expect(result.accepted).toBe(5)
      expect(result.quarantined).toBe(9)
      expect(result.deduplicated).toBe(false)
      expect(result.errors.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 12])
      const message = Object.fromEntries(result.errors.map((e) => [e.index, e.message]))
      expect(message[1]).toMatch(/unknown action "play" for app cart/)
      expect(message[2]).toBe('workspaceId is empty')
      expect(message[3]).toBe('sessionId is empty')
      expect(message[4]).toBe('visitorId is empty')
      expect(message[5]).toBe('revenue is negative')
      expect(message[6]).toBe('revenue is not a finite number')
      expect(message[7]).toMatch(/1990-06-01T00:00:00.000Z is before 2000-01-01/)
      expect(message[8]).toMatch(/2999-01-01T00:00:00.000Z is more than a day ahead/)
      expect(message[12]).toMatch(/unknown action "add_to_cart" for app page/)

      const quarantined = (await store.quarantine('app_events', 1000)).filter((q) => q.row.includes(marker))
      expect(quarantined).toHaveLength(9)
      for (const q of quarantined) {
        expect(q.table).toBe('app_events')
        const index = Number(/^row (\d+): /.exec(q.reason)?.[1])
        expect(q.reason).toBe(`row ${index}: ${message[index]}`)
        expect(JSON.parse(q.row)).toMatchObject({ assetId: marker, app: rows[index]!.app, action: rows[index]!.action })
        expect(Math.abs(q.at.getTime() - Date.now())).toBeLessThan(10 * MIN)
      }

      // Only the good rows count, each in its own app.
      const totals = async (app: App) => store.analyticsTotals({ ...wide, app, workspaceId: ws })
      expect(await totals('cart')).toEqual({
        events: 2,
        sessions: 2,
        visitors: 2,
        actions: { view: 1, add_to_cart: 0, purchase: 1 },
        revenue: 12.5,
      })
      expect((await totals('fm')).actions).toEqual({ play: 0, pause: 0, share: 1 })
      expect((await totals('fm')).events).toBe(1)
      expect((await totals('link')).actions).toEqual({ click: 0, redirect: 1 })
      expect((await totals('link')).events).toBe(1)
      expect((await totals('page')).actions).toEqual({ view: 1, interaction: 0 })
      expect((await totals('page')).events).toBe(1)
      const recent = await store.analyticsTotals({
        app: 'cart',
        workspaceId: ws,
        from: new Date(Date.now() - MIN),
        to: new Date(Date.now() + MIN),
        filter: {},
      })
      expect(recent.actions).toEqual({ view: 1, add_to_cart: 0, purchase: 0 })
    })

    it('lands each good row only in its own app, even when actions share a name', async () => {
      const ws = uid('ws')
      const t = new Date(Date.now() - 5 * MIN)
      const result = await store.ingestAppEvents([
        makeAppEvent({ workspaceId: ws, app: 'cart', action: 'view', timestamp: t, browser: 'cart-browser' }),
        makeAppEvent({ workspaceId: ws, app: 'cart', action: 'view', timestamp: t, browser: 'cart-browser' }),
        makeAppEvent({ workspaceId: ws, app: 'page', action: 'view', timestamp: t, browser: 'page-browser' }),
      ])
      expect(result.accepted).toBe(3)
      expect((await store.analyticsTotals({ ...wide, app: 'cart', workspaceId: ws })).events).toBe(2)
      expect((await store.analyticsTotals({ ...wide, app: 'page', workspaceId: ws })).events).toBe(1)
      expect((await store.analyticsTotals({ ...wide, app: 'fm', workspaceId: ws })).events).toBe(0)
      expect((await store.analyticsTotals({ ...wide, app: 'link', workspaceId: ws })).events).toBe(0)
      const browsers = async (app: App) =>
        (await store.analyticsBreakdown({ ...wide, app, workspaceId: ws, by: 'browser', limit: 10 })).map((r) => r.value)
      expect(await browsers('cart')).toEqual(['cart-browser'])
      expect(await browsers('page')).toEqual(['page-browser'])
    })

    it('a workspace-bound ingest quarantines rows of any other workspace', async () => {
      const [mine, theirs] = [uid('ws'), uid('ws')]
      const result = await store.ingestAppEvents(
        [
          makeAppEvent({ workspaceId: mine, app: 'fm', action: 'play' }),
          makeAppEvent({ workspaceId: theirs, app: 'fm', action: 'play' }),
          makeAppEvent({ workspaceId: mine, app: 'fm', action: 'pause' }),
        ],
        { workspaceId: mine },
      )
      expect(result.accepted).toBe(2)
      expect(result.errors).toEqual([{ index: 1, message: `workspace "${theirs}" is not the token's workspace` }])
      expect((await store.analyticsTotals({ ...wide, app: 'fm', workspaceId: mine })).events).toBe(2)
      expect((await store.analyticsTotals({ ...wide, app: 'fm', workspaceId: theirs })).events).toBe(0)
      const quarantined = (await store.quarantine('app_events', 1000)).filter((q) => q.row.includes(theirs))
      expect(quarantined.map((q) => q.reason)).toEqual([`row 1: workspace "${theirs}" is not the token's workspace`])
    })
  })
  describe('the hourly pre-aggregation answers exactly as the per-app tables', () => {
    // The oracle: the same store's per-app tables alone, through the SQL the pre-aggregation replaced.
    let raw: AnalyticsRepository
    let store: ClickHouseStore
    const config = testStoreConfig()
    const seed = Number(process.env.SIGHTLINE_TEST_SEED ?? randomInt(2 ** 31))
    const rand = prng(seed)
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
    const workspaces = [uid('ws'), uid('ws')]
    // A whole UTC hour three days back; the data spans 30 hours after it, some of them empty.
    const base = Math.floor((Date.now() - 3 * DAY) / HOUR) * HOUR
    const EMPTY_HOURS = new Set([4, 5, 11, 20])
    const sessions = Array.from({ length: 14 }, () => uid('s'))
    const visitors = Array.from({ length: 9 }, () => uid('v'))
    const pool = (field: DimensionField): ReadonlyArray<string | undefined> =>
      field === 'referer' ? Object.keys(REFERERS) : ['', undefined, `${field}_a`, `${field}_b`, `${field}_c`]

    const make = (t: number, workspaceId = pick(workspaces)): AppEventRow => {
      const app = pick(APPS)
      return {
        ...Object.fromEntries(DIMENSION_FIELDS.map((f) => [f, pick(pool(f))])),
        timestamp: new Date(t),
        app,
        action: pick(APP_ACTIONS[app]),
        workspaceId,
        // Some sessions and visitors recur across hours, so a distinct count spans whole hours and edges;
        // the others belong to one hour, so distinct counts grow with the range.
        sessionId: rand() < 0.5 ? pick(sessions) : `s_${workspaceId}_${Math.floor((t - base) / HOUR)}_${Math.floor(rand() * 5)}`,
        visitorId: rand() < 0.5 ? pick(visitors) : `v_${workspaceId}_${Math.floor((t - base) / HOUR)}_${Math.floor(rand() * 3)}`,
        assetId: pick(['', 'asset_1', 'asset_2']),
        revenue: Math.floor(rand() * 10_000) / 100,
      } as AppEventRow
    }
    const times = (): number[] => {
      const out: number[] = []
      for (let h = 0; h < 30; h++) {
        if (EMPTY_HOURS.has(h)) continue
        const start = base + h * HOUR
        // Bucket edges: the first and last millisecond of the hour, its middle, and random instants.
        out.push(start, start + 1, start + HOUR - 1, start + 30 * MIN)
        for (let i = 0; i < 6; i++) out.push(start + Math.floor(rand() * HOUR))
      }
      return out
    }

    /** Ragged on both ends, aligned on both, aligned start only, inside one hour, one whole hour. */
    const ranges: Array<[string, number, number]> = [
      ['ragged', base + 17 * MIN + 123, base + 27 * HOUR + 59 * MIN + 1],
      ['aligned', base + 2 * HOUR, base + 24 * HOUR],
      ['aligned start', base + HOUR, base + 13 * HOUR + 1],
      ['inside an hour', base + 3 * HOUR + 1, base + 4 * HOUR - 1],
      ['one hour', base + 7 * HOUR, base + 8 * HOUR],
      ['empty hours only', base + 4 * HOUR, base + 6 * HOUR],
    ]

    afterAll(() => store.close())
    beforeAll(async () => {
      store = ClickHouseStore.open(config)
      await store.migrate()
      raw = new AnalyticsRepository(new StoreQueries(store.executor, { database: config.database }), false)
      for (const ws of workspaces) {
        const rows = times().flatMap((t) => [make(t, ws), make(t)])
        // Half unkeyed, half as a keyed batch (whose view rows come with a batch marker).
        const half = Math.floor(rows.length / 2)
        expect((await store.ingestAppEvents(rows.slice(0, half))).errors).toEqual([])
        expect((await store.ingestAppEvents(rows.slice(half), { idempotencyKey: uid('key') })).errors).toEqual([])
      }
    })

    const sameMetrics = (m: AppMetricsRow) => norm(m)
    /**
     * Every app and range; every filter and dimension on the ragged range of the first workspace, a
     * sample elsewhere (each query is two round trips, and the machine is shared).
     */
    async function compareAll(label: string, apps: readonly App[] = APPS): Promise<number> {
      let compared = 0
      for (const ws of workspaces) {
        for (const app of apps) {
          for (const [name, from, to] of ranges) {
            const full = name === 'ragged' && ws === workspaces[0]
            const q: AnalyticsQuery = { app, workspaceId: ws, from: new Date(from), to: new Date(to), filter: {} }
            const where = `${label}: ${app} ${name} (seed ${seed})`
            const withFilter = (filter: AnalyticsFilter) => ({ ...q, filter })
            const filters: AnalyticsFilter[] = [
              {},
              { actions: [APP_ACTIONS[app][0]!] },
              { assetId: 'asset_1' },
              { sessionReferer: 'instagram.com' },
              { browser: '' }, // an empty value: the per-app table alone
              { os: 'os_a', country: 'country_b' }, // two filters: the per-app table alone
              ...DIMENSION_FIELDS.map((f) => ({ [f]: f === 'referer' ? 't.co' : `${f}_a` })),
            ]
            for (const filter of full ? filters : filters.slice(0, 6)) {
              const fq = withFilter(filter)
              expect(sameMetrics(await store.analyticsTotals(fq)), `${where} totals ${JSON.stringify(filter)}`).toEqual(
                sameMetrics(await raw.totals(fq)),
              )
              compared++
            }
            for (const by of full ? DIMENSION_FIELDS : (['referer', 'metaAdId'] as const)) {
              for (const filter of [{}, { [by]: by === 'referer' ? 'instagram.com' : `${by}_b` }, { actions: [APP_ACTIONS[app][1]!] }]) {
                const bq = { ...withFilter(filter), by, limit: 1000 }
                const rows = (r: Array<{ value: string; metrics: AppMetricsRow }>) => r.map((x) => ({ value: x.value, metrics: sameMetrics(x.metrics) }))
                expect(rows(await store.analyticsBreakdown(bq)), `${where} by ${by} ${JSON.stringify(filter)}`).toEqual(rows(await raw.breakdown(bq)))
                expect(await store.analyticsBreakdownCount(bq), `${where} count by ${by}`).toBe(await raw.breakdownCount(bq))
                compared += 2
              }
            }
            for (const [granularity, timezone] of [
              ['HOUR', 'UTC'],
              ['DAY', 'UTC'],
              ['WEEK', 'UTC'],
              ['MONTH', 'UTC'],
              ['DAY', 'Europe/Paris'],
              ['HOUR', 'Asia/Kolkata'], // buckets at :30 UTC: the per-app table alone
              ['MINUTE', 'UTC'],
            ] as const) {
              for (const filter of full ? [{}, { country: 'country_a' }] : [{}]) {
                const tq = { ...withFilter(filter), granularity, timezone }
                expect(normSeries(await store.analyticsTimeseries(tq)), `${where} ${granularity} ${timezone}`).toEqual(
                  normSeries(await raw.timeseries(tq)),
                )
                compared++
              }
            }
          }
        }
      }
      return compared
    }

    it('reads whole hours from the pre-aggregation where it can, and the per-app table where it cannot', () => {
      const q = (from: number, to: number, filter: AnalyticsFilter = {}): AnalyticsQuery => ({ app: 'cart', workspaceId: 'w', from: new Date(from), to: new Date(to), filter })
      const plan = hourlyPlan(q(base + 1, base + 3 * HOUR - 1), {})
      expect(plan && [plan.wholeFrom.getTime(), plan.wholeTo.getTime()]).toEqual([base + HOUR, base + 2 * HOUR])
      expect(hourlyPlan(q(base, base + HOUR), {})).toBeDefined()
      expect(hourlyPlan(q(base + 1, base + HOUR + 1), {})).toBeUndefined()
      expect(hourlyPlan(q(base, base + HOUR, { country: 'x' }), {}, 'country')).toBeDefined()
      expect(hourlyPlan(q(base, base + HOUR, { country: 'x' }), {}, 'os')).toBeUndefined()
      expect(hourlyPlan(q(base, base + HOUR, { country: '' }), {})).toBeUndefined()
      expect(hourlyPlan(q(base, base + HOUR, { country: 'x', os: 'y' }), {})).toBeUndefined()
      expect(hourlyPlan(q(base, base + HOUR, { platforms: ['web'] }), {})).toBeUndefined()
    })

    it('holds rows for every dimension and the asset', async () => {
      const rows = await store.executor.select<{ dimension: string }>(
        `SELECT DISTINCT dimension FROM ${config.database}.app_events_hourly WHERE workspace_id = {ws:String} ORDER BY dimension`,
        { ws: workspaces[0]! },
      )
      expect(rows.map((r) => r.dimension)).toEqual(['', 'assetId', ...DIMENSION_FIELDS].sort())
    })

    it('totals, breakdowns, counts and timeseries match for every app, range, filter and granularity', async () => {
      expect(await compareAll('first')).toBeGreaterThan(500)
    }, 600_000)

    it('still matches after late events land in old hours, some exactly on an edge of a range', async () => {
      const late = [base + 2 * HOUR, base + 17 * MIN + 123, base + 9 * HOUR + 1, base + 24 * HOUR - 1, base + 5 * HOUR + 7].flatMap((t) => [make(t), make(t)])
      expect((await store.ingestAppEvents(late)).errors).toEqual([])
      await store.executor.command(`OPTIMIZE TABLE ${config.database}.app_events_hourly FINAL`)
      expect(await compareAll('late', ['cart', 'page'])).toBeGreaterThan(200)
    }, 600_000)
  })
})
