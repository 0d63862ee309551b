import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadProject, projectFromFiles } from '../../src/project/datafile.js'
import { checkPipes, copySql, materializedViewSql, pipeParameters, pipeSql } from '../../src/project/pipeline.js'
import { TemplateError } from '../../src/project/template.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/projects/', import.meta.url))
const forward = loadProject(`${FIXTURES}forward`)
const classic = loadProject(`${FIXTURES}classic`)
const awkward = loadProject(`${FIXTURES}awkward`)

describe('pipeSql', () => {
  it('renders the nodes the endpoint reads once, with one binder, and qualifies datasources', () => {
    expect(pipeSql(forward, 'top_pages', { database: 'project', params: { country: 'ES', limit: '3' } })).toEqual({
      sql: [
        'WITH filtered AS (',
        'SELECT page, session_id',
        'FROM project.clicks AS clicks',
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
      params: { p0: '3', p1: '2024-01-01 00:00:00', p2: 'ES' },
      settings: {},
      warnings: [],
    })
  })

  it('reads another pipe as a CTE rendered with the same parameters', () => {
    const r = pipeSql(classic, 'big_spenders', { database: 'db', params: { plan: 'pro' } })
    expect(r.sql).toBe(
      [
        'WITH user_totals AS (',
        'WITH totals AS (',
        'SELECT user_id, sum(amount) AS spent, count() AS events',
        'FROM db.events AS events',
        'GROUP BY user_id',
        ')',
        'SELECT t.user_id, u.name, t.spent, t.events',
        'FROM totals AS t',
        'LEFT JOIN db.users AS u FINAL ON u.user_id = t.user_id',
        'ORDER BY t.spent DESC',
        ')',
        'SELECT user_id, name, spent FROM user_totals',
        'WHERE spent > {p0:Float64}',
        '',
        'AND user_id IN (SELECT user_id FROM db.users AS users FINAL WHERE plan = {p1:String})',
      ].join('\n'),
    )
    expect(r.params).toEqual({ p0: '100.0', p1: 'pro' })
  })

  it('renders Tinybird text in inline mode, a chosen node, service datasources and template settings', () => {
    expect(pipeSql(forward, 'top_pages', { database: 'project', mode: 'inline', node: 'filtered' }).sql).toBe("SELECT page, session_id\nFROM project.clicks AS clicks\nWHERE timestamp >= '2024-01-01 00:00:00'")
    const p = projectFromFiles({ 's.pipe': 'NODE n\nSQL >\n    %\n    {{ max_threads(4) }}SELECT count() FROM tinybird.pipe_stats_rt\n' })
    expect(pipeSql(p, 's', { database: 'x', serviceTable: (name) => `sightline.${name.slice('tinybird.'.length)}` })).toMatchObject({ sql: '-- max_threads 4\nSELECT count() FROM sightline.pipe_stats_rt AS pipe_stats_rt', settings: { max_threads: 4 } })
  })

  it('says which pipe and node failed', () => {
    const e = (() => {
      try {
        pipeSql(awkward, 'everything', { database: 'project', params: { limit: 'ten' } })
      } catch (err) {
        return err as TemplateError
      }
      throw new Error('expected a failure')
    })()
    expect([e.pipe, e.node, e.status, e.message]).toEqual(['everything', 'shaped', 400, "Template Syntax Error: Error validating 'ten' to type Int32 (parameter limit)"])
  })
})

describe('pipeParameters', () => {
  it('merges the parameters of every node the output reads, other pipes included', () => {
    expect(pipeParameters(forward, 'top_pages')).toEqual([
      { name: 'start', type: 'DateTime', default: '2024-01-01 00:00:00', required: false, untyped: false, line: 4 },
      { name: 'country', type: 'String', required: false, untyped: false, line: 5 },
      { name: 'limit', type: 'Int32', default: 10, description: 'rows to return', required: false, untyped: false, line: 6 },
    ])
    expect(pipeParameters(classic, 'big_spenders').map((p) => [p.name, p.type, p.default])).toEqual([
      ['min_spent', 'Float64', 100],
      ['plan', 'String', undefined],
    ])
    expect(pipeParameters(awkward, 'everything')).toHaveLength(41)
    const p = projectFromFiles({ 'a.pipe': 'NODE a\nSQL >\n    % SELECT {{x}}\nNODE b\nSQL >\n    % SELECT * FROM a WHERE {{ Int32(x, 5, required=True) }}\n' })
    expect(pipeParameters(p, 'a')).toEqual([{ name: 'x', type: 'Int32', default: 5, required: true, untyped: false, line: 1 }])
  })
})

describe('materialized views and copies', () => {
  it('renders a materialized view inline with defaults and qualified names', () => {
    expect(materializedViewSql(forward, 'daily_pages_mv', 'project')).toBe(
      [
        'CREATE MATERIALIZED VIEW IF NOT EXISTS project.daily_pages_mv TO project.daily_pages AS',
        'SELECT',
        '    toDate(timestamp) AS day,',
        '    page,',
        '    countState() AS views,',
        '    uniqState(session_id) AS visitors',
        'FROM project.clicks AS clicks',
        'GROUP BY day, page',
      ].join('\n'),
    )
    expect(materializedViewSql(awkward, 'sales_mv', 'project')).toBe(
      "CREATE MATERIALIZED VIEW IF NOT EXISTS project.sales_mv TO project.sales_by_day AS\nSELECT toDate(ts) AS day, country, sum(amount) AS revenue, count() AS sales\nFROM project.events AS events\nWHERE amount > toFloat64('0.0') AND kind = 'sale'\nGROUP BY day, country",
    )
    expect(() => materializedViewSql(forward, 'top_pages', 'project')).toThrow('pipe top_pages is not TYPE MATERIALIZED')
  })

  it('renders a copy as INSERT INTO its target with the mode', () => {
    expect(copySql(forward, 'snapshot_pages', { database: 'project', params: { days: '3' } })).toEqual({
      sql: 'INSERT INTO project.pages_snapshot\nSELECT now() AS snapshot_at, page, countMerge(views) AS views\nFROM project.daily_pages AS daily_pages\nWHERE day >= today() - 3\nGROUP BY page',
      params: {},
      settings: {},
      warnings: [],
      mode: 'append',
      target: 'project.pages_snapshot',
    })
    expect(copySql(awkward, 'top_skus_copy', { database: 'project' })).toMatchObject({ mode: 'replace', target: 'project.top_skus', params: { p0: '10' } })
    expect(copySql(awkward, 'top_skus_copy', { database: 'project' }).sql).toMatch(/^INSERT INTO project\.top_skus\nWITH exploded AS \(\nSELECT sku, amount\nFROM project\.events AS events\nARRAY JOIN skus AS sku\n/)
  })
})

describe('checkPipes', () => {
  it('passes the fixture projects', () => {
    expect([...checkPipes(forward), ...checkPipes(classic), ...checkPipes(awkward)]).toEqual([])
  })

  it('reports a materialized view without defaults and a failing node at their file line', () => {
    const p = projectFromFiles({
      'a.datasource': 'SCHEMA >\n    `a` String\n',
      'mv.pipe': 'NODE n\nSQL >\n    %\n    SELECT a FROM a\n    WHERE a = {{ String(x) }}\nTYPE MATERIALIZED\nDATASOURCE a\n',
      'e.pipe': "NODE n\nSQL >\n    %\n    SELECT a FROM a\n    {{ cache_ttl('2h') }}\n",
    })
    expect(checkPipes(p).map((e) => e.message)).toEqual([
      'mv.pipe:5: node n (materialized with defaults): Template Syntax Error: Required parameter is not defined. Check the parameters x. Please provide a value or set a default value in the pipe code.',
      "e.pipe:5: node n: Template Syntax Error: Invalid TTL cache expression, valid expressions are ('5s', '1m', '5m', '30m', '1h')",
    ])
  })
})
