import { describe, expect, it } from 'vitest'
import { inlineValues, stringLiteral } from '../../src/store/literals.js'

describe('inlineValues', () => {
  it('replaces each placeholder with a literal of its type', () => {
    const sql = 'SELECT * FROM t WHERE a = {a:String} AND n < {n:UInt32} AND at >= {from:DateTime64(3, \'UTC\')} AND x IN {xs:Array(String)} LIMIT {n:UInt32}'
    expect(inlineValues(sql, { a: 'shoes', n: 10, from: '2026-12-01 10:00:00.000', xs: ['a', 'b'] })).toBe(
      "SELECT * FROM t WHERE a = 'shoes' AND n < CAST(10 AS UInt32) AND at >= CAST('2026-12-01 10:00:00.000' AS DateTime64(3, 'UTC')) AND x IN CAST(['a', 'b'] AS Array(String)) LIMIT CAST(10 AS UInt32)",
    )
  })

  it('leaves placeholders in strings, quoted identifiers and comments alone, whatever quotes those hold', () => {
    const sql = "SELECT '{a:String}', `{a:String}`, \"{a:String}\" -- don't {a:String}\n, 'it''s {a:String}', 'x\\' {a:String}' /* {a:String} ' */, {a:String}"
    expect(inlineValues(sql, { a: 'v' })).toBe(sql.slice(0, sql.lastIndexOf('{a:String}')) + "'v'")
  })

  it('escapes every character that could end or escape the quote', () => {
    expect(stringLiteral("a'b\\c")).toBe("'a\\'b\\\\c'")
    expect(stringLiteral("'; DROP TABLE t; --")).toBe("'\\'; DROP TABLE t; --'")
    expect(stringLiteral('\0\b\f\n\r\t')).toBe("'\\0\\b\\f\\n\\r\\t'")
    expect(stringLiteral('é 🛒 {a:String}')).toBe("'é 🛒 {a:String}'")
  })

  it('runs bound (undefined) when a value or type is not one it renders', () => {
    const q = (type: string) => `SELECT {v:${type}}`
    expect(inlineValues(q('UInt8'), { v: 256 })).toBeUndefined()
    expect(inlineValues(q('UInt32'), { v: -1 })).toBeUndefined()
    expect(inlineValues(q('Int64'), { v: 2 ** 60 })).toBeUndefined() // not a safe integer: a bigint or string keeps it exact
    expect(inlineValues(q('Int64'), { v: '-9223372036854775808' })).toBe('SELECT CAST(-9223372036854775808 AS Int64)')
    expect(inlineValues(q('UInt64'), { v: 2n ** 64n })).toBeUndefined()
    expect(inlineValues(q('Float64'), { v: Number.NaN })).toBeUndefined()
    expect(inlineValues(q('String'), { v: { a: 1 } })).toBeUndefined()
    expect(inlineValues(q('String'), {})).toBeUndefined()
    expect(inlineValues(q('Identifier'), { v: 't' })).toBeUndefined()
    expect(inlineValues(q('JSON'), { v: '{}' })).toBeUndefined()
    expect(inlineValues(q("DateTime64(3, 'UTC')"), { v: "2026-12-01' OR 1=1" })).toBeUndefined()
    expect(inlineValues(q('Array(String)'), { v: ['a', 1n] })).toBeUndefined()
    expect(inlineValues(q('Bool'), { v: 1 })).toBeUndefined()
  })

  it('renders NULL, Date objects, booleans and floats as the binding would read them', () => {
    expect(inlineValues('SELECT {v:Nullable(String)}', { v: null })).toBe('SELECT CAST(NULL AS Nullable(String))')
    expect(inlineValues('SELECT {v:Nullable(String)}', { v: 'x' })).toBe("SELECT CAST('x' AS Nullable(String))")
    expect(inlineValues("SELECT {v:DateTime('UTC')}", { v: new Date('2026-12-01T10:11:12.345Z') })).toBe("SELECT CAST('2026-12-01 10:11:12' AS DateTime('UTC'))")
    expect(inlineValues('SELECT {v:Bool}', { v: false })).toBe('SELECT CAST(false AS Bool)')
    expect(inlineValues('SELECT {v:Float64}', { v: 1.5e-7 })).toBe('SELECT CAST(1.5e-7 AS Float64)')
    expect(inlineValues('SELECT {v:Array(String)}', { v: [] })).toBe('SELECT CAST([] AS Array(String))')
  })

  it('returns a statement without placeholders as it is', () => {
    expect(inlineValues('SELECT 1', {})).toBe('SELECT 1')
  })
})
