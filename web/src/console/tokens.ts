import { ApiError, request } from '../api.js'
import { fill, h } from '../dom.js'
import { ConsoleCreateTokenDocument, ConsoleRevokeTokenDocument, ConsoleTokensDocument, type ConsoleTokensQuery } from '../generated/graphql.js'
import { Notice } from '../notice.js'
import { parseScopes } from './logic.js'
import { consoleToken, SLOT, type Section } from './route.js'

type TokenRow = ConsoleTokensQuery['tokens'][number]

/** Scopes offered as suggestions in the create form (any scope the gateway knows may be typed). */
const SUGGESTED_SCOPES = ['admin', 'read', 'read:ecommerce', 'read:analytics', 'append', 'sql', 'read:pipe:', 'append:', 'manage:']

/**
 * Tokens (admin): the live stored ones with their scopes and workspace, a form to create one (its
 * secret shown once, with a copy button) and a revoke button per token, confirmed in place.
 */
export class TokensSection implements Section {
  readonly el: HTMLElement
  private readonly notice: Notice
  private readonly table = h('div', { 'data-testid': 'token-table' })
  private readonly created = h('div', { 'data-testid': 'token-created', 'aria-live': 'polite' })
  private readonly formNotice = h('p', { class: 'notice', role: 'status', 'data-testid': 'token-form-notice' })
  private readonly form: HTMLFormElement
  private seq = 0

  constructor(onToken: () => void) {
    const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'tokens-notice' })
    this.notice = new Notice(notice, SLOT, 'Tokens are managed with an admin token (SIGHTLINE_ADMIN_TOKEN).', onToken, 'Console')
    const name = h('input', { id: 'new-token-name', name: 'name', required: true, autocomplete: 'off', placeholder: 'frontend_read', 'data-testid': 'new-token-name' })
    const scopes = h('input', { id: 'new-token-scopes', name: 'scopes', required: true, autocomplete: 'off', list: 'scope-suggestions', placeholder: 'read:ecommerce, read:pipe:api_ui_filters', size: 36, 'data-testid': 'new-token-scopes' })
    const workspace = h('input', { id: 'new-token-workspace', name: 'workspace', autocomplete: 'off', placeholder: 'optional, e.g. ws_acme', 'data-testid': 'new-token-workspace' })
    const expires = h('input', { id: 'new-token-expires', name: 'expires', type: 'datetime-local', 'data-testid': 'new-token-expires' })
    this.form = h(
      'form',
      { class: 'token-create', 'aria-labelledby': 'token-create-title', 'data-testid': 'token-create' },
      h('h4', { id: 'token-create-title' }, 'Create a token'),
      h('div', { class: 'fields' }, labelled('Name', name), labelled('Scopes', scopes, 'Space or comma separated.'), labelled('Workspace', workspace), labelled('Expires', expires, 'Optional; local time.')),
      h('datalist', { id: 'scope-suggestions' }, ...SUGGESTED_SCOPES.map((s) => h('option', { value: s }))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'create-token' }, 'Create token')),
      this.formNotice,
    )
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.create(name, scopes, workspace, expires)
    })
    this.el = h(
      'section',
      { class: 'console-section', 'aria-labelledby': 'tokens-title', 'data-testid': 'console-tokens' },
      h('div', { class: 'section-head' }, h('h3', { id: 'tokens-title', tabindex: -1 }, 'Tokens'), h('button', { type: 'button', class: 'secondary', onclick: () => void this.load() }, 'Refresh')),
      notice,
      this.table,
      this.created,
      this.form,
    )
  }

  reset(): void {
    fill(this.table)
    fill(this.created)
    fill(this.formNotice)
  }

  /** Read again each time the tab is shown: tokens are created and revoked elsewhere too. */
  async show(): Promise<void> {
    await this.load()
  }

  private async load(): Promise<void> {
    const seq = ++this.seq
    try {
      const { tokens } = await request(ConsoleTokensDocument, {}, consoleToken())
      if (seq !== this.seq) return
      this.notice.clear()
      this.form.hidden = false
      this.render(tokens)
    } catch (err) {
      if (seq !== this.seq) return
      this.notice.error(err)
      fill(this.table)
      // Creating needs admin too: the form would only fail the same way.
      this.form.hidden = err instanceof ApiError && (err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED')
    }
  }

  private render(list: readonly TokenRow[]): void {
    const rows = [...list]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => {
        const actions = h('td', { class: 'actions' })
        // Confirmed in place (no modal): the confirm button takes the focus, Cancel puts things back.
        const ask = () => {
          const confirm = h('button', { type: 'button', class: 'danger', 'data-testid': 'confirm-revoke', onclick: () => void this.revoke(t.name, actions) }, `Revoke ${t.name}`)
          fill(actions, confirm, ' ', h('button', { type: 'button', class: 'secondary', onclick: () => idle() }, 'Cancel'))
          confirm.focus()
        }
        const idle = () => fill(actions, h('button', { type: 'button', class: 'secondary', 'data-testid': 'revoke', 'aria-label': `Revoke ${t.name}`, onclick: ask }, 'Revoke…'))
        idle()
        return h(
          'tr',
          { 'data-token': t.name, class: t.expired ? 'expired' : null },
          h('th', { scope: 'row' }, t.name),
          h('td', {}, ...t.scopes.map((s) => h('code', { class: 'chip' }, s))),
          h('td', {}, t.workspaceId ?? h('span', { class: 'muted' }, 'any')),
          h('td', {}, new Date(t.createdAt).toLocaleString()),
          h('td', {}, t.expiresAt ? `${new Date(t.expiresAt).toLocaleString()}${t.expired ? ' (expired)' : ''}` : h('span', { class: 'muted' }, 'never')),
          actions,
        )
      })
    fill(
      this.table,
      list.length === 0
        ? h('p', { class: 'muted' }, 'No stored tokens yet (the admin token from SIGHTLINE_ADMIN_TOKEN is not stored).')
        : h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': 'Tokens', tabindex: 0 },
            h(
              'table',
              { class: 'data' },
              h('caption', { class: 'sr-only' }, 'Live stored tokens'),
              h('thead', {}, h('tr', {}, ...['Name', 'Scopes', 'Workspace', 'Created', 'Expires', ''].map((c) => h('th', { scope: 'col' }, c)))),
              h('tbody', {}, ...rows),
            ),
          ),
    )
  }

  private async create(name: HTMLInputElement, scopes: HTMLInputElement, workspace: HTMLInputElement, expires: HTMLInputElement): Promise<void> {
    const input = {
      name: name.value.trim(),
      scopes: parseScopes(scopes.value),
      workspaceId: workspace.value.trim() || null,
      expiresAt: expires.value ? new Date(expires.value).toISOString() : null,
    }
    fill(this.formNotice)
    this.formNotice.className = 'notice'
    try {
      const { createToken } = await request(ConsoleCreateTokenDocument, { input }, consoleToken())
      const secret = h('code', { class: 'secret', 'data-testid': 'new-token-secret' }, createToken.token)
      const state = h('span', { class: 'muted small', role: 'status' })
      fill(
        this.created,
        h(
          'div',
          { class: 'notice info created' },
          h('strong', {}, `Token ${createToken.name} created. `),
          'Its secret is shown this once: ',
          secret,
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () =>
                void navigator.clipboard.writeText(createToken.token).then(
                  () => (state.textContent = 'Copied.'),
                  () => (state.textContent = 'Select the secret to copy it.'),
                ),
            },
            'Copy',
          ),
          ' ',
          state,
        ),
      )
      this.form.reset()
      await this.load()
    } catch (err) {
      this.formNotice.className = 'notice error'
      fill(this.formNotice, err instanceof ApiError ? err.explain() : String(err))
    }
  }

  private async revoke(name: string, cell: HTMLElement): Promise<void> {
    try {
      const { revokeToken } = await request(ConsoleRevokeTokenDocument, { name }, consoleToken())
      if (!revokeToken) fill(cell, h('span', { class: 'muted' }, 'Already gone'))
      await this.load()
    } catch (err) {
      fill(cell, h('span', { class: 'notice error' }, err instanceof ApiError ? err.explain() : String(err)))
    }
  }
}

function labelled(text: string, input: HTMLInputElement, hint?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: input.id }, text), input, hint ? h('span', { class: 'param-hint small muted' }, hint) : null)
}
