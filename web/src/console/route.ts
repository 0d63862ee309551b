import { tokens } from '../api.js'
import { parseRoute } from './logic.js'

export { parseRoute, routeTo, TABS, type TabId } from './logic.js'

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

/** The name in the current route, for a section's Refresh button. */
export const currentArg = (): string | undefined => parseRoute(location.hash).arg
