/*
 * file.c — reading, locking and rewriting the file, through WASI.
 *
 * Readers take no lock: a writer replaces the file by renaming a complete
 * temporary file over it, so a reader sees the old file or the new one,
 * never a mix. Writers (set, remove) serialise their read-modify-write on a
 * lock file created with O_EXCL, so that two instances (or two sesame
 * processes) writing at once lose no update. README.md gives the protocol.
 */
#include "dotenv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DATA_DIR "/data" /* where the host mounts the granted folder */

/* The file is at most 8 MiB: a value is at most 1 MiB, and escapes may
 * double it. */
#define MAX_FILE (8u << 20)

/* A lock older than STALE_NS was left by an instance that died while
 * writing (the host kills it at its deadline, 5 s by default): it is
 * broken. A writer waits at most WAIT_NS for the lock, within the call's
 * deadline, then gives up with UNAVAILABLE. The messages spell them as Go
 * durations, as the README does. */
#define STALE_NS 10000000000LL
#define STALE_TEXT "10s"
#define WAIT_NS 4000000000LL
#define WAIT_TEXT "4s"
#define MAX_BACKOFF_NS 50000000LL

#define MAX_NAME 200
char file_name[MAX_NAME + 1]; /* parameter "file", set by init */

/* The vault's own files sit beside the file, hidden: for .env they are
 * .env.lock, .env.tmp-<hex> and .env.lock.stale-<hex>; for prod.env,
 * .prod.env.lock and so on. path() builds DATA_DIR/<hidden><suffix><tail>
 * in one of a few static buffers. */
static char file_path[sizeof DATA_DIR + MAX_NAME + 1];
static char lock_path[sizeof DATA_DIR + MAX_NAME + 16];
static const char *lock_name; /* lock_path without DATA_DIR "/" */

static void path(char *dst, const char *suffix, const char *tail) {
    strcpy(dst, DATA_DIR "/");
    if (file_name[0] != '.')
        strcat(dst, ".");
    strcat(dst, file_name);
    strcat(dst, suffix);
    strcat(dst, tail);
}

/* set_file_name makes s, a name that check_file_name accepted, the file. */
void set_file_name(const uint8_t *s, uint32_t n) {
    memcpy(file_name, s, n);
    file_name[n] = 0;
    strcpy(file_path, DATA_DIR "/");
    strcat(file_path, file_name);
    path(lock_path, ".lock", "");
    lock_name = lock_path + sizeof DATA_DIR;
}

/* The default, set when the instance starts (_initialize runs
 * constructors); init sets it again on every instance. */
__attribute__((constructor)) static void default_file(void) { set_file_name((const uint8_t *)".env", 4); }

/* check_file_name checks a "file" parameter: a plain name in the folder. It
 * returns SESAME_OK, or INVALID_ARGUMENT with the message set. */
uint32_t check_file_name(const uint8_t *s, uint32_t n) {
    msg_reset();
    msg_str("parameter file: ");
    if (n == 0) {
        msg_str("empty");
        return msg_fail(SESAME_INVALID_ARGUMENT);
    }
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
        msg_quote(s, n);
        msg_str(" is not a file name");
        return msg_fail(SESAME_INVALID_ARGUMENT);
    }
    if (n > MAX_NAME) {
        msg_str("longer than 200 bytes");
        return msg_fail(SESAME_INVALID_ARGUMENT);
    }
    if (!valid_utf8(s, n)) {
        msg_str("not UTF-8");
        return msg_fail(SESAME_INVALID_ARGUMENT);
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *why = s[i] == '/' || s[i] == '\\' ? " holds a path separator: name a file in the granted folder"
                          : s[i] < 0x20 || s[i] == 0x7f ? " holds a control character"
                                                        : NULL;
        if (why != NULL) {
            msg_quote(s, n);
            msg_str(why);
            return msg_fail(SESAME_INVALID_ARGUMENT);
        }
    }
    return SESAME_OK;
}

static int64_t now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t age(const struct stat *st) {
    return now(CLOCK_REALTIME) - ((int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
}

static uint64_t random64(void) {
    uint64_t v = 0;
    getentropy(&v, sizeof v);
    return v;
}

/* append_hex appends 64 random bits in lowercase hex, without leading
 * zeros, to the string dst. */
static void append_hex(char *dst) {
    static const char hex[] = "0123456789abcdef";
    char d[17];
    int i = 16;
    d[16] = 0;
    uint64_t v = random64();
    do {
        d[--i] = hex[v & 0xf];
        v >>= 4;
    } while (v > 0);
    strcat(dst, d + i);
}

/* read_only reports whether err is what a read-only mount answers: EROFS,
 * or ENOSYS, which wazero returns for opening a file for writing there. */
static int read_only(int err) { return err == EROFS || err == ENOSYS; }

/* os_error turns errno err into a status, with the message "cannot <what>
 * <name>: <path>: <cause>". Messages name files and system errors only. */
static uint32_t os_error(const char *what, const char *name, const char *at, int err) {
    msg_reset();
    msg_str("cannot ");
    msg_str(what);
    msg_str(name);
    msg_str(": ");
    if (read_only(err)) {
        msg_str("the folder is granted read-only");
        return msg_fail(SESAME_PERMISSION_DENIED);
    }
    msg_str(at);
    msg_str(": ");
    const char *cause = strerror(err);
    char first = cause[0] >= 'A' && cause[0] <= 'Z' ? (char)(cause[0] + 'a' - 'A') : cause[0];
    msg_bytes(&first, 1);
    msg_str(cause + 1);
    return msg_fail(err == EACCES || err == EPERM ? SESAME_PERMISSION_DENIED : SESAME_UNAVAILABLE);
}

static uint32_t fail_file(uint32_t status, const char *what) {
    msg_reset();
    msg_str(file_name);
    msg_str(what);
    return msg_fail(status);
}

/* read_file reads the file into src (replacing its contents); a missing
 * file reads as empty. */
static uint32_t read_file(sesame_buf *src) {
    struct stat st;
    src->len = 0;
    if (lstat(file_path, &st) != 0)
        return errno == ENOENT ? SESAME_OK : os_error("read ", file_name, file_path, errno);
    if (S_ISLNK(st.st_mode)) /* a rewrite would replace the link; reading it leaves the folder */
        return fail_file(SESAME_PERMISSION_DENIED, " is a symbolic link; dotenv works on a regular file only: grant the folder of the link's target");
    if (!S_ISREG(st.st_mode))
        return fail_file(SESAME_UNAVAILABLE, " is not a regular file");
    if (st.st_size > MAX_FILE)
        return fail_file(SESAME_TOO_LARGE, " is larger than 8 MiB");
    int fd = open(file_path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? SESAME_OK : os_error("read ", file_name, file_path, errno);
    uint32_t st_ = SESAME_OK;
    for (;;) {
        /* The size that lstat gave, and one byte more to see the end in
         * one read; more if the file grew meanwhile. */
        uint32_t room = src->len == 0 ? (uint32_t)st.st_size + 1 : 64u << 10;
        if (src->len == src->cap && !sesame_buf_reserve(src, room)) {
            st_ = fail_file(SESAME_TOO_LARGE, " does not fit in the vault's memory");
            break;
        }
        ssize_t got = read(fd, src->data + src->len, src->cap - src->len);
        if (got < 0) {
            st_ = os_error("read ", file_name, file_path, errno);
            break;
        }
        if (got == 0)
            break;
        src->len += (uint32_t)got;
        if (src->len > MAX_FILE) {
            st_ = fail_file(SESAME_TOO_LARGE, " is larger than 8 MiB");
            break;
        }
    }
    close(fd);
    if (st_ != SESAME_OK) {
        buf_wipe(src);
    }
    return st_;
}

/* load reads the file into src and parses it whole, calling visit with
 * each entry; a file that does not parse is an error naming the line. The
 * caller wipes src. */
uint32_t load(sesame_buf *src, visit_fn visit, void *ctx) {
    uint32_t st = read_file(src);
    if (st != SESAME_OK)
        return st;
    msg_reset();
    msg_str(file_name);
    msg_str(": ");
    st = parse(src->data, src->len, visit, ctx);
    return st == PARSE_BAD ? msg_fail(SESAME_INTERNAL) : st;
}

/* read_small reads a file of at most cap-1 bytes into dst, NUL-terminated,
 * and returns its length, or -1. */
static int read_small(const char *p, char *dst, int cap) {
    int fd = open(p, O_RDONLY | O_NOFOLLOW), n = 0;
    if (fd < 0)
        return -1;
    for (ssize_t got; n < cap - 1 && (got = read(fd, dst + n, (size_t)(cap - 1 - n))) > 0;)
        n += (int)got;
    close(fd);
    dst[n] = 0;
    return n;
}

/* The lock this instance holds: what its file contains. */
static char token[40];

/* held reports whether the lock file is still this lock. */
static int held(void) {
    char b[sizeof token + 1];
    return read_small(lock_path, b, sizeof b) >= 0 && strcmp(b, token) == 0;
}

/* release removes the lock file if it is still this lock. */
static void release(void) {
    if (held())
        unlink(lock_path);
}

/* break_stale removes the lock file if it is older than STALE_NS, and
 * reports whether the caller should try to take the lock again at once.
 *
 * Two instances may find the same stale lock. Each renames the lock aside
 * (rename is atomic: only one moves a given file) and then checks that what
 * it moved is the stale lock it saw. One that moved a fresh lock instead,
 * taken in between, puts it back with link, which never overwrites; if yet
 * another writer took the lock meanwhile, the owner of the moved lock finds
 * out before it commits (held) and writes nothing. */
static int break_stale(void) {
    struct stat st;
    char seen[sizeof token + 1], moved[sizeof token + 1];
    char aside[sizeof lock_path + 32];
    if (stat(lock_path, &st) != 0)
        return errno == ENOENT;
    if (age(&st) < STALE_NS)
        return 0;
    if (read_small(lock_path, seen, sizeof seen) < 0)
        return errno == ENOENT;
    path(aside, ".lock.stale-", "");
    append_hex(aside);
    if (rename(lock_path, aside) != 0)
        return errno == ENOENT;
    if (read_small(aside, moved, sizeof moved) >= 0 && stat(aside, &st) == 0 && strcmp(moved, seen) == 0 &&
        age(&st) >= STALE_NS) {
        unlink(aside);
        msg_reset();
        msg_str("dotenv: broke a stale lock ");
        msg_str(lock_name);
        msg_str(", older than " STALE_TEXT);
        msg_log(SESAME_LOG_WARN);
        return 1;
    }
    link(aside, lock_path);
    unlink(aside);
    return 0;
}

/* acquire takes the lock file, waiting with a bounded, jittered backoff and
 * breaking a stale lock. */
static uint32_t acquire(void) {
    token[0] = 0;
    append_hex(token);
    append_hex(token);
    strcat(token, "\n");
    int64_t deadline = now(CLOCK_MONOTONIC) + WAIT_NS, delay = 1000000;
    for (;;) {
        int fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            size_t n = strlen(token);
            int bad = write(fd, token, n) != (ssize_t)n ? errno : 0;
            if (close(fd) != 0 && bad == 0)
                bad = errno;
            if (bad != 0) {
                unlink(lock_path);
                return os_error("write the lock file", "", lock_path, bad);
            }
            return SESAME_OK;
        }
        if (errno != EEXIST)
            return os_error("create the lock file ", lock_name, lock_path, errno);
        if (break_stale())
            continue;
        if (now(CLOCK_MONOTONIC) > deadline) {
            msg_reset();
            msg_str("another writer has held ");
            msg_str(lock_name);
            msg_str(" for " WAIT_TEXT "; try again (a lock left by a crashed writer is broken after " STALE_TEXT ")");
            return msg_fail(SESAME_UNAVAILABLE);
        }
        /* Full jitter keeps waiting instances from retrying in step. */
        int64_t wait = (int64_t)(random64() % (uint64_t)delay) + delay / 2;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000LL), .tv_nsec = (long)(wait % 1000000000LL)};
        nanosleep(&ts, NULL);
        delay = 2 * delay < MAX_BACKOFF_NS ? 2 * delay : MAX_BACKOFF_NS;
    }
}

/* commit replaces the file with out: write a temporary file in the same
 * folder, sync it, check the lock, rename it over the file. On any error
 * the temporary file is removed and the file is as it was. The new file
 * has mode 0600 (the host creates every file so), whatever the old one had. */
static uint32_t commit(const sesame_buf *out) {
    char tmp[sizeof lock_path + 32];
    path(tmp, ".tmp-", "");
    append_hex(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return os_error("create a temporary file", "", tmp, errno);
    int bad = 0;
    for (uint32_t off = 0; off < out->len && bad == 0;) {
        ssize_t n = write(fd, out->data + off, out->len - off);
        if (n <= 0)
            bad = n < 0 ? errno : EIO;
        else
            off += (uint32_t)n;
    }
    if (bad == 0 && fsync(fd) != 0)
        bad = errno;
    if (close(fd) != 0 && bad == 0)
        bad = errno;
    uint32_t st = SESAME_OK;
    if (bad != 0) {
        st = os_error("write a temporary file", "", tmp, bad);
    } else if (!held()) {
        msg_reset();
        msg_str("lost the lock ");
        msg_str(lock_name);
        msg_str(" while writing (it was taken as stale); nothing was changed, try again");
        st = msg_fail(SESAME_UNAVAILABLE);
    } else if (rename(tmp, file_path) != 0) {
        st = os_error("replace ", file_name, file_path, errno);
    }
    if (st != SESAME_OK) {
        unlink(tmp);
        return st;
    }
    int dir = open(DATA_DIR, O_RDONLY | O_DIRECTORY); /* make the rename durable, where the host can */
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    return SESAME_OK;
}

/* is_leftover reports whether name is one of the vault's own temporary
 * files: a prefix, then the hex of append_hex (after "probe-" for the
 * probes of test). Nothing else in the user's folder is ever removed. */
static int is_leftover(const char *name) {
    char tmp[sizeof lock_path + 32], stale[sizeof lock_path + 32];
    path(tmp, ".tmp-", "");
    path(stale, ".lock.stale-", "");
    size_t skip = sizeof DATA_DIR, tn = strlen(tmp + skip), sn = strlen(stale + skip);
    const char *rest;
    if (strncmp(name, tmp + skip, tn) == 0) {
        rest = name + tn;
        if (strncmp(rest, "probe-", 6) == 0)
            rest += 6;
    } else if (strncmp(name, stale + skip, sn) == 0) {
        rest = name + sn;
    } else {
        return 0;
    }
    size_t n = strlen(rest);
    if (n == 0 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((rest[i] >= '0' && rest[i] <= '9') || (rest[i] >= 'a' && rest[i] <= 'f')))
            return 0;
    return 1;
}

/* clean_leftovers removes the temporary files and set-aside locks of
 * writers that died (the host discards an instance at its deadline, before
 * its own removal runs) once they are older than STALE_NS. It runs under
 * the lock, after a successful write. */
static void clean_leftovers(void) {
    DIR *d = opendir(DATA_DIR);
    if (d == NULL)
        return;
    char p[sizeof DATA_DIR + 256 + 1];
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        struct stat st;
        if (!is_leftover(de->d_name) || strlen(de->d_name) > 256)
            continue;
        strcpy(p, DATA_DIR "/");
        strcat(p, de->d_name);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && age(&st) >= STALE_NS)
            unlink(p);
    }
    closedir(d);
}

/* Buffers of update, kept between calls of one instance and wiped after
 * each: the file and its new contents hold secrets. */
static sesame_buf src, out;

/* update runs one read-modify-write of the file under the lock. */
uint32_t update(edit_fn edit, void *ctx) {
    uint32_t st = acquire();
    if (st != SESAME_OK)
        return st;
    st = load(&src, NULL, NULL);
    if (st == SESAME_OK)
        st = edit(ctx, src.data, src.len, &out);
    if (st == SESAME_OK && out.len > MAX_FILE) { /* written, it could not be read back */
        msg_reset();
        msg_str("the change would make ");
        msg_str(file_name);
        msg_str(" larger than 8 MiB");
        st = msg_fail(SESAME_TOO_LARGE);
    }
    if (st == SESAME_OK && (st = commit(&out)) == SESAME_OK)
        clean_leftovers();
    release();
    buf_wipe(&src);
    buf_wipe(&out);
    return st;
}

/* test_folder checks that the folder is there, that the file (if any)
 * parses, and that the folder is writable. A read-only grant passes, with
 * a log line: such a vault can still be read. */
uint32_t test_folder(void) {
    struct stat st;
    if (stat(DATA_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
        msg_reset();
        msg_str("no folder at " DATA_DIR ": grant the vault a directory in vaults.toml");
        return msg_fail(SESAME_UNAVAILABLE);
    }
    uint32_t s = load(&src, NULL, NULL);
    buf_wipe(&src);
    if (s != SESAME_OK)
        return s;
    char probe[sizeof lock_path + 40];
    path(probe, ".tmp-", "probe-");
    append_hex(probe);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && read_only(errno)) {
        msg_reset();
        msg_str("dotenv: the folder is granted read-only: get, stat and list work, set and remove do not");
        msg_log(SESAME_LOG_INFO);
        return SESAME_OK;
    }
    if (fd < 0)
        return os_error("write in the granted folder", "", probe, errno);
    close(fd);
    if (unlink(probe) != 0)
        return os_error("remove a probe file", "", probe, errno);
    return SESAME_OK;
}
