/**
 * The embedded engine's allocator settings, which must be in the environment before chDB's library is
 * loaded: its jemalloc reads `JE_MALLOC_CONF` once, at its first allocation (the library's static
 * initialisers), and never again. So this module is imported for its effect, ahead of `chdb`, by
 * `./connection.ts`, the only module of the server that loads it. An operator's own `JE_MALLOC_CONF` is left as it is.
 *
 * The default shrinks jemalloc's per-thread caches (objects up to 4 KiB instead of 32 KiB; at most 64
 * of a small size and 4 of a large one per thread instead of 200 and 20). Each of the engine's threads
 * keeps its own cache, and an idle pool thread keeps what it cached until it runs again: under the
 * mixed soak that was ~15–20 MB of the gateway's resident memory (median anonymous RSS 236–241 → 219–228
 * MB), with as many reads served. Turning the caches off took as much memory and ~15% of the reads.
 *
 * Pages a finished query freed go back to the system after a second (`dirty_decay_ms`, jemalloc's default
 * 10 s; `muzzy_decay_ms:0` without the lazy `MADV_FREE` stage, whose pages stay resident until the kernel
 * wants them): with two reads running at once (the store's session pool) a 5-minute soak's median RSS
 * was 368 MB instead of 381.5, its max 407 instead of 414, with as many reads served. Returning them at
 * once (`dirty_decay_ms:0`) cost ~half the reads.
 */
export const ENGINE_ALLOCATOR = 'tcache_max:4096,tcache_nslots_small_max:64,tcache_nslots_large:4,dirty_decay_ms:1000,muzzy_decay_ms:0'

process.env.JE_MALLOC_CONF ??= ENGINE_ALLOCATOR
