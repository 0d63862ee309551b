import { describe, expect, it } from 'vitest'
import { prng } from '../../src/random.js'
import { dateTimeText } from '../../src/store/area/codecs.js'
import { toChDateTime } from '../../src/store/clickhouse.js'

describe('dateTimeText (the ingest codecs’ DateTime text)', () => {
  it('writes what toChDateTime writes, across day boundaries, leap days, the epoch and year 9999', () => {
    const text = dateTimeText()
    const rand = prng(3)
    const edges = [0, -1, 1, Date.UTC(2000, 0, 1), Date.UTC(2000, 0, 1) - 1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(9999, 11, 31, 23, 59, 59)]
    const instants = [...edges, ...Array.from({ length: 20_000 }, () => Math.floor(rand() * Date.UTC(9999, 11, 31))), ...Array.from({ length: 5_000 }, (_, i) => Date.UTC(2026, 10, 30) + i * 17_003)]
    for (const ms of instants) expect(text(new Date(ms)), String(ms)).toBe(toChDateTime(new Date(ms)))
  })
})
