import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { composeNodeSql, loadProject } from '../../src/project/datafile.js'
import {
  Binder,
  compileTemplate,
  decodeClickHouseLiteral,
  escapeString,
  pyFloatRepr,
  renderTemplate,
  RESERVED_REQUEST_PARAMS,
  TemplateError,
  templateParameters,
  type ParamValue,
  type RenderOptions,
} from '../../src/project/template.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/projects/', import.meta.url))

const inline = (t: string, params: Record<string, ParamValue> = {}, extra: RenderOptions = {}) => renderTemplate(t, { params, mode: 'inline', ...extra }).sql
const bind = (t: string, params: Record<string, ParamValue> = {}, extra: RenderOptions = {}) => {
  const r = renderTemplate(t, { params, ...extra })
  return { sql: r.sql, params: r.params }
}
function fails(fn: () => unknown): TemplateError {
  try {
    fn()
  } catch (e) {
    if (e instanceof TemplateError) return e
    throw e
  }
  throw new Error('expected a TemplateError')
}
const message = (t: string, params: Record<string, ParamValue> = {}, extra: RenderOptions = {}) => fails(() => renderTemplate(t, { params, ...extra })).message

describe('syntax', () => {
  it('keeps text and whitespace exactly, drops {# comments #}, honours {{! {%! {#! escapes', () => {
    expect(inline('  SELECT 1\n\t{# gone #}  {{! x }} {%! y %} {#! z #}\n')).toBe('  SELECT 1\n\t  {{ x }} {% y %} {# z #}\n')
  })

  it('if / elif / else / end, with nesting', () => {
    const t = "{% if x == 'a' %}A{% elif x == 'b' %}{% if defined(y) %}BY{% else %}B{% end %}{% else %}C{% end %}"
    expect([inline(t, { x: 'a' }), inline(t, { x: 'b', y: '1' }), inline(t, { x: 'b' }), inline(t)]).toEqual(['A', 'BY', 'B', 'C'])
  })

  it('for with break, continue and else; while; set with += and unpacking', () => {
    expect(inline('{% for i in range(5) %}{% if i == 1 %}{% continue %}{% end %}{% if i == 3 %}{% break %}{% end %}{{i}}{% else %}never{% end %}')).toBe('02')
    expect(inline('{% for i in [] %}x{% else %}empty{% end %}')).toBe('empty')
    expect(inline('{% set n = 0 %}{% while n < 3 %}{% set n += 1 %}{{n}}{% end %}')).toBe('123')
    expect(inline("{% set a, b = 'x,y'.split(',') %}{{b}}{{a}}")).toBe("'y''x'")
    expect(inline('{% for i, v in enumerate(["a", "b"]) %}{{i}}={{v}} {% end %}')).toBe("0='a' 1='b' ")
  })

  it('treats a name assigned by set or for as local to the whole template, as Python does', () => {
    expect(message("{% if defined(x) %}{% end %}{% set x = 'a' %}{{x}}", { x: 'from request' })).toBe("Template Syntax Error: local variable 'x' referenced before assignment, line 1")
    expect(templateParameters("{% set x = 'a' %}{{ x }} {{ y }}").map((p) => p.name)).toEqual(['y'])
  })

  it('try / except / finally, keeping what the failed part already wrote (as Tornado does)', () => {
    expect(inline('{% try %}A{{ Int32(x) }}{% except %}E{% finally %}F{% end %}')).toBe('AEF')
    expect(inline('{% try %}{{ Int32(x) }}{% except Exception as e %}{{ e.startswith("Template") }}{% end %}')).toBe('True')
    expect(inline('{% try %}{{ Int32(x, 3) }}{% except %}E{% end %}')).toBe("toInt32('3')")
  })

  it('reports template syntax errors with their line', () => {
    expect(message('SELECT\n{% if defined(x) %} x, 1')).toBe('Missing {% end %} block for if at line 2')
    expect(message('{% for x in y %}')).toBe('Missing {% end %} block for for at line 1')
    expect(message('a {% end %}')).toBe('Extra {% end %} block at line 1')
    expect(message('{% else %}')).toBe('else outside if, for, while, try block at line 1')
    expect(message('{% if x %}{% endif %}')).toBe('{% endif %} is not template syntax; close blocks with {% end %} (line 1)')
    expect(message('% SELECT * FROM {% import os %}{{ os.popen("whoami").read() }}')).toBe('import is forbidden at <string>:1')
    expect(message('{% from os import popen %}')).toBe('import is forbidden at <string>:1')
    expect(message('% SELECT {{len([1] * 10**7)}}')).toBe('Template Syntax Error: Invalid BinOp: Pow()')
    expect(message('\n{% if whatever(passenger_count) %}{% end %}')).toBe("Template Syntax Error: 'whatever' is not a valid function, line 2")
    expect(message('{{ eval("1") }}')).toBe("Template Syntax Error: 'eval' is not a valid function, line 1")
    expect(message('{{ x.__class__ }}')).toContain('attribute "__class__" is not accessible')
    expect(message('{{ x.format(1) }}')).toBe("Template Syntax Error: 'format' is not an allowed method, line 1")
    expect(message('{{ __import__("os") }}')).toContain('name "__import__" is not accessible')
    expect(message('{{ [x for x in y] }}')).toContain('comprehensions are not supported')
    expect(message('{{ (lambda: 1)() }}')).toContain('lambda is not supported')
    expect(message('{{ }}')).toBe('Empty expression at line 1')
    expect(message('{{ a b }}')).toContain('invalid syntax: unexpected "b"')
    expect(message('{{ a')).toBe('Missing end expression }} at line 1')
    expect(message('{% if {{x}} %}{% end %}')).toContain('a nested {{ }} inside {% %} is not template syntax')
  })

  it('caps runaway loops and sizes', () => {
    expect(message('{% while True %}{% end %}')).toBe('the template runs more than 100000 steps (line 1)')
    expect(message('{{ "x" * 1000000 }}')).toBe('the result of * is too large (line 1)')
    expect(message('{{ range(1000000) }}')).toBe('range() is larger than 100000 (line 1)')
  })
})

describe('typed parameters render as Tinybird renders them (inline) and as bound parameters (bind)', () => {
  it.each([
    // [template, params, inline SQL, bind SQL, bound params]
    ['{{String(x)}}', { x: "it's" }, "'it\\'s'", '{p0:String}', { p0: "it's" }],
    ['{{x}}', { x: '5' }, "'5'", '{p0:String}', { p0: '5' }],
    ['{{String(x, "d")}}', {}, "'d'", '{p0:String}', { p0: 'd' }],
    ['{{Int8(x)}}', { x: '-128' }, "toInt8('-128')", '{p0:Int8}', { p0: '-128' }],
    ['{{Int16(x)}}', { x: '+7' }, "toInt16('7')", '{p0:Int16}', { p0: '7' }],
    ['{{Int32(x, 10)}}', {}, "toInt32('10')", '{p0:Int32}', { p0: '10' }],
    ['{{Int64(x)}}', { x: '9223372036854775807' }, "toInt64('9223372036854775807')", '{p0:Int64}', { p0: '9223372036854775807' }],
    ['{{Int128(x)}}', { x: '007' }, "toInt128('7')", '{p0:Int128}', { p0: '7' }],
    ['{{Int256(x)}}', { x: '-1' }, "toInt256('-1')", '{p0:Int256}', { p0: '-1' }],
    ['{{UInt8(x)}}', { x: '255' }, "toUInt8('255')", '{p0:UInt8}', { p0: '255' }],
    ['{{UInt16(x)}}', { x: '65535' }, "toUInt16('65535')", '{p0:UInt16}', { p0: '65535' }],
    ['{{UInt32(x)}}', { x: '1' }, "toUInt32('1')", '{p0:UInt32}', { p0: '1' }],
    ['{{UInt64(x)}}', { x: '18446744073709551615' }, "toUInt64('18446744073709551615')", '{p0:UInt64}', { p0: '18446744073709551615' }],
    ['{{UInt128(x)}}', { x: '+3' }, "toUInt128('3')", '{p0:UInt128}', { p0: '3' }],
    ['{{UInt256(x)}}', { x: '3' }, "toUInt256('3')", '{p0:UInt256}', { p0: '3' }],
    ['{{Int(x)}}', { x: '5' }, '5', '5', {}],
    ['{{Integer(x, 3)}}', {}, '3', '3', {}],
    ['{{Float32(x)}}', { x: '1' }, "toFloat32('1.0')", '{p0:Float32}', { p0: '1.0' }],
    ['{{Float64(x)}}', { x: '1e16' }, "toFloat64('1e+16')", '{p0:Float64}', { p0: '1e+16' }],
    ['{{Float64(x)}}', { x: ' .5 ' }, "toFloat64('0.5')", '{p0:Float64}', { p0: '0.5' }],
    ['{{Float64(x)}}', { x: 'nan' }, "toFloat64('nan')", '{p0:Float64}', { p0: 'nan' }],
    ['{{Float32(x)}}', { x: -1 }, "toFloat32('-1.0')", '{p0:Float32}', { p0: '-1.0' }],
    ['{{Boolean(x)}}', { x: 'true' }, '1', '1', {}],
    ['{{Boolean(x)}}', { x: 'False' }, '0', '0', {}],
    ['{{Boolean(x)}}', { x: '0' }, '0', '0', {}],
    ['{{Boolean(x)}}', { x: 'no' }, '1', '1', {}],
    ['{{Boolean(x)}}', { x: '' }, '0', '0', {}],
    ['{{Boolean(x)}}', {}, '0', '0', {}],
    ['{{bool(x, True)}}', {}, '1', '1', {}],
    ['{{Date(x)}}', { x: '2024-01-31' }, "'2024-01-31'", '{p0:String}', { p0: '2024-01-31' }],
    ['{{DateTime(x)}}', { x: '2024-01-31T10:00:00Z' }, "'2024-01-31T10:00:00Z'", '{p0:String}', { p0: '2024-01-31T10:00:00Z' }],
    ['{{DateTime(x)}}', { x: '31/01/2024 1:2:3' }, "'31/01/2024 1:2:3'", '{p0:String}', { p0: '31/01/2024 1:2:3' }],
    ['{{DateTime64(x, "2020-09-09 10:10:10.000")}}', {}, "'2020-09-09 10:10:10.000'", '{p0:String}', { p0: '2020-09-09 10:10:10.000' }],
    ["{{Array(x, 'Int32')}}", { x: '1,2,3' }, '[1,2,3]', '[1,2,3]', {}],
    ["{{Array(x, 'Int32')}}", { x: ['1', '2'] }, '[1,2]', '[1,2]', {}],
    ["{{Array(x, 'UInt64', '4,5')}}", {}, '[4,5]', '[4,5]', {}],
    ["{{Array(x, 'Float32')}}", { x: '1,2.5' }, '[1.0,2.5]', '[1.0,2.5]', {}],
    ['{{Array(x)}}', { x: 'a,b' }, "['a','b']", '[{p0:String},{p1:String}]', { p0: 'a', p1: 'b' }],
    ["{{Array(x, 'String', '')}}", {}, "['']", '[{p0:String}]', { p0: '' }],
    ["{{Array(x, 'Date')}}", { x: '2024-01-01,2024-01-02' }, "['2024-01-01','2024-01-02']", '[{p0:String},{p1:String}]', { p0: '2024-01-01', p1: '2024-01-02' }],
    ["{{Array(x, 'Boolean')}}", { x: 'true,0,false' }, '[1,0,0]', '[1,0,0]', {}],
    ["{{Array(x, 'String')}}", { x: ['a,b', 'c'] }, "['a,b','c']", '[{p0:String},{p1:String}]', { p0: 'a,b', p1: 'c' }],
    ['{{String(x)}}', { x: ['first', 'second'] }, "'first'", '{p0:String}', { p0: 'first' }],
    ['{{String(x)}}', { x: '50%' }, "'50\\%'", '{p0:String}', { p0: '50\\%' }],
  ] as const)('%s with %j', (template, params, inlineSql, bindSql, bound) => {
    expect(inline(template, params as Record<string, ParamValue>)).toBe(inlineSql)
    expect(bind(template, params as Record<string, ParamValue>)).toEqual({ sql: bindSql, params: bound })
  })

  it('applies defaults only when the value is absent, accepts description/required/example metadata, and defined=False yields None', () => {
    expect(inline('{{Int32(x, 10, description="rows", required=True, example="5")}}', { x: '3' })).toBe("toInt32('3')")
    expect(inline('{{Int32(x, default=10)}}')).toBe("toInt32('10')")
    expect(inline("{{String(x, '')}}", { x: '' })).toBe("''")
    expect(inline('{% if Int32(x, defined=False) is None %}none{% end %}')).toBe('none')
    expect(inline('{% if defined(x) %}yes{% else %}no{% end %}', { x: '' })).toBe('yes')
  })

  it('makes Array parameters lists before rendering, for loops and joins', () => {
    const t = "{% if defined(ids) %}{% set csv = ','.join(ids) %}{{ csv }} {{ Array(ids, 'String') }} {% for v in ids %}<{{v}}>{% end %}{% end %}"
    expect(inline(t, { ids: '1,2' })).toBe("'1,2' ['1','2'] <'1'><'2'>")
    expect(inline("{% set total = sum(ids) %}{{ Array(ids, 'Int32') }} {{ total }}", { ids: '1,2' })).toBe('[1,2] 3')
    expect(inline("{% for v in ids %}{{v}};{% end %}{{ Array(ids, 'Int32') }}", { ids: ['4', '5'] })).toBe('4;5;[4,5]')
  })

  it('validates values and names the parameter', () => {
    expect(message('{{Int32(limit)}}', { limit: 'abc' })).toBe("Template Syntax Error: Error validating 'abc' to type Int32 (parameter limit)")
    expect(message('{{Int8(x)}}', { x: '128' })).toBe("Template Syntax Error: Error validating '128' to type Int8 (parameter x)")
    expect(message('{{UInt8(x)}}', { x: '-1' })).toBe("Template Syntax Error: Error validating '-1' to type UInt8 (parameter x)")
    expect(message('{{UInt64(x)}}', { x: '18446744073709551616' })).toBe("Template Syntax Error: Error validating '18446744073709551616' to type UInt64 (parameter x)")
    expect(message('{{Int(x)}}', { x: '2147483648' })).toBe("Template Syntax Error: Error validating '2147483648' to type Int32 (parameter x)")
    expect(message('{{Float32(x)}}', { x: '1_000' })).toBe("Template Syntax Error: Error validating '1_000' to type Float32 (parameter x)")
    expect(message('{{Date(x)}}', { x: '2024-1-01' })).toBe("Template Syntax Error: Error validating '2024-1-01' to type Date (parameter x)")
    expect(message('{{DateTime(x)}}', { x: '2024-01-31' })).toBe("Template Syntax Error: Error validating '2024-01-31' to type DateTime (parameter x)")
    expect(message('{{DateTime64(x)}}', { x: '2024-01-31 10:00:00' })).toBe("Template Syntax Error: Error validating '2024-01-31 10:00:00' to type DateTime64 (parameter x)")
    expect(message("{{ Array(embedding, 'Float32') }}", { embedding: '1,2,3,4, null' })).toBe('Template Syntax Error: Error validating [1,2,3,4, null][4] ( null) to type Float32 (parameter embedding)')
    expect(message("{{ Array(ids, 'Int32') }}", { ids: '1, 2' })).toBe('Template Syntax Error: Error validating [1, 2][1] ( 2) to type Int32 (parameter ids)')
    expect(message("{{ Array(ids, 'Int32') }}", { ids: '' })).toBe('Template Syntax Error: Error validating [][0] (empty string) to type Int32 (parameter ids)')
    expect(message("{{ JSON(f) }}", { f: '{"a": ' })).toMatch(/^Template Syntax Error: Error parsing JSON: '\{"a": ' - /)
    const e = fails(() => renderTemplate('{{Int32(limit)}}', { params: { limit: 'x' } }))
    expect([e.status, e.param, e.body.error, e.body.documentation]).toEqual([400, 'limit', e.message, '/cli/advanced-templates.html'])
  })

  it('says which typed parameters without default were not supplied', () => {
    const t = "select {{String(test)}} and {{String(category, 'shirts')}} and {{ Int32(color)}} {% if defined(x) %}{{x}}{% end %}"
    expect(message(t)).toBe('Template Syntax Error: Required parameter is not defined. Check the parameters test and color. Please provide a value or set a default value in the pipe code.')
    expect(message(t, { test: 'a' })).toBe('Template Syntax Error: Required parameter is not defined. Check the parameters color. Please provide a value or set a default value in the pipe code.')
    expect(message("{{ Array(ids, 'Int32') }}")).toBe('Template Syntax Error: Required parameter is not defined. Check the parameters ids. Please provide a value or set a default value in the pipe code.')
    expect(inline('{% if defined(start) %}{{ Int32(start) }}{% end %}x')).toBe('x')
  })

  it('fails on an untyped variable that is absent, cutting the expression at 20 characters', () => {
    expect(message('SELECT {{test}}')).toBe('Template Syntax Error: expression "test" evaluated to null')
    expect(message('SELECT {{testisasuperlongthingandwedontwanttoreturnthefullthing}}')).toBe('Template Syntax Error: expression "testisasuperlongthin..." evaluated to null')
    expect(inline('{% if x %}A{% else %}B{% end %}')).toBe('B')
  })

  it('renders non-string values from a JSON body as they are', () => {
    expect(inline('{{x}} {{y}} {{z}}', { x: 1.5, y: 2, z: true })).toBe('1.5 2 True')
  })
})

describe('helpers', () => {
  it('column, columns, symbol and table quote identifiers', () => {
    expect(inline('{{column(c)}}', { c: 'json.a' })).toBe('`json`.`a`')
    expect(inline('{{column(c)}}', { c: '"foo"' })).toBe('`foo`')
    expect(inline("{{column(c, 'ts')}}")).toBe('`ts`')
    expect(message('SELECT {{column(agg)}}')).toBe("Template Syntax Error: Missing column() default value, use `column(column_name, 'default_column_name')`")
    expect(inline("{{columns(cols, 'a,b,c')}}")).toBe('`a`,`b`,`c`')
    expect(inline("{{columns(cols, 'a')}}", { cols: 'x, y' })).toBe('`x`,`y`')
    expect(inline("{{columns(cols, 'a,b', fn='sum')}}")).toBe('sum(`a`) as `a`,sum(`b`) as `b`')
    expect(message("{{columns(cols, 'a', fn=f)}}", { f: 'x) y(' })).toBe('Template Syntax Error: columns() fn must be a function name, found "x) y("')
    expect(message("{{columns(cols, 'a')}}", { cols: ['a', 'b'] })).toBe("Template Syntax Error: The 'columns' function expects a String not an Array")
    expect(message('{{columns(cols)}}')).toBe("Template Syntax Error: Missing columns() default value, use `columns(column_names, 'default_column_name')`")
    expect(inline('{{symbol(t)}}', { t: 'table-name' })).toBe('`table-name`')
    expect(inline('{{symbol(t)}}', { t: 'a`b\\c' })).toBe('`a\\`b\\\\c`')
    expect(inline('{{table(t)}}', { t: 'db.events' })).toBe('db.events')
    expect(message('{{table(t)}}', { t: 'x UNION ALL SELECT 1' })).toBe('Template Syntax Error: table() expects a table name (letters, digits, _ and one optional db. prefix), found "x UNION ALL SELECT 1"')
  })

  it('sql_and joins column conditions, skipping None', () => {
    const t = '{{sql_and(a=a, b__in=Array(b, defined=False), c__not_in=Array(c, "Int32", defined=False), d__gt=Int32(d, defined=False), e__lt=e, f__gte=Float64(f, defined=False), g__lte=Int(g, defined=False))}}'
    expect(inline(t, { a: '1', b: 'x,y', c: '1,2', d: '3', e: 'q', f: '1.5', g: '9' })).toBe("a = '1' and b in ['x','y'] and c not in [1,2] and d > toInt32('3') and e < 'q' and f >= toFloat64('1.5') and g <= 9")
    expect(bind(t, { a: '1', d: '3' })).toEqual({ sql: 'a = {p0:String} and d > {p1:Int32}', params: { p0: '1', p1: '3' } })
    expect(inline('{{sql_and(a=Int(a, defined=False))}}')).toBe('')
    expect(message('{{sql_and(a__like=a)}}', { a: 'x' })).toBe('Template Syntax Error: operand like not supported')
  })

  it('sql_unescape undoes the escaping of one character, in both modes', () => {
    expect(inline("{{sql_unescape(String(p), '%')}}", { p: 'raul_el_bueno_is_the_best_%' })).toBe("'raul_el_bueno_is_the_best_%'")
    expect(bind("{{sql_unescape(String(p), '%')}}", { p: "it's 50%" })).toEqual({ sql: '{p0:String}', params: { p0: "it's 50%" } })
    expect(inline("{{sql_unescape(String(p), '$')}}", { p: 'testing%' })).toBe("'testing\\%'")
    expect(message('{{sql_unescape(String(p))}}', { p: "it's" })).toBe('Template Syntax Error: sql_unescape(…, "") would not produce a well-formed string literal')
  })

  it('split_to_array, enumerate_with_last, len and string methods', () => {
    expect(inline("{% for v in split_to_array(x, '') %}[{{v}}]{% end %}", { x: ' a , b' })).toBe("['a']['b']")
    expect(inline("{% for v in split_to_array(x, 'd1|d2', '|') %}{{v}}{% end %}")).toBe("'d1''d2'")
    expect(inline('{% for last, v in enumerate_with_last(split_to_array(x)) %}{{v}}{% if not last %},{% end %}{% end %}', { x: 'a,b,c' })).toBe("'a','b','c'")
    expect(inline('{{ split_to_array(x) }}', { x: 'a,b' })).toBe("['a','b']")
    expect(message('{{ split_to_array(x) }}', { x: ['a', 'b'] })).toContain('First argument of split_to_array has to be a value that can be split')
    expect(inline("{{ len(x) }} {{ x.upper() }} {{ x[1:3] }} {{ x[-1] }} {{ x.replace('b', 'z') }} {{ x.startswith('ab') }}", { x: 'abcd' })).toBe("4 'ABCD' 'bc' 'd' 'azcd' True")
    expect(inline("{{ 'x' in y }} {{ 'q' not in y }} {{ 1 < 2 < 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 1 / 4 }} {{ 'a' if y else 'b' }}", { y: 'xyz' })).toBe("True True True 3 -4 -2 0.25 'a'")
    expect(inline("{% set d = JSON(j) %}{{ d.get('a') }} {{ d['b'][1] }} {{ d.get('zz', 'dflt') }} {{ len(d.keys()) }}", { j: '{"a": "x", "b": [1, 2]}' })).toBe("'x' 2 'dflt' 2")
    expect(message('{{ x > 1 }}', { x: '5' })).toBe("'>' not supported between instances of 'str' and 'int'")
  })

  it('day_diff and date_diff_* take absolute whole units', () => {
    expect(inline("{{day_diff('2019-01-02', '2019-02-01')}} {{day_diff(a, b)}}", { a: '2019-02-01', b: '2019-01-02' })).toBe('30 30')
    expect(inline("{{date_diff_in_days('2019-02-01 20:00:00', '2019-01-02 20:00:00', date_format='%Y-%m-%d %H:%M:%S')}}")).toBe('30')
    expect(inline("{{date_diff_in_days('2019-01-01', '2019/01/04', backup_date_format='%Y/%m/%d')}}")).toBe('3')
    expect(inline("{{date_diff_in_hours('2022-12-19T20:43:22Z', '2022-12-19T18:42:23Z', '%Y-%m-%dT%H:%M:%Sz')}}")).toBe('2')
    expect(inline("{{date_diff_in_hours('2022-12-19T03:22:12.102Z', '2022-12-19', date_format='%Y-%m-%dT%H:%M:%S.%fz', backup_date_format='%Y-%m-%d')}}")).toBe('3')
    expect(inline("{{date_diff_in_minutes('2022-12-14 18:42:22', '2022-12-19 18:42:22')}}")).toBe('7200')
    expect(inline("{{date_diff_in_seconds('2022-12-19T18:42:23.521Z', '2022-12-19T18:44:23.531Z','%Y-%m-%dT%H:%M:%S.%fz')}}")).toBe('120')
    expect(inline("{% if date_diff_in_seconds('2022-25-19 00:00:03', '2022-10-19 00:05:03', none_if_error=True) is None %}none{% end %}")).toBe('none')
    expect(message('{{day_diff(a, b)}}', { a: '2019-13-01', b: '2019-01-01' })).toBe(
      'Template Syntax Error: invalid date format in function `day_diff`, it must be ISO format date YYYY-MM-DD, e.g. 2018-09-26. For other fotmats, try `date_diff_in_days`',
    )
    expect(message("{{date_diff_in_hours(a, '2022-12-19 00:00:00')}}", { a: 'x' })).toContain('invalid date_format in function `date_diff_in_hours`')
  })

  it('error and custom_error abort with their status and body', () => {
    const e = fails(() => renderTemplate("{% if not defined(start) %}{{ error('start is required', 401) }}{% end %}"))
    expect([e.status, e.body]).toEqual([400, { error: 'start is required' }])
    const c = fails(() => renderTemplate("{{ custom_error({'error': 'short and stout', 'code': 418}, 418) }}"))
    expect([c.status, c.body]).toEqual([418, { error: 'short and stout', code: 418 }])
    const s = fails(() => renderTemplate("{{ custom_error('plain', 9999) }}"))
    expect([s.status, s.body]).toEqual([400, { error: 'plain' }])
    expect(inline('{% if not defined(test) %}error("This is an error"){% end %}')).toBe('error("This is an error")')
  })

  it('max_threads, cache_ttl, backend_hint, activate and disable emit comments and set options', () => {
    const r = renderTemplate("{{max_threads(2)}} SELECT 1 {{ cache_ttl('5m') }}{{ backend_hint('replica-1') }}{{ activate('analyzer') }}{{ disable('analyzer') }}")
    expect(r.sql).toBe('-- max_threads 2\n SELECT 1 -- cache_ttl 5m\n-- backend_hint replica-1\n-- activate analyzer\n-- disable analyzer\n')
    expect(r.settings).toEqual({ max_threads: 2, cache_ttl: '5m', backend_hint: 'replica-1', activate: 'analyzer', disable: 'analyzer' })
    expect(inline('{{max_threads(n)}}', { n: '4\nDROP TABLE t' })).toBe('-- max_threads: wrong argument\n')
    expect(message("{{ cache_ttl('2h') }}")).toBe("Template Syntax Error: Invalid TTL cache expression, valid expressions are ('5s', '1m', '5m', '30m', '1h')")
    expect(message('{{ backend_hint(h) }}', { h: 'x\nDROP' })).toBe('Template Syntax Error: backend_hint() takes letters, digits and _.:@/- only')
    expect(message("{{ activate('everything') }}")).toBe("Template Syntax Error: 'everything' is not a valid 'activate' argument")
  })

  it('tb_secret and tb_var read the caller maps, bind the value, fall back to a default, else fail', () => {
    const t = "{{ tb_secret('api_key') }} {{ tb_var('region', 'eu') }}"
    expect(bind(t, {}, { secrets: { api_key: "s3cr'et" } })).toEqual({ sql: '{p0:String} {p1:String}', params: { p0: "s3cr'et", p1: 'eu' } })
    expect(bind(t, {}, { secrets: { api_key: 'k' }, vars: { region: 'us' } })).toEqual({ sql: '{p0:String} {p1:String}', params: { p0: 'k', p1: 'us' } })
    expect(inline(t, {}, { secrets: { api_key: "it's" } })).toBe("'it\\'s' 'eu'")
    expect(message(t, { api_key: 'from the request' })).toBe("Template Syntax Error: Cannot access secret 'api_key'. Check the secret exists in the Workspace and the token has the required scope.")
    expect(message("{{ tb_secret('region') }}", {}, { vars: { region: 'us' } })).toContain("Cannot access secret 'region'")
  })

  it('job_timestamp defaults to now', () => {
    expect(inline('{{ DateTime(job_timestamp) }}', {}, { now: new Date('2024-05-06T07:08:09.500Z') })).toBe("'2024-05-06 07:08:09'")
  })
})

describe('reserved names', () => {
  it('refuses format and q as variables anywhere', () => {
    expect(message("SELECT {{String(format, 'test')}}", { format: 'tt' })).toBe('"format" can not be used as a variable name, line 1')
    expect(message('SELECT 1\n{% if q %}x{% end %}')).toBe('"q" can not be used as a variable name, line 2')
    expect(fails(() => compileTemplate('{{ format }}')).param).toBe('format')
  })

  it('warns about the names the server reserves, and keeps them out of the signature', () => {
    const c = compileTemplate("{{ String(pipeline, 'x') }} {{ String(token, 'y') }} {{ Int32(n, 1) }}")
    expect(c.warnings).toEqual(['pipeline', 'token'])
    expect(c.params.map((p) => p.name)).toEqual(['n'])
    expect(inline('select * from table where str = {{pipeline}}', { pipeline: 'test' })).toBe("select * from table where str = 'test'")
  })

  it('does not treat Python builtins as parameters, except id; open/close/print/input are None', () => {
    expect(templateParameters('{{ len(x) }} {{ Int32(id, 1) }} {{ max(1, 2) }}').map((p) => p.name)).toEqual(['x', 'id'])
    expect(inline('{% if defined(open) %}ERROR{% else %}YEAH!{% end %}', { open: 'x' })).toBe('YEAH!')
    // Unverified choice: a request value shadows a builtin's name (Tornado's namespace); absent, it is None.
    expect(message('{{ type }}')).toBe('Template Syntax Error: expression "type" evaluated to null')
    expect(inline("{% if String(filter, '') == 'product' %}P{% else %}V{% end %}", { filter: 'product' })).toBe('P')
    expect(inline("{% if String(filter, 'value') == 'product' %}P{% else %}V{% end %}", {})).toBe('V')
  })

  it('lists the reserved request parameters the HTTP layer strips', () => {
    for (const name of ['token', 'from', 'q', 'format', 'pipeline', 'debug', 'output_format_json_quote_64bit_integers']) expect(RESERVED_REQUEST_PARAMS).toContain(name)
  })
})

describe('parameter signature', () => {
  it('reports name, type, default, required, description and first line, typed usages winning over untyped ones', () => {
    const t = "%\n{% if defined(start) %}\nWHERE t >= {{ DateTime(start, '2024-01-01 00:00:00', description=\"from\", required=True) }}\n{% end %}\nLIMIT {{ Int32(limit, 10) }} {{ Array(ids, 'Int64', '1,2', description='ids') }} {{ Boolean(flag) }} {{ column(col, 'a') }} {% for v in split_to_array(tags, '') %}{{v}}{% end %} {% set local = 1 %}{{ local }} {{ Float64(f, -0.5, enum=['a', 'b'], format='number') }}"
    expect(templateParameters(t)).toEqual([
      { name: 'start', type: 'DateTime', default: '2024-01-01 00:00:00', required: true, description: 'from', untyped: false, line: 2 },
      { name: 'limit', type: 'Int32', default: 10, required: false, untyped: false, line: 5 },
      { name: 'ids', type: 'Array(Int64)', default: '1,2', required: false, description: 'ids', untyped: false, line: 5 },
      { name: 'flag', type: 'Boolean', required: false, untyped: false, line: 5 },
      { name: 'col', type: 'String', required: false, untyped: true, line: 5 },
      { name: 'tags', type: 'String', required: false, untyped: true, line: 5 },
      { name: 'f', type: 'Float64', default: -0.5, required: false, untyped: false, enum: ['a', 'b'], format: 'number', line: 5 },
    ])
  })

  it('covers every parameter of the awkward fixture endpoint', () => {
    const pipe = loadProject(`${FIXTURES}awkward`).pipes.get('everything')!
    const names = pipe.nodes.flatMap((n) => templateParameters(n.text).map((p) => `${p.name}:${p.type}`))
    expect(names).toEqual([
      'start:DateTime64', 'end:DateTime', 'day:Date', 'user:UInt64', 'min_amount:Float64', 'skus:Array(String)', 'ids:Array(UInt64)', 'only_paid:Boolean', 'country:String', 'kinds:Array(String)',
      'group_by:String', 'metrics:String', 'i8:Int8', 'i16:Int16', 'i32:Int32', 'i64:Int64', 'i128:Int128', 'i256:Int256', 'u8:UInt8', 'u16:UInt16', 'u32:UInt32', 'u64:UInt64', 'u128:UInt128', 'u256:UInt256', 'f32:Float32', 'plain:Int32', 'integer:Int32', 'from_day:String', 'to_day:String', 't0:String', 't1:String', 'sort:String', 'limit:Int32',
      'fail:String', 'teapot:String', 'pattern:String', 'alias_of:String', 'filters:JSON', 'tags:String', 'min_n:Int32', 'mode:String',
    ])
  })
})

describe('test mode (load-time checks)', () => {
  it('replaces every parameter with Tinybird placeholders and turns errors into no-ops', () => {
    const t = "{{String(s)}} {{Int32(i)}} {{Int(n)}} {{Float32(f)}} {{Date(d)}} {{DateTime(dt)}} {{DateTime64(d64)}} {{Array(a, 'Int32')}} {{Array(b)}} {{symbol(c)}} {{x}} {% if defined(x) %}no{% end %}{{ error('boom') }}{{ String(w, 'test') }}"
    expect(inline(t, { s: 'ignored' }, { testMode: true })).toBe("'__no_value__' toInt32('0') 0 toFloat32('0.0') '2019-01-01' '2019-01-01 00:00:00' '2019-01-01 00:00:00.000' [0,0] [''] `placeholder` '__no_value__' -- error launched \n'test'")
    expect(inline('{% for v in test %}SELECT {{v}} {% end %}', {}, { testMode: true })).toBe("SELECT '__no_value__' SELECT '__no_value__' SELECT '__no_value__' ")
  })
})

describe('bound parameters across the nodes of a pipe', () => {
  it('numbers parameters once per request through a shared Binder and composes the endpoint SQL', () => {
    const pipe = loadProject(`${FIXTURES}forward`).pipes.get('top_pages')!
    const binder = new Binder()
    const sql = composeNodeSql(pipe, pipe.outputNode, (name) => renderTemplate(pipe.nodes.find((n) => n.name === name)!.text, { params: { country: "ES' OR 1=1", limit: '5' }, binder }).sql)
    expect(sql).toBe(
      [
        'WITH filtered AS (',
        'SELECT page, session_id',
        'FROM clicks',
        'WHERE timestamp >= {p1:String}',
        '',
        '  AND country = {p2:String}',
        ')',
        'SELECT page, count() AS views, uniq(session_id) AS visitors',
        'FROM filtered',
        'GROUP BY page',
        'ORDER BY views DESC',
        'LIMIT {p0:Int32}',
      ].join('\n'),
    )
    expect(binder.params).toEqual({ p0: '5', p1: '2024-01-01 00:00:00', p2: "ES' OR 1=1" })
  })
})

// ---------------------------------------------------------------------------------------------------
// Injection: payloads through every parameter type

/**
 * ClickHouse's lexer, enough to check what is SQL and what is data: string literals ('…' with
 * backslash escapes and doubled quotes) and quoted identifiers (`…`, "…") are data, `{name:Type}` is a
 * bound parameter, and everything else is tokens. Comments anywhere fail the check.
 */
function sqlOutsideData(sql: string): string[] {
  const words: string[] = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (c === "'" || c === '`' || c === '"') {
      let j = i + 1
      for (;;) {
        if (j >= sql.length) throw new Error(`unterminated ${c} literal in ${JSON.stringify(sql)}`)
        if (sql[j] === '\\') j += 2
        else if (sql[j] === c && sql[j + 1] === c) j += 2
        else if (sql[j] === c) break
        else j++
      }
      words.push(c === "'" ? '<string>' : '<identifier>')
      i = j + 1
    } else if (c === '{') {
      const m = /^\{p\d+:[A-Za-z0-9()]+\}/.exec(sql.slice(i))
      if (!m) throw new Error(`a { that is no bound parameter in ${JSON.stringify(sql)}`)
      words.push('<param>')
      i += m[0].length
    } else if (sql.startsWith('--', i) || sql.startsWith('/*', i) || c === '#' || c === ';') {
      throw new Error(`a comment or statement separator outside data in ${JSON.stringify(sql)}`)
    } else if (/\s/.test(c)) i++
    else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9.e+-]+|^./.exec(sql.slice(i))!
      words.push(m[0])
      i += m[0].length
    }
  }
  return words
}

const PAYLOADS = [
  "'; DROP TABLE events; --",
  "\\'; DROP TABLE events; --",
  "' OR '1'='1",
  "x\\' UNION ALL SELECT name FROM system.tables --",
  '1; SELECT * FROM system.tables',
  '`) FROM system.tables --',
  '" OR ""="',
  "%' AND sleep(3) --",
  "\u0000'; DROP TABLE t",
  '\n) UNION SELECT 1 --',
  '\\',
  "''",
  '{p0:String}',
  '}} {% import os %} {{ 1',
  "1,2') UNION SELECT 3 --",
  '2024-01-01 00:00:00\' OR 1=1 --',
  '2024-01-01\n',
  '1e5',
  "x' /* comment */",
  '\u001a\'',
]

/** Every way a request value reaches SQL; `tag` is what the template writes between `SELECT` and `AS v`. */
const SINKS: readonly string[] = [
  '{{x}}',
  '{{String(x)}}',
  "{{String(x, 'd')}}",
  '{{Int8(x)}}',
  '{{Int32(x)}}',
  '{{Int256(x)}}',
  '{{UInt64(x)}}',
  '{{UInt256(x)}}',
  '{{Int(x)}}',
  '{{Float32(x)}}',
  '{{Float64(x)}}',
  '{{Boolean(x)}}',
  '{{Date(x)}}',
  '{{DateTime(x)}}',
  '{{DateTime64(x)}}',
  '{{Array(x)}}',
  "{{Array(x, 'String')}}",
  "{{Array(x, 'Int32')}}",
  "{{Array(x, 'Float64')}}",
  "{{Array(x, 'DateTime')}}",
  "{{Array(x, 'Boolean')}}",
  '{{column(x)}}',
  "{{columns(x, 'a', fn='sum')}}",
  '{{symbol(x)}}',
  '{{table(x)}}',
  '{{sql_and(c=x)}}',
  "{{sql_and(c__in=Array(x, 'String'))}}",
  "{{sql_unescape(String(x), '%')}}",
  '{% for v in split_to_array(x) %}{{v}},{% end %}',
  "{% for v in x.split(',') %}{{v}},{% end %}",
  "{{ x.upper() + '!' }}",
  '{{ x[0:3] }}',
  "{% for f in JSON(j, '[]') %}{{ f.get('v') }},{% end %}",
  '{{max_threads(x)}}',
  '{{ day_diff(x, "2024-01-01") }}',
]

const ALLOWED_WORDS = new Set(['SELECT', 'AS', 'v', 'and', 'in', 'c', 'sum', 'as', '1', '0', '[', ']', ',', '(', ')', '.', '=', 'True', 'False', ...['8', '16', '32', '64', '128', '256'].flatMap((b) => [`toInt${b}`, `toUInt${b}`]), 'toFloat32', 'toFloat64'])

describe('injection: payloads through every parameter type never become SQL', () => {
  it.each(SINKS)('%s', (tag) => {
    const template = `SELECT ${tag} AS v`
    let rendered = 0
    for (const payload of PAYLOADS) {
      for (const params of [{ x: payload, j: JSON.stringify([{ v: payload }]) }, { x: [payload, payload], j: '[]' }] as Record<string, ParamValue>[]) {
        for (const mode of ['bind', 'inline'] as const) {
          let result: ReturnType<typeof renderTemplate>
          try {
            result = renderTemplate(template, { params, mode })
          } catch (e) {
            // Refusing the value is safe; anything but a TemplateError would be a bug.
            expect(e).toBeInstanceOf(TemplateError)
            expect((e as TemplateError).status).toBe(400)
            continue
          }
          rendered++
          const sql = result.sql.replace(/-- max_threads[^\n]*\n/, '')
          const words = sqlOutsideData(sql)
          const stray = words.filter((w) => !w.startsWith('<') && !ALLOWED_WORDS.has(w) && !/^[0-9.e+-]+$/.test(w))
          expect(stray, `${mode} ${JSON.stringify(payload)} -> ${sql}`).toEqual([])
          if (mode === 'bind') {
            expect(words, `bind mode emitted a string literal: ${sql}`).not.toContain('<string>')
          } else {
            for (const literal of sql.match(/'(?:[^'\\]|\\.)*'/gs) ?? []) expect(decodeClickHouseLiteral(literal), literal).toBeDefined()
          }
        }
      }
    }
    // Every sink accepts at least some payload as data (so the test is not vacuous), except numeric ones.
    if (/String|\{\{x\}\}|Array\(x\)|column|symbol|sql_and|split|upper|x\[|JSON|'String'|DateTime\(x\)|Array\(x, 'DateTime'\)/.test(tag)) expect(rendered).toBeGreaterThan(0)
  })

  it('binds exactly the value ClickHouse would read from Tinybird’s literal', () => {
    for (const payload of PAYLOADS) {
      const literal = inline('{{String(x)}}', { x: payload })
      const bound = bind('{{String(x)}}', { x: payload }).params.p0
      expect(decodeClickHouseLiteral(literal), JSON.stringify(payload)).toBe(bound)
    }
  })
})

describe('escaping primitives', () => {
  it('escapes like Tinybird and decodes like ClickHouse', () => {
    expect(escapeString('\\\'"\n\r\t\b\0\u001a%`')).toBe('\\\\\\\'\\"\\n\\r\\t\\b\\0\\z\\%\\`')
    expect(decodeClickHouseLiteral("'a\\%b\\zc\\'d\\\"e\\`f\\\\g\\n\\x41\\Nz''q'")).toBe('a\\%b\\zc\'d"e`f\\g\nAz\'q')
    expect(decodeClickHouseLiteral("'a'b'")).toBeUndefined()
    expect(decodeClickHouseLiteral("'a\\'")).toBeUndefined()
  })

  it("prints floats as Python's repr", () => {
    expect([1, -1, 0.1, 1e16, 1.5e-7, 123456789012345.6, 1e-4, -0, NaN, Infinity, 2.5e300].map(pyFloatRepr)).toEqual(['1.0', '-1.0', '0.1', '1e+16', '1.5e-07', '123456789012345.6', '0.0001', '-0.0', 'nan', 'inf', '2.5e+300'])
  })
})
