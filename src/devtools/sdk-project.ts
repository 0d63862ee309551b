/**
 * A project written with Tinybird's TypeScript SDK (`defineDatasource`, `defineEndpoint`, … beside a
 * `tinybird.config.*` or `tinybird.json`): `sightline dev` and `sightline test` run the project's own SDK
 * (`tinybird generate`, as the SDK's CLI does it) into a throw-away folder of datafiles, which they serve
 * with the project's `fixtures/`; `sightline dev` generates again on every save of a definition.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { SDK_CONFIGS } from '../project/datafile.js'

/** The folders `tinybird generate` writes. */
const GENERATED = ['datasources', 'pipes', 'connections']

/** What a save of the SDK project can change: its definitions, its config, raw datafiles it includes. */
export const SDK_SOURCE = /\.(ts|mts|cts|js|mjs|cjs|json|datasource|pipe|connection|incl)$/

/** The project's SDK cannot generate its datafiles (not installed, a definition that does not load, …). */
export class SdkProjectError extends Error {
  override name = 'SdkProjectError'
}

/** The SDK configuration file of `dir`, if it is a TypeScript SDK project. */
export function sdkConfig(dir: string): string | undefined {
  return SDK_CONFIGS.find((file) => existsSync(join(dir, file)))
}

export interface GeneratedProject {
  /** The folder of datafiles (and a link to the project's fixtures/). */
  readonly dir: string
  /** Generates the datafiles again; on failure the previous ones stay. */
  regenerate(): Promise<void>
  close(): void
}

/** Generates `source`'s datafiles into a fresh folder (deleted by `close`). */
export async function generatedProject(source: string): Promise<GeneratedProject> {
  const cli = sdkCli(source)
  const dir = mkdtempSync(join(tmpdir(), 'sightline-sdk-'))
  const regenerate = async () => {
    const next = `${dir}.next`
    rmSync(next, { recursive: true, force: true })
    try {
      await generate(cli, source, next)
      for (const sub of GENERATED) {
        rmSync(join(dir, sub), { recursive: true, force: true })
        if (existsSync(join(next, sub))) renameSync(join(next, sub), join(dir, sub))
      }
    } finally {
      rmSync(next, { recursive: true, force: true })
    }
  }
  try {
    await regenerate()
    if (existsSync(join(source, 'fixtures'))) symlinkSync(join(source, 'fixtures'), join(dir, 'fixtures'), 'dir')
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return { dir, regenerate, close: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * The SDK's CLI as the project installed it (its definitions import that copy): `node_modules/@tinybirdco/sdk`
 * in the project's folder or the nearest folder above it, as Node resolves a package.
 */
function sdkCli(source: string): string {
  for (let dir = source; ; dir = dirname(dir)) {
    const cli = join(dir, 'node_modules', '@tinybirdco', 'sdk', 'bin', 'tinybird.js')
    if (existsSync(cli)) return cli
    if (dir === dirname(dir)) break
  }
  throw new SdkProjectError(
    `${source} is a Tinybird TypeScript SDK project (${sdkConfig(source) ?? 'tinybird.json'}), but @tinybirdco/sdk is not installed for it: run npm install there, or run npx tinybird generate -o <folder> and point --project at that folder`,
  )
}

/**
 * `tinybird generate --output-dir <out>` in the project. The SDK resolves `${TINYBIRD_TOKEN}` and
 * `${TINYBIRD_URL}` in its configuration even to generate, which needs neither: unset, they get a
 * placeholder.
 */
function generate(cli: string, source: string, out: string): Promise<void> {
  const env = { ...process.env, TINYBIRD_TOKEN: process.env.TINYBIRD_TOKEN || 'sightline-generate', TINYBIRD_URL: process.env.TINYBIRD_URL || 'http://127.0.0.1' }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'generate', '--output-dir', out], { cwd: source, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('error', (err) => reject(new SdkProjectError(`tinybird generate could not start: ${err.message}`)))
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new SdkProjectError(`tinybird generate failed (exit ${code}):\n${output.trim()}`))))
  })
}
