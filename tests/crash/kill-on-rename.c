/*
 * LD_PRELOAD shim for the crash tests: SIGKILLs the process just before ClickHouse renames a freshly
 * inserted part (`tmp_insert_*`) into place in one chosen table, i.e. at the instant a crash is most
 * harmful (the part is written, its deduplication record too, but it is not in the table yet).
 *
 *   CRASH_TABLE_DIR  the table's directory (chDB's data/<db>/<table> symlink; resolved once, lazily)
 *
 * Only renames whose source is named tmp_insert_* count, so merges (tmp_merge_*), mutations and
 * ATTACH (tmp_replace_from_*) never trigger it; the first matching rename kills, whichever thread
 * does it (strace's when=N counts per thread, so it cannot pick "the part of table X" reliably).
 *
 * Build: gcc -shared -fPIC -O2 -o kill-on-rename.so kill-on-rename.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int matches(int dirfd, const char *oldpath) {
    const char *dir = getenv("CRASH_TABLE_DIR");
    if (!dir || !oldpath) return 0;
    const char *base = strrchr(oldpath, '/');
    /* ClickHouse passes directories with a trailing slash: find the last non-empty component. */
    char buf[PATH_MAX];
    size_t len = strlen(oldpath);
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, oldpath, len + 1);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    if (strncmp(base, "tmp_insert_", 11) != 0) return 0;
    /* Resolved on first use after the table exists (a failed realpath may leave junk: keep it aside). */
    static char table[PATH_MAX];
    if (!table[0]) {
        char tmp[PATH_MAX];
        if (!realpath(dir, tmp)) return 0;
        memcpy(table, tmp, sizeof table);
    }
    char parent[PATH_MAX];
    size_t plen = (size_t)(base - buf);
    if (plen == 0 || plen >= sizeof parent) return 0;
    memcpy(parent, buf, plen);
    parent[plen] = '\0';
    char resolved[PATH_MAX];
    if (buf[0] != '/' && dirfd != AT_FDCWD) return 0; /* relative to a directory fd: not ClickHouse's parts */
    if (!realpath(parent, resolved)) return 0;
    return strcmp(resolved, table) == 0;
}

static void maybe_die(int dirfd, const char *oldpath) {
    if (matches(dirfd, oldpath)) {
        static const char msg[] = "kill-on-rename: SIGKILL before a part rename\n";
        (void)!write(2, msg, sizeof msg - 1);
        kill(getpid(), SIGKILL);
        pause();
    }
}

int rename(const char *oldpath, const char *newpath) {
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    maybe_die(AT_FDCWD, oldpath);
    return real(oldpath, newpath);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    static int (*real)(int, const char *, int, const char *);
    if (!real) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    maybe_die(olddirfd, oldpath);
    return real(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    static int (*real)(int, const char *, int, const char *, unsigned int);
    if (!real) real = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2");
    maybe_die(olddirfd, oldpath);
    return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
