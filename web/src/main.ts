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

function showTokenState(): void {
  state.textContent = tokens.get() ? 'Token set for this tab.' : 'No token yet.'
}

function reloadAll(): void {
  showTokenState()
  void shop.reload()
  void dashboard.reload()
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  tokens.set('main', input.value)
  input.value = ''
  reloadAll()
})
byId('token-forget').addEventListener('click', () => {
  for (const slot of ['main', 'grid', 'dashboard', 'ingest']) tokens.set(slot, '')
  reloadAll()
})

reloadAll()
