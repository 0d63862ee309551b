import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// SIGHTLINE_DURABILITY=fsync, seen from the kernel: a store process ingests one keyed batch of each
// datasource under strace, and every part it renames into place must have had each of its files and its
// directory fsynced (fsync or fdatasync) before the rename, and its directory again after it, all before
// the process answered (the worker renames a marker file once the ingest call has resolved). With
// `none`, no part file is fsynced: the check can tell the two apart.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HERE = fileURLToPath(new URL('.', import.meta.url))

const strace = spawnSync('strace', ['-V']).status === 0
if (!strace) console.warn('fsync check skipped: strace is missing (apt-get install strace)')

function run(args: string[], env: Record<string, string>, traceTo?: string): Promise<string> {
  const node = [process.execPath, '--import', 'tsx', join(HERE, 'worker.ts'), ...args]
  const [cmd, ...argv] = traceTo ? ['strace', '-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', traceTo, ...node] : node
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, argv, { cwd: ROOT, env: { ...process.env, CLICKHOUSE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker failed (${code}):\n${out}`))))
  })
}

interface Part {
  readonly tmp: string
  readonly final: string
  /** Line index of the rename. */
  readonly at: number
}

/** Reads the trace: part renames (tmp_insert_* → final) and the paths fsynced, by line. */
function readTrace(file: string, mark: string): { parts: Part[]; synced: Array<{ path: string; at: number }>; answeredAt: number } {
  const lines = readFileSync(file, 'utf8').split('\n')
  const parts: Part[] = []
  const synced: Array<{ path: string; at: number }> = []
  let answeredAt = -1
  lines.forEach((line, at) => {
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line)
    if (sync) synced.push({ path: sync[1]!.replace(/\/$/, ''), at })
    const rename = /\brename(?:at2?)?\((?:[^,]+, )?"([^"]+)", (?:[^,]+, )?"([^"]+)"/.exec(line)
    if (!rename) return
    const [from, to] = [rename[1]!.replace(/\/$/, ''), rename[2]!.replace(/\/$/, '')]
    if (from.split('/').pop()!.startsWith('tmp_insert_')) parts.push({ tmp: from, final: to, at })
    if (to === mark) answeredAt = at
  })
  return { parts, synced, answeredAt }
}

/**
 * What was not on disk when the answer came: each part's files and directory must be fsynced before its
 * rename into place, and its directory again after it, before the answer.
 */
function unsynced(parts: readonly Part[], synced: ReadonlyArray<{ path: string; at: number }>, answeredAt: number): string[] {
  const problems: string[] = []
  for (const part of parts) {
    if (!existsSync(part.final)) continue // merged away since: its files cannot be listed any more
    const before = (path: string) => synced.some((s) => s.path === path && s.at < part.at)
    for (const file of readdirSync(part.final)) {
      if (!before(`${part.tmp}/${file}`)) problems.push(`${part.final}/${file} not fsynced before the rename`)
    }
    if (!before(part.tmp)) problems.push(`${part.tmp} (directory) not fsynced before the rename`)
    if (!synced.some((s) => s.path === part.final && s.at > part.at && s.at < answeredAt)) {
      problems.push(`${part.final} (directory) not fsynced after the rename, before the answer`)
    }
  }
  return problems
}

describe.skipIf(!strace)('SIGHTLINE_DURABILITY: part files and directories fsynced before the answer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-fsync-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  for (const kind of ['ecomm_events', 'warehouse_stock', 'products', 'app_events']) {
    it(`fsync: every part of a keyed ${kind} batch (table, quarantine, views, change log, record)`, async () => {
      const env = { SIGHTLINE_DATA_DIR: join(dir, 'fsync'), CLICKHOUSE_DATABASE: `f_${kind}`, SIGHTLINE_DURABILITY: 'fsync' }
      await run(['counts'], env) // migrations and table settings, outside the trace
      const trace = join(dir, `${kind}.strace`)
      const mark = join(dir, `${kind}-answered`)
      await run(['ingest', kind, '1', 'key'], { ...env, CRASH_ANSWER_MARK: mark }, trace)
      const { parts, synced, answeredAt } = readTrace(trace, mark)
      expect(answeredAt, 'the answer marker is in the trace').toBeGreaterThan(0)
      const batchParts = parts.filter((p) => p.at < answeredAt)
      // Table + quarantine + record at least; views on top for the datasources that have them.
      expect(batchParts.length).toBeGreaterThanOrEqual(3)
      expect(unsynced(batchParts, synced, answeredAt)).toEqual([])
    })
  }

  it('fsync: every part of a keyed batch to a loaded project’s datasource (table, quarantine, view, record)', async () => {
    const env = { SIGHTLINE_DATA_DIR: join(dir, 'fsync'), CLICKHOUSE_DATABASE: 'f_project', SIGHTLINE_DURABILITY: 'fsync' }
    await run(['project'], env) // the project's tables and their settings, outside the trace
    const trace = join(dir, 'project.strace')
    const mark = join(dir, 'project-answered')
    const out = await run(['project', 'ingest', '0', 'key'], { ...env, CRASH_ANSWER_MARK: mark }, trace)
    expect(out).toContain('"successful_rows":3')
    const { parts, synced, answeredAt } = readTrace(trace, mark)
    expect(answeredAt, 'the answer marker is in the trace').toBeGreaterThan(0)
    const batchParts = parts.filter((p) => p.at < answeredAt)
    // events, its quarantine, the user_daily view's target and the key's record.
    expect(batchParts.length).toBeGreaterThanOrEqual(4)
    expect(unsynced(batchParts, synced, answeredAt)).toEqual([])
  })

  it('none: no part file is fsynced (the setting is what makes the difference)', async () => {
    const env = { SIGHTLINE_DATA_DIR: join(dir, 'none'), CLICKHOUSE_DATABASE: 'n_ecomm', SIGHTLINE_DURABILITY: 'none' }
    await run(['counts'], env)
    const trace = join(dir, 'none.strace')
    const mark = join(dir, 'none-answered')
    await run(['ingest', 'ecomm_events', '1', 'key'], { ...env, CRASH_ANSWER_MARK: mark }, trace)
    const { parts, synced } = readTrace(trace, mark)
    expect(parts.length).toBeGreaterThanOrEqual(3)
    const partSyncs = synced.filter((s) => parts.some((p) => s.path.startsWith(p.tmp) || s.path.startsWith(p.final)))
    expect(partSyncs).toEqual([])
  })
})
