#!/usr/bin/env node
// Builds on first use (npx sightline …) what is missing: the server (dist/) and the web page (web/dist/).
import { existsSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = (script, args) => execFileSync(process.execPath, [`${root}node_modules/${script}`, ...args], { stdio: 'inherit', cwd: root })
if (!existsSync(`${root}dist/main.js`)) run('typescript/bin/tsc', ['-p', `${root}tsconfig.build.json`])
if (!existsSync(`${root}web/dist/index.html`) && existsSync(`${root}node_modules/vite/bin/vite.js`)) {
  run('vite/bin/vite.js', ['build', '--config', `${root}web/vite.config.ts`, '--logLevel', 'warn'])
}
// graphql-js skips its development-only checks when NODE_ENV is production, read when it loads.
process.env.NODE_ENV ??= 'production'
await import('../dist/main.js')
