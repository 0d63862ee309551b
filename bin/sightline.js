#!/usr/bin/env node
// Builds on first use (npx sightline …) when dist/ is missing, then runs the CLI.
import { existsSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
if (!existsSync(new URL('../dist/main.js', import.meta.url))) {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' })
}
await import('../dist/main.js')
