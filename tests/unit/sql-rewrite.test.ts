import { describe, expect, it } from 'vitest'
import { liftFinal, withServiceViews } from '../../src/domain/sql.js'

// The two rewrites /v0/sql makes on ClickHouse's canonical text, outside string literals and quoted names.
describe('the /v0/sql rewrites', () => {
  it('writes tinybird.<name> as its view only where it names a service datasource', () => {
    expect(withServiceViews("SELECT a FROM tinybird.pipe_stats_rt AS p WHERE x = 'tinybird.pipe_stats' AND `tinybird.pipe_stats` = 1")).toBe(
      "SELECT a FROM tinybird_pipe_stats_rt AS p WHERE x = 'tinybird.pipe_stats' AND `tinybird.pipe_stats` = 1",
    )
    expect(withServiceViews("SELECT tinybird.datasources_ops_log.rows, 'it\\'s tinybird.endpoint_errors', mytinybird.pipe_stats FROM tinybird.unknown")).toBe(
      "SELECT tinybird_datasources_ops_log.rows, 'it\\'s tinybird.endpoint_errors', mytinybird.pipe_stats FROM tinybird.unknown",
    )
  })

  it('lifts FINAL off the sources it follows, with or without an alias, and nowhere else', () => {
    const names = new Set(['users', 'events'])
    expect(liftFinal('SELECT * FROM users AS u FINAL INNER JOIN events FINAL USING (id)', names)).toEqual({
      statement: 'SELECT * FROM users AS u INNER JOIN events USING (id)',
      final: new Set(['users', 'events']),
    })
    expect(liftFinal("SELECT 'users FINAL' AS s FROM other FINAL, users", names)).toEqual({ statement: "SELECT 'users FINAL' AS s FROM other FINAL, users", final: new Set() })
    expect(liftFinal('SELECT * FROM db.users FINAL', names).final).toEqual(new Set())
  })
})
