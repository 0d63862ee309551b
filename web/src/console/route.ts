import { tokens } from '../api.js'

/** What every console section offers the shell. */
export interface Section {
  /** The section's root, shown while its tab is current. */
  readonly el: HTMLElement
  /** Shows the section; `arg` is the rest of the route (a datasource or pipe name), when there is one. */
  show(arg: string | undefined): Promise<void>
  /** Forgets what it loaded (a new token sees other things). */
  reset(): void
}

/** The console's own token slot: the page's token unless a section's notice took one for the console. */
export const SLOT = 'console'
export const consoleToken = (): string => tokens.for(SLOT)

export const TABS = [
  { id: 'datasources', label: 'Datasources' },
  { id: 'pipes', label: 'Pipes' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'stats', label: 'Stats & errors' },
] as const
export type TabId = (typeof TABS)[number]['id']

/** `#console/<tab>[/<name>]` → the tab and the name (decoded); an unknown tab is the first. */
export function parseRoute(hash: string): { tab: TabId; arg: string | undefined } {
  const [, tab, ...rest] = hash.replace(/^#/, '').split('/')
  const known = TABS.find((t) => t.id === tab)?.id ?? 'datasources'
  const raw = rest.join('/')
  let arg: string | undefined
  try {
    arg = raw ? decodeURIComponent(raw) : undefined
  } catch {
    arg = undefined
  }
  return { tab: known, arg }
}

export const routeTo = (tab: TabId, name?: string): string => `#console/${tab}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`

/** The name in the current route, for a section's Refresh button. */
export const currentArg = (): string | undefined => parseRoute(location.hash).arg
