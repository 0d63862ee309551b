import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The repository's root: where child processes run. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** How a child process ended: its exit code, or the signal that ended it. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * A child process with its output collected (stdout and stderr, in arrival order) and its end as a
 * promise: every wait on it is an event (a line, `exit`), never a poll.
 */
export class Child {
  readonly exited: Promise<Exit>
  /** Resolves once the process has exited and its output streams have closed (every line is in `output`). */
  readonly closed: Promise<Exit>
  private readonly lines: string[] = []
  private readonly listeners = new Set<(line: string) => void>()

  constructor(readonly process: ChildProcess) {
    this.exited = once(process, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
    this.closed = once(process, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
    const hear = (line: string) => {
      this.lines.push(line)
      for (const listener of this.listeners) listener(line)
    }
    createInterface({ input: process.stdout! }).on('line', hear)
    createInterface({ input: process.stderr! }).on('line', hear)
  }

  /** Everything the process printed so far. */
  get output(): string {
    return this.lines.join('\n')
  }

  /** Calls `listener` with every line printed from now on. */
  onLine(listener: (line: string) => void): void {
    this.listeners.add(listener)
  }

  /**
   * Resolves with what `pick` returns for the first line (printed from now on) it does not return
   * undefined for; rejects when the process exits first, or after `timeoutMs`, with its output.
   */
  waitForLine<T>(pick: (line: string) => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (settle: () => void) => {
        clearTimeout(timer)
        this.listeners.delete(listener)
        settle()
      }
      const listener = (line: string) => {
        const picked = pick(line)
        if (picked !== undefined) done(() => resolve(picked))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${timeoutMs / 1000} s:\n${this.output}`))), timeoutMs)
      this.listeners.add(listener)
      void this.exited.then(({ code, signal }) => done(() => reject(new Error(`exited (${signal ?? code}) before ${what}:\n${this.output}`))))
    })
  }

  /** Sends `signal` unless the process has ended, and resolves once it has. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
    return this.exited
  }
}

/** Every child the helpers started, so a suite's afterAll can end the ones a failed test left behind. */
const started = new Set<Child>()

/** Starts `node <args>` in the repository root. */
export function spawnNode(args: readonly string[], env: NodeJS.ProcessEnv): Child {
  const child = new Child(spawn(process.execPath, [...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }))
  started.add(child)
  void child.exited.then(() => started.delete(child))
  return child
}

/** SIGKILLs every child still running (afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...started].map((child) => child.kill('SIGKILL')))
}

/** Runs `node <args>` to its end: its exit and output. */
export async function runNode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Exit & { out: string }> {
  const child = spawnNode(args, env)
  const exit = await child.closed
  return { ...exit, out: child.output }
}

/** The URL in the server's JSON log line "sightline ready", if `line` is that line. */
export function readyUrl(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const entry = JSON.parse(line) as { msg?: unknown; url?: unknown }
    return entry.msg === 'sightline ready' && typeof entry.url === 'string' ? entry.url : undefined
  } catch {
    return undefined // not a log line
  }
}

/** A server started from source (`src/main.ts start`, through tsx in-process: one pid, so a signal hits the server itself). */
export interface ServerProcess extends Child {
  /** `http://host:port/graphql`, from its "sightline ready" log line. */
  readonly url: string
  /** `ws://host:port/graphql` */
  readonly wsUrl: string
}

/**
 * `sightline start` from source on 127.0.0.1 and a free port, the embedded store unless `env` says
 * otherwise, logging JSON at info; resolves once it logs "sightline ready".
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 120_000): Promise<ServerProcess> {
  const child = spawnNode(['--import', 'tsx', 'src/main.ts', 'start'], {
    ...process.env,
    NODE_ENV: 'production',
    CLICKHOUSE_URL: '',
    SIGHTLINE_DEMO: '0',
    HOST: '127.0.0.1',
    PORT: '0',
    SIGHTLINE_LOG_LEVEL: 'info',
    ...env,
  })
  const url = await child.waitForLine(readyUrl, 'a "sightline ready" line', timeoutMs).catch(async (err: unknown) => {
    await child.kill('SIGKILL')
    throw err
  })
  return Object.assign(child, { url, wsUrl: url.replace(/^http/, 'ws') })
}
