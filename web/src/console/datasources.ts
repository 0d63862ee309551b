import { ApiError, request } from '../api.js'
import { fill, format, h } from '../dom.js'
import { ConsoleQuarantineDocument } from '../generated/graphql.js'
import { Notice } from '../notice.js'
import { consoleToken, currentArg, routeTo, SLOT, type Section } from './route.js'
import { ident, rest, sql } from './rest.js'
import { cellText, dataTable } from './table.js'

/** A datasource as `GET /v0/datasources` lists it (Tinybird's shape; only `name` is relied upon). */
export interface DatasourceInfo {
  readonly name: string
  readonly description?: string | null
  readonly type?: string | null
  readonly columns?: ReadonlyArray<{ name: string; type: string; nullable?: boolean; jsonpath?: string | null; default_value?: string | null }>
  readonly engine?: Record<string, unknown> | null
  readonly stats?: { row_count?: number | null; bytes?: number | null } | null
  readonly quarantine?: string | null
}

const QUARANTINE_ROWS = 50
/** Columns of a quarantine table that say why, shown first (ours: reason; Tinybird's: c__error, c__error_column). */
const REASON_COLUMNS = ['reason', 'c__error', 'c__error_column']

const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`

/**
 * The datasources: a list with rows, size and quarantined rows, and for the chosen one its schema and
 * its newest quarantined rows with their reasons. Row counts come with the list (`stats.row_count`);
 * when the list has none, and for quarantine counts, `/v0/sql` counts them (admins and `sql` tokens).
 */
export class DatasourcesSection implements Section {
  readonly el: HTMLElement
  private readonly notice: Notice
  private readonly list = h('div', { 'data-testid': 'datasource-list' })
  private readonly detail = h('div', { class: 'detail', 'data-testid': 'datasource-detail', 'aria-live': 'polite' })
  private datasources: DatasourceInfo[] | undefined
  private rowCounts = new Map<string, number>()
  private quarantineCounts = new Map<string, number>()
  private countsNote = ''
  private seq = 0

  constructor(onToken: () => void) {
    const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'datasources-notice' })
    this.notice = new Notice(notice, SLOT, 'Any valid token lists the datasources; quarantined rows need admin.', onToken, 'Console')
    const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => this.refresh() }, 'Refresh')
    this.el = h(
      'section',
      { class: 'console-section', 'aria-labelledby': 'ds-title', 'data-testid': 'console-datasources' },
      h('div', { class: 'section-head' }, h('h3', { id: 'ds-title', tabindex: -1 }, 'Datasources'), refresh),
      notice,
      h('div', { class: 'master-detail' }, this.list, this.detail),
    )
  }

  reset(): void {
    this.datasources = undefined
    this.rowCounts.clear()
    this.quarantineCounts.clear()
    fill(this.list)
    fill(this.detail)
  }

  private refresh(): void {
    this.reset()
    void this.show(currentArg())
  }

  async show(name: string | undefined): Promise<void> {
    const seq = ++this.seq
    if (!this.datasources) {
      this.el.setAttribute('aria-busy', 'true')
      try {
        const { datasources } = await rest<{ datasources: DatasourceInfo[] }>('/v0/datasources', consoleToken())
        if (seq !== this.seq) return
        this.datasources = datasources
        this.notice.clear()
        await this.count(datasources)
        if (seq !== this.seq) return
      } catch (err) {
        if (seq !== this.seq) return
        this.notice.error(err)
        fill(this.list)
        fill(this.detail)
        return
      } finally {
        if (seq === this.seq) this.el.removeAttribute('aria-busy')
      }
    }
    this.renderList(name)
    const chosen = this.datasources.find((d) => d.name === name) ?? (name === undefined ? this.datasources[0] : undefined)
    if (!chosen) {
      fill(this.detail, h('p', { class: 'muted' }, name === undefined ? 'No datasources.' : `No datasource named ${name}.`))
      return
    }
    await this.renderDetail(chosen, seq)
  }

  /**
   * Row counts the list lacks and quarantine counts, each in one `/v0/sql` call (UNION ALL). A token
   * without `sql` still sees the list; the counts say why they are missing.
   */
  private async count(datasources: readonly DatasourceInfo[]): Promise<void> {
    this.countsNote = ''
    const token = consoleToken()
    const uncounted = datasources.filter((d) => typeof d.stats?.row_count !== 'number')
    for (const d of datasources) if (typeof d.stats?.row_count === 'number') this.rowCounts.set(d.name, d.stats.row_count)
    const quarantined = datasources.filter((d) => d.quarantine)
    const union = (pairs: Array<[string, string]>) =>
      pairs.map(([label, table]) => `SELECT ${sqlString(label)} AS name, count() AS n FROM ${ident(table)}`).join(' UNION ALL ')
    const run = async (pairs: Array<[string, string]>, into: Map<string, number>) => {
      if (pairs.length === 0) return
      try {
        const answer = await sql(union(pairs), token)
        for (const row of answer.data) into.set(String(row.name), Number(row.n))
      } catch (err) {
        this.countsNote = err instanceof ApiError && err.code === 'FORBIDDEN' ? 'Counting needs the sql scope (admins have it).' : `Counting failed: ${err instanceof Error ? err.message : String(err)}`
      }
    }
    await run(
      uncounted.map((d) => [d.name, d.name]),
      this.rowCounts,
    )
    await run(
      quarantined.map((d) => [d.name, d.quarantine!]),
      this.quarantineCounts,
    )
  }

  private renderList(selected: string | undefined): void {
    const all = this.datasources ?? []
    const current = selected ?? all[0]?.name
    const rows = all.map((d) => {
      const rowsN = this.rowCounts.get(d.name)
      const q = this.quarantineCounts.get(d.name)
      return h(
        'tr',
        { 'data-datasource': d.name, class: d.name === current ? 'selected' : null },
        h('th', { scope: 'row' }, h('a', { href: routeTo('datasources', d.name), 'aria-current': d.name === current ? 'true' : null }, d.name)),
        h('td', {}, d.type ?? ''),
        h('td', { class: 'num', 'data-testid': 'row-count' }, rowsN === undefined ? '—' : format.int(rowsN)),
        h('td', { class: 'num' }, typeof d.stats?.bytes === 'number' ? bytes(d.stats.bytes) : '—'),
        h('td', { class: 'num', 'data-testid': 'quarantine-count' }, d.quarantine ? (q === undefined ? '—' : format.int(q)) : 'n/a'),
      )
    })
    fill(
      this.list,
      h(
        'div',
        { class: 'table-wrap', role: 'region', 'aria-label': 'Datasources', tabindex: 0 },
        h(
          'table',
          { class: 'data' },
          h('caption', { class: 'sr-only' }, 'Datasources, their rows, size and quarantined rows'),
          h('thead', {}, h('tr', {}, ...['Name', 'Type', 'Rows', 'Size', 'Quarantined'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, ...rows),
        ),
      ),
      this.countsNote ? h('p', { class: 'muted small' }, this.countsNote) : null,
    )
  }

  private async renderDetail(d: DatasourceInfo, seq: number): Promise<void> {
    const rowsN = this.rowCounts.get(d.name)
    const engine = d.engine && typeof d.engine.engine === 'string' ? d.engine.engine : null
    const quarantine = h('div', { 'data-testid': 'quarantine' })
    fill(
      this.detail,
      h('h4', { 'data-testid': 'datasource-name' }, d.name),
      d.description ? h('p', {}, d.description) : null,
      h(
        'p',
        { class: 'facts' },
        h('span', {}, 'Rows: ', h('strong', { 'data-testid': 'datasource-rows' }, rowsN === undefined ? 'unknown' : format.int(rowsN))),
        engine ? h('span', {}, 'Engine: ', h('code', {}, engine)) : null,
        d.type ? h('span', {}, 'Kind: ', d.type) : null,
      ),
      h('h5', {}, 'Schema'),
      dataTable(
        `Schema of ${d.name}`,
        [{ name: 'column' }, { name: 'type' }, { name: 'nullable' }],
        (d.columns ?? []).map((c) => ({ column: c.name, type: c.type, nullable: c.nullable ?? /^Nullable\(/.test(c.type) ? 'yes' : 'no' })),
        'schema',
      ),
      h('h5', {}, 'Quarantine'),
      quarantine,
    )
    if (!d.quarantine) {
      fill(quarantine, h('p', { class: 'muted' }, 'This datasource is filled by the gateway itself (a materialized view or rollup); it has no quarantine.'))
      return
    }
    fill(quarantine, h('p', { class: 'muted' }, 'Loading quarantined rows…'))
    try {
      const shown = await this.quarantineRows(d.name, d.quarantine)
      if (seq !== this.seq) return
      const count = this.quarantineCounts.get(d.name)
      fill(
        quarantine,
        h(
          'p',
          { 'data-testid': 'quarantine-summary' },
          shown.rows.length === 0
            ? `No quarantined rows in ${d.quarantine}.`
            : `${count === undefined ? '' : `${format.int(count)} rows in ${d.quarantine}; `}the newest ${format.int(shown.rows.length)}, with the reason each was refused:`,
        ),
        shown.rows.length === 0 ? null : dataTable(`Quarantined rows of ${d.name}`, shown.columns, shown.rows, 'quarantine-rows'),
      )
    } catch (err) {
      if (seq !== this.seq) return
      const why =
        err instanceof ApiError && (err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED')
          ? `Quarantined rows are shown to admins: ${err.explain()}`
          : `Quarantined rows could not be read: ${err instanceof ApiError ? err.explain() : String(err)}`
      fill(quarantine, h('p', { class: 'notice error', 'data-testid': 'quarantine-error' }, why))
    }
  }

  /**
   * The newest quarantined rows: the GraphQL `quarantine` query for the built-in datasources; for
   * others (a loaded project's `<ds>_quarantine`, Tinybird's columns) `/v0/sql`, the reasons first.
   */
  private async quarantineRows(name: string, table: string): Promise<{ columns: Array<{ name: string; type?: string }>; rows: Array<Record<string, unknown>> }> {
    const token = consoleToken()
    try {
      const { quarantine } = await request(ConsoleQuarantineDocument, { table: name, limit: QUARANTINE_ROWS }, token)
      return {
        columns: [{ name: 'at' }, { name: 'reason' }, { name: 'row' }],
        rows: quarantine.map((q) => ({ at: new Date(q.at).toLocaleString(), reason: q.reason, row: q.row })),
      }
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'BAD_USER_INPUT') throw err
    }
    const answer = await sql(`SELECT * FROM ${ident(table)} LIMIT ${QUARANTINE_ROWS}`, token)
    const order = [...answer.meta].sort((a, b) => rank(a.name) - rank(b.name))
    const rows = answer.data.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? v.map(cellText).join('; ') : v])))
    if (order.some((c) => c.name === 'insertion_date')) rows.sort((a, b) => String(b.insertion_date).localeCompare(String(a.insertion_date)))
    return { columns: order, rows }
  }
}

const rank = (column: string): number => {
  const i = REASON_COLUMNS.indexOf(column)
  return i === -1 ? REASON_COLUMNS.length : i
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
