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
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { isMap, isSeq, parseDocument, Scalar, type Document } from 'yaml'
import { loadProject } from '../project/datafile.js'
import { startProjectSession, type StartServer } from './session.js'

export interface TestCase {
  readonly name: string
  readonly description?: string
  readonly parameters: string
  readonly expectedStatus: number
  readonly expectedResult: string
}

export interface TestFile {
  /** Path relative to the project. */
  readonly file: string
  readonly path: string
  readonly pipe: string
  readonly cases: readonly TestCase[]
  readonly document: Document
}

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
    const cases = list.map((item: unknown, i): TestCase => {
      const at = `${file}: test ${i + 1}`
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
    files.push({ file, path, pipe: basename(entry).replace(/\.ya?ml$/, ''), cases, document })
  }
  return files
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
  loadProject(options.dir) // a datafile error stops here, with file:line, before any store opens
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
      for (const [index, test] of file.cases.entries()) {
        const t0 = performance.now()
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
