import { ApiError, tokens } from './api.js'
import { fill, h } from './dom.js'

/**
 * A panel's message line. For a missing scope it says which one and offers a token for this panel
 * alone (kept in session storage beside the page's), so one page can show panels that need
 * different demo tokens.
 */
export class Notice {
  constructor(
    private readonly el: HTMLElement,
    private readonly slot: string,
    /** Which demo token has the scope this panel needs, for the hint. */
    private readonly suggestion: string,
    private readonly onToken: () => void,
    /** What uses the slot's token, for "… uses its own token". */
    private readonly who = 'This panel',
  ) {}

  clear(): void {
    this.el.className = 'notice'
    if (tokens.get(this.slot)) {
      fill(this.el, `${this.who} uses its own token. `, h('button', { type: 'button', class: 'link', onclick: () => this.useToken('') }, 'Use the page token'))
    } else fill(this.el)
  }

  info(text: string): void {
    this.el.className = 'notice info'
    fill(this.el, text)
  }

  error(err: unknown): void {
    this.el.className = 'notice error'
    if (!(err instanceof ApiError)) {
      fill(this.el, err instanceof Error ? err.message : String(err))
      return
    }
    const scoped = err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED'
    if (!scoped) {
      fill(this.el, err.explain())
      return
    }
    const input = h('input', { type: 'password', autocomplete: 'off', placeholder: 'sl_…', 'aria-label': 'Token for this panel', 'data-testid': `${this.slot}-token` })
    const form = h('form', { class: 'inline-token' }, input, h('button', { type: 'submit' }, this.who === 'This panel' ? 'Use for this panel' : `Use for ${this.who}`))
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.useToken(input.value)
    })
    fill(this.el, h('strong', { 'data-testid': `${this.slot}-error` }, err.explain()), ' ', this.suggestion, form)
  }

  private useToken(token: string): void {
    tokens.set(this.slot, token)
    this.onToken()
  }
}
