import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'

/**
 * chDB is one ~550 MB shared library (libchdb.so): ~400 MB of code and ~150 MB of read-only data, mapped
 * from the file. Starting the engine runs its static initialisers and relocations, which read ~200 MB of
 * it once; those clean pages then stay mapped into the process, counted in its RSS (~195 MB of it),
 * until the kernel runs short of memory. A gateway under the mixed soak uses far fewer: 10 s after a
 * drop, ~62 MB of code and ~15 MB of read-only data are back.
 *
 * `MADV_DONTNEED` on the library's read-only mappings unmaps their pages from this process: the page
 * cache keeps them (shared, reclaimable), and a page used again is mapped back on its next access (a
 * minor fault; a read from the file only if the kernel had reclaimed it meanwhile). Only mappings that never were written are advised: a private page that was
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

/** The mappings whose resident pages may be dropped: private, read-only, never written, of a file named `library`. */
export function droppable(mappings: readonly Mapping[], library: string): Mapping[] {
  return mappings.filter((m) => m.path.endsWith(`/${library}`) && !m.perms.includes('w') && m.perms[3] === 'p' && m.privateKb === 0)
}

type Madvise = (addr: bigint, length: number, advice: number) => Promise<number>

let madvise: Promise<Madvise | undefined> | undefined

/**
 * libc's madvise through koffi, called on libuv's thread pool (koffi's async calls): unmapping a trim's
 * pages holds the calling thread 2–5 ms, which on the main thread would stall every request and socket
 * for that long. Undefined where it cannot be had (not Linux, no koffi for the platform).
 */
function loadMadvise(): Promise<Madvise | undefined> {
  madvise ??= (async () => {
    if (process.platform !== 'linux') return undefined
    try {
      const { default: koffi } = await import('koffi')
      return promisify(koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)').async) as Madvise
    } catch {
      return undefined
    }
  })()
  return madvise
}

/** The droppable mappings of each library, found once (reading smaps takes tens of ms under load). */
const found = new Map<string, readonly Mapping[]>()

const sameMapping = (a: Mapping, b: Mapping) => a.start === b.start && a.end === b.end && a.perms === b.perms && a.path === b.path

/**
 * Drops this process's resident pages of `library`'s read-only, never-written mappings; returns how many
 * bytes of mappings were advised, or undefined where this cannot be done (not Linux, no FFI). The first
 * call finds the mappings in /proc/self/smaps (which pages were written); later ones only check, in the
 * cheap /proc/self/maps, that each is still there as it was. The files are read at once, not behind the
 * store's queries in libuv's thread pool; the unmapping itself runs there (`loadMadvise`).
 */
export async function dropLibraryPages(library: string): Promise<number | undefined> {
  const advise = await loadMadvise()
  if (!advise) return undefined
  let mappings: readonly Mapping[]
  try {
    const known = found.get(library)
    if (known) {
      const now = parseSmaps(readFileSync('/proc/self/maps', 'utf8'))
      mappings = known.filter((m) => now.some((n) => sameMapping(m, n)))
    } else {
      mappings = droppable(parseSmaps(readFileSync('/proc/self/smaps', 'utf8')), library)
      if (mappings.length === 0) return 0 // the library is not loaded yet: look again next time
      found.set(library, mappings)
    }
  } catch {
    return undefined
  }
  let advised = 0
  for (const m of mappings) {
    const length = Number(m.end - m.start)
    if ((await advise(m.start, length, MADV_DONTNEED)) === 0) advised += length
  }
  return advised
}
