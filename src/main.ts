#!/usr/bin/env node
import 'reflect-metadata'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { JwtService } from './auth/jwt.js'
import { TokenService } from './auth/tokens.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { createDemoTokens, DEMO_WORKSPACES, DemoTrickle, loadDemo, refreshDemo } from './demo.js'
import { DatafileError, ProjectRefusedError } from './domain/project.js'
import { devCommand, DEVTOOLS_USAGE, DevtoolsUsageError, testCommand } from './devtools/cli.js'
import { generatedProject, SdkProjectError, sdkConfig } from './devtools/sdk-project.js'
import { startServer } from './server.js'
import { ClickHouseStore } from './store/clickhouse-store.js'
import { trimEngineLibrary } from './store/connection.js'
import { StoreInputError } from './store/errors.js'

const USAGE = `Usage: sightline <command>

  start [--project DIR]      serve GraphQL (SIGHTLINE_DEMO=1 also loads the demo data and tokens);
                             --project loads a Tinybird project (same as SIGHTLINE_PROJECT=DIR)
${DEVTOOLS_USAGE}
  migrate                    apply pending migrations and exit
  seed [--reset]             load the demo dataset into an empty store and exit (--reset empties
                             every data table first; tokens and service logs stay)
  token create --name N --scope S [--scope S2 | --scope S1,S2] [--workspace W] [--expires ISO-8601]
                             create a token and print its secret once
  token list                 list live stored tokens (name, scopes, workspace, expiry; never secrets)
  token revoke NAME          revoke a stored token by name
  token jwt --name N --scope S [--workspace W] [--ttl SECONDS]
                             sign a JWT with SIGHTLINE_JWT_SECRET (default lifetime 3600 s)

Configuration comes from the environment; see the README or .env.example.
With the embedded store, run migrate/seed/token while no server uses the same SIGHTLINE_DATA_DIR.`

async function withStore<T>(config: Config, fn: (store: ClickHouseStore) => Promise<T>): Promise<T> {
  const store = ClickHouseStore.open(config.store)
  try {
    await store.migrate()
    return await fn(store)
  } finally {
    await store.close()
  }
}

const progress = (line: string) => process.stderr.write(`  ${line}\n`)

async function start(given: Config): Promise<void> {
  // A Tinybird TypeScript SDK project is served from the datafiles its own SDK generates (removed on exit).
  const sdk = given.project && sdkConfig(given.project.dir) ? await generatedProject(given.project.dir) : undefined
  const config: Config = sdk && given.project ? { ...given, project: { ...given.project, dir: sdk.dir } } : given
  let tokens: Array<{ name: string; secret: string }> = []
  // The demo's data and tokens are ready before /readyz says so; its trickle stops first on shutdown.
  const server = await startServer(config, {
    // The project's TOKEN lines, minted on the first start with them: shown once, like the demo tokens.
    onProjectTokens: (minted) => {
      if (minted.length === 0) return
      console.log('\nTokens of the project (shown once; the store keeps only their hashes):')
      for (const t of minted) console.log(`${t.name} (${t.scopes.join(', ')}): ${t.secret}`)
    },
    beforeReady: config.demo
      ? async (services) => {
          process.stderr.write('Loading the demo dataset…\n')
          if (!(await loadDemo(services.store, progress))) await refreshDemo(services.store, progress)
          tokens = await createDemoTokens(services.tokens, { admin: config.adminToken === undefined })
          const trickle = new DemoTrickle(services.store, config.demoTrickleMs, (err) => process.stderr.write(`demo trickle: ${String(err)}\n`))
          trickle.start()
          return () => trickle.stop()
        }
      : undefined,
  })
  // Starting the engine and the server read most of chDB's library once: not kept until the next trim.
  if (!config.store.url && (config.store.memory?.trimMs ?? 0) > 0) await trimEngineLibrary()
  if (config.demo) {
    const base = server.url
    console.log('\nDemo tokens (new on every demo start):')
    for (const t of tokens) console.log(`${t.name}: ${t.secret}`)
    if (config.adminToken !== undefined) console.log('admin: the token in SIGHTLINE_ADMIN_TOKEN')
    const read = tokens.find((t) => t.name === 'app_read_token')!.secret
    console.log(`\nTry it:\ncurl -s ${base} -H 'content-type: application/json' -H 'authorization: Bearer ${read}' \\\n  -d '{"query":"{ productGrid(ranking: TRENDING) { id name stock stockStatus hits rankStatus } }"}'`)
    console.log(`\nDemo workspaces for analytics: ${DEMO_WORKSPACES.join(', ')}`)
    if (config.demoTrickleMs > 0) console.log(`New demo events every ${config.demoTrickleMs} ms (SIGHTLINE_DEMO_TRICKLE_MS=0 stops them); reload from scratch with \`npx sightline seed --reset\`.`)
  }
  const site = server.url.replace(/\/graphql$/, '')
  console.log(`\nSightline is serving ${server.url} (ws: ${server.wsUrl})`)
  console.log(`Web page: ${site}/  ·  playground: ${site}/graphiql  ·  Tinybird REST: ${site}/v0/pipes/<pipe>.json`)
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${signal}: draining…\n`)
    server.stop().then(
      () => {
        sdk?.close()
        process.exit(0)
      },
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  const config = loadConfig()
  limitHeapGrowth(config.heapGrowingPercent)
  switch (command) {
    case undefined:
    case 'start': {
      const { values } = parseArgs({ args: rest, options: { project: { type: 'string' } }, strict: true })
      // --project DIR is SIGHTLINE_PROJECT=DIR for this start.
      return start(values.project === undefined ? config : loadConfig({ ...process.env, SIGHTLINE_PROJECT: values.project }))
    }
    // A Tinybird project's tests and dev loop, on a throw-away embedded store (src/devtools/).
    case 'test':
      process.exitCode = await testCommand(rest, startServer)
      return
    case 'dev':
      return devCommand(rest, startServer)
    case 'migrate': {
      const applied = await withStore(config, async (store) => (await store.migrate()).applied)
      console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'nothing to apply: the store is up to date')
      return
    }
    case 'seed': {
      const { values } = parseArgs({ args: rest, options: { reset: { type: 'boolean' } }, strict: true })
      await withStore(config, async (store) => {
        if (values.reset) progress(`emptied: ${(await store.resetData()).join(', ')}`)
        if (!(await loadDemo(store, progress))) await refreshDemo(store, progress)
      })
      return
    }
    case 'token': {
      const [sub, ...args] = rest
      if (sub === 'jwt') return signJwt(config, args)
      if (sub === 'list') return listTokens(config)
      if (sub === 'revoke') return revokeToken(config, args)
      if (sub !== 'create') throw new UsageError(`unknown token command "${sub ?? ''}"`)
      const { values } = parseArgs({
        args,
        options: {
          name: { type: 'string' },
          scope: { type: 'string', multiple: true },
          workspace: { type: 'string' },
          expires: { type: 'string' },
        },
        strict: true,
      })
      if (!values.name || !values.scope) throw new UsageError('token create needs --name and --scope')
      const expiresAt = values.expires ? new Date(values.expires) : undefined
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError('--expires must be an ISO-8601 date')
      const scopes = parseScopes(values.scope)
      const secret = await withStore(config, async (store) => {
        const tokens = new TokenService(store, undefined, 0)
        return (await tokens.create({ name: values.name!, scopes, workspaceId: values.workspace, expiresAt })).secret
      })
      console.log(secret)
      return
    }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return
    default:
      throw new UsageError(`unknown command "${command}"`)
  }
}

async function listTokens(config: Config): Promise<void> {
  const tokens = await withStore(config, (store) => new TokenService(store, undefined, 0).list())
  if (tokens.length === 0) {
    console.log('no stored tokens (create one with: sightline token create --name N --scope S)')
    return
  }
  const now = Date.now()
  const rows = tokens.map((t) => [
    t.name,
    t.scopes.join(','),
    t.workspaceId ?? '-',
    t.createdAt.toISOString(),
    t.expiresAt === null ? 'never' : `${t.expiresAt.toISOString()}${t.expiresAt.getTime() <= now ? ' (expired)' : ''}`,
  ])
  const header = ['NAME', 'SCOPES', 'WORKSPACE', 'CREATED', 'EXPIRES']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
}

async function revokeToken(config: Config, args: string[]): Promise<void> {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true })
  const [name] = positionals
  if (!name || positionals.length > 1) throw new UsageError('token revoke needs exactly one token name')
  const revoked = await withStore(config, (store) => new TokenService(store, undefined, 0).revoke(name))
  if (!revoked) throw new NotFoundError(`no live token is named "${name}"`)
  console.log(`revoked ${name} (running servers stop accepting it within SIGHTLINE_TOKEN_CACHE_MS)`)
}

/** Signs a JWT offline: only the secret is needed, not the store. */
async function signJwt(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { name: { type: 'string' }, scope: { type: 'string', multiple: true }, workspace: { type: 'string' }, ttl: { type: 'string' } },
    strict: true,
  })
  if (!values.name || !values.scope) throw new UsageError('token jwt needs --name and --scope')
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl)
  const scopes = parseScopes(values.scope)
  const { token } = await new JwtService(config.jwtSecret).sign({ name: values.name, scopes, workspaceId: values.workspace, expiresInSeconds: ttl })
  console.log(token)
}

/**
 * V8 sizes its old generation to what survived the last full collection times a factor it picks from
 * its collection speed, up to 4: under the gateway's allocation rate (decoded rows, serialised answers,
 * thousands of live frames a second) that let the heap reach 400 MB around 45 MB of live objects. A
 * smaller factor collects more often instead. V8 reads it at every collection, so it can be set here;
 * the size of the young generation cannot (NODE_OPTIONS=--max-semi-space-size=N, see the README).
 */
function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}

/** `--scope a --scope b,c` → [a, b, c]. */
function parseScopes(values: readonly string[]): string[] {
  return values.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
}

class UsageError extends Error {}
class NotFoundError extends Error {}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof DevtoolsUsageError) console.error(`${err.message}\n\n${USAGE}`)
  else if (err instanceof ConfigError || err instanceof StoreInputError || err instanceof NotFoundError) console.error(err.message)
  // A Tinybird project that does not parse (file:line) or whose changes would lose data: the message says it all.
  else if (err instanceof DatafileError || err instanceof ProjectRefusedError || err instanceof SdkProjectError) console.error(err.message)
  else console.error(err)
  process.exit(err instanceof UsageError || err instanceof DevtoolsUsageError ? 2 : 1)
})
