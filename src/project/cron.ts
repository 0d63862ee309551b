/** Cron (COPY_SCHEDULE): five fields, hand-written; no dependency needed for validation and next-run. */

const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const
const CRON_MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
}

/** The allowed values of each of the five fields, or a reason the expression is not a cron. */
function cronSets(expr: string): Set<number>[] | string {
  const text = CRON_MACROS[expr.trim().toLowerCase()] ?? expr.trim()
  const fields = text.split(/\s+/)
  if (fields.length !== 5) return `expected 5 cron fields (minute hour day month weekday) or @on-demand, found ${fields.length}`
  const sets: Set<number>[] = []
  for (let f = 0; f < 5; f++) {
    const spec = CRON_FIELDS[f]!
    const set = new Set<number>()
    for (const part of fields[f]!.split(',')) {
      const m = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d+))?$/.exec(part)
      if (!m) return `the ${spec.name} field ${JSON.stringify(fields[f])} is not valid`
      const value = (t: string): number => {
        const names: readonly string[] | undefined = 'names' in spec ? spec.names : undefined
        const byName = names?.indexOf(t.toUpperCase()) ?? -1
        if (byName >= 0) return byName + ('names' in spec && spec.name === 'month' ? 1 : 0)
        return /^\d+$/.test(t) ? Number(t) : NaN
      }
      let lo: number = spec.min
      let hi: number = spec.max
      if (m[1] !== '*') {
        lo = value(m[2]!)
        hi = m[3] !== undefined ? value(m[3]) : m[4] !== undefined ? spec.max : lo
      }
      const step = m[4] !== undefined ? Number(m[4]) : 1
      if (!(lo >= spec.min && hi <= spec.max && lo <= hi) || !(step >= 1)) return `the ${spec.name} field ${JSON.stringify(fields[f])} is out of range ${spec.min}-${spec.max}`
      for (let v = lo; v <= hi; v += step) set.add(f === 4 && v === 7 ? 0 : v)
    }
    sets.push(set)
  }
  return sets
}

/** Undefined when `expr` is `@on-demand` or a valid five-field cron (or a macro such as `@daily`). */
export function cronProblem(expr: string): string | undefined {
  if (expr.trim().toLowerCase() === '@on-demand') return undefined
  const sets = cronSets(expr)
  return typeof sets === 'string' ? sets : undefined
}

/** The next UTC minute strictly after `after` that matches the cron, or undefined for `@on-demand`. */
export function nextCronRun(expr: string, after: Date): Date | undefined {
  if (expr.trim().toLowerCase() === '@on-demand') return undefined
  const sets = cronSets(expr)
  if (typeof sets === 'string') throw new Error(sets)
  const [min, hour, dom, mon, dow] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>]
  const fields = expr.trim().startsWith('@') ? (CRON_MACROS[expr.trim().toLowerCase()] ?? '').split(/\s+/) : expr.trim().split(/\s+/)
  const domStar = fields[2] === '*'
  const dowStar = fields[4] === '*'
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000)
  for (let i = 0; i < 366 * 24 * 60 * 5; i++) {
    const dayOk = domStar || dowStar ? dom.has(t.getUTCDate()) && dow.has(t.getUTCDay()) : dom.has(t.getUTCDate()) || dow.has(t.getUTCDay())
    if (mon.has(t.getUTCMonth() + 1) && dayOk && hour.has(t.getUTCHours()) && min.has(t.getUTCMinutes())) return t
    t.setTime(t.getTime() + 60_000)
  }
  return undefined
}
