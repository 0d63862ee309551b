/**
 * `sightline dev [--project DIR]`: a Tinybird project served from a throw-away embedded store with its
 * fixtures loaded, its TOKEN lines turned into tokens (printed), and the project reloaded whenever a
 * `.datasource`, `.pipe` or `.incl` file changes (fs.watch, debounced). A datafile that does not parse is shown
 * with file:line and the previous version keeps serving; a change that would lose rows empties the
 * datasource and loads its fixtures again, after saying so (dev mode only: `sightline start` refuses).
 * REST and the GraphQL `pipes` namespace serve the new version once the reload is done. A TypeScript SDK
 * project is generated again (its SDK's `tinybird generate`) on every save of a definition, then reloaded.
 */
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { DatafileError, ProjectService } from '../domain/project.js'
import { SDK_SOURCE, SdkProjectError } from './sdk-project.js'
import { startProjectSession, type ProjectSession, type StartServer } from './session.js'

export interface DevOptions {
  readonly dir: string
  readonly startServer: StartServer
  readonly port?: number
  readonly out?: (line: string) => void
  /** Quiet time after the last change before reloading. @default 80 */
  readonly debounceMs?: number
}

export interface ReloadOutcome {
  readonly ok: boolean
  readonly ms: number
  readonly message: string
}

export interface DevSession {
  readonly session: ProjectSession
  /** Tokens made from the project's TOKEN lines: name → secret. */
  readonly tokens: ReadonlyMap<string, string>
  /** Reloads now (what a file change triggers). */
  reload(): Promise<ReloadOutcome>
  stop(): Promise<void>
}

const DATAFILE = /\.(datasource|pipe|incl)$/
const SKIPPED = new Set(['tests', 'fixtures', 'node_modules', '.git'])

/**
 * Watches every folder of a project (not tests/, fixtures/): a folder's watch keeps reporting a file
 * that editors replace (write a copy, rename it over), where a watch on the file, as Node 20's recursive
 * mode on Linux sets up, goes quiet after the first such save. New folders are watched as they appear.
 */
function watchTree(root: string, onFile: (name: string) => void, onError: (err: Error) => void): { close(): void } {
  const watchers = new Map<string, FSWatcher>()
  const add = (dir: string) => {
    if (watchers.has(dir)) return
    let watcher: FSWatcher
    try {
      watcher = watch(dir, (_event, name) => {
        if (!name) return
        const path = join(dir, name)
        let isDir = false
        try {
          isDir = statSync(path).isDirectory()
        } catch {
          // removed
        }
        if (isDir) {
          if (!SKIPPED.has(name) && !name.startsWith('.')) add(path)
        } else onFile(path)
      })
    } catch (err) {
      onError(err as Error)
      return
    }
    watcher.on('error', (err) => {
      watchers.delete(dir)
      watcher.close()
      if (dir === root) onError(err)
    })
    watchers.set(dir, watcher)
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !SKIPPED.has(entry.name) && !entry.name.startsWith('.')) add(join(dir, entry.name))
    }
  }
  add(root)
  return {
    close() {
      for (const w of watchers.values()) w.close()
      watchers.clear()
    },
  }
}

export async function startDev(options: DevOptions): Promise<DevSession> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`))
  const t0 = performance.now()
  const session = await startProjectSession({ dir: options.dir, startServer: options.startServer, ...(options.port !== undefined && { port: options.port }) })
  const host = session.project
  const tokens = new Map(session.tokens.map((t) => [t.name, t.secret]))

  const sdk = session.sdk
  const source = sdk ? resolve(options.dir) : host.project.dir
  out(`\nSightline dev: ${displayPath(source)}${sdk ? ' (TypeScript SDK project)' : ''} (database ${host.database}, a throw-away store) ready in ${Math.round(performance.now() - t0)} ms`)
  for (const f of session.fixtures) out(`  fixtures: ${f.file} → ${f.datasource}: ${f.rows} rows${f.quarantined > 0 ? `, ${f.quarantined} quarantined` : ''}`)
  out(`  GraphQL: ${session.server.url}   (query { pipes { … } })`)
  out(`  REST:    ${session.base}/v0/pipes/<pipe>.json   ·   web: ${session.base}/`)
  out(`  endpoints: ${host.pipes.map((p) => p.name).join(', ') || '(none)'}`)
  out(`\nTokens:\n  admin: ${session.adminToken}`)
  for (const t of session.tokens) out(`  ${t.name}: ${t.secret}   (${t.scopes.join(', ')})`)
  out(
    sdk
      ? `\nWatching ${source} for changes to its TypeScript SDK definitions (generated again with its @tinybirdco/sdk; Ctrl-C stops and deletes the store).`
      : `\nWatching ${host.project.dir} for .datasource, .pipe and .incl changes (Ctrl-C stops and deletes the store).`,
  )

  let running: Promise<ReloadOutcome> | undefined
  let again = false
  const reloadOnce = async (): Promise<ReloadOutcome> => {
    const started = performance.now()
    const ms = () => Math.round(performance.now() - started)
    let next
    try {
      await sdk?.regenerate()
      next = ProjectService.parse(host.project.dir, host.database)
    } catch (err) {
      const message = err instanceof DatafileError || err instanceof SdkProjectError ? err.message : String(err)
      out(`✗ ${message}\n  the previous version keeps serving`)
      return { ok: false, ms: ms(), message }
    }
    try {
      const before = new Set(host.project.datasources.keys())
      const report = await host.reload(next, { rebuild: true, say: (line) => out(`! ${line}`) })
      const added = new Set([...next.datasources.keys()].filter((name) => !before.has(name)))
      const loaded = added.size > 0 ? await host.loadFixtures(added) : []
      const notes = [...report.changes, ...loaded.map((f) => `fixtures ${f.file}: ${f.rows} rows`)]
      const message = `reloaded in ${ms()} ms${notes.length > 0 ? `: ${notes.join('; ')}` : ''}`
      out(`✓ ${message}`)
      return { ok: true, ms: ms(), message }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      out(`✗ reload failed: ${message}\n  the previous version keeps serving`)
      return { ok: false, ms: ms(), message }
    }
  }
  // One reload at a time; changes during a reload trigger one more afterwards.
  const reload = (): Promise<ReloadOutcome> => {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      let outcome: ReloadOutcome
      do {
        again = false
        outcome = await reloadOnce()
      } while (again)
      running = undefined
      return outcome
    })()
    return running
  }

  let timer: NodeJS.Timeout | undefined
  const watcher = watchTree(source, (filename) => {
    if (!(sdk ? SDK_SOURCE : DATAFILE).test(filename)) return
    clearTimeout(timer)
    timer = setTimeout(() => void reload(), options.debounceMs ?? 80)
  }, (err) => out(`watching stopped: ${err.message}`))

  return {
    session,
    tokens,
    reload,
    async stop() {
      clearTimeout(timer)
      watcher.close()
      await running?.catch(() => undefined)
      await session.close()
    },
  }
}

/** A path relative to the working directory when it is inside it, absolute otherwise. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel
}
