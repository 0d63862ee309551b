import { readFileSync } from 'node:fs'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

// `npm ci` refuses a lock that misses any platform's optional package, even one it would skip here.
type LockEntry = {
  version?: string
  dev?: boolean
  optional?: boolean
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  engines?: Record<string, string>
}
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>
}
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string }
}

/** Node's resolution: the nearest node_modules up the tree that holds the package. */
function resolve(from: string, name: string): LockEntry | undefined {
  let dir = from
  for (;;) {
    const hit = lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]
    if (hit) return hit
    if (!dir) return undefined
    const at = dir.lastIndexOf('node_modules/')
    dir = at <= 0 ? '' : dir.slice(0, at - 1)
  }
}

describe('package-lock.json', () => {
  it('lists every optional dependency of every package, for every platform', () => {
    const missing: string[] = []
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (!resolve(path, name)) missing.push(`${path || '(root)'} -> ${name}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('lists chDB for every platform it ships', () => {
    for (const lib of ['darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-x64-gnu']) {
      expect(lock.packages[`node_modules/@chdb/lib-${lib}`], lib).toBeDefined()
    }
  })

  it('holds no package whose engines exclude the Node versions package.json promises', () => {
    // package.json promises Node 20.19+ (the Node our machines have); a package that demands Node 22
    // breaks that promise (npm prints EBADENGINE, and the tool may fail at run time).
    const oldest = semver.minVersion(pkg.engines.node)?.version ?? ''
    expect(oldest).toMatch(/^20\./)
    const excluded = Object.entries(lock.packages)
      .filter(([, entry]) => entry.engines?.node !== undefined && !semver.satisfies(oldest, entry.engines.node))
      .map(([path, entry]) => `${path} (${entry.engines?.node})`)
    expect(excluded).toEqual([])
  })
})
