/** `sightline test` and `sightline dev`: argument parsing and exit codes (main.ts hands them over). */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startDev } from './dev.js'
import { SdkProjectError } from './sdk-project.js'
import type { StartServer } from './session.js'
import { runProjectTests, TestFileError } from './test-runner.js'

export const DEVTOOLS_USAGE = `  test [--project DIR] [--update] [PIPE…]
                             run the project's tests/*.yaml (Tinybird's endpoint tests) on a throw-away
                             embedded store loaded with its fixtures/; --update rewrites the expectations
  dev [--project DIR] [--port N]
                             serve the project from a throw-away embedded store with its fixtures, print
                             its tokens, and reload it when a .datasource or .pipe file changes
                             (a TypeScript SDK project, with a tinybird.json or tinybird.config.*: its
                             datafiles are generated with its @tinybirdco/sdk, again on every save)`

/** A usage mistake in the arguments (exit 2). */
export class DevtoolsUsageError extends Error {}

/** The project folder: --project, else SIGHTLINE_PROJECT, else `./tinybird` when it exists, else `.`. */
function projectDir(value: string | undefined): string {
  const dir = value ?? process.env.SIGHTLINE_PROJECT ?? (existsSync('tinybird') ? 'tinybird' : '.')
  if (!existsSync(dir)) throw new DevtoolsUsageError(`no project folder at ${dir}`)
  return resolve(dir)
}

/** Runs `sightline test`; resolves with the exit code (1 when any test failed). */
export async function testCommand(args: readonly string[], startServer: StartServer): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { project: { type: 'string' }, update: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  })
  try {
    const report = await runProjectTests({ dir: projectDir(values.project), update: values.update ?? false, pipes: positionals, startServer })
    return report.failed > 0 ? 1 : 0
  } catch (err) {
    if (err instanceof TestFileError || err instanceof SdkProjectError) {
      console.error(err.message)
      return 1
    }
    throw err
  }
}

/** Runs `sightline dev` until SIGINT/SIGTERM. */
export async function devCommand(args: readonly string[], startServer: StartServer): Promise<void> {
  const { values } = parseArgs({ args: [...args], options: { project: { type: 'string' }, port: { type: 'string' } }, strict: true })
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new DevtoolsUsageError('--port must be a port number')
  const dev = await startDev({ dir: projectDir(values.project), startServer, ...(port !== undefined && { port }) })
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${signal}: stopping and deleting the dev store…\n`)
    dev.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}
