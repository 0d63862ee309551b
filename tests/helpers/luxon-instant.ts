import { DateTime } from 'luxon'

/**
 * The luxon reader `parseInstant` replaced (fromISO, then fromSQL; years 1–9999): the oracle the fast
 * parser must agree with (its unit test) and the baseline it is measured against (bench/execution.ts).
 */
export function luxonInstant(raw: string | number, zone: string): string | undefined {
  const text = String(raw).trim()
  let parsed = /^\d+(\.\d+)?$/.test(text) ? DateTime.fromMillis(Number(text) * 1000, { zone: 'UTC' }) : DateTime.fromISO(text, { zone })
  if (!parsed.isValid) parsed = DateTime.fromSQL(text, { zone })
  if (!parsed.isValid || parsed.year < 1 || parsed.year > 9999) return undefined
  return parsed.toUTC().toISO() ?? undefined
}
