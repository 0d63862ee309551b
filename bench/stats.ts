/** Latency summary in milliseconds. */
export interface Summary {
  readonly n: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly mean: number
  readonly min: number
  readonly max: number
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** The median (the lower one of an even count, as `percentile`). */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

/** A figure over runs: its median with the min–max spread and the count. */
export function spread(values: readonly number[], digits = 3): { median: number; min: number; max: number; n: number } {
  return { median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits), n: values.length }
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const sum = sorted.reduce((s, v) => s + v, 0)
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  }
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Milliseconds taken by `fn`. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/**
 * Measures two contenders fairly: warm-up for each, then rounds in which each runs a block of
 * sequential calls in turn, so drift on the machine (merges, caches, other load) hits both alike.
 */
export async function interleaved(
  contenders: Record<string, () => Promise<unknown>>,
  options: { warmup: number; iterations: number; block: number },
  onRound?: (done: number, total: number) => void,
): Promise<Record<string, number[]>> {
  const names = Object.keys(contenders)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (const name of names) for (let i = 0; i < options.warmup; i++) await contenders[name]!()
  let done = 0
  while (done < options.iterations) {
    const n = Math.min(options.block, options.iterations - done)
    for (const name of names) {
      for (let i = 0; i < n; i++) samples[name]!.push(await timed(contenders[name]!))
    }
    done += n
    onRound?.(done, options.iterations)
  }
  return samples
}

/** `clients` loops calling `fn` back to back for `durationMs`; returns latencies and the count. */
export async function closedLoop(
  fn: () => Promise<unknown>,
  clients: number,
  durationMs: number,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = []
  const t0 = performance.now()
  const until = t0 + durationMs
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) latencies.push(await timed(fn))
    }),
  )
  return { latencies, seconds: (performance.now() - t0) / 1000 }
}
