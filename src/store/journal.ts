import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A write-ahead journal of keyed batches in flight (embedded store only): one file per batch, written
 * (and, with `sync`, fdatasync'ed along with its directory) before the batch's first insert and removed
 * once its record is stored. Files left after an unclean stop name the batches a crash may have cut
 * short; start-up completes them (`ClickHouseStore.migrate`), so a partly written batch does not wait
 * for its client's retry to become whole. The entries are JSON the store writes and reads back itself.
 */
export class IngestJournal {
  private ready: Promise<unknown> | undefined

  constructor(
    private readonly dir: string,
    private readonly sync: boolean,
  ) {}

  async begin(id: string, entry: unknown): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true })
    await this.ready
    const file = join(this.dir, `${id}.json`)
    const tmp = `${file}.tmp`
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(JSON.stringify(entry))
      if (this.sync) await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(tmp, file)
    if (this.sync) await this.syncDir()
  }

  async end(id: string): Promise<void> {
    await unlink(join(this.dir, `${id}.json`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** The entries of batches begun and not ended; unreadable leftovers (a write cut short) are removed. */
  async pending(): Promise<Array<{ id: string; entry: unknown }>> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const out: Array<{ id: string; entry: unknown }> = []
    for (const name of names.sort()) {
      const path = join(this.dir, name)
      if (!name.endsWith('.json')) {
        // A temporary file: the crash came before the batch's first insert, so there is nothing to complete.
        await unlink(path).catch(() => undefined)
        continue
      }
      try {
        out.push({ id: name.slice(0, -'.json'.length), entry: JSON.parse(await readFile(path, 'utf8')) as unknown })
      } catch {
        await unlink(path).catch(() => undefined)
      }
    }
    return out
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
