import { nextCronRun, type Pipe } from '../project/datafile.js'

/** A loaded project's COPY_SCHEDULE crons: when each copy runs, and stopping them. */

/** A copy pipe's run. */
export interface CopyRun {
  readonly pipe: string
  readonly target: string
  readonly mode: 'append' | 'replace'
  readonly rows: number
  readonly startedAt: Date
  readonly finishedAt: Date
}

/** Time for the copy scheduler (tests drive their own). */
export interface ScheduleClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

export const SYSTEM_CLOCK: ScheduleClock = {
  now: () => Date.now(),
  // Unref'd: a pending copy does not keep the process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

/**
 * Runs each of `pipes` (copy pipes with a cron) at its cron times (UTC) through `copy` until the returned
 * stop is called; stop waits for a copy that is running. A failed run is reported to `onError` and the
 * schedule goes on.
 */
export function scheduleCopies(
  pipes: readonly Pipe[],
  copy: (pipe: string, requestId: string) => Promise<CopyRun>,
  onError: (pipe: string, err: unknown) => void,
  onRun: ((run: CopyRun) => void) | undefined,
  clock: ScheduleClock = SYSTEM_CLOCK,
): () => Promise<void> {
  let stopped = false
  const timers = new Set<unknown>()
  const running = new Set<Promise<void>>()
  const plan = (pipe: Pipe, after: Date) => {
    if (stopped) return
    const next = nextCronRun(pipe.copySchedule!, after)
    if (!next) return
    // setTimeout holds at most ~24.8 days: a far run is planned again from a nearer wake-up.
    const wait = Math.min(next.getTime() - clock.now(), 86_400_000)
    const timer = clock.setTimeout(() => {
      timers.delete(timer)
      if (stopped) return
      if (clock.now() < next.getTime()) return plan(pipe, new Date(clock.now() - 60_000))
      const run = copy(pipe.name, `schedule:${pipe.name}:${next.toISOString()}`).then(
        (r) => onRun?.(r),
        (err: unknown) => onError(pipe.name, err),
      )
      running.add(run)
      void run.finally(() => {
        running.delete(run)
        plan(pipe, next)
      })
    }, Math.max(0, wait))
    timers.add(timer)
  }
  for (const pipe of pipes) plan(pipe, new Date(clock.now()))
  return async () => {
    stopped = true
    for (const t of timers) clock.clearTimeout(t)
    timers.clear()
    await Promise.allSettled([...running])
  }
}
