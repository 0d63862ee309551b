import { ApiError } from '../api.js'
import { fill, format, h } from '../dom.js'
import { Notice } from '../notice.js'
import { consoleToken, currentArg, routeTo, SLOT, type Section } from './route.js'
import { isEndpoint, outputColumns, pipeParams, pipeUrl, type PipeInfo, type PipeParam } from './logic.js'
import { rest, type Envelope } from './rest.js'
import { dataTable } from './table.js'

const MAX_SHOWN_ROWS = 200
const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/

/**
 * The pipes: a filterable list; for the chosen pipe its description, scope, output columns, a form of
 * its parameters (typed inputs, defaults as placeholders, required ones marked) that runs it and shows
 * the answer as a table, its REST URL with the token (copyable) and its OpenAPI operation.
 */
export class PipesSection implements Section {
  readonly el: HTMLElement
  private readonly notice: Notice
  private readonly filter = h('input', { type: 'search', id: 'pipe-filter', placeholder: 'name or words', 'data-testid': 'pipe-filter' })
  private readonly list = h('ul', { class: 'pipe-list', 'data-testid': 'pipe-list' })
  private readonly detail = h('div', { class: 'detail', 'data-testid': 'pipe-detail' })
  private pipes: PipeInfo[] | undefined
  private openApi: Promise<Record<string, unknown> | null> | undefined
  private seq = 0

  constructor(onToken: () => void) {
    const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'pipes-notice' })
    this.notice = new Notice(notice, SLOT, 'The list shows the pipes this token may read.', onToken, 'Console')
    this.filter.addEventListener('input', () => this.renderList(currentArg()))
    this.el = h(
      'section',
      { class: 'console-section', 'aria-labelledby': 'pipes-title', 'data-testid': 'console-pipes' },
      h(
        'div',
        { class: 'section-head' },
        h('h3', { id: 'pipes-title', tabindex: -1 }, 'Pipes'),
        h('a', { href: '/v0/pipes/openapi.json', target: '_blank', rel: 'noopener', 'data-testid': 'openapi-all' }, 'OpenAPI of every pipe'),
      ),
      notice,
      h(
        'div',
        { class: 'master-detail' },
        h('div', { class: 'pipe-index' }, h('label', { for: 'pipe-filter', class: 'filter' }, 'Filter ', this.filter), this.list),
        this.detail,
      ),
    )
  }

  reset(): void {
    this.pipes = undefined
    this.openApi = undefined
    fill(this.list)
    fill(this.detail)
    delete this.detail.dataset.shown
  }

  async show(name: string | undefined): Promise<void> {
    const seq = ++this.seq
    if (!this.pipes) {
      this.el.setAttribute('aria-busy', 'true')
      try {
        const token = consoleToken()
        // While a project is loaded, /v0/pipes lists its pipes and ?builtin=true the gateway's own ones
        // (which still answer where no project pipe has their name); without a project both are the same.
        const [{ pipes: listed }, builtin] = await Promise.all([
          rest<{ pipes: PipeInfo[] }>('/v0/pipes', token),
          rest<{ pipes: PipeInfo[] }>('/v0/pipes?builtin=true', token).catch(() => ({ pipes: [] as PipeInfo[] })),
        ])
        if (seq !== this.seq) return
        const names = new Set(listed.map((p) => p.name))
        const pipes = [...listed, ...builtin.pipes.filter((p) => !names.has(p.name)).map((p) => ({ ...p, builtin: true }))]
        this.pipes = pipes
        this.notice.clear()
        if (pipes.length === 0) this.notice.info('This token may read no pipe.')
      } catch (err) {
        if (seq !== this.seq) return
        this.notice.error(err)
        return
      } finally {
        if (seq === this.seq) this.el.removeAttribute('aria-busy')
      }
    }
    this.renderList(name)
    const pipe = this.pipes.find((p) => p.name === name) ?? (name === undefined ? this.pipes[0] : undefined)
    if (!pipe) {
      fill(this.detail, h('p', { class: 'muted' }, name === undefined ? 'No pipes.' : `No pipe named ${name} for this token.`))
      return
    }
    if (this.detail.dataset.shown !== pipe.name) this.renderDetail(pipe)
  }

  private renderList(selected: string | undefined): void {
    const words = this.filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean)
    const all = this.pipes ?? []
    const current = selected ?? all[0]?.name
    const shown = all.filter((p) => words.every((w) => `${p.name} ${p.description ?? ''}`.toLowerCase().includes(w)))
    fill(
      this.list,
      ...shown.map((p) =>
        h(
          'li',
          { 'data-pipe': p.name },
          h('a', { href: routeTo('pipes', p.name), 'aria-current': p.name === current ? 'true' : null }, p.name),
          isEndpoint(p) ? null : h('span', { class: 'tag' }, p.type ?? 'not an endpoint'),
          p.builtin ? h('span', { class: 'tag' }, 'built-in') : null,
        ),
      ),
    )
    this.list.setAttribute('aria-label', `${shown.length} of ${all.length} pipes`)
  }

  private renderDetail(pipe: PipeInfo): void {
    const params = pipeParams(pipe)
    const endpoint = isEndpoint(pipe)
    const fields = params.map((p) => paramField(p))
    const urlText = h('code', { class: 'url', 'data-testid': 'pipe-url', tabindex: 0, 'aria-label': 'REST URL' })
    const reveal = h('input', { type: 'checkbox', id: 'reveal-token', 'data-testid': 'reveal-token' })
    const copied = h('span', { class: 'muted small', role: 'status', 'data-testid': 'copy-state' })
    const values = (): Array<[string, string]> => fields.map((f) => [f.param.name, f.input.value.trim()])
    const updateUrl = () => {
      urlText.textContent = pipeUrl(location.origin, pipe.name, values(), consoleToken(), reveal.checked)
    }
    const copy = h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        'data-testid': 'copy-url',
        onclick: () => {
          const full = pipeUrl(location.origin, pipe.name, values(), consoleToken(), true)
          void copyText(full).then(
            (ok) => (copied.textContent = ok ? 'Copied, with the token.' : 'Copying is not allowed here: select the URL (show the token first).'),
          )
        },
      },
      'Copy URL',
    )
    reveal.addEventListener('change', updateUrl)
    const result = h('div', { class: 'result', 'data-testid': 'pipe-result', 'aria-live': 'polite' })
    const run = h('button', { type: 'submit', 'data-testid': 'run-pipe' }, 'Run')
    const form = h(
      'form',
      { class: 'param-form', 'data-testid': 'pipe-form', 'aria-label': `Parameters of ${pipe.name}` },
      params.length === 0 ? h('p', { class: 'muted' }, 'This pipe takes no parameters.') : h('div', { class: 'fields' }, ...fields.map((f) => f.el)),
      h('div', { class: 'actions' }, run),
    )
    form.addEventListener('input', updateUrl)
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.run(pipe, values(), result, run)
    })
    const openApi = h('pre', { class: 'openapi', 'data-testid': 'pipe-openapi' }, 'Loading…')
    const details = h('details', {}, h('summary', {}, 'OpenAPI operation'), openApi)
    details.addEventListener('toggle', () => {
      if (details.open) void this.operation(pipe.name).then((op) => (openApi.textContent = op ? JSON.stringify(op, null, 2) : 'Not in the OpenAPI document.'))
    })
    const columns = outputColumns(pipe)
    fill(
      this.detail,
      h('h4', { 'data-testid': 'pipe-name' }, pipe.name),
      pipe.description ? h('p', {}, pipe.description) : null,
      h(
        'p',
        { class: 'facts' },
        pipe.scope
          ? h('span', {}, 'Needs ', h('code', {}, pipe.scope), ...(pipe.scope === `read:pipe:${pipe.name}` ? [' (or admin)'] : [' (or ', h('code', {}, `read:pipe:${pipe.name}`), ', or admin)']))
          : null,
        !endpoint ? h('span', { class: 'tag' }, `${pipe.type ?? 'not an endpoint'}: not served on /v0/pipes/${pipe.name}.json`) : null,
      ),
      columns.length ? h('p', { class: 'columns' }, 'Answers ', ...columns.flatMap((c, i) => [i ? ', ' : '', h('code', { title: c.type }, c.name)])) : null,
      endpoint
        ? h(
            'div',
            { class: 'endpoint' },
            h('h5', {}, 'REST endpoint'),
            h('div', { class: 'url-row' }, urlText, copy),
            h('label', { class: 'check small' }, reveal, ' Show the token in the URL'),
            copied,
            h(
              'p',
              { class: 'small' },
              h('a', { href: `/v0/pipes/openapi.json`, target: '_blank', rel: 'noopener', 'data-testid': 'pipe-openapi-link' }, 'OpenAPI document'),
              ` (operation ${pipe.name}) · also `,
              h('code', {}, '.csv'),
              ', ',
              h('code', {}, '.ndjson'),
            ),
            details,
            h('h5', {}, 'Try it'),
            form,
            result,
          )
        : null,
    )
    this.detail.dataset.shown = pipe.name
    updateUrl()
  }

  private async run(pipe: PipeInfo, values: ReadonlyArray<[string, string]>, result: HTMLElement, button: HTMLButtonElement): Promise<void> {
    const query = new URLSearchParams(values.filter(([, v]) => v !== ''))
    button.disabled = true
    result.setAttribute('aria-busy', 'true')
    try {
      const answer = await rest<Envelope>(`/v0/pipes/${encodeURIComponent(pipe.name)}.json?${query.toString()}`, consoleToken())
      const stats = answer.statistics ?? {}
      const shown = answer.data.slice(0, MAX_SHOWN_ROWS)
      fill(
        result,
        h(
          'p',
          { class: 'muted small', 'data-testid': 'pipe-summary', 'data-rows': answer.rows },
          `${format.int(answer.rows)} ${answer.rows === 1 ? 'row' : 'rows'}`,
          answer.rows_before_limit_at_least !== undefined ? ` of at least ${format.int(answer.rows_before_limit_at_least)}` : '',
          typeof stats.elapsed === 'number' ? ` · ${(stats.elapsed * 1000).toFixed(1)} ms` : '',
          typeof stats.rows_read === 'number' ? ` · ${format.int(stats.rows_read)} rows read` : '',
          shown.length < answer.data.length ? ` · the first ${MAX_SHOWN_ROWS} shown` : '',
        ),
        dataTable(`Answer of ${pipe.name}`, answer.meta, shown, 'pipe-rows'),
      )
    } catch (err) {
      fill(result, h('p', { class: 'notice error', 'data-testid': 'pipe-error' }, err instanceof ApiError ? err.explain() : String(err)))
    } finally {
      button.disabled = false
      result.removeAttribute('aria-busy')
    }
  }

  /** The pipe's operation in the OpenAPI document (fetched once per token, with the token: its pipes). */
  private async operation(name: string): Promise<unknown> {
    this.openApi ??= rest<Record<string, unknown>>('/v0/pipes/openapi.json', consoleToken()).catch(() => null)
    const doc = await this.openApi
    const paths = (doc?.paths ?? {}) as Record<string, unknown>
    const key = Object.keys(paths).find((p) => p.startsWith(`/v0/pipes/${name}.`))
    return key ? { [key]: paths[key] } : null
  }
}

interface Field {
  readonly param: PipeParam
  readonly el: HTMLElement
  readonly input: HTMLInputElement | HTMLSelectElement
}

/** One labelled input for a parameter, typed by its Tinybird type; the default is the placeholder. */
function paramField(p: PipeParam): Field {
  const id = `param-${p.name}`
  const type = p.type ?? 'String'
  const fallback = p.default === undefined || p.default === null ? '' : String(p.default)
  const attrs = { id, name: p.name, 'data-param': p.name, 'aria-describedby': `${id}-hint`, required: p.required === true }
  let input: HTMLInputElement | HTMLSelectElement
  if (p.enum?.length || type === 'Boolean') {
    const choices = p.enum?.length ? [...p.enum] : ['true', 'false']
    input = h('select', attrs, h('option', { value: '' }, fallback ? `(default: ${fallback})` : '(not set)'), ...choices.map((c) => h('option', { value: c }, c)))
  } else if (NUMERIC.test(type)) {
    input = h('input', { ...attrs, type: 'number', step: /Float|Decimal/.test(type) ? 'any' : '1', placeholder: fallback })
  } else {
    const hint = /^DateTime/.test(type) ? '2024-01-01 00:00:00' : type === 'Date' ? '2024-01-01' : /^Array/.test(type) ? 'a,b,c' : ''
    input = h('input', { ...attrs, type: 'text', placeholder: fallback || hint, autocomplete: 'off', spellcheck: 'false' })
  }
  const el = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, p.name, p.required ? h('span', { class: 'req', title: 'required' }, ' *') : null, ' ', h('span', { class: 'type' }, type)),
    input,
    h('span', { id: `${id}-hint`, class: 'param-hint small muted' }, [p.description, p.required ? 'Required.' : null, /^Array/.test(type) ? 'A comma list.' : null].filter(Boolean).join(' ')),
  )
  return { param: p, el, input }
}

/** The clipboard when the page may write it, else a selected textarea and the copy command. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = h('textarea', { class: 'sr-only', readonly: true })
    area.value = text
    document.body.appendChild(area)
    area.select()
    const ok = document.execCommand('copy')
    area.remove()
    return ok
  }
}
