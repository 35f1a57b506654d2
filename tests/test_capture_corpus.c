/* The capture layer against real captures (SPEC C1, C5, C6): the tcpdump and
 * zeek test captures under $NMX_SHARED_DIR/captures, checked against tshark.
 *
 * - every file opens (or fails with a clear error) and iterates in both
 *   directions, filtered and not, without a crash or sanitizer error;
 * - frame counts and the sums of wire and captured lengths equal tshark's
 *   (`tshark -r FILE -T fields -e frame.len -e frame.cap_len`). tshark costs
 *   0.3-0.5 s per file (its dissectors' start-up), so it runs on a
 *   deterministic subset: every 32nd file in name order, every other pcapng,
 *   every file we report as damaged or cannot open and every listed exception
 *   (about 80 of 1225 files, two tshark processes at a time, 15-40 s on a
 *   2-core machine shared with other builds).
 *   NMX_CORPUS_FULL=1 runs it on every file; NMX_TSHARK_JOBS sets the
 *   parallelism (default 2). Every file's frame count and wire bytes are
 *   also compared with capinfos, Wireshark's reader without the dissectors,
 *   which takes all files in one process in well under a second;
 * - copies of real captures cut every few bytes give the frames before the
 *   cut and an error, never a crash.
 * tshark's output goes to a temporary directory removed at the end; under
 * ctest, `tshark` is tests/tools/tshark, which remembers tshark's answer for
 * the same bytes and arguments across runs and builds. Without the corpus or
 * tshark the tests skip.
 */
#define _DEFAULT_SOURCE /* mkdtemp, strdup */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static char corpus[8192];

/* ---- the file list ---- */

typedef struct cfile {
    char *path;
    int zeek;
    /* our reading */
    DWORD rc;
    uint32_t frames;
    uint64_t wire, capt;
    int damaged, pcapng, snaplen;
} cfile;

static cfile *files;
static size_t nfiles, files_cap;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void add_capture(const char *p, const char *name, void *arg) {
    (void)name, (void)arg;
    if (!ends_with(p, ".pcap") && !ends_with(p, ".pcapng"))
        return;
    if (nfiles == files_cap) {
        files_cap = files_cap ? files_cap * 2 : 1024;
        files = realloc(files, files_cap * sizeof *files);
    }
    memset(&files[nfiles], 0, sizeof files[nfiles]);
    files[nfiles].path = strdup(p);
    nfiles++;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const cfile *)a)->path, ((const cfile *)b)->path);
}

static const char *base(const char *p) {
    size_t n = strlen(corpus);
    return strncmp(p, corpus, n) == 0 ? p + n + 1 : p;
}

static int have_tshark(void) {
    return system("tshark -v >/dev/null 2>&1") == 0;
}

/* ---- running tshark, a few at a time ---- */

typedef struct job {
    const char *const *argv;
    const char *out;
    pid_t pid;
    int status;
} job;

static pid_t spawn(const char *const *argv, const char *out) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(nul, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Run every job, at most `par` at once; each job's exit status in status. */
static void run_jobs(job *jobs, size_t n, int par) {
    size_t next = 0, running = 0;
    while (next < n || running) {
        while (running < (size_t)par && next < n) {
            jobs[next].pid = spawn(jobs[next].argv, jobs[next].out);
            jobs[next].status = -1;
            next++;
            running++;
        }
        int st;
        pid_t pid = wait(&st);
        if (pid < 0)
            break;
        for (size_t i = 0; i < next; i++)
            if (jobs[i].pid == pid) {
                jobs[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
                jobs[i].pid = 0;
            }
        running--;
    }
}

static int jobs_par(void) {
    const char *e = getenv("NMX_TSHARK_JOBS");
    int n = e ? atoi(e) : 2;
    return n > 0 && n < 64 ? n : 2;
}

/* ---- 1. everything opens and iterates ---- */

static int walk_all(nmx_capture *cap, nmx_filter *f, DWORD dir) {
    EXPERTFRAMEDESCRIPTOR d;
    DWORD n = INVALID_FRAME_NUMBER, prev = INVALID_FRAME_NUMBER;
    int k = 0;
    while (nmx__capture_get_frame(cap, NULL, f, dir, 0, n, &d) == NMERR_SUCCESS) {
        if (prev != INVALID_FRAME_NUMBER)
            CHECK(dir == GET_FRAME_NEXT_FORWARD ? d.FrameNumber > prev : d.FrameNumber < prev);
        CHECK(d.pFrame && d.lpRecognizeDataTable && !d.lpPropertyTable);
        const RECOGNIZEDATATABLE *t = d.lpRecognizeDataTable;
        for (unsigned i = 0; i < t->nRecognizeDatas; i++)
            CHECK(t->RecognizeData[i].nProtocolOffset < d.pFrame->nBytesAvail);
        prev = n = d.FrameNumber;
        k++;
    }
    return k;
}

/* C1, C6 */
TEST(test_c6_every_corpus_file_opens_or_fails_cleanly_and_iterates) {
    double t0 = now_s();
    unsigned opened = 0, refused = 0, damaged = 0, filtered = 0;
    uint64_t frames = 0;
    for (size_t i = 0; i < nfiles; i++) {
        cfile *cf = &files[i];
        nmx_capture *cap = NULL;
        char err[1024];
        cf->rc = nmx_capture_open(cf->path, &cap, err, sizeof err);
        if (cf->rc != NMERR_SUCCESS) {
            CHECK(cap == NULL);
            CHECK(strstr(err, cf->path) == err && strlen(err) > strlen(cf->path) + 2);
            CHECK(cf->rc == NMERR_INVALID_FILE_FORMAT);
            refused++;
            continue;
        }
        opened++;
        nmx_capture_info in;
        CHECK_EQ(nmx_capture_get_info(cap, &in), NMERR_SUCCESS);
        cf->frames = in.frames;
        cf->wire = in.wire_bytes;
        cf->capt = in.captured_bytes;
        cf->pcapng = in.format == NMX_FORMAT_PCAPNG;
        cf->snaplen = in.snaplen;
        if (in.error) {
            cf->damaged = 1;
            damaged++;
            CHECK(strstr(in.error, cf->path) == in.error);
        }
        frames += in.frames;
        CHECK_EQ(walk_all(cap, NULL, GET_FRAME_NEXT_FORWARD), in.frames);
        CHECK_EQ(walk_all(cap, NULL, GET_FRAME_NEXT_BACKWARD), in.frames);
        nmx_filter *f = NULL;
        if (nmx_filter_create(cap, "tcp or udp or arp", &f, NULL, 0) == NMERR_SUCCESS) {
            int a = walk_all(cap, f, GET_FRAME_NEXT_FORWARD), b = walk_all(cap, f, GET_FRAME_NEXT_BACKWARD);
            CHECK_EQ(a, b);
            CHECK(a <= (int)in.frames);
            nmx_filter_destroy(f);
            filtered++;
        }
        for (uint32_t k = 0; k < in.frames; k++) {
            nmx_frame fr;
            CHECK_EQ(nmx_capture_frame(cap, k, &fr), NMERR_SUCCESS);
            CHECK_EQ(GetFrameLength(fr.hframe), fr.wire_len);
            CHECK_EQ(GetFrameNumber(fr.hframe), k);
        }
        CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
    }
    printf("     %zu files: %u opened (%u damaged, %u filtered), %u refused; %llu frames (%.1f s)\n", nfiles, opened,
           damaged, filtered, refused, (unsigned long long)frames, now_s() - t0);
}

/* ---- 2. counts and lengths against tshark ---- */

/* Files where libpcap and tshark legitimately disagree, and why. A file
 * listed here must still differ (so the list does not rot). */
static const struct {
    const char *file, *why;
} length_exceptions[] = {
    /* libpcap still reads plain files whose link type carries a pseudo-header
     * (src/capture/source_pcap.c); libwiretap reads the rest as tshark does */
    {"tcpdump/atm-heapoverflow.pcap", "SunATM: Wireshark moves the 4-byte pseudo-header out of the frame, libpcap keeps it"},
    {"tcpdump/atm-oam-heapoverflow.pcap",
     "SunATM: Wireshark moves the 4-byte pseudo-header out of the frame, libpcap keeps it"},
    {"tcpdump/atm-oam-loopback-print-overrun.pcap",
     "SunATM: Wireshark moves the 4-byte pseudo-header out of the frame, libpcap keeps it"},
    {NULL, NULL},
};

static const char *length_exception(const char *path) {
    for (size_t i = 0; length_exceptions[i].file; i++)
        if (strcmp(base(path), length_exceptions[i].file) == 0)
            return length_exceptions[i].why;
    return NULL;
}

/* C1, C6 */
TEST(test_c1_frame_counts_and_lengths_equal_tsharks) {
    double t0 = now_s();
    int full = getenv("NMX_CORPUS_FULL") && atoi(getenv("NMX_CORPUS_FULL"));
    size_t njobs = 0;
    job *jobs = calloc(nfiles, sizeof *jobs);
    const char **argvs = calloc(nfiles * 12, sizeof *argvs);
    char **outs = calloc(nfiles, sizeof *outs);
    size_t *which = calloc(nfiles, sizeof *which);
    for (size_t i = 0; i < nfiles; i++) {
        cfile *cf = &files[i];
        if (!(full || i % 32 == 0 || (cf->pcapng && i % 2 == 0) || cf->damaged || cf->rc != NMERR_SUCCESS ||
              length_exception(cf->path)))
            continue;
        const char *v[] = {"tshark", "-n", "-r", cf->path, "-T", "fields", "-e", "frame.len", "-e",
                           "frame.cap_len", NULL};
        memcpy(argvs + njobs * 12, v, sizeof v);
        char out[512];
        snprintf(out, sizeof out, "%s/len-%zu.txt", tmpdir, i);
        outs[njobs] = strdup(out);
        jobs[njobs].argv = argvs + njobs * 12;
        jobs[njobs].out = outs[njobs];
        which[njobs] = i;
        njobs++;
    }
    run_jobs(jobs, njobs, jobs_par());

    unsigned compared = 0, same = 0, clamped = 0, tshark_unreadable = 0, excused = 0, differ = 0;
    for (size_t j = 0; j < njobs; j++) {
        cfile *cf = &files[which[j]];
        FILE *f = fopen(jobs[j].out, "r");
        uint32_t n = 0;
        uint64_t w = 0, c = 0, cc = 0;
        unsigned long a, b;
        while (f && fscanf(f, "%lu %lu", &a, &b) == 2) {
            n++, w += a, c += b;
            /* libpcap (like tcpdump) cuts a record longer than the file's
             * snapshot length to that length; Wireshark keeps all of it */
            cc += cf->snaplen > 0 && b > (unsigned long)cf->snaplen ? (unsigned long)cf->snaplen : b;
        }
        if (f)
            fclose(f);
        remove(jobs[j].out);
        if (jobs[j].status != 0 && n == 0) { /* tshark cannot read it either */
            tshark_unreadable++;
            if (cf->rc == NMERR_SUCCESS && cf->frames > 0)
                printf("     note: tshark reads nothing of %s (status %d), we read %u frames%s\n", base(cf->path),
                       jobs[j].status, cf->frames, cf->damaged ? " and report damage" : "");
            continue;
        }
        compared++;
        int eq = cf->rc == NMERR_SUCCESS && n == cf->frames && w == cf->wire;
        const char *why = length_exception(cf->path);
        if (eq && c == cf->capt) {
            same++;
            CHECK(why == NULL); /* an exception that no longer differs */
            if (why)
                fprintf(stderr, "     exception no longer needed: %s\n", base(cf->path));
            continue;
        }
        if (eq && cc == cf->capt && !why) {
            clamped++;
            printf("     differs as expected: %s: captured bytes %llu, tshark %llu: records longer than the "
                   "snapshot length %d are cut to it by libpcap, not by Wireshark\n",
                   base(cf->path), (unsigned long long)cf->capt, (unsigned long long)c, cf->snaplen);
            continue;
        }
        if (why) {
            excused++;
            printf("     differs as expected: %s: ours %u frames, tshark %u: %s\n", base(cf->path), cf->frames, n,
                   why);
            continue;
        }
        differ++;
        fprintf(stderr,
                "     DIFFERS: %s: ours rc %u %u frames %llu wire %llu captured%s; tshark (status %d) %u %llu %llu\n",
                base(cf->path), cf->rc, cf->frames, (unsigned long long)cf->wire, (unsigned long long)cf->capt,
                cf->damaged ? " (damaged)" : "", jobs[j].status, n, (unsigned long long)w, (unsigned long long)c);
    }
    CHECK_EQ(differ, 0);
    printf("     tshark on %zu of %zu files%s: %u compared: %u equal, %u differ by libpcap's snapshot-length cut, "
           "%u listed exceptions; %u unreadable by tshark (%.1f s)\n",
           njobs, nfiles, full ? " (all)" : " (subset; NMX_CORPUS_FULL=1 for all)", compared, same, clamped, excused,
           tshark_unreadable, now_s() - t0);
    for (size_t j = 0; j < njobs; j++)
        free(outs[j]);
    free(outs);
    free(which);
    free(argvs);
    free(jobs);
}

/* C1, C6: frame counts and wire bytes of every file against capinfos (the
 * same reader as tshark, wiretap, without the dissectors: all files in one
 * process). Its "data size" is the sum of the wire lengths. */
TEST(test_c1_frame_counts_and_wire_bytes_equal_capinfos_on_every_file) {
    double t0 = now_s();
    const char **argv = calloc(nfiles + 8, sizeof *argv);
    size_t k = 0;
    argv[k++] = "capinfos", argv[k++] = "-T", argv[k++] = "-M", argv[k++] = "-r", argv[k++] = "-c",
    argv[k++] = "-d";
    for (size_t i = 0; i < nfiles; i++)
        argv[k++] = files[i].path;
    argv[k] = NULL;
    char out[512];
    snprintf(out, sizeof out, "%s/capinfos.txt", tmpdir);
    job j = {argv, out, 0, 0};
    run_jobs(&j, 1, 1);
    FILE *f = fopen(out, "r");
    CHECK(f != NULL);
    char line[8192];
    unsigned compared = 0, same = 0, excused = 0, differ = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *tab1 = strchr(line, '\t');
        if (!tab1)
            continue;
        *tab1 = 0;
        unsigned long n = 0;
        unsigned long long w = 0;
        if (sscanf(tab1 + 1, "%lu\t%llu", &n, &w) != 2)
            continue;
        cfile key = {.path = line}, *cf = bsearch(&key, files, nfiles, sizeof *files, by_path);
        if (!cf)
            continue;
        compared++;
        const char *why = length_exception(cf->path);
        if (cf->rc == NMERR_SUCCESS && n == cf->frames && w == cf->wire) {
            same++;
            if (why)
                fprintf(stderr, "     exception no longer needed: %s\n", base(cf->path));
            CHECK(why == NULL);
        } else if (why) {
            excused++;
        } else {
            differ++;
            fprintf(stderr, "     DIFFERS from capinfos: %s: ours rc %u, %u frames, %llu wire bytes; capinfos %lu, %llu\n",
                    base(cf->path), cf->rc, cf->frames, (unsigned long long)cf->wire, n, w);
        }
    }
    if (f)
        fclose(f);
    remove(out);
    free(argv);
    CHECK_EQ(differ, 0);
    CHECK(compared > nfiles * 9 / 10);
    printf("     capinfos read %u of %zu files: %u equal, %u listed exceptions (%.1f s)\n", compared, nfiles, same,
           excused, now_s() - t0);
}

/* ---- 3. truncated copies ---- */

/* C6 */
TEST(test_c6_truncated_copies_give_the_frames_before_and_an_error) {
    double t0 = now_s();
    const char *names[] = {"tcpdump/802.1ad_QinQ.pcap", "zeek/arp-who-has.pcap", "tcpdump/icmpv6-length-zero.pcapng",
                           "tcpdump/ipv6-routing-header.pcap"};
    unsigned cuts = 0, tested = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char src[4096];
        snprintf(src, sizeof src, "%s/%s", corpus, names[k]);
        FILE *f = fopen(src, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        nmx_capture *whole = NULL;
        if (nmx_capture_open(src, &whole, NULL, 0) != NMERR_SUCCESS || len > 200000) {
            free(buf);
            nmx_capture_close(whole);
            continue;
        }
        tested++;
        char dst[512];
        snprintf(dst, sizeof dst, "%s/cut.%s", tmpdir, ends_with(src, "ng") ? "pcapng" : "pcap");
        size_t step = len / 400 + 1;
        for (size_t cut = 0; cut < len; cut += step) {
            FILE *o = fopen(dst, "wb");
            fwrite(buf, 1, cut, o);
            fclose(o);
            nmx_capture *cap = NULL;
            char err[1024];
            DWORD rc = nmx_capture_open(dst, &cap, err, sizeof err);
            cuts++;
            if (rc != NMERR_SUCCESS) {
                CHECK_EQ(rc, NMERR_INVALID_FILE_FORMAT); /* cut inside the file header */
                CHECK(strstr(err, dst) == err);
                continue;
            }
            uint32_t n = nmx_capture_frames(cap);
            CHECK(n <= nmx_capture_frames(whole));
            /* the frames read are the whole file's first frames, byte for byte */
            for (uint32_t i = 0; i < n; i++) {
                nmx_frame a, b;
                nmx_capture_frame(cap, i, &a);
                nmx_capture_frame(whole, i, &b);
                CHECK(a.cap_len == b.cap_len && a.wire_len == b.wire_len && a.ts_ns == b.ts_ns &&
                      memcmp(a.bytes, b.bytes, a.cap_len) == 0);
            }
            if (n < nmx_capture_frames(whole)) {
                /* short: either an error, or the cut fell exactly between records */
                const char *e = nmx_capture_error(cap);
                if (e)
                    CHECK(strstr(e, dst) == e);
            }
            DWORD got[1];
            (void)got;
            CHECK_EQ(walk_all(cap, NULL, GET_FRAME_NEXT_FORWARD), n);
            nmx_capture_close(cap);
        }
        remove(dst);
        nmx_capture_close(whole);
        free(buf);
    }
    CHECK(tested >= 2);
    printf("     %u files cut at %u places (%.1f s)\n", tested, cuts, now_s() - t0);
}

int main(void) {
    snprintf(corpus, sizeof corpus, "%s/captures", shared_dir());
    tcu_walk(corpus, add_capture, NULL);
    if (nfiles == 0) {
        SKIP_TEST(test_capture_corpus, "no captures under $NMX_SHARED_DIR/captures");
        return CHECK_DONE();
    }
    /* zeek files are those under captures/zeek */
    char zeek[8300];
    snprintf(zeek, sizeof zeek, "%s/zeek/", corpus);
    for (size_t i = 0; i < nfiles; i++)
        files[i].zeek = strncmp(files[i].path, zeek, strlen(zeek)) == 0;
    qsort(files, nfiles, sizeof *files, by_path);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_corpus_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_c6_every_corpus_file_opens_or_fails_cleanly_and_iterates);
    if (have_tshark()) {
        RUN(test_c1_frame_counts_and_lengths_equal_tsharks);
        if (system("capinfos -v >/dev/null 2>&1") == 0)
            RUN(test_c1_frame_counts_and_wire_bytes_equal_capinfos_on_every_file);
        else
            SKIP_TEST(test_c1_frame_counts_and_wire_bytes_equal_capinfos_on_every_file, "capinfos not installed");
    } else {
        SKIP_TEST(test_c1_frame_counts_and_lengths_equal_tsharks, "tshark not installed");
        SKIP_TEST(test_c1_frame_counts_and_wire_bytes_equal_capinfos_on_every_file, "tshark not installed");
    }
    RUN(test_c6_truncated_copies_give_the_frames_before_and_an_error);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].path);
    free(files);
    return CHECK_DONE();
}
