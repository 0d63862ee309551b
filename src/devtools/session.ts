/**
 * A Sightline server for one Tinybird project on a throw-away embedded store, with the project's
 * fixtures loaded: what `sightline test` runs its cases against and what `sightline dev` serves.
 * The CLI entry passes `startServer` in (only it may import the server).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadConfig, type Config } from '../config.js'
import type { FixtureLoad, ProjectHost } from '../graphql-project/host.js'
import { generatedProject, sdkConfig, type GeneratedProject } from './sdk-project.js'

/** What the tools need of a running server (`startServer`'s answer). */
export interface ProjectServer {
  /** `http://host:port/graphql` */
  readonly url: string
  readonly project?: ProjectHost | undefined
  stop(): Promise<void>
}

/** A token the server minted for a `TOKEN` line of the project, its secret shown once. */
export interface MintedToken {
  readonly name: string
  readonly secret: string
  readonly scopes: readonly string[]
}

export type StartServer = (config: Config, options: { onProjectTokens?: (minted: readonly MintedToken[]) => void }) => Promise<ProjectServer>

export interface ProjectSession {
  readonly server: ProjectServer
  readonly project: ProjectHost
  /** `http://host:port` */
  readonly base: string
  /** The bootstrap admin token of this session (SIGHTLINE_ADMIN_TOKEN, or a random one). */
  readonly adminToken: string
  readonly fixtures: readonly FixtureLoad[]
  /** The project's `TOKEN` lines as tokens of this session. */
  readonly tokens: readonly MintedToken[]
  /** For a TypeScript SDK project: the datafiles its SDK generated, which the server loads. */
  readonly sdk?: GeneratedProject
  close(): Promise<void>
}

export interface SessionOptions {
  readonly dir: string
  readonly startServer: StartServer
  /** Environment to read the rest of the configuration from. */
  readonly env?: NodeJS.ProcessEnv
  /** Port to listen on (0: any free one). */
  readonly port?: number
  readonly logLevel?: string
}

/**
 * Starts the server on a fresh chDB directory (deleted by `close`) with the project loaded in its own
 * database and its fixtures inserted. A remote CLICKHOUSE_URL is ignored: these tools never touch it.
 * A TypeScript SDK project is served from the datafiles its SDK generates (sdk-project.ts).
 */
export async function startProjectSession(options: SessionOptions): Promise<ProjectSession> {
  const sdk = sdkConfig(options.dir) ? await generatedProject(resolve(options.dir)) : undefined
  try {
    const session = await startOn(sdk?.dir ?? options.dir, options)
    if (!sdk) return session
    return {
      ...session,
      sdk,
      close: async () => {
        try {
          await session.close()
        } finally {
          sdk.close()
        }
      },
    }
  } catch (err) {
    sdk?.close()
    throw err
  }
}

async function startOn(dir: string, options: SessionOptions): Promise<ProjectSession> {
  const env = options.env ?? process.env
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-dev-'))
  const adminToken = env.SIGHTLINE_ADMIN_TOKEN || `admin_${randomBytes(16).toString('hex')}`
  const config = loadConfig({
    ...env,
    CLICKHOUSE_URL: '',
    CLICKHOUSE_CLUSTER: '',
    SIGHTLINE_DATA_DIR: dataDir,
    SIGHTLINE_DEMO: '0',
    SIGHTLINE_PROJECT: resolve(dir),
    SIGHTLINE_ADMIN_TOKEN: adminToken,
    SIGHTLINE_DURABILITY: 'none',
    PORT: String(options.port ?? env.PORT ?? 0),
    SIGHTLINE_LOG_LEVEL: options.logLevel ?? env.SIGHTLINE_LOG_LEVEL ?? 'warn',
  })
  let server: ProjectServer
  let tokens: readonly MintedToken[] = []
  try {
    server = await options.startServer(config, { onProjectTokens: (minted) => (tokens = minted) })
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
  const close = async () => {
    try {
      await server.stop()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  try {
    const project = server.project
    if (!project) throw new Error('the server did not load the project')
    const fixtures = await project.loadFixtures()
    return { server, project, base: server.url.replace(/\/graphql$/, ''), adminToken, fixtures, tokens, close }
  } catch (err) {
    await close()
    throw err
  }
}
