import { describe, expect, it } from 'vitest'
import { parseDatasource } from '../../src/project/datafile.js'
import { datasourceDatafile } from '../../src/rest/resources.js'
import { engineArgs } from '../../src/store/datasources.js'

describe('engineArgs', () => {
  it('splits the engine’s arguments at top-level commas, quotes and parentheses kept whole', () => {
    expect(engineArgs('MergeTree PARTITION BY toYYYYMM(t) ORDER BY (a, b) SETTINGS index_granularity = 8192')).toEqual([])
    expect(engineArgs('ReplacingMergeTree(version) ORDER BY id')).toEqual(['version'])
    expect(engineArgs("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/x', '{replica}', at, is_deleted) ORDER BY id")).toEqual([
      "'/clickhouse/tables/{shard}/x'",
      "'{replica}'",
      'at',
      'is_deleted',
    ])
    expect(engineArgs("SummingMergeTree((a, b)) ORDER BY k")).toEqual(['(a, b)'])
    expect(engineArgs("X('a,b', 'c)d')")).toEqual(["'a,b'", "'c)d'"])
    expect(engineArgs('Distributed')).toEqual([])
  })
})

describe('datasourceDatafile', () => {
  it('writes a datafile that parses back to the same columns, paths, defaults and engine', () => {
    const text = datasourceDatafile({
      name: 'odd',
      description: 'Two lines\nof description',
      columns: [
        { name: 'ts', type: "DateTime64(3, 'UTC')", jsonpath: '$.meta.ts' },
        { name: 'with space', type: 'Nullable(String)' },
        { name: 'n', type: 'UInt32', default_value: '7' },
      ],
      engine: { engine: 'ReplacingMergeTree', sorting_key: 'n, ts', partition_key: 'toYYYYMM(ts)', engine_ver: 'n', ttl: "ts + toIntervalDay(\"1\")" },
    })
    const ds = parseDatasource('odd.datasource', text)
    expect(ds.description).toBe('Two lines\nof description')
    expect(ds.columns.map((c) => [c.name, c.type, c.jsonPath, c.default])).toEqual([
      ['ts', "DateTime64(3, 'UTC')", '$.meta.ts', undefined],
      ['with space', 'Nullable(String)', '$.with space', undefined],
      ['n', 'UInt32', '$.n', '7'],
    ])
    expect(ds.engine).toMatchObject({ type: 'ReplacingMergeTree', sortingKey: 'n, ts', partitionKey: 'toYYYYMM(ts)', ver: 'n' })
  })
})
