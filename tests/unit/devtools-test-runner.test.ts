import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { diffLines, judge, readTestFiles, TestFileError, type TestCase } from '../../src/devtools/test-runner.js'

const ok = (expectedResult: string, expectedStatus = 200): TestCase => ({ name: 't', parameters: '', expectedStatus, expectedResult })

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-tests-'))
  mkdirSync(join(dir, 'tests'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'tests', name), text)
  return dir
}

describe('Tinybird test files', () => {
  it('reads tests/<pipe>.yaml with defaults for missing fields', () => {
    const dir = project({
      'top.yaml': "- name: a\n  parameters: 'x=1&y=2'\n  expected_result: |\n    {\"n\":1}\n- name: b\n  expected_http_status: 400\n",
      'notes.txt': 'ignored',
    })
    const [file] = readTestFiles(dir)
    expect(file?.pipe).toBe('top')
    expect(file?.cases).toEqual([
      { name: 'a', parameters: 'x=1&y=2', expectedStatus: 200, expectedResult: '{"n":1}\n' },
      { name: 'b', parameters: '', expectedStatus: 400, expectedResult: '' },
    ])
  })

  it("reads Classic's SQL tests, with their limits and the pipe's parameters as a query string", () => {
    const dir = project({
      'default.yaml': "- positive:\n    max_time: null\n    max_bytes_read: 100\n    sql: SELECT 1 WHERE 0\n- over_pipe:\n    sql: SELECT * FROM _\n    pipe:\n      name: top\n      params:\n        day: '2026-01-01'\n        tags: [a, b]\n",
      'regression.yaml': "- pipe: '.*'\n  tests:\n    - coverage: {}\n",
    })
    const [defaults, regression] = readTestFiles(dir)
    expect(defaults?.cases).toEqual([
      { kind: 'sql', name: 'positive', sql: 'SELECT 1 WHERE 0', maxBytesRead: 100 },
      { kind: 'sql', name: 'over_pipe', sql: 'SELECT * FROM _', pipe: { name: 'top', params: 'day=2026-01-01&tags=a%2Cb' } },
    ])
    expect(regression?.skipped).toMatch(/Classic regression tests/)
    expect(() => readTestFiles(project({ 'x.yaml': '- t:\n    sql: SELECT 1\n    max_time: soon\n' }))).toThrow(/t\): max_time must be a number/)
    expect(() => readTestFiles(project({ 'x.yaml': '- t:\n    sql: SELECT 1\n    pipe: top\n' }))).toThrow(/pipe must be \{name, params\}/)
  })

  it('refuses a file that is not a list of named tests, naming the file', () => {
    expect(() => readTestFiles(project({ 'x.yaml': 'name: a\n' }))).toThrow(TestFileError)
    expect(() => readTestFiles(project({ 'x.yaml': '- parameters: a=1\n' }))).toThrow(/tests\/x\.yaml: test 1: name is missing/)
    expect(() => readTestFiles(project({ 'x.yaml': '- name: a\n  expected_http_status: ok\n' }))).toThrow(/expected_http_status must be a number/)
  })
})

describe('judging an answer', () => {
  it('compares rows as JSON values in order, ignoring surrounding blank space', () => {
    expect(judge(ok('{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n'), 200, '{"a":1.0,"b":"x"}\n{"a":2,"b":"y"}').ok).toBe(true)
    expect(judge(ok('{"a":2}\n{"a":1}\n'), 200, '{"a":1}\n{"a":2}\n').ok).toBe(false)
    // Key order is part of an endpoint's answer.
    expect(judge(ok('{"b":1,"a":2}'), 200, '{"a":2,"b":1}').ok).toBe(false)
  })

  it('compares integers past 2^53 as text', () => {
    expect(judge(ok('{"n":18446744073000000001}'), 200, '{"n":18446744073000000000}').ok).toBe(false)
    expect(judge(ok('{"n":18446744073000000000}'), 200, '{"n":18446744073000000000}').ok).toBe(true)
  })

  it('checks only the status for a non-200 expectation, and says what came back otherwise', () => {
    expect(judge(ok('', 400), 400, '{"error":"bad"}').ok).toBe(true)
    expect(judge(ok('', 200), 400, '{"error":"bad"}').detail).toEqual(['expected HTTP 200, got 400: {"error":"bad"}'])
  })

  it('shows a line diff: - expected, + actual, unchanged lines as context', () => {
    expect(diffLines(['{"a":1}', '{"a":2}', '{"a":3}'], ['{"a":1}', '{"a":4}', '{"a":3}', '{"a":5}'])).toEqual([
      '  {"a":1}',
      '- {"a":2}',
      '+ {"a":4}',
      '  {"a":3}',
      '+ {"a":5}',
    ])
  })
})
