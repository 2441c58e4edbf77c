/* mount.c: a vault that does to its /data mount what it is told, for the
 * tests of the directory grant (SPEC.md §5.4). Get(name) runs the command
 * in name, words separated by spaces, paths relative to /data:
 *
 *	read P       the content of P
 *	write P      creates or truncates P and writes "written by the guest"
 *	create P     opens P read-only with O_CREAT|O_TRUNC
 *	rename A B   rename
 *	link A B     link (the hard link of A itself, not of what it points to)
 *	symlink A B  B, a symbolic link whose text is A as given
 *	mkdir P      mkdir
 *	remove P     unlink, or rmdir when P is a folder
 *	touch P      sets P's times to the start of 2001
 *	readlink P   the link's text
 *	ls P         the names in folder P, sorted, one per line
 *
 * The value is a string: "ok", followed by a space and what was read, or
 * "error: " and the text of the WASI errno (wasi-libc's strerror), so that
 * a test sees each refusal as the guest does. It was a Go guest; in C it
 * makes the same file calls through wasi-libc, without a 4 MB module that
 * every test process compiled. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"mount\",\"version\":\"0.0.1\","
    "\"description\":\"runs file commands on its directory mount\",\"grants\":[\"directory\"]}";

SESAME_EXPORT("sesame_manifest") uint32_t mount_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

static sesame_buf out; /* the answer's text */

/* ok appends s to the answer; 0 when out of memory. */
static int ok(const char *s, uint32_t n) { return sesame_buf_append(&out, s, n); }

/* words splits s in place at spaces into at most max words. */
static int words(char *s, char **w, int max) {
    int n = 0;
    for (char *p = strtok(s, " "); p != NULL && n < max; p = strtok(NULL, " "))
        w[n++] = p;
    return n;
}

/* data returns "/data/" + p in buf. */
static const char *data(char *buf, size_t cap, const char *p) {
    size_t n = strlen(p);
    if (n + 7 > cap)
        return NULL;
    memcpy(buf, "/data/", 6);
    memcpy(buf + 6, p, n + 1);
    return buf;
}

/* readall appends the content of the file at path to the answer, after a
 * space. */
static int readall(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    char chunk[4096];
    ssize_t n;
    ok(" ", 1);
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        ok(chunk, (uint32_t)n);
    int err = n < 0 ? errno : 0;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

static int writefile(const char *path) {
    static const char text[] = "written by the guest";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, sizeof text - 1);
    int err = n < 0 ? errno : 0;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

static int create(const char *path) {
    int fd = open(path, O_RDONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    return close(fd);
}

/* removepath removes a file or an empty folder, as Go's os.Remove: the
 * error of unlink, unless rmdir's says more (rmdir of a file is ENOTDIR). */
static int removepath(const char *path) {
    if (unlink(path) == 0)
        return 0;
    int uerr = errno;
    if (rmdir(path) == 0)
        return 0;
    if (errno == ENOTDIR)
        errno = uerr;
    return -1;
}

static int touch(const char *path) {
    const struct timespec t[2] = {{978307200, 0}, {978307200, 0}}; /* 2001-01-01T00:00:00Z */
    return utimensat(AT_FDCWD, path, t, 0);
}

static int readlinkpath(const char *path) {
    char target[4096];
    ssize_t n = readlink(path, target, sizeof target);
    if (n < 0)
        return -1;
    ok(" ", 1);
    ok(target, (uint32_t)n);
    return 0;
}

static int byname(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ls appends the names in the folder, sorted, one per line, after a space. */
static int ls(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char **more = realloc(names, (n + 1) * sizeof *names);
        if (more == NULL)
            abort();
        names = more;
        names[n++] = strdup(de->d_name);
    }
    int err = errno;
    closedir(d);
    qsort(names, n, sizeof *names, byname);
    ok(" ", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ok("\n", 1);
        ok(names[i], (uint32_t)strlen(names[i]));
        free(names[i]);
    }
    free(names);
    errno = err;
    return err ? -1 : 0;
}

/* run runs the command in w; -1 with errno set when a call failed, -2 when
 * a path is missing, -3 for a command it does not know. */
static int run(char **w, int n) {
    static char a[4096], b[4096];
    if (n < 2 || data(a, sizeof a, w[1]) == NULL || (n > 2 && data(b, sizeof b, w[2]) == NULL))
        return -2;
    const char *op = w[0];
    if (strcmp(op, "read") == 0)
        return readall(a);
    if (strcmp(op, "write") == 0)
        return writefile(a);
    if (strcmp(op, "create") == 0)
        return create(a);
    if (strcmp(op, "mkdir") == 0)
        return mkdir(a, 0755);
    if (strcmp(op, "remove") == 0)
        return removepath(a);
    if (strcmp(op, "touch") == 0)
        return touch(a);
    if (strcmp(op, "readlink") == 0)
        return readlinkpath(a);
    if (strcmp(op, "ls") == 0)
        return ls(a);
    if (n < 3)
        return strcmp(op, "rename") && strcmp(op, "link") && strcmp(op, "symlink") ? -3 : -2;
    if (strcmp(op, "rename") == 0)
        return rename(a, b);
    if (strcmp(op, "link") == 0)
        return link(a, b);
    if (strcmp(op, "symlink") == 0)
        return symlink(w[1], b);
    return -3;
}

SESAME_EXPORT("sesame_get") uint32_t mount_get(uint32_t name_len) {
    static sesame_buf name, cmd, secret;
    uint32_t st = sesame_read_input(&name, 0, name_len);
    if (st != SESAME_OK)
        return st;
    cmd.len = 0;
    if (!sesame_buf_append(&cmd, name.data, name.len) || !sesame_buf_append(&cmd, "", 1))
        return SESAME_TOO_LARGE;
    char *w[3];
    out.len = 0;
    ok("ok", 2);
    int r = run(w, words((char *)cmd.data, w, 3));
    if (r != 0) {
        const char *text = r == -2 ? "usage: OP PATH [PATH]" : r == -3 ? "unknown command " : strerror(errno);
        out.len = 0;
        ok("error: ", 7);
        ok(text, (uint32_t)strlen(text));
        if (r == -3)
            ok(w[0], (uint32_t)strlen(w[0]));
    }
    /* The value: the string type's byte, then the text. */
    secret.len = 0;
    if (!sesame_buf_reserve(&secret, sesame_secret_len(name.len, 0, 1 + out.len)) || !sesame_buf_reserve(&out, 1))
        return SESAME_TOO_LARGE;
    memmove(out.data + 1, out.data, out.len);
    out.data[0] = SESAME_TYPE_STRING;
    secret.len = sesame_put_secret(secret.data, name.data, name.len, NULL, 0, out.data, out.len + 1);
    return sesame_output(secret.data, secret.len);
}
