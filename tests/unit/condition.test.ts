import { describe, expect, it } from 'vitest'
import { bindCondition, ConditionError } from '../../src/domain/condition.js'

const COLUMNS = new Map([
  ['timestamp', "DateTime('UTC')"],
  ['event', 'LowCardinality(String)'],
  ['product', 'String'],
  ['amount', 'Int32'],
])

describe('delete_condition', () => {
  it('renders comparisons, lists, patterns and logic with every value bound', () => {
    expect(bindCondition("product = 'a' AND event != 'view'", COLUMNS)).toEqual({
      sql: "(`product` = {p0:String}) AND (`event` != {p1:String})",
      params: { p0: 'a', p1: 'view' },
    })
    expect(bindCondition('amount >= -5 OR NOT amount < 3.5', COLUMNS)).toEqual({
      sql: '(`amount` >= {p0:Int64}) OR (NOT (`amount` < {p1:Float64}))',
      params: { p0: -5, p1: 3.5 },
    })
    expect(bindCondition("`product` NOT IN ('a', 'b') AND event LIKE 'v%' AND timestamp BETWEEN '2024-01-01' AND '2024-02-01'", COLUMNS).sql).toBe(
      '(`product` NOT IN ({p0:String}, {p1:String})) AND (`event` LIKE {p2:String}) AND (`timestamp` BETWEEN {p3:String} AND {p4:String})',
    )
    expect(bindCondition('(product IS NOT NULL)', COLUMNS).sql).toBe('(`product` IS NOT NULL)')
    expect(bindCondition("product == 'it''s' OR product = 'back\\\\slash\\'s'", COLUMNS).params).toEqual({ p0: "it's", p1: "back\\slash's" })
  })

  it('refuses functions, subqueries, unknown columns, comments, statements and stray text', () => {
    for (const bad of [
      'sleep(3) = 0',
      'product IN (SELECT product FROM t)',
      'secret = 1',
      "product = 'x' -- comment",
      "product = 'x'; DROP TABLE t",
      "product = 'x' /* c */",
      'amount = 1 + 1',
      "product = 'unclosed",
      '`unclosed',
      '',
      'product =',
      'NOT',
      'product IN ()',
      "event LIKE product",
      'a'.repeat(5000),
    ]) {
      expect(() => bindCondition(bad, COLUMNS), bad).toThrow(ConditionError)
    }
  })
})
