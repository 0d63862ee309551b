import { describe, expect, it } from 'vitest'
import { withSettings } from '../../src/domain/project.js'

describe('withSettings: template options as the statement’s own SETTINGS', () => {
  it('adds max_threads and output settings as one clause, or extends the clause the SQL ends with', () => {
    expect(withSettings({ sql: 'SELECT 1', settings: {} })).toBe('SELECT 1')
    expect(withSettings({ sql: 'SELECT 1\n', settings: { max_threads: 2 } })).toBe('SELECT 1\nSETTINGS max_threads = 2')
    expect(withSettings({ sql: 'SELECT 1', settings: { max_threads: 2 } }, { output_format_json_quote_64bit_integers: 0 })).toBe(
      'SELECT 1\nSETTINGS max_threads = 2, output_format_json_quote_64bit_integers = 0',
    )
    expect(withSettings({ sql: 'SELECT 1 SETTINGS join_use_nulls = 1', settings: { max_threads: 4 } })).toBe('SELECT 1 SETTINGS join_use_nulls = 1, max_threads = 4')
    // A SETTINGS clause inside a subquery is that subquery's: the outer statement gets its own.
    expect(withSettings({ sql: 'SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)', settings: { max_threads: 3 } })).toBe(
      'SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)\nSETTINGS max_threads = 3',
    )
    // cache_ttl, backend_hint… are Tinybird's own: nothing for ClickHouse.
    expect(withSettings({ sql: 'SELECT 1', settings: { cache_ttl: '1m', backend_hint: 'x' } })).toBe('SELECT 1')
  })
})
