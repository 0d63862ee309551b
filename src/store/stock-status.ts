import type { StockStatus } from './types.js'

/** Stock above the threshold is in stock, at or below it (and above 0) low, 0 or less out. */
export function stockStatus(available: number, lowStockThreshold: number): StockStatus {
  if (available > lowStockThreshold) return 'IN_STOCK'
  if (available > 0) return 'LOW_STOCK'
  return 'OUT_OF_STOCK'
}
