import { request, tokens } from './api.js'
import { lineChart } from './chart.js'
import { byId, fill, format, h } from './dom.js'
import { DashboardDocument, type App, type DashboardQuery, type Granularity } from './generated/graphql.js'
import { timezone } from './grid.js'
import { Notice } from './notice.js'

type Analytics = DashboardQuery['analytics']
type Slice = Analytics['countries'][number]

const RANGES: Record<string, { hours: number; granularity: Granularity }> = {
  '24h': { hours: 24, granularity: 'HOUR' },
  '7d': { hours: 7 * 24, granularity: 'DAY' },
  '30d': { hours: 30 * 24, granularity: 'DAY' },
}

/** Labels of the totals, per app, in order: the common counts first. */
const TOTALS: Array<[key: string, label: string]> = [
  ['events', 'Events'],
  ['sessions', 'Sessions'],
  ['visitors', 'Visitors'],
  ['views', 'Views'],
  ['addToCarts', 'Add to carts'],
  ['purchases', 'Purchases'],
  ['revenue', 'Revenue'],
  ['plays', 'Plays'],
  ['pauses', 'Pauses'],
  ['shares', 'Shares'],
  ['clicks', 'Clicks'],
  ['redirects', 'Redirects'],
  ['interactions', 'Interactions'],
]

/** An app's analytics for a workspace: totals, four breakdowns and a timeseries, in one request. */
export class DashboardPanel {
  private readonly app = byId<HTMLSelectElement>('app')
  private readonly workspace = byId<HTMLInputElement>('workspace')
  private readonly range = byId<HTMLSelectElement>('range')
  private readonly totals = byId('totals')
  private readonly breakdowns = byId('breakdowns')
  private readonly series = byId('series')
  private readonly notice: Notice
  private seq = 0

  constructor() {
    this.notice = new Notice(
      byId('dashboard-notice'),
      'dashboard',
      'The demo prints app_analytics_token (read:analytics); a token with read also works.',
      () => void this.reload(),
    )
    this.app.addEventListener('change', () => void this.reload())
    this.range.addEventListener('change', () => void this.reload())
    this.workspace.addEventListener('change', () => void this.reload())
    byId('dashboard-form').addEventListener('submit', (event) => {
      event.preventDefault()
      void this.reload()
    })
  }

  async reload(): Promise<void> {
    const seq = ++this.seq
    const range = RANGES[this.range.value] ?? RANGES['7d']!
    const to = new Date()
    const from = new Date(to.getTime() - range.hours * 3600e3)
    const workspaceId = this.workspace.value.trim() || 'ws_acme'
    byId('dashboard').setAttribute('aria-busy', 'true')
    try {
      const { analytics } = await request(
        DashboardDocument,
        { app: (this.app.value || 'CART') as App, workspaceId, from: from.toISOString(), to: to.toISOString(), granularity: range.granularity, timezone: timezone() },
        tokens.for('dashboard'),
      )
      if (seq !== this.seq) return
      this.notice.clear()
      this.render(analytics, range.granularity)
    } catch (err) {
      if (seq !== this.seq) return
      this.notice.error(err)
      fill(this.totals)
      fill(this.breakdowns)
      fill(this.series)
    } finally {
      if (seq === this.seq) byId('dashboard').removeAttribute('aria-busy')
    }
  }

  private render(a: Analytics, granularity: Granularity): void {
    const totals = a.totals as unknown as Record<string, number | string>
    fill(
      this.totals,
      ...TOTALS.filter(([key]) => typeof totals[key] === 'number').map(([key, label]) => {
        const v = totals[key] as number
        return h('div', { class: 'kpi', 'data-testid': `total-${key}` }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, key === 'revenue' ? format.money(v) : format.int(v)))
      }),
    )
    fill(
      this.breakdowns,
      breakdown('Countries', a.countries),
      breakdown('Browsers', a.browsers),
      breakdown('Devices', a.devices),
      breakdown('Referers', a.referers),
    )
    const label =
      granularity === 'HOUR'
        ? (iso: string) => new Date(iso).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
        : (iso: string) => new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
    fill(
      this.series,
      h('h3', {}, `${granularity === 'HOUR' ? 'Hourly' : 'Daily'} activity, ${a.workspaceId}`),
      lineChart({
        times: a.series.map((b) => b.start),
        series: [
          { name: 'events', color: '#4e79a7', values: a.series.map((b) => b.metrics.events) },
          { name: 'sessions', color: '#e4572e', values: a.series.map((b) => b.metrics.sessions) },
          { name: 'visitors', color: '#59a14f', values: a.series.map((b) => b.metrics.visitors) },
        ],
        label,
        width: 1100,
        height: 260,
      }),
      h(
        'p',
        { class: 'legend' },
        h('span', { style: 'color:#4e79a7' }, '■ events'),
        ' ',
        h('span', { style: 'color:#e4572e' }, '■ sessions'),
        ' ',
        h('span', { style: 'color:#59a14f' }, '■ visitors'),
      ),
    )
  }
}

function breakdown(title: string, rows: readonly Slice[]): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.metrics.sessions))
  return h(
    'section',
    { class: 'breakdown', 'data-testid': `breakdown-${title.toLowerCase()}` },
    h('h3', {}, title),
    rows.length === 0
      ? h('p', { class: 'muted' }, 'No data in this range')
      : h(
          'ol',
          {},
          ...rows.map((r) =>
            h(
              'li',
              { style: `--share: ${((r.metrics.sessions / max) * 100).toFixed(1)}%` },
              h('span', { class: 'value' }, r.value),
              h('span', { class: 'count' }, format.int(r.metrics.sessions)),
            ),
          ),
        ),
  )
}
