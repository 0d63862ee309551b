import './style.css'
import { tokens } from './api.js'
import { DashboardPanel } from './dashboard.js'
import { byId } from './dom.js'
import { ShopPanel } from './grid.js'

const shop = new ShopPanel()
const dashboard = new DashboardPanel()
const form = byId<HTMLFormElement>('token-form')
const input = byId<HTMLInputElement>('token')
const state = byId('token-state')
const app = document.querySelector('main')!
const consoleRoot = byId('console')

/** The console is loaded on first visit (its own chunk), so the product page stays as small as it was. */
let consoleView: Promise<import('./console/index.js').Console> | undefined
const loadConsole = () => (consoleView ??= import('./console/index.js').then((m) => new m.Console(consoleRoot)))

/** `#console…` shows the console instead of the panels; any other hash is an anchor in the panels. */
function route(): void {
  const inConsole = location.hash.startsWith('#console')
  app.hidden = inConsole
  consoleRoot.hidden = !inConsole
  if (inConsole) void loadConsole().then((c) => c.show(location.hash))
  else if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView()
}

function showTokenState(): void {
  state.textContent = tokens.get() ? 'Token set for this tab.' : 'No token yet.'
}

function reloadAll(): void {
  showTokenState()
  void shop.reload()
  void dashboard.reload()
  if (consoleView) void consoleView.then((c) => c.reload())
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  tokens.set('main', input.value)
  input.value = ''
  reloadAll()
})
byId('token-forget').addEventListener('click', () => {
  for (const slot of ['main', 'grid', 'dashboard', 'ingest', 'console']) tokens.set(slot, '')
  reloadAll()
})
window.addEventListener('hashchange', route)

reloadAll()
route()
