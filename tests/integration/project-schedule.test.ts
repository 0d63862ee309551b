import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Principal } from '../../src/auth/scopes.js'
import { ProjectService, type CopyRun, type ScheduleClock } from '../../src/domain/project.js'
import { loadProject } from '../../src/project/datafile.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { testStoreConfig } from '../helpers/store.js'

const ADMIN: Principal = { name: 'test admin', scopes: ['admin'], workspaceId: null }

/** A clock the test moves by hand: timers fire only when the test says so. */
function manualClock(start: number): ScheduleClock & { at: number; pending: Map<number, { fn: () => void; due: number }>; fire(): void } {
  let next = 0
  const clock = {
    at: start,
    pending: new Map<number, { fn: () => void; due: number }>(),
    now: () => clock.at,
    setTimeout: (fn: () => void, ms: number) => {
      const id = next++
      clock.pending.set(id, { fn, due: clock.at + ms })
      return id
    },
    clearTimeout: (id: unknown) => void clock.pending.delete(id as number),
    /** Moves to the earliest timer and fires it. */
    fire() {
      const [id, timer] = [...clock.pending].sort((a, b) => a[1].due - b[1].due)[0]!
      clock.pending.delete(id)
      clock.at = timer.due
      timer.fn()
    },
  }
  return clock
}

describe('COPY_SCHEDULE: scheduled copies on a real store', () => {
  const store = ClickHouseStore.open(testStoreConfig())
  const database = `sch_${randomBytes(5).toString('hex')}`
  const files: Record<string, string> = {
    'datasources/visits.datasource': 'SCHEMA >\n    `page` String `json:$.page`\n',
    'datasources/visit_counts.datasource': 'SCHEMA >\n    `page` String,\n    `visits` UInt64\n',
    'copies/count_visits.pipe': 'NODE c\nSQL >\n    SELECT page, count() AS visits FROM visits GROUP BY page\n\nTYPE COPY\nTARGET_DATASOURCE visit_counts\nCOPY_MODE replace\nCOPY_SCHEDULE */15 * * * *\n',
    'copies/manual.pipe': 'NODE c\nSQL >\n    SELECT page, 0 AS visits FROM visits\n\nTYPE COPY\nTARGET_DATASOURCE visit_counts\nCOPY_SCHEDULE @on-demand\n',
  }
  const dir = mkdtempSync(join(tmpdir(), 'sightline-schedule-'))
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    writeFileSync(join(dir, file), text)
  }
  const project = loadProject(dir)
  const service = new ProjectService(project, store.project(database), { builtinPipes: new Set(), builtinDatasources: new Set() })

  beforeAll(async () => {
    await store.migrate()
    await service.apply()
    await service.append(ADMIN, 'visits', ['{"page":"/a"}', '{"page":"/a"}', '{"page":"/b"}'].join('\n'))
  })
  afterAll(async () => {
    await store.close()
  })

  it('plans each cron pipe at its next UTC minute, runs it when due, plans the next run, and stops cleanly', async () => {
    expect(service.scheduledCopies().map((p) => p.name)).toEqual(['count_visits'])
    const clock = manualClock(Date.parse('2026-11-30T10:07:30Z'))
    const runs: CopyRun[] = []
    let ran: () => void = () => {}
    const errors: unknown[] = []
    const stop = service.schedule((_pipe, err) => errors.push(err), (run) => (runs.push(run), ran()), clock)
    expect([...clock.pending.values()].map((t) => new Date(t.due).toISOString())).toEqual(['2026-11-30T10:15:00.000Z'])

    const done = new Promise<void>((resolve) => (ran = resolve))
    clock.fire()
    await done
    expect(errors).toEqual([])
    expect(runs).toMatchObject([{ pipe: 'count_visits', target: 'visit_counts', mode: 'replace', rows: 2 }])
    const counted = await store.project(database).select('SELECT page, visits FROM `' + database + '`.visit_counts ORDER BY page', {})
    expect(counted.data).toEqual([
      { page: '/a', visits: 2 },
      { page: '/b', visits: 1 },
    ])
    // The next run is planned from the one that ran.
    await new Promise((resolve) => setImmediate(resolve))
    expect([...clock.pending.values()].map((t) => new Date(t.due).toISOString())).toEqual(['2026-11-30T10:30:00.000Z'])
    await stop()
    expect(clock.pending.size).toBe(0)
  })
})
