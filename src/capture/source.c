/* The frame source (source.h): the list of inputs (files, the captures in a
 * folder, standard input), each opened and identified up front, then read
 * one after the other with one reader open at a time (a pipe's reader stays
 * open from the start: a pipe cannot be opened twice).
 */
#define _DEFAULT_SOURCE /* strdup */
#include "capture/source_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct input {
    nmx__src_input d;
    char *open_path;  /* what the reader opens ("-", /proc/self/fd/N, or the path) */
    nmx__reader *rd;  /* open while it is read, and from the start when it cannot be reopened */
    int regular;      /* a regular file: offsets in it are meaningful */
} input;

struct nmx__source {
    input *in;
    size_t nin, cap;
    size_t cur;       /* the input being read */
    uint32_t nframes; /* frames delivered */
    int stdin_fd;     /* the temporary file stdin was copied to, or -1 */
    char *error;
    int failed;       /* damage found (error may be NULL if memory was refused) */
};

static const char *shown_name(const char *path) { return strcmp(path, "-") == 0 ? "stdin" : path; }

DWORD nmx__source_errno_rc(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return NMERR_FILE_NOT_FOUND;
    case EACCES:
    case EPERM:
        return NMERR_ACCESS_DENIED;
    case ENOMEM:
        return NMERR_OUT_OF_MEMORY;
    default:
        return NMERR_FILE_READ_ERROR;
    }
}

/* Add one input and open it to identify it; kept open when it cannot be
 * reopened. `skip_unknown`: a file that is no capture is left out (folders). */
static DWORD add(nmx__source *s, const char *path, const char *open_path, int regular, uint64_t size,
                 int skip_unknown, char *err, size_t errlen) {
    if (s->nin == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        input *ni = realloc(s->in, ncap * sizeof *ni);
        if (!ni)
            return NMERR_OUT_OF_MEMORY;
        s->in = ni;
        s->cap = ncap;
    }
    input *in = &s->in[s->nin];
    memset(in, 0, sizeof *in);
    in->d.path = strdup(path);
    in->open_path = strdup(open_path);
    if (!in->d.path || !in->open_path) {
        free((char *)in->d.path);
        free(in->open_path);
        return NMERR_OUT_OF_MEMORY;
    }
    DWORD rc = NMERR_INVALID_FILE_FORMAT; /* libwiretap takes an empty file for an empty ERF one */
    if (regular && size == 0)
        snprintf(err, errlen, "%s: the file is empty, not a capture", path);
    else
        rc = nmx__reader_open(open_path, shown_name(path), &in->rd, &in->d, err, errlen);
    if (rc != NMERR_SUCCESS) {
        free((char *)in->d.path);
        free(in->open_path);
        return skip_unknown && rc == NMERR_INVALID_FILE_FORMAT ? NMERR_SUCCESS : rc;
    }
    in->regular = regular;
    in->d.file_bytes = size;
    if (regular && s->nin > 0) { /* reopened when its turn comes */
        nmx__reader_close(in->rd);
        in->rd = NULL;
    }
    s->nin++;
    return NMERR_SUCCESS;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int not_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }

static DWORD add_folder(nmx__source *s, const char *dir, char *err, size_t errlen) {
    struct dirent **names;
    int n = scandir(dir, &names, not_hidden, by_name);
    if (n < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        return nmx__source_errno_rc(e);
    }
    size_t before = s->nin, dl = strlen(dir);
    const char *sep = dl && dir[dl - 1] == '/' ? "" : "/";
    DWORD rc = NMERR_SUCCESS;
    for (int i = 0; i < n; i++) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s%s%s", dir, sep, names[i]->d_name);
        if (rc == NMERR_SUCCESS && stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc = add(s, p, p, 1, (uint64_t)st.st_size, 1, err, errlen);
        free(names[i]);
    }
    free(names);
    if (rc == NMERR_SUCCESS && s->nin == before) {
        snprintf(err, errlen, "%s: the folder holds no capture file", dir);
        rc = NMERR_FILE_NOT_FOUND;
    }
    return rc;
}

static DWORD add_stdin(nmx__source *s, char *err, size_t errlen) {
    char open_path[64];
    DWORD rc = nmx__stdin_path(open_path, sizeof open_path, &s->stdin_fd, err, errlen);
    return rc == NMERR_SUCCESS ? add(s, "-", open_path, 0, 0, 0, err, errlen) : rc;
}

static DWORD add_path(nmx__source *s, const char *path, char *err, size_t errlen) {
    if (strcmp(path, "-") == 0)
        return add_stdin(s, err, errlen);
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return nmx__source_errno_rc(e);
    }
    if (S_ISDIR(st.st_mode))
        return add_folder(s, path, err, errlen);
    int regular = S_ISREG(st.st_mode) != 0;
    return add(s, path, path, regular, regular ? (uint64_t)st.st_size : 0, 0, err, errlen);
}

/* Refuse a bad list before anything is read (stdin above all). */
static DWORD check_list(const char *const *paths, size_t n, char *err, size_t errlen) {
    size_t dashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!paths[i]) {
            snprintf(err, errlen, "nmx_capture_open: path %zu is NULL", i);
            return NMERR_INVALID_PARAMETER;
        }
        dashes += strcmp(paths[i], "-") == 0;
    }
    if (dashes > 1) {
        snprintf(err, errlen, "-: standard input can be read only once");
        return NMERR_INVALID_PARAMETER;
    }
    return NMERR_SUCCESS;
}

DWORD nmx__source_open(const char *const *paths, size_t n, nmx__source **out, char *err, size_t errlen) {
    char dummy[8];
    if (!err || errlen == 0)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (out)
        *out = NULL;
    if (!paths || !out || n == 0) {
        snprintf(err, errlen, "nmx_capture_open: %s", !out ? "out is NULL" : "no input given");
        return NMERR_INVALID_PARAMETER;
    }
    nmx__source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory opening the capture");
        return NMERR_OUT_OF_MEMORY;
    }
    s->stdin_fd = -1;
    DWORD rc = check_list(paths, n, err, errlen);
    for (size_t i = 0; i < n && rc == NMERR_SUCCESS; i++)
        rc = add_path(s, paths[i], err, errlen);
    if (rc != NMERR_SUCCESS) {
        if (rc == NMERR_OUT_OF_MEMORY && !err[0])
            snprintf(err, errlen, "out of memory opening the capture");
        nmx__source_close(s);
        return rc;
    }
    *out = s;
    return NMERR_SUCCESS;
}

static int damage(nmx__source *s, const char *problem) {
    for (size_t i = s->cur + 1; i < s->nin; i++)
        s->in[i].d.first_frame = s->nframes; /* not read: no frames, from the end */
    const char *name = shown_name(s->in[s->cur].d.path);
    size_t len = strlen(name) + (problem ? strlen(problem) : 16) + 3;
    s->failed = 1;
    s->error = malloc(len);
    if (s->error)
        snprintf(s->error, len, "%s: %s", name, problem ? problem : "out of memory");
    return -1;
}

/* The reader of the current input, reopened if it was closed. */
static nmx__reader *current(nmx__source *s) {
    input *in = &s->in[s->cur];
    if (!in->rd) {
        char err[1024];
        nmx__src_input d = in->d;
        if (nmx__reader_open(in->open_path, shown_name(in->d.path), &in->rd, &d, err, sizeof err) !=
            NMERR_SUCCESS) {
            const char *why = strchr(err, ':') ? strchr(err, ':') + 2 : err;
            char msg[1100];
            snprintf(msg, sizeof msg, "reopening it: %s", why);
            damage(s, msg);
            return NULL;
        }
    }
    return in->rd;
}

int nmx__source_next(nmx__source *s, nmx__src_frame *f) {
    if (!s || !f)
        return -1;
    while (!s->failed && s->cur < s->nin) {
        nmx__reader *rd = current(s);
        if (!rd)
            return -1;
        char *problem = NULL;
        int r = nmx__reader_next(rd, f, &problem);
        input *in = &s->in[s->cur];
        if (r == 1) {
            f->input = (uint32_t)s->cur;
            if (!in->regular)
                f->file_off = UINT64_MAX;
            in->d.frames++;
            s->nframes++;
            return 1;
        }
        if (r < 0) {
            damage(s, problem);
            free(problem);
            return -1;
        }
        if (in->regular && !nmx__compressed_whole(in->open_path, in->d.compression)) {
            char msg[128];
            snprintf(msg, sizeof msg, "frame %u: truncated: the %s data ends inside a compressed frame",
                     in->d.frames, in->d.compression);
            return damage(s, msg);
        }
        nmx__reader_close(rd);
        in->rd = NULL;
        if (++s->cur < s->nin)
            s->in[s->cur].d.first_frame = s->nframes;
    }
    return s->failed ? -1 : 0;
}

const char *nmx__source_error(const nmx__source *s) {
    if (!s || !s->failed)
        return NULL;
    return s->error ? s->error : "out of memory describing the damage";
}

size_t nmx__source_inputs(const nmx__source *s) { return s ? s->nin : 0; }

const nmx__src_input *nmx__source_input(const nmx__source *s, size_t i) {
    return s && i < s->nin ? &s->in[i].d : NULL;
}

void nmx__source_close(nmx__source *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->nin; i++) {
        nmx__reader_close(s->in[i].rd);
        free((char *)s->in[i].d.path);
        free(s->in[i].open_path);
    }
    free(s->in);
    if (s->stdin_fd >= 0)
        close(s->stdin_fd);
    free(s->error);
    free(s);
}
