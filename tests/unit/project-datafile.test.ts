import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  composeNodeSql,
  cronProblem,
  datasourceDdl,
  DatafileError,
  jsonMapping,
  loadProject,
  mapJsonRow,
  nextCronRun,
  parseDatasource,
  parsePipe,
  projectFixtures,
  projectFromFiles,
  projectTokens,
  quarantineDdl,
  quarantineRow,
  sqlReferences,
  type Pipe,
} from '../../src/project/datafile.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/projects/', import.meta.url))

/** The DatafileError thrown by `fn`, for asserting on file, line and message together. */
function failure(fn: () => unknown): DatafileError {
  try {
    fn()
  } catch (e) {
    if (e instanceof DatafileError) return e
    throw e
  }
  throw new Error('expected a DatafileError')
}

describe('Forward layout', () => {
  const project = loadProject(`${FIXTURES}forward`)

  it('finds every datafile in datasources/, endpoints/, materializations/, copies/ and pipes/, and nothing in fixtures/ or tests/', () => {
    expect([...project.datasources.keys()].sort()).toEqual(['clicks', 'daily_pages', 'pages_snapshot'])
    expect([...project.pipes.keys()].sort()).toEqual(['daily_pages_mv', 'page_trend', 'page_views', 'snapshot_pages', 'top_pages'])
    expect(project.pipes.get('top_pages')!.file).toBe('endpoints/top_pages.pipe')
  })

  it('parses the TINYBIRD.md §2.1 datasource and renders the §2.5 DDL', () => {
    const clicks = project.datasources.get('clicks')!
    expect(clicks.description).toBe('Raw click events sent by the web tracker.')
    expect(clicks.columns.map((c) => [c.name, c.type, c.jsonPath, c.default])).toEqual([
      ['timestamp', 'DateTime', '$.ts', undefined],
      ['session_id', 'String', '$.session.id', undefined],
      ['page', 'LowCardinality(String)', '$.page', undefined],
      ['country', 'Nullable(String)', '$.geo.country', undefined],
      ['tags', 'Array(String)', '$.tags[:]', undefined],
      ['item_ids', 'Array(Int64)', '$.items[:].id', undefined],
      ['duration_ms', 'UInt32', '$.duration', '0'],
      ['raw', 'String', '$', undefined],
    ])
    expect(clicks.tokens).toEqual([
      { name: 'tracker', scope: 'APPEND', line: 23 },
      { name: 'dashboard', scope: 'READ', line: 24 },
    ])
    expect(datasourceDdl(clicks, 'project')).toBe(
      [
        'CREATE TABLE IF NOT EXISTS project.clicks (',
        '  timestamp DateTime,',
        '  session_id String,',
        '  page LowCardinality(String),',
        '  country Nullable(String),',
        '  tags Array(String),',
        '  item_ids Array(Int64),',
        '  duration_ms UInt32 DEFAULT 0,',
        '  raw String,',
        '  INDEX idx_session session_id TYPE bloom_filter GRANULARITY 4',
        ') ENGINE = MergeTree',
        'PARTITION BY toYYYYMM(timestamp)',
        'ORDER BY (page, timestamp)',
        'TTL timestamp + toIntervalDay(90)',
        'SETTINGS index_granularity = 8192',
      ].join('\n'),
    )
    expect(datasourceDdl(project.datasources.get('daily_pages')!, 'project')).toBe(
      [
        'CREATE TABLE IF NOT EXISTS project.daily_pages (',
        '  day Date,',
        '  page LowCardinality(String),',
        '  views AggregateFunction(count),',
        '  visitors AggregateFunction(uniq, String)',
        ') ENGINE = AggregatingMergeTree',
        'PARTITION BY toYYYYMM(day)',
        'ORDER BY (day, page)',
      ].join('\n'),
    )
  })

  it('parses the §3.1 endpoint: header, node descriptions, % templates, TYPE after the last node, CACHE, TOKEN', () => {
    const pipe = project.pipes.get('top_pages')!
    expect(pipe).toMatchObject({ type: 'endpoint', outputNode: 'top_pages', cache: 30, description: 'Most viewed pages in a time window.', tokens: [{ name: 'dashboard', scope: 'READ', line: 4 }] })
    expect(pipe.nodes.map((n) => [n.name, n.description, n.template, n.sqlLine])).toEqual([
      ['filtered', 'Clicks inside the requested window.', true, 10],
      ['top_pages', undefined, true, 20],
    ])
    expect(pipe.nodes[1]!.text).toBe('\nSELECT page, count() AS views, uniq(session_id) AS visitors\nFROM filtered\nGROUP BY page\nORDER BY views DESC\nLIMIT {{ Int32(limit, 10, description="rows to return") }}')
    expect([...project.dependencies.get('top_pages')!]).toEqual([
      ['filtered', [{ name: 'clicks', kind: 'datasource' }]],
      ['top_pages', [{ name: 'filtered', kind: 'node' }]],
    ])
  })

  it('parses materialized, copy and plain pipes and resolves a pipe read by another', () => {
    expect(project.pipes.get('daily_pages_mv')).toMatchObject({ type: 'materialized', datasource: 'daily_pages', outputNode: 'daily' })
    expect(project.pipes.get('daily_pages_mv')!.nodes[0]!.template).toBe(false)
    expect(project.pipes.get('snapshot_pages')).toMatchObject({ type: 'copy', targetDatasource: 'pages_snapshot', copyMode: 'append', copySchedule: '0 * * * *' })
    expect(project.pipes.get('page_views')).toMatchObject({ type: 'default', outputNode: 'views' })
    expect(project.pipes.get('page_trend')!.type).toBe('endpoint')
    expect(project.dependencies.get('page_trend')!.get('trend')).toEqual([{ name: 'page_views', kind: 'pipe' }])
  })
})

describe('Classic flat layout', () => {
  const project = loadProject(`${FIXTURES}classic`)

  it('reads unquoted values, VERSION, an empty partition key, lowercase TYPE and unquoted TOKEN names', () => {
    const events = project.datasources.get('events')!
    expect(events.version).toBe(1)
    expect(events.engine).toMatchObject({ type: 'MergeTree', sortingKey: 'user_id, timestamp', partitionKey: '' })
    expect(datasourceDdl(events, 'project')).toBe(
      ['CREATE TABLE IF NOT EXISTS project.events (', '  timestamp DateTime,', '  user_id UInt64,', '  event LowCardinality(String),', '  amount Float64 DEFAULT 0', ') ENGINE = MergeTree', 'ORDER BY (user_id, timestamp)'].join('\n'),
    )
    expect(datasourceDdl(project.datasources.get('users')!, 'db')).toContain(') ENGINE = ReplacingMergeTree(updated_at, deleted)\nORDER BY (user_id)')
    expect(project.datasources.get('users')!.tokens).toEqual([{ name: 'admin_ingest', scope: 'APPEND', line: 13 }])
    const totals = project.pipes.get('user_totals')!
    expect(totals).toMatchObject({ type: 'endpoint', outputNode: 'endpoint', version: 2 })
    expect(totals.nodes[0]!.description).toBe('Spend per user (plain SQL, no template).')
    expect(project.pipes.get('big_spenders')!.tokens).toEqual([{ name: 'read_all', scope: 'READ', line: 1 }])
    const mv = project.pipes.get('user_daily_mv')!
    expect(mv).toMatchObject({ type: 'materialized', datasource: 'user_daily', targetEngine: { ENGINE: 'AggregatingMergeTree', ENGINE_SORTING_KEY: 'day, user_id' } })
    expect(mv.nodes[0]).toMatchObject({ description: 'Tab-indented description, as some Classic files have.', sqlLine: 7, template: false })
    expect(mv.nodes[0]!.sql.split('\n')[0]).toBe('select')
    expect(project.dependencies.get('big_spenders')!.get('big')).toEqual([
      { name: 'user_totals', kind: 'pipe' },
      { name: 'users', kind: 'datasource' },
    ])
  })
})

describe('the awkward project', () => {
  const project = loadProject(`${FIXTURES}awkward`)
  const events = project.datasources.get('events')!

  it('parses every column shape: quoted names, nested, bracket, index and array json paths, DEFAULT expressions, CODEC', () => {
    const col = (name: string) => events.columns.find((c) => c.name === name)!
    expect(col('user_agent')).toMatchObject({ type: 'String', jsonPath: "$.context['user-agent']" })
    expect(col('kind').type).toBe("Enum8('view' = 1, 'cart' = 2, 'sale' = 3)")
    expect(col('amount')).toMatchObject({ type: 'Decimal(18, 4)', default: '0' })
    expect(col('first_sku')).toMatchObject({ jsonPath: '$.items[0].sku', default: "''" })
    expect(col('seen')).toMatchObject({ type: 'SimpleAggregateFunction(max, DateTime)', codec: 'Delta, ZSTD(1)', jsonPath: '$.seen' })
    expect(col('note')).toMatchObject({ type: 'String', default: "concat('n', toString(user_id))" })
    expect(col('note').jsonPath).toBeUndefined()
    expect(events.description).toBe('Purchase events with nested JSON.\nSecond line of the description.')
    expect(events.ignored).toEqual({ KAFKA_CONNECTION_NAME: 'kafka_main', KAFKA_TOPIC: 'purchases', KAFKA_GROUP_ID: 'sightline', KAFKA_AUTO_OFFSET_RESET: 'earliest' })
    expect(events.sharedWith).toEqual(['other_workspace', 'third_workspace'])
    expect(events.tokens.map((t) => [t.name, t.scope])).toEqual([
      ['ingest token', 'APPEND'],
      ['reader', 'READ'],
    ])
  })

  it('renders every ENGINE_* setting into the DDL', () => {
    expect(datasourceDdl(events, 'project')).toMatch(
      /INDEX idx_sku skus TYPE bloom_filter\(0\.01\) GRANULARITY 2,\n {2}INDEX idx_agent lower\(user_agent\) TYPE tokenbf_v1\(512, 3, 0\) GRANULARITY 1\n\) ENGINE = MergeTree\nPARTITION BY toYYYYMM\(ts\)\nORDER BY \(user_id, ts\)\nPRIMARY KEY \(user_id\)\nTTL toDateTime\(ts\) \+ INTERVAL 50 YEAR\nSETTINGS index_granularity = 4096, min_bytes_for_wide_part = '10M'$/,
    )
    expect(datasourceDdl(events, 'project')).toContain('  seen SimpleAggregateFunction(max, DateTime) CODEC(Delta, ZSTD(1)),\n')
    expect(datasourceDdl(project.datasources.get('sales_by_day')!, 'project')).toBe(
      [
        'CREATE TABLE IF NOT EXISTS project.sales_by_day (',
        '  day Date,',
        '  country LowCardinality(Nullable(String)),',
        '  revenue Decimal(18, 4),',
        '  sales UInt64',
        ') ENGINE = SummingMergeTree((revenue, sales))',
        'ORDER BY (day, country)',
        'SETTINGS allow_nullable_key = 1',
      ].join('\n'),
    )
    expect(datasourceDdl(project.datasources.get('user_state')!, 'project')).toContain(') ENGINE = VersionedCollapsingMergeTree(sign, version)\nORDER BY (user_id)')
    expect(project.datasources.get('user_state')!.forwardQuery).toBe('SELECT user_id, state, sign, version')
    expect(datasourceDdl(project.datasources.get('landing')!, 'my-db')).toBe('CREATE TABLE IF NOT EXISTS `my-db`.landing (\n  payload String\n) ENGINE = Null')
    // No ENGINE and no sorting key: MergeTree ordered by the first DateTime column.
    expect(datasourceDdl(project.datasources.get('top_skus')!, 'project')).toContain(') ENGINE = MergeTree\nORDER BY (copied_at)')
  })

  it('parses multi-node, materialized, copy and sink pipes', () => {
    expect(project.pipes.get('everything')).toMatchObject({ type: 'endpoint', outputNode: 'final', cache: 0, tokens: [{ name: 'dashboard' }, { name: 'reader', scope: 'READ' }] })
    expect(project.pipes.get('everything')!.nodes.map((n) => n.name)).toEqual(['base', 'shaped', 'final'])
    expect(project.pipes.get('sales_mv')).toMatchObject({ type: 'materialized', datasource: 'sales_by_day', deploymentMethod: 'alter' })
    expect(project.pipes.get('top_skus_copy')).toMatchObject({ type: 'copy', targetDatasource: 'top_skus', copyMode: 'replace', copySchedule: '*/15 * * * *', outputNode: 'ranked' })
    expect(project.pipes.get('export')).toMatchObject({ type: 'sink', export: { EXPORT_SERVICE: 's3', EXPORT_BUCKET_URI: 's3://bucket/prefix', EXPORT_SCHEDULE: '@daily', EXPORT_COMPRESSION: 'gzip' } })
    expect(project.dependencies.get('top_skus_copy')!.get('exploded')).toEqual([{ name: 'events', kind: 'datasource' }])
  })
})

describe('parse errors name the file, the line and what was expected', () => {
  const ds = (content: string) => failure(() => parseDatasource('datasources/bad.datasource', content))
  const pipe = (content: string) => failure(() => parsePipe('endpoints/bad.pipe', content))

  it.each([
    ['SCHEMA >\n    `a` String\n\nENGIN "MergeTree"\n', 4, 'expected a datasource directive (DESCRIPTION, SCHEMA, ENGINE'],
    ['DESCRIPTION >\n    x\n', 0, 'a datasource needs a `SCHEMA >` block'],
    ['SCHEMA >\n', 1, 'SCHEMA is empty; expected at least one indented column line'],
    ['SCHEMA >\n    `a` String,\n    `b`\n', 3, 'column b needs a type'],
    ['SCHEMA >\n    `a` Array(String `json:$.a`\n', 2, 'is not a ClickHouse type (unbalanced brackets or quotes?)'],
    ['SCHEMA >\n    `a` String `json:a.b`\n', 2, 'column a: a json path starts with $'],
    ['SCHEMA >\n    `a` String `json:$.a[x]`\n', 2, "column a: expected [:], [n] or ['key']"],
    ['SCHEMA >\n    `a` String,\n    `a` UInt8\n', 3, 'column a is defined twice (first at line 2)'],
    ['SCHEMA >\n    `a` String\nENGINE "Log"\n', 3, 'ENGINE must be one of MergeTree, ReplacingMergeTree'],
    ['SCHEMA >\n    `a` String\nENGINE_VER "a"\n', 3, 'ENGINE_VER only applies to ReplacingMergeTree, not MergeTree'],
    ['SCHEMA >\n    `a` Int8\nENGINE "CollapsingMergeTree"\n', 3, 'CollapsingMergeTree needs ENGINE_SIGN'],
    ['SCHEMA >\n    `a` String\nENGINE_SETTINGS "index_granularity"\n', 3, `expected ENGINE_SETTINGS as "key=value, key2='v'" but found "index_granularity"`],
    ['SCHEMA >\n    `a` String\nINDEXES >\n    idx a TYPE minmax\n', 4, 'expected an index as `name expr TYPE type GRANULARITY n`'],
    ['SCHEMA >\n    `a` String\nTOKEN reader WRITE\n', 3, 'the scope must be READ or APPEND, found "WRITE"'],
    ['SCHEMA >\n    `a` String\nENGINE "MergeTree"\nENGINE "MergeTree"\n', 4, 'ENGINE is given twice (first at line 3)'],
    ['SCHEMA >\n    `a` String\nINCLUDE "x.incl"\n', 3, 'INCLUDE "x.incl": included files are read when the project is loaded from its folder'],
    ['SCHEMA >\n    `a` String\nINCLUDE\n', 3, 'INCLUDE needs a file'],
    ['SCHEMA >\n    `a` String\nENGINE_IS_DELETED "a"\nENGINE "ReplacingMergeTree"\n', 3, 'ENGINE_IS_DELETED needs ENGINE_VER'],
  ])('datasource %#', (content, line, message) => {
    const e = ds(content)
    expect(e.file).toBe('datasources/bad.datasource')
    expect(e.line).toBe(line)
    expect(e.message).toContain(message)
    expect(e.message.startsWith(`datasources/bad.datasource${line > 0 ? `:${line}` : ''}: `)).toBe(true)
  })

  it.each([
    ['SQL >\n    SELECT 1\n', 1, '`SQL >` must follow a `NODE <name>` line'],
    ['NODE a\nSQL >\n    %\n', 2, 'the SQL of node a is empty'],
    ['NODE a\nDESCRIPTION >\n    x\nNODE b\nSQL >\n    SELECT 1\n', 4, 'node a (line 1) has no `SQL >` block'],
    ['NODE a\nSQL >\n    SELECT 1\nNODE a\nSQL >\n    SELECT 2\n', 4, 'node a is defined twice (first at line 1)'],
    ['NODE my-node\nSQL >\n    SELECT 1\n', 1, 'expected NODE <name> with a name of letters, digits and _'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE API\n', 4, 'TYPE must be ENDPOINT, MATERIALIZED, COPY or SINK, found "API"'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE MATERIALIZED\n', 4, 'TYPE MATERIALIZED needs `DATASOURCE <target datasource>`'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE COPY\n', 4, 'TYPE COPY needs `TARGET_DATASOURCE <target datasource>`'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE COPY\nTARGET_DATASOURCE t\nCOPY_MODE upsert\n', 6, 'COPY_MODE must be append or replace, found "upsert"'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE COPY\nTARGET_DATASOURCE t\nCOPY_SCHEDULE 61 * * * *\n', 6, 'the minute field "61" is out of range 0-59'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE COPY\nTARGET_DATASOURCE t\nCOPY_SCHEDULE every hour\n', 6, 'expected 5 cron fields'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE ENDPOINT\nCACHE -1\n', 5, 'CACHE must be a non-negative number of seconds'],
    ['NODE a\nSQL >\n    SELECT 1\nDATASOURCE t\n', 4, 'DATASOURCE only applies to TYPE MATERIALIZED (this pipe has no TYPE)'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE ENDPOINT\nENGINE "MergeTree"\n', 5, 'ENGINE only applies to TYPE MATERIALIZED, not ENDPOINT'],
    ['NODE a\nSQL >\n    SELECT 1\nTYPE ENDPOINT\nTYPE COPY\n', 5, 'a pipe has one TYPE (already ENDPOINT at line 4)'],
    ['TOKEN t APPEND\nNODE a\nSQL >\n    SELECT 1\n', 1, 'a pipe token can only have the READ scope, found "APPEND"'],
    ['   SELECT 1\n', 1, '(an indented line outside a `KEY >` block)'],
    ['', 0, 'a pipe needs at least one `NODE <name>` with a `SQL >` block'],
  ])('pipe %#', (content, line, message) => {
    const e = pipe(content)
    expect([e.file, e.line]).toEqual(['endpoints/bad.pipe', line])
    expect(e.message).toContain(message)
  })
})

describe('Classic INCLUDE', () => {
  const events = 'SCHEMA >\n    `timestamp` DateTime,\n    `action` String,\n    `price` Float64\n'
  const onlyBuy = 'NODE only_buy\nSQL >\n    SELECT toDate(timestamp) AS date, price FROM events\n    WHERE action = \'buy\'\n'

  it('splices an included node into a pipe, found next to the file or in the project folder', () => {
    const sales = 'INCLUDE "./includes/only_buy.incl"\n\nNODE endpoint\nSQL >\n    SELECT date, sum(price) AS total FROM only_buy GROUP BY date\nTYPE ENDPOINT\n'
    const p = projectFromFiles({ 'datasources/events.datasource': events, 'includes/only_buy.incl': onlyBuy, 'endpoints/sales.pipe': sales, 'endpoints/local.incl': onlyBuy.replace('only_buy', 'local_buy'), 'endpoints/local.pipe': 'INCLUDE "local.incl"\nTYPE ENDPOINT\n' })
    expect(p.pipes.get('sales')!.nodes.map((n) => n.name)).toEqual(['only_buy', 'endpoint'])
    expect(p.pipes.get('sales')!.outputNode).toBe('endpoint')
    expect(p.dependencies.get('sales')!.get('endpoint')).toEqual([{ name: 'only_buy', kind: 'node' }])
    expect(p.pipes.get('local')!.nodes.map((n) => n.name)).toEqual(['local_buy'])
    // .incl files are no datafiles of their own.
    expect([...p.pipes.keys()].sort()).toEqual(['local', 'sales'])
  })

  it('replaces $VAR and ${VAR} with the values the INCLUDE gives, and nothing else', () => {
    const top = "NODE endpoint\nSQL >\n    SELECT '$PERIOD' AS period, '${PERIOD}s' AS plural, '$PERIODIC' AS other, '$UNSET' AS unset FROM events\n"
    const p = projectFromFiles({ 'events.datasource': events, 'top.incl': top, 'week.pipe': 'INCLUDE "top.incl" "PERIOD=week"\n', 'day.pipe': "INCLUDE 'top.incl' PERIOD=day\n" })
    expect(p.pipes.get('week')!.nodes[0]!.sql).toBe("SELECT 'week' AS period, 'weeks' AS plural, '$PERIODIC' AS other, '$UNSET' AS unset FROM events")
    expect(p.pipes.get('day')!.nodes[0]!.sql).toContain("'day' AS period")
  })

  it('splices connector settings into a datasource and keeps the expanded text as its source', () => {
    const kafka = 'KAFKA_CONNECTION_NAME my_connection\nKAFKA_BOOTSTRAP_SERVERS my_server:9092\n'
    const text = `${events}\nENGINE "MergeTree"\n\nINCLUDE "connections/kafka.incl"\n\nKAFKA_TOPIC my_topic\n`
    const p = projectFromFiles({ 'datasources/events.datasource': text, 'datasources/connections/kafka.incl': kafka })
    const ds = p.datasources.get('events')!
    expect(ds.ignored).toMatchObject({ KAFKA_CONNECTION_NAME: 'my_connection', KAFKA_BOOTSTRAP_SERVERS: 'my_server:9092', KAFKA_TOPIC: 'my_topic' })
    expect(ds.columns.map((c) => c.name)).toEqual(['timestamp', 'action', 'price'])
    expect(ds.source).toContain('KAFKA_BOOTSTRAP_SERVERS my_server:9092')
    expect(ds.source).not.toContain('INCLUDE')
    // The expanded text parses again on its own (what a later start compares against).
    expect(parseDatasource('events.datasource', ds.source).columns).toEqual(ds.columns)
  })

  it('names the included file and its line in errors, and the INCLUDE that brought it in', () => {
    const broken = 'NODE only_buy\nSQL >\n    SELECT 1\nCOPY_MODE sideways\n'
    expect(failure(() => projectFromFiles({ 'inc/x.incl': broken, 'p.pipe': '\nINCLUDE "inc/x.incl"\n' })).message).toMatch(/^inc\/x\.incl:4: COPY_MODE .* \(included by p\.pipe:2\)$/)
    // Errors found once the project is resolved (an unknown table, a template error) too.
    const reads = 'NODE n\nSQL >\n    %\n    SELECT 1\n    FROM missing\n'
    expect(failure(() => projectFromFiles({ 'x.incl': reads, 'p.pipe': 'INCLUDE "x.incl"\n' })).message).toBe('x.incl:5: node n reads missing, which is no node of this pipe, datasource or pipe of the project (included by p.pipe:1)')
    const template = 'NODE n\nSQL >\n    %\n    SELECT {{ whatever(x) }}\n'
    expect(failure(() => projectFromFiles({ 'x.incl': template, 'p.pipe': 'NODE first\nSQL >\n    SELECT 1\nINCLUDE "x.incl"\n' })).message).toBe(
      "x.incl:4: node n: Template Syntax Error: 'whatever' is not a valid function, line 2 (included by p.pipe:4)",
    )
    // Nested: the inner file's line, brought in by the outer one.
    expect(failure(() => projectFromFiles({ 'a.incl': 'INCLUDE "b.incl"\n', 'b.incl': 'NODE n\nSQL >\n    SELECT 1\nTYPE nonsense\n', 'p.pipe': 'INCLUDE "a.incl"\n' })).message).toMatch(/^b\.incl:4: .*\(included by a\.incl:1\)$/)
  })

  it('refuses a missing file, a cycle and a variable that is not NAME=value, at the INCLUDE line', () => {
    expect(failure(() => projectFromFiles({ 'p.pipe': 'NODE n\nSQL >\n    SELECT 1\nINCLUDE "nope.incl"\n' })).message).toBe('p.pipe:4: INCLUDE "nope.incl": no such file next to p.pipe or in the project folder')
    expect(failure(() => projectFromFiles({ 'a.incl': 'INCLUDE "b.incl"\n', 'b.incl': 'INCLUDE "a.incl"\n', 'p.pipe': 'INCLUDE "a.incl"\n' })).message).toBe('b.incl:1: INCLUDE "a.incl" includes itself: p.pipe -> a.incl -> b.incl -> a.incl (included by a.incl:1)')
    expect(failure(() => projectFromFiles({ 'a.incl': 'NODE n\nSQL >\n    SELECT 1\n', 'p.pipe': 'INCLUDE "a.incl" "=x"\n' })).message).toBe('p.pipe:1: INCLUDE variables are written "NAME=value", found "=x"')
  })

  it('loads the Classic fixture with includes from its folder', () => {
    const p = loadProject(`${FIXTURES}classic-include`)
    expect(p.pipes.get('sales_last_week')!.nodes.map((n) => n.name)).toEqual(['only_buy', 'endpoint'])
    expect(p.pipes.get('sales_last_week')!.nodes[1]!.sql).toContain('INTERVAL 7 DAY')
    expect(p.pipes.get('sales_between')!.nodes[1]!.sql).toContain("{{Date(start, '2026-01-01')}}")
  })
})

describe('block grammar', () => {
  it('keeps SQL lines that start in column 0 or contain directive words, dedents, and ends a block only at a column-0 directive', () => {
    const p = parsePipe(
      'x.pipe',
      ['NODE a', 'SQL >', '    SELECT 1 AS TYPE,', 'NODE_count', '', '        FROM t', '      # not a comment inside SQL', 'TYPE endpoint', '', '# comment', 'TOKEN "x y" READ'].join('\n'),
    )
    expect(p.nodes[0]!.sql).toBe('SELECT 1 AS TYPE,\nNODE_count\n\n    FROM t\n  # not a comment inside SQL')
    expect(p.tokens).toEqual([{ name: 'x y', scope: 'READ', line: 11 }])
    expect(p.type).toBe('endpoint')
  })

  it('takes TYPE as marking the node it follows; before any NODE it marks the last node', () => {
    const text = (type: string) => `NODE a\nSQL >\n    SELECT 1\n${type}NODE b\nSQL >\n    SELECT * FROM a\n`
    expect(parsePipe('p.pipe', text('TYPE ENDPOINT\n')).outputNode).toBe('a')
    expect(parsePipe('p.pipe', `TYPE endpoint\n${text('')}`).outputNode).toBe('b')
    expect(parsePipe('p.pipe', text('')).outputNode).toBe('b')
  })

  it('accepts an inline value after `>`, CRLF line ends and a `%` on the first SQL line', () => {
    const p = parsePipe('p.pipe', 'DESCRIPTION > one line\r\nNODE a\r\nSQL >\r\n    % SELECT {{ Int(x, 1) }}\r\n')
    expect(p.description).toBe('one line')
    expect(p.nodes[0]).toMatchObject({ template: true, text: ' SELECT {{ Int(x, 1) }}' })
  })
})

describe('project checks', () => {
  const ds = 'SCHEMA >\n    `a` String\n'
  it('refuses a missing folder and a folder without datafiles', () => {
    expect(failure(() => loadProject(`${FIXTURES}does-not-exist`)).detail).toBe('the project folder does not exist or is not a folder')
    expect(failure(() => loadProject(`${FIXTURES}forward/fixtures`)).detail).toBe('no .datasource or .pipe files found')
  })

  it('refuses duplicate names across datasources and pipes', () => {
    const e = failure(() => projectFromFiles({ 'datasources/x.datasource': ds, 'pipes/x.pipe': 'NODE n\nSQL >\n    SELECT 1\n' }))
    expect(e.message).toBe('pipes/x.pipe: the name x is already used by datasources/x.datasource; names must be unique across the project')
  })

  it('refuses an unknown DATASOURCE or TARGET_DATASOURCE at its line', () => {
    expect(failure(() => projectFromFiles({ 'a.datasource': ds, 'm.pipe': 'NODE n\nSQL >\n    SELECT a FROM a\nTYPE MATERIALIZED\nDATASOURCE nope\n' })).message).toBe(
      'm.pipe:5: DATASOURCE nope is not a datasource of this project; expected one of a',
    )
    expect(failure(() => projectFromFiles({ 'a.datasource': ds, 'c.pipe': 'NODE n\nSQL >\n    SELECT a FROM a\nTYPE COPY\nTARGET_DATASOURCE b\n' })).message).toBe(
      'c.pipe:5: TARGET_DATASOURCE b is not a datasource of this project; expected one of a',
    )
  })

  it('refuses a FROM/JOIN name that is no node, datasource or pipe, at the line of the reference', () => {
    const e = failure(() => projectFromFiles({ 'a.datasource': ds, 'p.pipe': 'NODE n\nSQL >\n    %\n    SELECT a\n    FROM a\n    JOIN missing USING a\n' }))
    expect(e.message).toBe('p.pipe:6: node n reads missing, which is no node of this pipe, datasource or pipe of the project')
    const later = failure(() => projectFromFiles({ 'a.datasource': ds, 'p.pipe': 'NODE n\nSQL >\n    SELECT * FROM m\nNODE m\nSQL >\n    SELECT a FROM a\n' }))
    expect(later.message).toBe('p.pipe:3: node n reads node m, which comes after it; a node can only read earlier nodes')
  })

  it('reports template syntax errors at load time at their line in the file', () => {
    const e = failure(() => projectFromFiles({ 'a.datasource': ds, 'p.pipe': 'NODE n\nSQL >\n    %\n    SELECT a FROM a\n    {% if defined(x) %}\n    WHERE {{ whatever(x) }}\n    {% end %}\n' }))
    expect(e.message).toBe("p.pipe:6: node n: Template Syntax Error: 'whatever' is not a valid function, line 4")
    expect(failure(() => projectFromFiles({ 'p.pipe': 'NODE n\nSQL >\n    %\n    SELECT 1\n    {% if x %}\n' })).message).toBe('p.pipe:5: node n: Missing {% end %} block for if at line 3')
    expect(failure(() => projectFromFiles({ 'p.pipe': 'NODE n\nSQL >\n    % SELECT {{ format }}\n' })).message).toBe('p.pipe:3: node n: "format" can not be used as a variable name, line 1')
  })

  it('refuses reading a materialized pipe and cycles between pipes', () => {
    const mv = 'NODE n\nSQL >\n    SELECT a FROM a\nTYPE MATERIALIZED\nDATASOURCE a\n'
    expect(failure(() => projectFromFiles({ 'a.datasource': ds, 'mv.pipe': mv, 'r.pipe': 'NODE n\nSQL >\n    SELECT * FROM mv\n' })).message).toBe(
      'r.pipe:3: node n reads pipe mv, which is a materialized pipe; only endpoint and plain pipes can be read',
    )
    expect(failure(() => projectFromFiles({ 'p.pipe': 'NODE n\nSQL >\n    SELECT * FROM q\n', 'q.pipe': 'NODE n\nSQL >\n    SELECT * FROM p\n' })).message).toBe('p.pipe: pipes read each other in a cycle: p -> q -> p')
  })

  it('accepts tinybird.* service datasources, CTE names, table functions and subqueries', () => {
    const p = projectFromFiles({ 'a.datasource': ds, 'p.pipe': 'NODE n\nSQL >\n    WITH x AS (SELECT 1) SELECT * FROM x, (SELECT * FROM a) JOIN numbers(3) ON 1 JOIN tinybird.pipe_stats_rt USING (a)\n' })
    expect(p.dependencies.get('p')!.get('n')).toEqual([
      { name: 'a', kind: 'datasource' },
      { name: 'tinybird.pipe_stats_rt', kind: 'service' },
    ])
  })
})

describe('sqlReferences', () => {
  it('finds tables after FROM/JOIN and skips functions, ARRAY JOIN, strings, comments and template tags', () => {
    const sql = `SELECT extract(day FROM t), trim(BOTH ' ' FROM s), 'FROM fake' -- FROM comment
      FROM db.a AS z JOIN c USING id ARRAY JOIN arr LEFT JOIN numbers(3) n ON 1 /* JOIN nope */
      WHERE y IN (SELECT * FROM d) AND w IN (SELECT substring(s FROM 2) FROM e)
      {% if x %} FROM {{ symbol(t) }} {% end %} JOIN \`quoted name\` ON 1`
    expect(sqlReferences(sql).map((r) => r.name)).toEqual(['db.a', 'c', 'd', 'e', 'quoted name'])
  })
})

describe('json paths map one object to one row', () => {
  const clicks = loadProject(`${FIXTURES}forward`).datasources.get('clicks')!
  const mapping = jsonMapping(clicks)

  it('follows nested, whole-array and array-of-field paths; leaves missing fields out so ClickHouse fills defaults', () => {
    const line = '{"ts":"2024-01-02 10:00:00","session":{"id":"s1"},"page":"/","geo":{"country":null},"tags":["a","b"],"items":[{"id":1},{"id":"2"},{"x":3}]}'
    expect(mapJsonRow(mapping, JSON.parse(line), line)).toEqual({
      ok: true,
      row: { timestamp: '2024-01-02 10:00:00', session_id: 's1', page: '/', country: null, tags: ['a', 'b'], item_ids: ['1', '2'], raw: line },
    })
  })

  it('sends a row whose values do not fit to quarantine, one message per column in Tinybird wording', () => {
    expect(mapJsonRow(mapping, { ts: 'yesterday', session: { id: 's' }, page: '/', tags: 'a', duration: -5 })).toEqual({
      ok: false,
      errors: [
        { column: 'timestamp', message: "value 'yesterday' on column 'timestamp' is not DateTime" },
        { column: 'tags', message: "value 'a' on column 'tags' is not Array(String)" },
        { column: 'duration_ms', message: "value '-5' on column 'duration_ms' is not UInt32" },
      ],
    })
    expect(mapJsonRow(mapping, [1, 2])).toEqual({ ok: false, errors: [{ column: '', message: 'the line is not a JSON object' }] })
  })

  it('handles bracket keys, indexes, maps, enums, decimals, booleans, big integers and lenient numbers', () => {
    const events = loadProject(`${FIXTURES}awkward`).datasources.get('events')!
    const result = mapJsonRow(jsonMapping(events), {
      id: '123e4567-e89b-12d3-a456-426614174000',
      meta: { timestamp: '2024-01-02T10:00:00.123Z', v: 2 },
      user: { profile: { id: '18446744073709551615' } },
      context: { 'user-agent': 'curl', ip: '10.0.0.1' },
      payment: { amount: '12.5000', paid: 'true' },
      kind: 'sale',
      items: [{ sku: 'a', price: '1.5' }, { sku: 'b', price: 2 }],
      attrs: { k: 'v' },
      score: null,
      point: [1, 2],
      seen: 1700000000,
    })
    expect(result).toMatchObject({
      ok: true,
      row: {
        user_id: '18446744073709551615',
        user_agent: 'curl',
        amount: '12.5000',
        paid: true,
        kind: 'sale',
        skus: ['a', 'b'],
        prices: [1.5, 2],
        first_sku: 'a',
        attrs: { k: 'v' },
        meta: '{"timestamp":"2024-01-02T10:00:00.123Z","v":2}',
        score: null,
        ts: '2024-01-02T10:00:00.123Z',
      },
    })
    expect(mapJsonRow(jsonMapping(events), { kind: 'refund', user: { profile: { id: 2 ** 70 } } })).toMatchObject({
      ok: false,
      errors: [
        { column: 'user_id', message: "value '1.1805916207174113e+21' on column 'user_id' is not UInt64" },
        { column: 'kind', message: "value 'refund' on column 'kind' is not Enum8('view' = 1, 'cart' = 2, 'sale' = 3)" },
      ],
    })
  })

  it('maps a column without a path from $.<name>', () => {
    const ds = parseDatasource('d.datasource', 'SCHEMA >\n    id UInt8,\n    name String\n')
    expect(mapJsonRow(jsonMapping(ds), { id: '7', name: 5, other: 1 })).toEqual({ ok: true, row: { id: 7, name: '5' } })
  })
})

describe('COPY_SCHEDULE cron', () => {
  it('accepts five-field crons, names, steps, ranges, macros and @on-demand', () => {
    for (const ok of ['*/15 * * * *', '0 0 * * MON-FRI', '5,35 1-3 1 JAN,JUL 0', '@daily', '@hourly', '@on-demand', '0 0 1 1 7']) expect(cronProblem(ok)).toBeUndefined()
    expect(cronProblem('* * *')).toBe('expected 5 cron fields (minute hour day month weekday) or @on-demand, found 3')
    expect(cronProblem('0 24 * * *')).toBe('the hour field "24" is out of range 0-23')
    expect(cronProblem('0 0 * FOO *')).toBe('the month field "FOO" is out of range 1-12')
  })

  it('computes the next run in UTC', () => {
    const at = new Date('2024-01-31T10:07:30Z')
    expect(nextCronRun('*/15 * * * *', at)?.toISOString()).toBe('2024-01-31T10:15:00.000Z')
    expect(nextCronRun('0 0 1 * *', at)?.toISOString()).toBe('2024-02-01T00:00:00.000Z')
    expect(nextCronRun('30 9 * * MON', at)?.toISOString()).toBe('2024-02-05T09:30:00.000Z')
    expect(nextCronRun('@on-demand', at)).toBeUndefined()
  })
})

describe('composeNodeSql', () => {
  const pipe = parsePipe('p.pipe', 'NODE a\nSQL >\n    SELECT 1 AS x\nNODE b\nSQL >\n    SELECT x FROM a\nNODE c\nSQL >\n    WITH 2 AS k\n    SELECT x + k FROM b JOIN a USING x JOIN other_pipe USING x\n') as Pipe
  const text = (n: string) => pipe.nodes.find((x) => x.name === n)!.text

  it('puts the nodes a node reads first, merges into its own WITH and inlines other pipes', () => {
    expect(composeNodeSql(pipe, 'b', text)).toBe('WITH a AS (\nSELECT 1 AS x\n)\nSELECT x FROM a')
    expect(composeNodeSql(pipe, 'c', text, { otherPipe: (name) => (name === 'other_pipe' ? 'SELECT 3 AS x' : undefined) })).toBe(
      'WITH a AS (\nSELECT 1 AS x\n),\nb AS (\nSELECT x FROM a\n),\nother_pipe AS (\nSELECT 3 AS x\n),\n2 AS k\nSELECT x + k FROM b JOIN a USING x JOIN other_pipe USING x',
    )
    expect(composeNodeSql(pipe, 'a', text)).toBe('SELECT 1 AS x')
  })

  it('qualifies the tables a node reads, keeping their name as alias unless the SQL gives one', () => {
    const p = parsePipe('q.pipe', 'NODE a\nSQL >\n    SELECT * FROM events JOIN users u USING id JOIN tinybird.pipe_stats_rt AS s ON 1 WHERE events.x IN (SELECT x FROM events)\n')
    const table = (name: string) => (name === 'tinybird.pipe_stats_rt' ? 'sightline.pipe_stats_rt' : `project.${name}`)
    expect(composeNodeSql(p, 'a', () => p.nodes[0]!.text, { table })).toBe(
      'SELECT * FROM project.events AS events JOIN project.users u USING id JOIN sightline.pipe_stats_rt AS s ON 1 WHERE events.x IN (SELECT x FROM project.events AS events)',
    )
  })
})

describe('fixtures', () => {
  it('lists fixtures/<datasource>.ndjson|csv files', () => {
    expect(projectFixtures(loadProject(`${FIXTURES}forward`))).toEqual([{ datasource: 'clicks', path: `${FIXTURES}forward/fixtures/clicks.ndjson`, format: 'ndjson' }])
    expect(projectFixtures(loadProject(`${FIXTURES}classic`))).toEqual([])
  })
})

describe('quarantine and tokens', () => {
  const project = loadProject(`${FIXTURES}forward`)
  const clicks = project.datasources.get('clicks')!

  it('renders the quarantine table with Tinybird columns', () => {
    expect(quarantineDdl(clicks, 'project')).toBe(
      [
        'CREATE TABLE IF NOT EXISTS project.clicks_quarantine (',
        '  timestamp Nullable(String),',
        '  session_id Nullable(String),',
        '  page Nullable(String),',
        '  country Nullable(String),',
        '  tags Nullable(String),',
        '  item_ids Nullable(String),',
        '  duration_ms Nullable(String),',
        '  raw Nullable(String),',
        '  c__error_column Array(String),',
        '  c__error Array(String),',
        '  c__import_id Nullable(String),',
        '  insertion_date DateTime',
        ') ENGINE = MergeTree',
        'ORDER BY insertion_date',
      ].join('\n'),
    )
  })

  it('keeps the raw values of a misfit row as text with the reasons', () => {
    const mapping = jsonMapping(clicks)
    const value = { ts: 'yesterday', session: { id: 's' }, tags: 'a', duration: 'x' }
    const mapped = mapJsonRow(mapping, value)
    expect(mapped.ok).toBe(false)
    if (mapped.ok) return
    expect(quarantineRow(mapping, value, mapped.errors, 'imp-1', new Date('2024-05-06T07:08:09Z'), '{"raw":1}')).toEqual({
      timestamp: 'yesterday',
      session_id: 's',
      page: null,
      country: null,
      tags: 'a',
      item_ids: null,
      duration_ms: 'x',
      raw: '{"raw":1}',
      c__error_column: ['timestamp', 'tags', 'duration_ms'],
      c__error: ["value 'yesterday' on column 'timestamp' is not DateTime", "value 'a' on column 'tags' is not Array(String)", "value 'x' on column 'duration_ms' is not UInt32"],
      c__import_id: 'imp-1',
      insertion_date: '2024-05-06 07:08:09',
    })
  })

  it('gathers TOKEN lines by name into Tinybird scopes', () => {
    expect(projectTokens(project)).toEqual([
      { name: 'tracker', scopes: ['DATASOURCES:APPEND:clicks'], sources: ['datasources/clicks.datasource:23'] },
      { name: 'dashboard', scopes: ['DATASOURCES:READ:clicks', 'PIPES:READ:top_pages'], sources: ['datasources/clicks.datasource:24', 'endpoints/top_pages.pipe:4'] },
    ])
  })
})
