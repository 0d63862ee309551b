import { ApiError, request, type Document } from '../api.js'
import { lineChart, type Series } from '../chart.js'
import { fill, format, h } from '../dom.js'
import { ConsoleStatFragmentDoc, type ConsoleErrorsQuery, type ConsoleStatFragment } from '../generated/graphql.js'
import { Notice } from '../notice.js'
import { bucketCounts, buckets, statsQuery, type Buckets } from './logic.js'
import { consoleToken, SLOT, type Section } from './route.js'

type Stat = ConsoleStatFragment
type ErrorRow = ConsoleErrorsQuery['errorLog'][number]

/**
 * A range: its span and how many buckets the charts draw. Each bucket is an `operationStats` alias, one
 * store query each (the API has no per-bucket stats), so they are few: 5 minutes, 2 hours, 12 hours.
 */
const RANGES: Record<string, { label: string; ms: number; buckets: number }> = {
  '1h': { label: 'last hour', ms: 3600e3, buckets: 12 },
  '24h': { label: 'last 24 hours', ms: 24 * 3600e3, buckets: 12 },
  '7d': { label: 'last 7 days', ms: 7 * 24 * 3600e3, buckets: 14 },
}
/** Errors read to draw the error chart (the newest first; older ones in a busy range are left out). */
const ERROR_LIMIT = 1000
const CODE_COLORS = ['#c62828', '#f3a712', '#6a4c93', '#1982c4', '#8ac926', '#5f6b7a']

/** The stats query for `n` buckets, typed by its answer. */
function statsDocument(n: number): Document<StatsAnswer, Record<string, string>> {
  const text = statsQuery(n, ERROR_LIMIT, ConsoleStatFragmentDoc.toString())
  return { toString: () => text } as Document<StatsAnswer, Record<string, string>>
}

export type StatsAnswer = { total: Stat[]; errors: ErrorRow[] } & Record<`b${number}`, Stat[]>

/**
 * Operation stats and errors over time (admin): calls and errors per bucket, latency, errors per code
 * from the error log, a table per operation over the range, and the newest errors. One operation can
 * be picked to see its own lines.
 */
export class StatsSection implements Section {
  readonly el: HTMLElement
  private readonly notice: Notice
  private readonly range = h('select', { id: 'stats-range', 'data-testid': 'stats-range' }, ...Object.entries(RANGES).map(([k, r]) => h('option', { value: k, selected: k === '24h' }, r.label)))
  private readonly operation = h('select', { id: 'stats-operation', 'data-testid': 'stats-operation' }, h('option', { value: '' }, 'All operations'))
  private readonly charts = h('div', { class: 'stats-charts', 'data-testid': 'stats-charts' })
  private readonly table = h('div', { 'data-testid': 'stats-table' })
  private readonly errorList = h('div', { 'data-testid': 'error-list' })
  private data: { answer: StatsAnswer; b: Buckets } | undefined
  private seq = 0

  constructor(onToken: () => void) {
    const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'stats-notice' })
    this.notice = new Notice(notice, SLOT, 'Stats and the error log are read with an admin token.', onToken, 'Console')
    this.range.addEventListener('change', () => void this.load())
    this.operation.addEventListener('change', () => this.render())
    const form = h(
      'form',
      { class: 'controls' },
      h('label', { for: 'stats-range' }, 'Range '),
      this.range,
      h('label', { for: 'stats-operation' }, 'Operation '),
      this.operation,
      h('button', { type: 'submit', 'data-testid': 'stats-refresh' }, 'Refresh'),
    )
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.load()
    })
    this.el = h(
      'section',
      { class: 'console-section', 'aria-labelledby': 'stats-title', 'data-testid': 'console-stats' },
      h('div', { class: 'section-head' }, h('h3', { id: 'stats-title', tabindex: -1 }, 'Stats & errors')),
      form,
      notice,
      this.charts,
      h('h4', {}, 'Operations in the range'),
      this.table,
      h('h4', {}, 'Newest errors'),
      this.errorList,
    )
  }

  reset(): void {
    this.data = undefined
    fill(this.charts)
    fill(this.table)
    fill(this.errorList)
  }

  /** Stats are live data: read again each time the tab is shown. */
  async show(): Promise<void> {
    await this.load()
  }

  private async load(): Promise<void> {
    const seq = ++this.seq
    const range = RANGES[this.range.value] ?? RANGES['24h']!
    const b = buckets(Date.now(), range.ms, range.buckets)
    const variables: Record<string, string> = { from: b.from.toISOString(), to: b.to.toISOString() }
    b.starts.forEach((s, i) => {
      variables[`f${i}`] = s.toISOString()
      variables[`t${i}`] = new Date(s.getTime() + b.width).toISOString()
    })
    this.el.setAttribute('aria-busy', 'true')
    try {
      const answer = await request(statsDocument(b.starts.length), variables, consoleToken())
      if (seq !== this.seq) return
      this.notice.clear()
      this.data = { answer, b }
      const picked = this.operation.value
      const ops = [...answer.total].sort((x, y) => y.calls - x.calls).map((s) => s.operation)
      fill(this.operation, h('option', { value: '' }, 'All operations'), ...ops.map((o) => h('option', { value: o }, o)))
      this.operation.value = ops.includes(picked) ? picked : ''
      this.render()
    } catch (err) {
      if (seq !== this.seq) return
      this.notice.error(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL_SERVER_ERROR'))
      this.reset()
    } finally {
      if (seq === this.seq) this.el.removeAttribute('aria-busy')
    }
  }

  private render(): void {
    if (!this.data) return
    const { answer, b } = this.data
    const op = this.operation.value
    const pick = (stats: readonly Stat[]) => (op ? stats.filter((s) => s.operation === op) : stats)
    const per = b.starts.map((_, i) => pick(answer[`b${i}`] ?? []))
    const sum = (stats: readonly Stat[], key: 'calls' | 'errors') => stats.reduce((n, s) => n + s[key], 0)
    const calls = per.map((s) => sum(s, 'calls'))
    const errors = per.map((s) => sum(s, 'errors'))
    // Several operations: the slowest one's p95, and p50 averaged by calls (a summary, not a percentile of all calls).
    const p95 = per.map((s) => Math.max(0, ...s.map((x) => x.p95Ms)))
    const p50 = per.map((s) => {
      const n = sum(s, 'calls')
      return n === 0 ? 0 : s.reduce((t, x) => t + x.p50Ms * x.calls, 0) / n
    })
    const times = b.starts.map((d) => d.toISOString())
    const label =
      b.width >= 3600e3
        ? (iso: string) => new Date(iso).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
        : (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })

    const errs = answer.errors.filter((e) => (!op || e.operation === op) && new Date(e.at) >= b.from && new Date(e.at) < b.to)
    const codes = [...countBy(errs.map((e) => e.code)).entries()].sort((x, y) => y[1] - x[1]).map(([c]) => c)
    const top = codes.slice(0, CODE_COLORS.length - 1)
    const codeSeries: Series[] = top.map((code, i) => ({ name: code, color: CODE_COLORS[i]!, values: bucketCounts(errs.filter((e) => e.code === code), b) }))
    if (codes.length > top.length) codeSeries.push({ name: 'other', color: CODE_COLORS.at(-1)!, values: bucketCounts(errs.filter((e) => !top.includes(e.code)), b) })

    const scope = op ? op : 'all operations'
    fill(
      this.charts,
      chartBlock(`Calls and errors, ${scope}`, 'stats-calls-chart', { times, label, series: [{ name: 'calls', color: '#4e79a7', values: calls }, { name: 'errors', color: '#c62828', values: errors }] }, `${format.int(sum(pick(answer.total), 'calls'))} calls, ${format.int(sum(pick(answer.total), 'errors'))} with errors`),
      chartBlock(
        `Latency (ms), ${scope}`,
        'stats-latency-chart',
        { times, label, valueFormat: (n) => n.toFixed(n < 10 ? 1 : 0), series: [{ name: op ? 'p50' : 'p50 (mean by calls)', color: '#59a14f', values: p50 }, { name: op ? 'p95' : 'p95 (slowest operation)', color: '#e4572e', values: p95 }] },
      ),
      chartBlock(
        `Errors by code, ${scope}`,
        'stats-errors-chart',
        { times, label, series: codeSeries.length ? codeSeries : [{ name: 'errors', color: CODE_COLORS[0]!, values: b.starts.map(() => 0) }] },
        `${format.int(errs.length)} errors in the log${answer.errors.length >= ERROR_LIMIT ? ` (the newest ${format.int(ERROR_LIMIT)} read)` : ''}`,
      ),
    )

    const totals = [...answer.total].sort((x, y) => y.calls - x.calls)
    fill(
      this.table,
      totals.length === 0
        ? h('p', { class: 'muted' }, 'No operations in this range.')
        : h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': 'Operations in the range', tabindex: 0 },
            h(
              'table',
              { class: 'data' },
              h('caption', { class: 'sr-only' }, 'Calls, errors, latency and rows read per operation'),
              h('thead', {}, h('tr', {}, ...['Operation', 'Calls', 'Errors', 'Error rate', 'p50 ms', 'p95 ms', 'Rows read'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                ...totals.map((s) =>
                  h(
                    'tr',
                    { 'data-operation': s.operation, class: s.operation === op ? 'selected' : null },
                    h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: () => this.pickOperation(s.operation) }, s.operation)),
                    h('td', { class: 'num' }, format.int(s.calls)),
                    h('td', { class: 'num' }, format.int(s.errors)),
                    h('td', { class: 'num' }, s.calls ? `${((s.errors / s.calls) * 100).toFixed(1)}%` : '—'),
                    h('td', { class: 'num' }, s.p50Ms.toFixed(1)),
                    h('td', { class: 'num' }, s.p95Ms.toFixed(1)),
                    h('td', { class: 'num' }, format.int(s.rowsRead)),
                  ),
                ),
              ),
            ),
          ),
    )
    const newest = errs.slice(0, 20)
    fill(
      this.errorList,
      newest.length === 0
        ? h('p', { class: 'muted' }, 'No errors in this range.')
        : h(
            'ol',
            { class: 'errors' },
            ...newest.map((e) =>
              h(
                'li',
                { 'data-code': e.code },
                h('time', { datetime: e.at }, new Date(e.at).toLocaleString()),
                ' ',
                h('code', { class: 'chip' }, e.code),
                ' ',
                h('strong', {}, e.operation ?? '(no operation)'),
                ': ',
                e.message,
                ' ',
                h('span', { class: 'muted small', title: 'x-request-id' }, e.requestId),
              ),
            ),
          ),
    )
  }

  private pickOperation(op: string): void {
    this.operation.value = op
    this.render()
    this.operation.focus()
  }
}

function chartBlock(title: string, testid: string, opts: Parameters<typeof lineChart>[0], summary?: string): HTMLElement {
  return h(
    'figure',
    { class: 'chart-block', 'data-testid': testid },
    h('figcaption', {}, h('strong', {}, title), summary ? h('span', { class: 'muted small' }, ` · ${summary}`) : null),
    lineChart({ width: 560, height: 200, ...opts }),
    // The key: a colour swatch beside text in the ink colour (series colours are too light for text).
    h('p', { class: 'legend' }, ...opts.series.flatMap((s, i) => [i ? ' ' : '', h('span', { class: 'key' }, h('span', { class: 'swatch', style: `background:${s.color}` }), s.name)])),
  )
}

function countBy(values: readonly string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return m
}
