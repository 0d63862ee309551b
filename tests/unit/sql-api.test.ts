import { describe, expect, it } from 'vitest'
import { singleStatement, SqlInvalidError } from '../../src/domain/sql.js'
import { HttpError } from '../../src/rest/http.js'
import { splitFormat } from '../../src/rest/sql.js'
import { parseExact } from '../../src/store/sql-query.js'

describe('/v0/sql text handling', () => {
  it('takes one statement: a trailing ; is dropped, any other refused before anything reaches ClickHouse', () => {
    expect(singleStatement('  SELECT 1 ;  ')).toBe('SELECT 1')
    for (const bad of ['SELECT 1; DROP TABLE t', "SELECT ';'", 'SELECT 1;;', '', ' ; ', 'SELECT \0']) {
      expect(() => singleStatement(bad), JSON.stringify(bad)).toThrow(SqlInvalidError)
    }
  })

  it('reads a final FORMAT clause, JSON by default', () => {
    expect(splitFormat('SELECT 1')).toEqual({ statement: 'SELECT 1', format: 'json' })
    expect(splitFormat('SELECT 1 FORMAT CSVWithNames;')).toEqual({ statement: 'SELECT 1 ', format: 'csvwithnames' })
    expect(splitFormat('SELECT 1 format jsoneachrow')).toMatchObject({ format: 'ndjson' })
    expect(splitFormat('SELECT 1 FORMAT CSV\n')).toMatchObject({ format: 'csv' })
    expect(() => splitFormat('SELECT 1 FORMAT TSV')).toThrow(HttpError)
    // Only a final clause: anything else stays in the statement, for ClickHouse's parser to judge.
    expect(splitFormat("SELECT 'FORMAT CSV' AS f, 1 AS n")).toMatchObject({ format: 'json' })
  })

  it('parses JSON with integers past 2^53 exact, strings and floats untouched', () => {
    expect(parseExact('{"a":18446744073709551615,"b":"12345678901234567890","c":[-9223372036854775808,1.5e300,12],"d":"x\\"99999999999999999"}')).toEqual({
      a: 18446744073709551615n,
      b: '12345678901234567890',
      c: [-9223372036854775808n, 1.5e300, 12],
      d: 'x"99999999999999999',
    })
  })
})
