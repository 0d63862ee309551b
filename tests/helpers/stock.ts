import { print } from 'graphql'
import type { Client } from 'graphql-ws'
import { StockChangedDocument, type StockChangedSubscription } from '../generated/graphql.js'

export type StockUpdate = StockChangedSubscription['stockChanged']

/** A `stockChanged` subscription's record: updates and errors in arrival order, completions, and its end. */
export interface StockSubscription {
  readonly updates: StockUpdate[]
  readonly errors: unknown[]
  readonly completed: number
  dispose(): void
}

/** Subscribes to `stockChanged` over graphql-ws; `notify` runs after every update, error and completion. */
export function subscribeStock(client: Client, variables: { products?: string[]; category?: string }, notify: () => void): StockSubscription {
  const updates: StockUpdate[] = []
  const errors: unknown[] = []
  let completed = 0
  const dispose = client.subscribe<StockChangedSubscription>(
    { query: print(StockChangedDocument), variables },
    {
      next: (msg) => {
        if (msg.data) updates.push(msg.data.stockChanged)
        if (msg.errors) errors.push(msg.errors)
        notify()
      },
      error: (err) => {
        errors.push(err)
        notify()
      },
      complete: () => {
        completed++
        notify()
      },
    },
  )
  return {
    updates,
    errors,
    get completed() {
      return completed
    },
    dispose,
  }
}
