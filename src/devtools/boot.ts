/**
 * A Tinybird project in a throw-away embedded store, for tools that need ClickHouse but no server:
 * `npm run schema -- --project DIR` describes the endpoints' output columns this way.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql'
import { pino, type Logger } from 'pino'
import { loadConfig, type Config } from '../config.js'
import type { ProjectHost } from '../graphql-project/host.js'

/** The composition root's `compose` (passed in: only the server and the CLI may import it). */
export type Compose = (
  config: Config,
  log: Logger,
) => Promise<{ readonly project: ProjectHost | undefined; start(): Promise<void>; close(): Promise<void> }>

/** Runs `fn` with the project applied (as the server applies it) in a fresh embedded store deleted afterwards. */
export async function withThrowawayProject<T>(dir: string, compose: Compose, fn: (host: ProjectHost) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-project-'))
  try {
    const config = loadConfig({ SIGHTLINE_DATA_DIR: dataDir, SIGHTLINE_PROJECT: resolve(dir), SIGHTLINE_DURABILITY: 'none' })
    const app = await compose(config, pino({ level: 'silent' }))
    try {
      await app.start()
      return await fn(app.project!)
    } finally {
      await app.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The SDL of `base` plus the project's `pipes` namespace, sorted like `schema.graphql`. */
export function projectSdl(dir: string, base: GraphQLSchema, compose: Compose): Promise<string> {
  return withThrowawayProject(dir, compose, async (host) => `${printSchema(lexicographicSortSchema(host.schema(base)))}\n`)
}
