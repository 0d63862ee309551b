import { describe, expect, it } from 'vitest'
import { loadMigrations, renderSql, splitStatements } from '../../src/store/sql.js'

const TABLE = `CREATE TABLE IF NOT EXISTS {{db}}.things
(
    id String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 10000;`

describe('renderSql', () => {
  it('fills every {{db}} and changes nothing else without a cluster', () => {
    const text = `${TABLE}\nCREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mv TO {{db}}.things AS SELECT * FROM {{db}}.src;`
    const out = renderSql(text, { database: 'analytics' })
    expect(out).not.toContain('{{db}}')
    expect(out).toBe(text.replaceAll('{{db}}', 'analytics'))
    expect(out).not.toContain('ON CLUSTER')
    expect(out).toContain('ENGINE = ReplacingMergeTree(version)')
    expect(out).toContain('non_replicated_deduplication_window')
    expect(renderSql(text, { database: 'analytics', cluster: '' })).toBe(out)
    expect(renderSql(text, { database: 'analytics', cluster: undefined })).toBe(out)
  })

  it('adds ON CLUSTER to CREATE TABLE, MATERIALIZED VIEW and DATABASE', () => {
    const o = { database: 'db1', cluster: 'main' }
    expect(renderSql('CREATE DATABASE IF NOT EXISTS {{db}}', o)).toBe('CREATE DATABASE IF NOT EXISTS db1 ON CLUSTER main')
    expect(renderSql('CREATE TABLE IF NOT EXISTS {{db}}.t (x UInt8) ENGINE = MergeTree ORDER BY x', o)).toBe(
      'CREATE TABLE IF NOT EXISTS db1.t ON CLUSTER main (x UInt8) ENGINE = ReplicatedMergeTree ORDER BY x',
    )
    expect(
      renderSql('CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mv TO {{db}}.t AS SELECT x FROM {{db}}.s', o),
    ).toBe('CREATE MATERIALIZED VIEW IF NOT EXISTS db1.mv ON CLUSTER main TO db1.t AS SELECT x FROM db1.s')
    expect(renderSql('CREATE TABLE IF NOT EXISTS {{db}}.copy AS {{db}}.t', o)).toBe(
      'CREATE TABLE IF NOT EXISTS db1.copy ON CLUSTER main AS db1.t',
    )
  })

  it('adds ON CLUSTER to ALTER TABLE (column additions, MODIFY QUERY)', () => {
    const o = { database: 'db1', cluster: 'main' }
    expect(renderSql("ALTER TABLE {{db}}.t ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED ''", o)).toBe(
      "ALTER TABLE db1.t ON CLUSTER main ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED ''",
    )
    expect(renderSql('ALTER TABLE {{db}}.mv MODIFY QUERY SELECT x FROM {{db}}.s', o)).toBe(
      'ALTER TABLE db1.mv ON CLUSTER main MODIFY QUERY SELECT x FROM db1.s',
    )
    expect(renderSql('ALTER TABLE {{db}}.t ADD COLUMN y UInt8', { database: 'db1' })).toBe('ALTER TABLE db1.t ADD COLUMN y UInt8')
  })

  it('makes every MergeTree flavour Replicated, keeping its arguments', () => {
    const o = { database: 'd', cluster: 'c' }
    expect(renderSql('ENGINE = MergeTree', o)).toBe('ENGINE = ReplicatedMergeTree')
    expect(renderSql('ENGINE = ReplacingMergeTree(version)', o)).toBe('ENGINE = ReplicatedReplacingMergeTree(version)')
    expect(renderSql('ENGINE = AggregatingMergeTree', o)).toBe('ENGINE = ReplicatedAggregatingMergeTree')
    expect(renderSql('ENGINE=SummingMergeTree', o)).toBe('ENGINE = ReplicatedSummingMergeTree')
  })

  it('swaps the deduplication window setting for its replicated twin', () => {
    const out = renderSql(TABLE, { database: 'd', cluster: 'c' })
    expect(out).toContain('SETTINGS replicated_deduplication_window = 10000')
    expect(out).not.toContain('non_replicated_deduplication_window')
    expect(out).toContain('CREATE TABLE IF NOT EXISTS d.things ON CLUSTER c\n(')
    expect(out).toContain('ENGINE = ReplicatedReplacingMergeTree(version)')
  })

  it('renders every real migration for a cluster: each CREATE on the cluster, each engine Replicated', () => {
    const migrations = loadMigrations({ database: 'x', cluster: 'c' })
    expect(migrations.length).toBeGreaterThan(10)
    const versions = migrations.map((m) => m.version)
    expect(versions).toEqual([...versions].sort((a, b) => a - b))
    expect(new Set(versions).size).toBe(versions.length)

    let creates = 0
    let engines = 0
    for (const m of migrations) {
      expect(m.statements.length, m.name).toBeGreaterThan(0)
      for (const s of m.statements) {
        expect(s, m.name).not.toContain('{{')
        expect(s, m.name).not.toContain('non_replicated_deduplication_window')
        expect(s, m.name).not.toMatch(/;\s*$/)
        if (/^CREATE\b/.test(s)) {
          creates++
          expect(s, m.name).toMatch(/^CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS x\.\w+ ON CLUSTER c\b/)
          expect(s.match(/ON CLUSTER/g), m.name).toHaveLength(1)
        }
        for (const e of s.matchAll(/\bENGINE\s*=\s*(\w+)/g)) {
          engines++
          expect(e[1], `${m.name}: ${e[0]}`).toMatch(/^Replicated\w*MergeTree$/)
        }
      }
    }
    expect(creates).toBeGreaterThan(20)
    expect(engines).toBeGreaterThan(10)
  })

  it('renders every real migration without a cluster into plain, database-qualified DDL', () => {
    for (const m of loadMigrations({ database: 'x' })) {
      for (const s of m.statements) {
        expect(s, m.name).not.toContain('ON CLUSTER')
        expect(s, m.name).not.toContain('Replicated')
        expect(s, m.name).not.toContain('{{')
        if (/^CREATE\b/.test(s)) expect(s, m.name).toMatch(/^CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS x\.\w+/)
      }
    }
  })
})

describe('splitStatements', () => {
  it('splits on a semicolon at a line end and drops empty statements', () => {
    expect(splitStatements('SELECT 1;\nSELECT 2;\n\n;\nSELECT 3')).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3'])
    expect(splitStatements('SELECT 1;   \nSELECT 2;')).toEqual(['SELECT 1', 'SELECT 2'])
    expect(splitStatements('')).toEqual([])
  })

  it('keeps a semicolon that does not end a line', () => {
    expect(splitStatements("SELECT 'a;b' AS x;\nSELECT 2")).toEqual(["SELECT 'a;b' AS x", 'SELECT 2'])
  })

  it('removes whole-line -- comments, indented or not', () => {
    expect(splitStatements('-- header; with a semicolon\nSELECT 1\n  -- inside\nFROM t;\n-- trailer')).toEqual([
      'SELECT 1\nFROM t',
    ])
  })

  it('keeps multi-line statements whole', () => {
    const [first, ...rest] = splitStatements(`${TABLE}\n\nCREATE TABLE IF NOT EXISTS {{db}}.b AS {{db}}.things;\n`)
    expect(first).toBe(TABLE.slice(0, -1))
    expect(rest).toEqual(['CREATE TABLE IF NOT EXISTS {{db}}.b AS {{db}}.things'])
  })
})
