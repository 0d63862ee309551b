import { readFile } from 'node:fs/promises'

/**
 * chDB is one ~550 MB shared library (libchdb.so): ~400 MB of code and ~150 MB of read-only data, mapped
 * from the file. Starting the engine runs its static initialisers and relocations, which read ~200 MB of
 * it once; those clean pages then stay mapped into the process, counted in its RSS, until the kernel
 * runs short of memory. A gateway under the mixed soak touches ~25 MB of them (measured: /proc/<pid>/
 * clear_refs, then smaps' `Referenced` 30 s later: 21 MB of code, 5 MB of read-only data).
 *
 * `MADV_DONTNEED` on the library's read-only mappings unmaps their pages from this process: the page
 * cache keeps them (shared, reclaimable), and a page used again is mapped back on its next access (a
 * minor fault, no I/O). Only mappings that never were written are advised: a private page that was
 * (relocated data, a patched instruction) exists nowhere else and would be lost, so a mapping with any
 * anonymous or dirty page is left alone.
 */

const MADV_DONTNEED = 4
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/

export interface Mapping {
  readonly start: bigint
  readonly end: bigint
  readonly perms: string
  readonly path: string
  /** kB of pages that exist only in this process (anonymous or written since mapped). */
  readonly privateKb: number
  readonly rssKb: number
}

/** Parses /proc/<pid>/smaps. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = []
  let cur: { start: bigint; end: bigint; perms: string; path: string; privateKb: number; rssKb: number } | undefined
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line)
    if (header) {
      if (cur) out.push(cur)
      cur = { start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, path: header[4]!, privateKb: 0, rssKb: 0 }
      continue
    }
    if (!cur) continue
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const key = line.slice(0, colon)
    if (key === 'Rss') cur.rssKb = parseInt(line.slice(colon + 1), 10)
    else if (key === 'Anonymous' || key === 'Private_Dirty') cur.privateKb += parseInt(line.slice(colon + 1), 10)
  }
  if (cur) out.push(cur)
  return out
}

/** The mappings whose resident pages may be dropped: read-only, never written, of a file named `library`. */
export function droppable(mappings: readonly Mapping[], library: string): Mapping[] {
  return mappings.filter((m) => m.path.endsWith(`/${library}`) && !m.perms.includes('w') && m.perms[3] === 'p' && m.privateKb === 0 && m.rssKb > 0)
}

type Madvise = (addr: bigint, length: number, advice: number) => number

let madvise: Promise<Madvise | undefined> | undefined

/** libc's madvise through koffi; undefined where it cannot be had (not Linux, no koffi for the platform). */
function loadMadvise(): Promise<Madvise | undefined> {
  madvise ??= (async () => {
    if (process.platform !== 'linux') return undefined
    try {
      const { default: koffi } = await import('koffi')
      return koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as Madvise
    } catch {
      return undefined
    }
  })()
  return madvise
}

/**
 * Drops this process's resident pages of `library`'s read-only mappings. Returns the kB dropped (what
 * was resident before), or undefined where this cannot be done (not Linux, no FFI): nothing happens then.
 */
export async function dropLibraryPages(library: string): Promise<number | undefined> {
  const advise = await loadMadvise()
  if (!advise) return undefined
  let text: string
  try {
    text = await readFile('/proc/self/smaps', 'utf8')
  } catch {
    return undefined
  }
  let dropped = 0
  for (const m of droppable(parseSmaps(text), library)) {
    if (advise(m.start, Number(m.end - m.start), MADV_DONTNEED) === 0) dropped += m.rssKb
  }
  return dropped
}
