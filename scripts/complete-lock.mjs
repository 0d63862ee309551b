#!/usr/bin/env node
// Adds to package-lock.json the platform packages of chdb that the registry mirror on our build machines
// does not serve (npm then leaves them out of the lock, and `npm ci` refuses the lock on a fresh clone).
// Each entry carries the os/cpu/libc that make npm skip it on other platforms; without an integrity hash,
// npm on that platform downloads it by name and version as usual. Run after any `npm install` that
// rewrites the lock: `node scripts/complete-lock.mjs`. tests/unit/lockfile.test.ts checks the result.
import { readFileSync, writeFileSync } from 'node:fs'

const PLATFORMS = {
  '@chdb/lib-darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  '@chdb/lib-darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  '@chdb/lib-linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  '@chdb/lib-linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
}

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
const chdb = lock.packages['node_modules/chdb']
if (!chdb) throw new Error('chdb is not in package-lock.json: run npm install first')

let added = 0
for (const [name, version] of Object.entries(chdb.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`
  if (lock.packages[key]) continue
  const platform = PLATFORMS[name]
  if (!platform) throw new Error(`no platform known for ${name}: add it to scripts/complete-lock.mjs`)
  lock.packages[key] = { version, ...platform, license: chdb.license, optional: true }
  added++
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)))
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n')
console.log(`package-lock.json: ${added} platform package(s) added`)
