import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { IngestJournal } from '../../src/store/journal.js'

describe('IngestJournal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-journal-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps begun batches until they end', async () => {
    const j = new IngestJournal(join(dir, 'a'), true)
    expect(await j.pending()).toEqual([])
    await j.begin('b1', { rows: [[1, 'x']] })
    await j.begin('b2', { rows: [] })
    expect(await j.pending()).toEqual([
      { id: 'b1', entry: { rows: [[1, 'x']] } },
      { id: 'b2', entry: { rows: [] } },
    ])
    await j.end('b1')
    await j.end('b1') // ending twice is fine
    expect((await j.pending()).map((p) => p.id)).toEqual(['b2'])
  })

  it('drops what a crash cut short: a temporary file, an unreadable entry', async () => {
    const j = new IngestJournal(join(dir, 'b'), false)
    await j.begin('ok', { n: 1 })
    writeFileSync(join(dir, 'b', 'cut.json.tmp'), '{"n":')
    writeFileSync(join(dir, 'b', 'torn.json'), '{"n":')
    expect(await j.pending()).toEqual([{ id: 'ok', entry: { n: 1 } }])
    expect(readdirSync(join(dir, 'b'))).toEqual(['ok.json'])
  })
})
