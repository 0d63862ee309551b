import './console.css'
import { fill, h } from '../dom.js'
import { DatasourcesSection } from './datasources.js'
import { PipesSection } from './pipes.js'
import { StatsSection } from './stats.js'
import { TokensSection } from './tokens.js'
import { parseRoute, routeTo, TABS, type Section, type TabId } from './route.js'

/**
 * The console beside the playground, as Tinybird's UI and Hasura's console serve their users: the
 * datasources with their schema, rows and quarantine; the pipes with a form to try each one; tokens;
 * operation stats and errors over time. Everything comes from the public API with the pasted token,
 * so a narrow token sees what its scopes allow and each section says what it lacks.
 */
export class Console {
  private readonly nav: HTMLElement
  private readonly sections: Record<TabId, Section>
  private current: TabId | undefined

  constructor(private readonly root: HTMLElement) {
    const reload = () => this.reload()
    this.sections = {
      datasources: new DatasourcesSection(reload),
      pipes: new PipesSection(reload),
      tokens: new TokensSection(reload),
      stats: new StatsSection(reload),
    }
    this.nav = h(
      'nav',
      { class: 'tabs', 'aria-label': 'Console sections' },
      ...TABS.map((t) => h('a', { href: routeTo(t.id), 'data-tab': t.id, 'data-testid': `console-tab-${t.id}` }, t.label)),
    )
    fill(
      root,
      h(
        'div',
        { class: 'panel console' },
        h('div', { class: 'panel-head' }, h('h2', { id: 'console-title', tabindex: -1 }, 'Console'), this.nav),
        h(
          'p',
          { class: 'muted console-intro' },
          'What this gateway serves, read with the token above: any valid token lists the datasources and the pipes it may read; quarantined rows, tokens and stats need ',
          h('code', {}, 'admin'),
          '.',
        ),
        ...TABS.map((t) => {
          const el = this.sections[t.id].el
          el.hidden = true
          return el
        }),
      ),
    )
  }

  /** Shows the route's tab; moves focus to its heading when the tab changes, for keyboard and screen readers. */
  async show(hash: string): Promise<void> {
    const { tab, arg } = parseRoute(hash)
    const changed = tab !== this.current
    this.current = tab
    for (const t of TABS) {
      const link = this.nav.querySelector<HTMLElement>(`[data-tab="${t.id}"]`)
      if (t.id === tab) link?.setAttribute('aria-current', 'page')
      else link?.removeAttribute('aria-current')
      this.sections[t.id].el.hidden = t.id !== tab
    }
    this.root.dataset.tab = tab
    if (changed) this.sections[tab].el.querySelector<HTMLElement>('h3')?.focus({ preventScroll: true })
    await this.sections[tab].show(arg)
  }

  /** A new token: every section forgets what it loaded, and the current one loads again. */
  reload(): void {
    for (const s of Object.values(this.sections)) s.reset()
    this.current = undefined
    if (!this.root.hidden) void this.show(location.hash)
  }
}
