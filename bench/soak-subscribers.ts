/**
 * The soak's live subscribers, in a process of their own: a dashboard is never in the process that sends
 * the soak's reads and writes, and one event loop decoding ~45,000 updates a second for 250 sockets and
 * parsing every read's answer falls behind on both, which backs the gateway's sockets up for reasons of the
 * client's making. The parent (bench/soak.ts) starts this file with `startSubscribers` and reads the
 * counts it reports.
 */
import { fork } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectSubscribers } from './subscriptions.js'

const REPORT_EVERY_MS = 1_000

/** What the child reports: updates received so far, and the subscriptions that errored or ended early. */
interface Report {
  readonly type: 'connected' | 'counts'
  readonly updates: number
  readonly errors: string[]
}

export interface SoakSubscribers {
  /** Updates received by every subscriber together, as last reported (at most a second old). */
  readonly updates: () => number
  /** Subscriptions that errored or closed early, with why (the first few). */
  readonly errors: () => readonly string[]
  /** Disposes every subscription, takes the final counts and ends the process. */
  stop(): Promise<void>
}

/** Forks this file with `count` graphql-ws subscribers of every stock change; resolves once all are connected. */
export async function startSubscribers(o: { wsUrl: string; token: string; count: number }): Promise<SoakSubscribers> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, SOAK_WS_URL: o.wsUrl, SOAK_TOKEN: o.token, SOAK_SUBSCRIBERS: String(o.count) },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let last: Report = { type: 'counts', updates: 0, errors: [] }
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
  child.on('message', (m: Report) => {
    last = m
  })
  await new Promise<void>((connected, failed) => {
    const onMessage = (m: Report) => {
      if (m.type !== 'connected') return
      child.off('message', onMessage)
      connected()
    }
    child.on('message', onMessage)
    void exited.then((code) => failed(new Error(`the subscribers' process exited (code ${code}) before ${o.count} subscribers connected`)))
  })
  return {
    updates: () => last.updates,
    errors: () => last.errors,
    async stop() {
      if (child.exitCode === null) child.send('stop')
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())])
      if (code === 'timeout') child.kill('SIGKILL')
    },
  }
}

/** The child: connects the subscribers (50 at a time), then reports counts every second until told to stop. */
async function child(): Promise<void> {
  const send = (report: Report) => process.send?.(report)
  const wanted = Number(process.env.SOAK_SUBSCRIBERS)
  let updates = 0
  const errors: string[] = []
  const failed = (err: unknown) => {
    if (errors.length < 10) errors.push((err instanceof Error ? err.message : JSON.stringify(err)).slice(0, 300))
  }
  await connectSubscribers(
    { url: process.env.SOAK_WS_URL!, token: process.env.SOAK_TOKEN!, count: wanted, clients: [] },
    { next: () => void updates++, error: (_i, err) => failed(err), complete: () => failed(new Error('completed early')) },
  )
  send({ type: 'connected', updates, errors })
  const timer = setInterval(() => send({ type: 'counts', updates, errors }), REPORT_EVERY_MS)
  process.on('message', (m) => {
    if (m !== 'stop') return
    clearInterval(timer)
    // The final counts, then out: the gateway sees the sockets close (no subscription is disposed first,
    // whose `complete` would count as an error).
    process.send?.({ type: 'counts', updates, errors } satisfies Report, () => process.exit(0))
  })
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  child().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
