/**
 * `sightline test [--project DIR] [--update] [PIPE…]`: Tinybird Forward's endpoint tests
 * (`tests/<pipe>.yaml`, TINYBIRD.md §5) run on a throw-away embedded store loaded with `fixtures/`,
 * no Docker: each case requests `/v0/pipes/<pipe>.ndjson?<parameters>` over HTTP with an admin token and
 * compares the status and, for a 200, the NDJSON rows with `expected_result`. `--update` rewrites
 * `expected_result` and `expected_http_status` from the answers, keeping the rest of each file.
 *
 * Comparison (TINYBIRD.md calls Tinybird's exact rule unverified): the bodies are compared line by line
 * after trimming; two lines are equal when their text is, or when both are JSON with the same values
 * and key order (so `1.0` equals `1`), except where a line holds an integer too long for a double.
 * For a non-200 expectation only the status is compared.
 *
 * Classic's data quality tests (`- <name>: {sql, max_time, max_bytes_read, pipe: {name, params}}`, in any
 * `tests/*.yaml`) run too: the SQL goes to `/v0/sql` (with the pipe's parameters and `pipeline=<pipe>`, so
 * it reads the pipe by name or as `_`), and the test passes when it answers no rows, within `max_time`
 * seconds and `max_bytes_read` bytes when they are set. Classic's regression files (`- pipe: … tests: …`)
 * are reported as skipped.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { isMap, isSeq, parseDocument, Scalar, type Document } from 'yaml'
import { loadProject } from '../project/datafile.js'
import { sdkConfig } from './sdk-project.js'
import { startProjectSession, type StartServer } from './session.js'

export interface TestCase {
  readonly name: string
  readonly description?: string
  readonly parameters: string
  readonly expectedStatus: number
  readonly expectedResult: string
}

/** A Classic data quality test: SQL that must answer no rows, within its time and bytes when set. */
export interface SqlCase {
  readonly kind: 'sql'
  readonly name: string
  readonly sql: string
  /** Seconds. */
  readonly maxTime?: number
  readonly maxBytesRead?: number
  /** The pipe the SQL reads, and its parameters as a query string. */
  readonly pipe?: { readonly name: string; readonly params: string }
}

export interface TestFile {
  /** Path relative to the project. */
  readonly file: string
  readonly path: string
  readonly pipe: string
  readonly cases: ReadonlyArray<TestCase | SqlCase>
  readonly document: Document
  /** Why the file's tests are not run (a shape Sightline does not run), when they are not. */
  readonly skipped?: string
}

const isSqlCase = (c: TestCase | SqlCase): c is SqlCase => 'kind' in c && c.kind === 'sql'

/** A test file that does not have Tinybird's shape. */
export class TestFileError extends Error {
  override name = 'TestFileError'
}

/** The project's `tests/*.yaml` (and `.yml`) files, parsed; the file name is the pipe's. */
export function readTestFiles(dir: string): TestFile[] {
  const folder = join(dir, 'tests')
  if (!existsSync(folder)) return []
  const files: TestFile[] = []
  for (const entry of readdirSync(folder).sort()) {
    if (!/\.ya?ml$/.test(entry)) continue
    const path = join(folder, entry)
    const file = relative(dir, path)
    const document = parseDocument(readFileSync(path, 'utf8'))
    if (document.errors.length > 0) throw new TestFileError(`${file}: ${document.errors[0]!.message}`)
    const list: unknown = document.toJS()
    if (list === null || list === undefined) continue
    if (!Array.isArray(list)) throw new TestFileError(`${file}: expected a list of tests (- name: …)`)
    const pipe = basename(entry).replace(/\.ya?ml$/, '')
    if (list.some((item) => isRecord(item) && 'tests' in item && 'pipe' in item)) {
      files.push({ file, path, pipe, cases: [], document, skipped: "Classic regression tests (- pipe: … tests: …) are not run; Forward's endpoint tests and Classic's SQL tests are" })
      continue
    }
    const cases = list.map((item: unknown, i): TestCase | SqlCase => {
      const at = `${file}: test ${i + 1}`
      const classic = classicCase(item, at)
      if (classic) return classic
      if (item === null || typeof item !== 'object') throw new TestFileError(`${at}: expected an object with name, parameters, expected_result`)
      const t = item as Record<string, unknown>
      if (typeof t.name !== 'string' || t.name === '') throw new TestFileError(`${at}: name is missing`)
      const status = t.expected_http_status ?? 200
      if (typeof status !== 'number' || !Number.isInteger(status)) throw new TestFileError(`${at} (${t.name}): expected_http_status must be a number`)
      const parameters = t.parameters ?? ''
      const expected = t.expected_result ?? ''
      if (typeof parameters !== 'string') throw new TestFileError(`${at} (${t.name}): parameters must be a query string`)
      if (typeof expected !== 'string') throw new TestFileError(`${at} (${t.name}): expected_result must be NDJSON text`)
      return {
        name: t.name,
        ...(typeof t.description === 'string' && { description: t.description }),
        parameters: parameters.replace(/^\?/, ''),
        expectedStatus: status,
        expectedResult: expected,
      }
    })
    files.push({ file, path, pipe, cases, document })
  }
  return files
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

/** A Classic test (`- <name>: {sql, …}`), or undefined when the item has another shape. */
function classicCase(item: unknown, at: string): SqlCase | undefined {
  if (!isRecord(item)) return undefined
  const keys = Object.keys(item)
  const body = keys.length === 1 ? item[keys[0]!] : undefined
  if (!isRecord(body) || !('sql' in body)) return undefined
  const name = keys[0]!
  if (typeof body.sql !== 'string' || body.sql.trim() === '') throw new TestFileError(`${at} (${name}): sql must be a query`)
  const limit = (key: 'max_time' | 'max_bytes_read'): number | undefined => {
    const value = body[key]
    if (value === null || value === undefined) return undefined
    if (typeof value !== 'number' || !(value >= 0)) throw new TestFileError(`${at} (${name}): ${key} must be a number (or null)`)
    return value
  }
  const maxTime = limit('max_time')
  const maxBytesRead = limit('max_bytes_read')
  let pipe: SqlCase['pipe']
  if (body.pipe !== undefined && body.pipe !== null) {
    const p = body.pipe
    if (!isRecord(p) || typeof p.name !== 'string' || p.name === '') throw new TestFileError(`${at} (${name}): pipe must be {name, params}`)
    const params = p.params
    const search =
      params === undefined || params === null
        ? ''
        : typeof params === 'string'
          ? params.replace(/^\?/, '')
          : isRecord(params)
            ? new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(',') : String(v)])).toString()
            : undefined
    if (search === undefined) throw new TestFileError(`${at} (${name}): pipe params must be a map or a query string`)
    pipe = { name: p.name, params: search }
  }
  return { kind: 'sql', name, sql: body.sql, ...(maxTime !== undefined && { maxTime }), ...(maxBytesRead !== undefined && { maxBytesRead }), ...(pipe && { pipe }) }
}

/** Tinybird's envelope as `/v0/sql` answers it (the fields a Classic test reads). */
interface SqlEnvelope {
  readonly data?: readonly unknown[]
  readonly statistics?: { readonly elapsed?: number; readonly bytes_read?: number }
  readonly error?: string
}

/** Judges a Classic test's answer: no rows, within its limits. */
export function judgeSql(test: SqlCase, status: number, body: string): { ok: boolean; detail: string[] } {
  let doc: SqlEnvelope
  try {
    doc = JSON.parse(body) as SqlEnvelope
  } catch {
    return { ok: false, detail: [`HTTP ${status}: ${body.trim().slice(0, 300)}`] }
  }
  if (status !== 200) return { ok: false, detail: [`HTTP ${status}: ${doc.error ?? body.trim().slice(0, 300)}`] }
  const detail: string[] = []
  const rows = doc.data ?? []
  if (rows.length > 0) detail.push(`the query answered ${rows.length} row(s); a passing test answers none:`, ...rows.slice(0, 5).map((r) => `  ${JSON.stringify(r)}`))
  const elapsed = doc.statistics?.elapsed ?? 0
  if (test.maxTime !== undefined && elapsed > test.maxTime) detail.push(`it took ${elapsed} s, over max_time ${test.maxTime} s`)
  const bytes = doc.statistics?.bytes_read ?? 0
  if (test.maxBytesRead !== undefined && bytes > test.maxBytesRead) detail.push(`it read ${bytes} bytes, over max_bytes_read ${test.maxBytesRead}`)
  return { ok: detail.length === 0, detail }
}

/** Integers a double cannot hold exactly: such lines are compared as text. */
const LONG_INTEGER = /(?<![\d.eE])-?\d{16,}(?![\d.eE])/

function sameLine(a: string, b: string): boolean {
  if (a === b) return true
  if (LONG_INTEGER.test(a) || LONG_INTEGER.test(b)) return false
  try {
    const x: unknown = JSON.parse(a)
    const y: unknown = JSON.parse(b)
    return isDeepStrictEqual(x, y) && JSON.stringify(Object.keys(x ?? {})) === JSON.stringify(Object.keys(y ?? {}))
  } catch {
    return false
  }
}

const lines = (text: string) => (text.trim() === '' ? [] : text.trim().split('\n').map((l) => l.trim()))

/** A line diff (`- expected`, `+ actual`, `  same`), from the longest common subsequence. */
export function diffLines(expected: readonly string[], actual: readonly string[]): string[] {
  const n = expected.length
  const m = actual.length
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = sameLine(expected[i]!, actual[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
  }
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (sameLine(expected[i]!, actual[j]!)) {
      out.push(`  ${actual[j]}`)
      i++
      j++
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push(`- ${expected[i++]}`)
    else out.push(`+ ${actual[j++]}`)
  }
  while (i < n) out.push(`- ${expected[i++]}`)
  while (j < m) out.push(`+ ${actual[j++]}`)
  return out
}

export interface CaseResult {
  readonly file: string
  readonly name: string
  readonly ok: boolean
  readonly status: number
  readonly body: string
  /** Why it failed, and a diff for a body that differs. */
  readonly detail: readonly string[]
  readonly ms: number
}

/** Compares one answer with a case's expectation. */
export function judge(test: TestCase, status: number, body: string): { ok: boolean; detail: string[] } {
  if (status !== test.expectedStatus) {
    const error = status === 200 ? '' : `: ${body.trim().slice(0, 300)}`
    return { ok: false, detail: [`expected HTTP ${test.expectedStatus}, got ${status}${error}`] }
  }
  if (status !== 200) return { ok: true, detail: [] }
  const want = lines(test.expectedResult)
  const got = lines(body)
  if (want.length === got.length && want.every((line, i) => sameLine(line, got[i]!))) return { ok: true, detail: [] }
  return { ok: false, detail: [`the result differs (- expected, + actual):`, ...diffLines(want, got)] }
}

export interface TestRunOptions {
  readonly dir: string
  readonly update?: boolean
  /** Only these pipes' files (names without `.yaml`); all when empty. */
  readonly pipes?: readonly string[]
  readonly startServer: StartServer
  readonly out?: (line: string) => void
}

export interface TestRunReport {
  readonly results: readonly CaseResult[]
  readonly failed: number
  readonly updated: number
  /** From the command's start to the first case's request (parse, store, project, fixtures). */
  readonly coldStartMs: number
}

/** Runs every case (or rewrites their expectations with `update`); the caller exits 1 when `failed` > 0. */
export async function runProjectTests(options: TestRunOptions): Promise<TestRunReport> {
  const started = performance.now()
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`))
  // A datafile error stops here, with file:line, before any store opens (a TypeScript SDK project's
  // datafiles are generated by the session).
  if (!sdkConfig(options.dir)) loadProject(options.dir)
  const only = new Set(options.pipes ?? [])
  const files = readTestFiles(options.dir).filter((f) => only.size === 0 || only.has(f.pipe))
  const missing = [...only].filter((p) => !files.some((f) => f.pipe === p))
  if (missing.length > 0) throw new TestFileError(`no test file for ${missing.join(', ')} in ${join(options.dir, 'tests')}`)
  if (files.length === 0) {
    out(`no tests: ${join(options.dir, 'tests')} has no .yaml files`)
    return { results: [], failed: 0, updated: 0, coldStartMs: performance.now() - started }
  }
  const session = await startProjectSession({ dir: options.dir, startServer: options.startServer })
  const coldStartMs = performance.now() - started
  const results: CaseResult[] = []
  let updated = 0
  try {
    for (const loaded of session.fixtures) out(`fixtures: ${loaded.file} → ${loaded.datasource}: ${loaded.rows} rows${loaded.quarantined > 0 ? `, ${loaded.quarantined} quarantined` : ''}`)
    for (const file of files) {
      if (file.skipped) out(`· ${file.file}: skipped: ${file.skipped}`)
      for (const [index, test] of file.cases.entries()) {
        const t0 = performance.now()
        if (isSqlCase(test)) {
          const search = new URLSearchParams(test.pipe?.params ?? '')
          if (test.pipe) search.set('pipeline', test.pipe.name)
          const res = await fetch(`${session.base}/v0/sql?${search}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${session.adminToken}`, 'content-type': 'text/plain' },
            body: test.sql,
          })
          const body = await res.text()
          const ms = performance.now() - t0
          const verdict = judgeSql(test, res.status, body)
          results.push({ file: file.file, name: test.name, ok: verdict.ok, status: res.status, body, detail: verdict.detail, ms })
          out(`${verdict.ok ? '✓' : '✗'} ${file.file} › ${test.name} (${Math.round(ms)} ms)${options.update ? ': a SQL test, nothing to rewrite' : ''}`)
          for (const line of verdict.detail) out(`    ${line}`)
          continue
        }
        const res = await fetch(`${session.base}/v0/pipes/${encodeURIComponent(file.pipe)}.ndjson${test.parameters ? `?${test.parameters}` : ''}`, {
          headers: { authorization: `Bearer ${session.adminToken}` },
        })
        const body = await res.text()
        const ms = performance.now() - t0
        if (options.update) {
          if (rewrite(file.document, index, res.status, body)) updated++
          out(`↻ ${file.file} › ${test.name}: HTTP ${res.status}, ${lines(body).length} rows`)
          results.push({ file: file.file, name: test.name, ok: true, status: res.status, body, detail: [], ms })
          continue
        }
        const verdict = judge(test, res.status, body)
        results.push({ file: file.file, name: test.name, ok: verdict.ok, status: res.status, body, detail: verdict.detail, ms })
        out(`${verdict.ok ? '✓' : '✗'} ${file.file} › ${test.name} (${Math.round(ms)} ms)`)
        for (const line of verdict.detail) out(`    ${line}`)
      }
      if (options.update) writeFileSync(file.path, file.document.toString({ lineWidth: 0 }))
    }
  } finally {
    await session.close()
  }
  const failed = results.filter((r) => !r.ok).length
  if (options.update) out(`\n${updated} of ${results.length} expectations rewritten in ${files.length} file(s)`)
  else out(`\n${results.length - failed} passed, ${failed} failed (${files.length} file(s); store, project and fixtures ready in ${Math.round(coldStartMs)} ms)`)
  return { results, failed, updated, coldStartMs }
}

/** Sets a case's expected status and result in the YAML document; true when they changed. */
function rewrite(document: Document, index: number, status: number, body: string): boolean {
  const list = document.contents
  if (!isSeq(list)) return false
  const item = list.items[index]
  if (!isMap(item)) return false
  const result = status === 200 ? `${lines(body).join('\n')}\n` : ''
  const before = { status: item.get('expected_http_status'), result: String(item.get('expected_result') ?? '') }
  const changed = before.status !== status || lines(before.result).join('\n') !== lines(result).join('\n')
  item.set('expected_http_status', status)
  const scalar = new Scalar(result === '\n' ? '' : result)
  scalar.type = result === '' || result === '\n' ? 'QUOTE_SINGLE' : 'BLOCK_LITERAL'
  item.set('expected_result', scalar)
  return changed
}
