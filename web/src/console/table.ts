import { h } from '../dom.js'

/** One cell's text: JSON for objects and arrays, "null" greyed by the caller. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

const NUMERIC = /^(U?Int\d+|Float\d+|Decimal.*|Nullable\((U?Int\d+|Float\d+|Decimal.*)\))$/

/**
 * A data table: one header per column (its ClickHouse type under the name when given), one row per
 * record. Numbers align right; nulls are marked. `label` names the table for assistive technology.
 */
export function dataTable(
  label: string,
  columns: ReadonlyArray<{ name: string; type?: string }>,
  rows: ReadonlyArray<Record<string, unknown>>,
  testid?: string,
): HTMLElement {
  const numeric = columns.map((c) => (c.type ? NUMERIC.test(c.type) : false))
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': label },
    h(
      'table',
      { class: 'data', 'data-testid': testid },
      h('caption', { class: 'sr-only' }, label),
      h(
        'thead',
        {},
        h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c.name, c.type ? h('span', { class: 'type' }, c.type) : null))),
      ),
      h(
        'tbody',
        {},
        ...rows.map((row) =>
          h(
            'tr',
            {},
            ...columns.map((c, i) => {
              const v = row[c.name]
              return h('td', { class: [numeric[i] ? 'num' : '', v === null || v === undefined ? 'null' : ''].join(' ').trim() || null }, cellText(v))
            }),
          ),
        ),
      ),
    ),
  )
}
