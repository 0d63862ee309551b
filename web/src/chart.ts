import { format } from './dom.js'

export interface Series {
  readonly name: string
  readonly color: string
  readonly values: readonly number[]
}

export interface LineChartOptions {
  /** Bucket start instants, one per value. */
  readonly times: readonly string[]
  readonly series: readonly Series[]
  /** How to label a bucket on the x axis. */
  readonly label: (iso: string) => string
  readonly width?: number
  readonly height?: number
  readonly valueFormat?: (n: number) => string
}

const SVG = 'http://www.w3.org/2000/svg'

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  if (text !== undefined) el.textContent = text
  return el
}

/** A rounded-up axis maximum: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (max <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p
  return 10 * p
}

/** A hand-rolled SVG line chart: a line per series, three y gridlines, a few x labels, a title per point. */
export function lineChart(opts: LineChartOptions): SVGSVGElement {
  const width = opts.width ?? 720
  const height = opts.height ?? 220
  const pad = { top: 12, right: 16, bottom: 28, left: 52 }
  const fmt = opts.valueFormat ?? format.int
  const n = opts.times.length
  const max = niceMax(Math.max(0, ...opts.series.flatMap((s) => s.values)))
  const x = (i: number) => pad.left + (n <= 1 ? 0 : (i / (n - 1)) * (width - pad.left - pad.right))
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom)

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img' })
  root.appendChild(svg('title', {}, `${opts.series.map((s) => s.name).join(', ')} over ${n} buckets`))

  for (const frac of [0, 0.5, 1]) {
    const v = max * frac
    root.appendChild(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid-line' }))
    root.appendChild(svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(v)))
  }
  const ticks = n <= 1 ? [0] : [0, Math.floor((n - 1) / 2), n - 1]
  for (const i of new Set(ticks)) {
    const t = opts.times[i]
    if (t === undefined) continue
    const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle'
    root.appendChild(svg('text', { x: x(i), y: height - 8, 'text-anchor': anchor, class: 'axis' }, opts.label(t)))
  }

  for (const s of opts.series) {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    root.appendChild(svg('polyline', { points, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'series' }))
    if (n <= 60) {
      s.values.forEach((v, i) => {
        const dot = svg('circle', { cx: x(i), cy: y(v), r: 2.5, fill: s.color })
        dot.appendChild(svg('title', {}, `${opts.label(opts.times[i] ?? '')} · ${s.name}: ${fmt(v)}`))
        root.appendChild(dot)
      })
    }
  }
  return root
}
