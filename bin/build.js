// Builds what is missing or older than its sources: the server (src/ -> dist/) with tsc, and the web page
// (web/ -> web/dist/) with Vite. Used by bin/sightline.js before every start and by the tests' global setup,
// so a second start on unchanged sources builds nothing.
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

const SERVER = { output: 'dist/main.js', sources: ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'] }
const WEB = {
  output: 'web/dist/index.html',
  sources: ['web/src', 'web/public', 'web/index.html', 'web/graphiql.html', 'web/vite.config.ts', 'schema.graphql', 'package-lock.json'],
}

/** The newest modification time under the given files and folders (0 when none exists). */
function newest(paths) {
  let latest = 0
  const visit = (path) => {
    let s
    try {
      s = statSync(path)
    } catch {
      return
    }
    if (s.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry))
    else latest = Math.max(latest, s.mtimeMs)
  }
  for (const p of paths) visit(`${root}${p}`)
  return latest
}

/** True when the output is missing or older than any of its sources. */
function stale({ output, sources }) {
  const file = `${root}${output}`
  return !existsSync(file) || statSync(file).mtimeMs < newest(sources)
}

function run(script, args) {
  execFileSync(process.execPath, [`${root}node_modules/${script}`, ...args], { stdio: ['ignore', 'inherit', 'inherit'], cwd: root })
}

/** Builds the stale parts; returns their names ([] when everything was current). */
export function buildIfStale(log = (line) => process.stderr.write(`${line}\n`)) {
  const built = []
  if (stale(SERVER)) {
    log('Building the server (src/ changed since the last build)…')
    run('typescript/bin/tsc', ['-p', `${root}tsconfig.build.json`])
    // An incremental tsc leaves unchanged outputs untouched: mark the build as current.
    const now = new Date()
    utimesSync(`${root}${SERVER.output}`, now, now)
    built.push('server')
  }
  // Without dev dependencies (vite) the page is not built; the server then says how to build it.
  if (existsSync(`${root}node_modules/vite/bin/vite.js`) && stale(WEB)) {
    log('Building the web page (web/ changed since the last build)…')
    run('vite/bin/vite.js', ['build', '--config', `${root}web/vite.config.ts`, '--logLevel', 'warn'])
    built.push('web')
  }
  return built
}
