#!/usr/bin/env node
// Builds what is missing or older than its sources, then runs the CLI: the server (src/ -> dist/) with
// tsc, and the web page (web/ -> web/dist/) with Vite. A second start on unchanged sources builds nothing.
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = (script, args) => execFileSync(process.execPath, [`${root}node_modules/${script}`, ...args], { stdio: 'inherit', cwd: root })

/** The newest modification time under the given files and folders (0 when none exists). */
function newest(paths, skip = new Set()) {
  let latest = 0
  const visit = (path) => {
    let s
    try {
      s = statSync(path)
    } catch {
      return
    }
    if (s.isDirectory()) {
      for (const entry of readdirSync(path)) if (!skip.has(entry)) visit(join(path, entry))
    } else latest = Math.max(latest, s.mtimeMs)
  }
  for (const p of paths) visit(`${root}${p}`)
  return latest
}

/** True when `output` is missing or older than any of its sources. */
const stale = (output, sources, skip) => !existsSync(`${root}${output}`) || statSync(`${root}${output}`).mtimeMs < newest(sources, skip)

const serverSources = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']
if (stale('dist/main.js', serverSources)) {
  process.stderr.write('Building the server (src/ changed since the last build)…\n')
  run('typescript/bin/tsc', ['-p', `${root}tsconfig.build.json`])
  // An incremental tsc leaves unchanged outputs untouched: mark the build as current.
  const now = new Date()
  utimesSync(`${root}dist/main.js`, now, now)
}
const webSources = ['web/src', 'web/public', 'web/index.html', 'web/graphiql.html', 'web/vite.config.ts', 'package-lock.json']
if (existsSync(`${root}node_modules/vite/bin/vite.js`) && stale('web/dist/index.html', webSources)) {
  process.stderr.write('Building the web page (web/ changed since the last build)…\n')
  run('vite/bin/vite.js', ['build', '--config', `${root}web/vite.config.ts`, '--logLevel', 'warn'])
}
// graphql-js skips its development-only checks when NODE_ENV is production, read when it loads.
process.env.NODE_ENV ??= 'production'
await import('../dist/main.js')
