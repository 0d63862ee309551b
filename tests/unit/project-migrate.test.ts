import { describe, expect, it } from 'vitest'
import { parseDatasource } from '../../src/project/datafile.js'
import { losslessTypeChange, planDatasource, planMaterializedView } from '../../src/project/migrate.js'

const ds = (schema: string, engine = 'ENGINE_SORTING_KEY "id"\n', extra = '') => parseDatasource('datasources/t.datasource', `SCHEMA >\n${schema}\n${engine}${extra}`)
const BASE = ds('    `id` UInt32,\n    `name` String `json:$.name`,\n    `n` Int32 DEFAULT 0', 'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, merge_with_ttl_timeout=3600"\n', 'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 4\n')

describe('planDatasource', () => {
  it('creates a new datasource and its quarantine table', () => {
    const plan = planDatasource(undefined, BASE, 'project', 0)
    expect(plan.statements).toHaveLength(2)
    expect(plan.statements[0]).toMatch(/^CREATE TABLE IF NOT EXISTS project\.t \(/)
    expect(plan.statements[1]).toMatch(/^CREATE TABLE IF NOT EXISTS project\.t_quarantine \(/)
    expect(plan.changes).toEqual(['datasource t (datasources/t.datasource): created'])
  })

  it('does nothing when only json paths, descriptions or tokens change, and says so for paths', () => {
    const next = ds('    `id` UInt32,\n    `name` String `json:$.user.name`,\n    `n` Int32 DEFAULT 0', 'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, merge_with_ttl_timeout=3600"\n', 'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 4\nTOKEN x READ\nDESCRIPTION >\n    new\n')
    expect(planDatasource(BASE, next, 'project', 10)).toEqual({ statements: [], changes: ['datasource t (datasources/t.datasource): column name now reads $.user.name (ingest only)'], refusals: [] })
  })

  it('applies additive and lossless changes on a table with rows', () => {
    const next = ds(
      '    `id` UInt32,\n    `added` LowCardinality(String) DEFAULT \'x\',\n    `name` LowCardinality(Nullable(String)) `json:$.name`,\n    `n` Int32 DEFAULT 1 CODEC(ZSTD(1))',
      'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, min_bytes_for_wide_part=0"\n',
      'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 2\n    idx_n n TYPE minmax GRANULARITY 1\n',
    )
    const plan = planDatasource(BASE, next, 'project', 1000)
    expect(plan.refusals).toEqual([])
    expect(plan.statements).toEqual([
      "ALTER TABLE project.t ADD COLUMN IF NOT EXISTS added LowCardinality(String) DEFAULT 'x' AFTER id",
      'ALTER TABLE project.t MODIFY COLUMN name LowCardinality(Nullable(String))',
      'ALTER TABLE project.t MODIFY COLUMN n DEFAULT 1',
      'ALTER TABLE project.t MODIFY COLUMN n Int32 CODEC(ZSTD(1))',
      'ALTER TABLE project.t DROP INDEX IF EXISTS idx_name',
      'ALTER TABLE project.t ADD INDEX IF NOT EXISTS idx_name name TYPE bloom_filter GRANULARITY 2',
      'ALTER TABLE project.t MATERIALIZE INDEX idx_name',
      'ALTER TABLE project.t ADD INDEX IF NOT EXISTS idx_n n TYPE minmax GRANULARITY 1',
      'ALTER TABLE project.t MATERIALIZE INDEX idx_n',
      'ALTER TABLE project.t MODIFY SETTING min_bytes_for_wide_part = 0',
      'ALTER TABLE project.t RESET SETTING merge_with_ttl_timeout',
      'ALTER TABLE project.t_quarantine ADD COLUMN IF NOT EXISTS added Nullable(String)',
    ])
    expect(plan.changes).toContain('datasource t (datasources/t.datasource): column added LowCardinality(String) added')
  })

  it('refuses lossy changes on a table with rows, saying what changed and what to do', () => {
    const next = ds('    `id` UInt32,\n    `n` String', 'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, merge_with_ttl_timeout=3600"\n', 'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 4\n')
    const plan = planDatasource(BASE, next, 'project', 5)
    expect(plan.statements).toEqual([])
    expect(plan.refusals).toEqual([
      'datasource t (datasources/t.datasource): column name was removed from the datafile; the table has 5 rows, so this would lose or reinterpret data. Put it back, or drop it yourself with ALTER TABLE project.t DROP COLUMN name if its data is not needed.',
      'datasource t (datasources/t.datasource): column n changes type from Int32 to String; the table has 5 rows, so this would lose or reinterpret data. Keep Int32, or add a new column with the new type (and a DEFAULT computed from n) and stop using the old one.',
    ])
    const rekeyed = planDatasource(BASE, ds('    `id` UInt32,\n    `name` String,\n    `n` Int32 DEFAULT 0', 'ENGINE "ReplacingMergeTree"\nENGINE_SORTING_KEY "name, id"\nENGINE_TTL "now()"\n'), 'project', 5)
    expect(rekeyed.refusals.map((r) => r.split(';')[0])).toEqual([
      'datasource t (datasources/t.datasource): ENGINE changes from MergeTree to ReplacingMergeTree',
      'datasource t (datasources/t.datasource): ENGINE_SORTING_KEY changes from "id" to "name, id"',
      'datasource t (datasources/t.datasource): ENGINE_TTL changes from "" to "now()"',
    ])
  })

  it('refuses a type change of a key column even when lossless, and recreates the table when it is empty', () => {
    const widened = ds('    `id` UInt64,\n    `name` String `json:$.name`,\n    `n` Int32 DEFAULT 0', 'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, merge_with_ttl_timeout=3600"\n', 'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 4\n')
    expect(planDatasource(BASE, widened, 'project', 3).refusals).toEqual([
      "datasource t (datasources/t.datasource): column id, which is part of the table's keys, changes type from UInt32 to UInt64; the table has 3 rows, so this would lose or reinterpret data. Keep the old value, add a FORWARD_QUERY that maps the old rows to the new schema, or create a new datasource and copy the rows with a copy pipe.",
    ])
    expect(planDatasource(BASE, widened, 'project', 0).statements[0]).toBe('DROP TABLE IF EXISTS project.t')
  })

  it('recreates an empty table instead of refusing, and drops removed columns from it', () => {
    const plan = planDatasource(BASE, ds('    `id` UInt32,\n    `name` String', 'ENGINE_SORTING_KEY "name"\n'), 'project', 0)
    expect(plan.statements.map((s) => s.split('\n')[0])).toEqual(['DROP TABLE IF EXISTS project.t', 'CREATE TABLE IF NOT EXISTS project.t (', 'DROP TABLE IF EXISTS project.t_quarantine', 'CREATE TABLE IF NOT EXISTS project.t_quarantine ('])
    const dropped = planDatasource(BASE, ds('    `id` UInt32,\n    `name` String `json:$.name`', 'ENGINE_SORTING_KEY "id"\nENGINE_SETTINGS "index_granularity=8192, merge_with_ttl_timeout=3600"\n', 'INDEXES >\n    idx_name name TYPE bloom_filter GRANULARITY 4\n'), 'project', 0)
    expect(dropped.statements).toEqual(['ALTER TABLE project.t DROP COLUMN IF EXISTS n'])
  })
})

describe('FORWARD_QUERY migrations', () => {
  const v1 = parseDatasource('t.datasource', 'SCHEMA >\n    `id` UInt32,\n    `sid` String,\n    `gone` String\nENGINE_SORTING_KEY "id"\n')
  const v2 = parseDatasource('t.datasource', "SCHEMA >\n    `id` UInt32,\n    `source` String,\n    `sid` UUID\nENGINE_SORTING_KEY \"id\"\nFORWARD_QUERY >\n    SELECT id, accurateCastOrDefault(sid, 'UUID') AS sid, 'unknown' AS source\n")
  const at = new Date('2026-01-02T03:04:05Z')

  it('moves the rows through the query into a new table, exchanges it, and keeps the previous rows', () => {
    const plan = planDatasource(v1, v2, 'project', 2, at)
    expect(plan.refusals).toEqual([])
    expect(plan.rebuilt).toBe(true)
    expect(plan.statements.map((s) => s.split('\n')[0])).toEqual([
      'CREATE TABLE IF NOT EXISTS project.t__before_20260102030405 (',
      'INSERT INTO project.t__before_20260102030405 (id, source, sid)',
      'EXCHANGE TABLES project.t AND project.t__before_20260102030405',
      'ALTER TABLE project.t_quarantine ADD COLUMN IF NOT EXISTS source Nullable(String)',
    ])
    expect(plan.statements[1]).toBe("INSERT INTO project.t__before_20260102030405 (id, source, sid)\nSELECT id, source, sid FROM (\nSELECT id, accurateCastOrDefault(sid, 'UUID') AS sid, 'unknown' AS source\nFROM project.t\n)")
    expect(plan.changes).toEqual([
      'datasource t (t.datasource): column gone was removed from the datafile (rows moved with FORWARD_QUERY; the previous rows are kept in t__before_20260102030405)',
      'datasource t (t.datasource): column sid changes type from String to UUID (rows moved with FORWARD_QUERY; the previous rows are kept in t__before_20260102030405)',
    ])
    expect(plan.statements.some((s) => /^DROP/.test(s))).toBe(false)
  })

  it('does nothing when the same FORWARD_QUERY stays and nothing else changes, and refuses a query with FROM', () => {
    expect(planDatasource(v2, v2, 'project', 2, at)).toEqual({ statements: [], changes: [], refusals: [] })
    const bad = parseDatasource('t.datasource', 'SCHEMA >\n    `id` UInt64\nENGINE_SORTING_KEY "id"\nFORWARD_QUERY >\n    SELECT id FROM other\n')
    expect(planDatasource(v1, bad, 'project', 2, at).refusals).toEqual(['datasource t (t.datasource): FORWARD_QUERY must be a SELECT list without FROM (it runs over the existing rows), found "SELECT id FROM other"'])
  })
})

describe('losslessTypeChange', () => {
  it.each([
    ['UInt8', 'UInt64', true],
    ['UInt32', 'Int64', true],
    ['UInt32', 'Int32', false],
    ['Int64', 'Int32', false],
    ['Int32', 'UInt64', false],
    ['Float32', 'Float64', true],
    ['Float64', 'Float32', false],
    ['String', 'Nullable(String)', true],
    ['Nullable(String)', 'String', false],
    ['String', 'LowCardinality(String)', true],
    ['LowCardinality(String)', 'String', true],
    ['String', 'LowCardinality(Nullable(String))', true],
    ['DateTime', 'String', false],
    ['Decimal(18, 4)', 'Decimal(18,4)', true],
  ])('%s -> %s is %s', (from, to, ok) => expect(losslessTypeChange(from, to)).toBe(ok))
})

describe('planMaterializedView', () => {
  it('creates, keeps, or drops and recreates a view whose SQL changed', () => {
    const v1 = 'CREATE MATERIALIZED VIEW IF NOT EXISTS p.mv TO p.t AS\nSELECT 1'
    expect(planMaterializedView(undefined, v1, 'mv', 'p')).toEqual([v1])
    expect(planMaterializedView(v1, `${v1}\n`, 'mv', 'p')).toEqual([])
    expect(planMaterializedView(v1, `${v1} + 1`, 'mv', 'p')).toEqual(['DROP VIEW IF EXISTS p.mv', `${v1} + 1`])
  })
})
