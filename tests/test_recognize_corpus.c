/* Recognition against tshark on the shared corpora (SPEC C1, C5; issue 11
 * items 1 and 2): the layers the host lists in each frame's recognition
 * table agree with tshark 4.0's frame.protocols on every frame of the zeek
 * and tcpdump corpora, down to the first protocol we do not decode, with
 * every difference named and counted by a listed reason.
 *
 * How: every file is opened with nmx_capture_open (so the tables compared
 * are the ones experts get), its frames are written into a pcapng, and
 * tshark dissects that with its default preferences (TCP and IP reassembly
 * on, as `-z io,phs` runs). Files go into a few pcapng files ("groups")
 * such that no two files of a group share a flow: tshark keeps conversation
 * state across the sections of one file, our recognizer starts afresh with
 * each capture, and two test captures with the same addresses and ports
 * would otherwise be one conversation to tshark. The groups are dissected
 * two at a time (NMX_TSHARK_JOBS).
 *
 * Without the corpus or tshark the test skips. Nothing is cached: the
 * pcapng files and tshark's output go to a temporary directory removed at
 * the end. NMX_RECOGNIZE_SHOW=N prints N differences of each reason.
 */
#define _DEFAULT_SOURCE   /* mkdtemp, strdup */
#define _XOPEN_SOURCE 700 /* nftw */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"
#include "test_recognize_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static char corpus[8192];

typedef struct cfile {
    char *path;
    uint32_t frames; /* as read; 0 when it does not open */
    unsigned group;
} cfile;

static cfile *files;
static size_t nfiles, files_cap;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *base(const char *p) {
    size_t n = strlen(corpus);
    return strncmp(p, corpus, n) == 0 ? p + n + 1 : p;
}

static int add_capture(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    size_t n = strlen(path);
    int is_cap = (n > 5 && strcmp(path + n - 5, ".pcap") == 0) || (n > 7 && strcmp(path + n - 7, ".pcapng") == 0);
    if (type != FTW_F || !is_cap)
        return 0;
    if (nfiles == files_cap) {
        files_cap = files_cap ? files_cap * 2 : 1024;
        files = realloc(files, files_cap * sizeof *files);
    }
    files[nfiles++] = (cfile){strdup(path), 0, 0};
    return 0;
}

static int by_path(const void *a, const void *b) { return strcmp(((const cfile *)a)->path, ((const cfile *)b)->path); }

/* ---- grouping files so that no two in a group share a flow ---- */

/* An open-addressing set of 64-bit flow keys (0 is empty). */
typedef struct keyset {
    uint64_t *k;
    size_t cap, n;
} keyset;

static int keyset_has(const keyset *s, uint64_t key) {
    if (!s->cap)
        return 0;
    for (size_t i = key & (s->cap - 1); s->k[i]; i = (i + 1) & (s->cap - 1))
        if (s->k[i] == key)
            return 1;
    return 0;
}

static void keyset_add(keyset *s, uint64_t key) {
    if ((s->n + 1) * 2 > s->cap) {
        keyset g = {calloc(s->cap ? s->cap * 2 : 1024, sizeof *g.k), s->cap ? s->cap * 2 : 1024, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i])
                keyset_add(&g, s->k[i]);
        free(s->k);
        *s = g;
    }
    size_t i = key & (s->cap - 1);
    for (; s->k[i]; i = (i + 1) & (s->cap - 1))
        if (s->k[i] == key)
            return;
    s->k[i] = key;
    s->n++;
}

/* The frame's innermost flow, direction-free: addresses and ports. 0 for
 * frames without IP. */
static uint64_t flow_key(const nmx_decoded *d) {
    if (!(d->flags & NMX_DEC_IP))
        return 0;
    uint64_t a = 1469598103934665603ull, b = a;
    for (int i = 0; i < 16; i++) {
        a = (a ^ d->ip_src[i]) * 1099511628211ull;
        b = (b ^ d->ip_dst[i]) * 1099511628211ull;
    }
    a = (a ^ d->sport) * 1099511628211ull;
    b = (b ^ d->dport) * 1099511628211ull;
    uint64_t k = (a ^ b) + d->ip_proto;
    return k ? k : 1;
}

/* Link types whose pcap header value differs from the DLT libpcap reports
 * on Linux. */
static uint32_t linktype(int dlt) {
    switch (dlt) {
    case 11: return 100; /* ATM_RFC1483 */
    case 12: return 101; /* RAW */
    case 15: return 102; /* SLIP_BSDOS */
    case 16: return 103; /* PPP_BSDOS */
    case 19: return 106; /* ATM_CLIP */
    default: return (uint32_t)dlt;
    }
}

/* Assign groups; write each group's pcapng. Returns the number of groups. */
static unsigned write_groups(void) {
    keyset *sets = NULL;
    unsigned ngroups = 0;
    for (size_t i = 0; i < nfiles; i++) {
        nmx_capture *cap = NULL;
        if (nmx_capture_open(files[i].path, &cap, NULL, 0) != NMERR_SUCCESS)
            continue;
        files[i].frames = nmx_capture_frames(cap);
        keyset mine = {0};
        for (uint32_t k = 0; k < files[i].frames; k++) {
            nmx_frame fr;
            nmx_decoded d;
            nmx_capture_frame(cap, k, &fr);
            nmx_decode(fr.bytes, fr.cap_len, fr.link_type, &d);
            uint64_t key = flow_key(&d);
            if (key)
                keyset_add(&mine, key);
        }
        unsigned g = 0;
        for (; g < ngroups; g++) {
            size_t j = 0;
            for (; j < mine.cap; j++)
                if (mine.k[j] && keyset_has(&sets[g], mine.k[j]))
                    break;
            if (j == mine.cap)
                break;
        }
        if (g == ngroups) {
            sets = realloc(sets, ++ngroups * sizeof *sets);
            sets[g] = (keyset){0};
        }
        for (size_t j = 0; j < mine.cap; j++)
            if (mine.k[j])
                keyset_add(&sets[g], mine.k[j]);
        free(mine.k);
        files[i].group = g;
        char out[512];
        snprintf(out, sizeof out, "%s/group-%u.pcapng", tmpdir, g);
        FILE *w = fopen(out, "ab");
        pcapng_shb(w);
        int lts[8];
        unsigned nlt = nmx_capture_link_types(cap, lts, 8);
        for (unsigned l = 0; l < nlt && l < 8; l++)
            pcapng_idb(w, linktype(lts[l]));
        for (uint32_t k = 0; k < files[i].frames; k++) {
            nmx_frame fr;
            nmx_capture_frame(cap, k, &fr);
            uint32_t iface = 0;
            while (iface + 1 < nlt && lts[iface] != fr.link_type)
                iface++;
            tframe t = {fr.bytes, fr.cap_len, fr.wire_len, fr.ts_ns, iface};
            pcapng_epb(w, &t);
        }
        fclose(w);
        nmx_capture_close(cap);
    }
    for (unsigned g = 0; g < ngroups; g++)
        free(sets[g].k);
    free(sets);
    return ngroups;
}

static int tshark_groups(unsigned ngroups) {
    const char *e = getenv("NMX_TSHARK_JOBS");
    int jobs = e && atoi(e) > 0 ? atoi(e) : 2;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ls group-*.pcapng | xargs -P %d -I{} sh -c "
             "'tshark -n -r {} -T fields -e frame.protocols > {}.txt 2>/dev/null'",
             tmpdir, jobs);
    (void)ngroups;
    return system(cmd) == 0;
}

/* ---- the comparison ---- */

static int show_per_reason(void) {
    const char *e = getenv("NMX_RECOGNIZE_SHOW");
    return e ? atoi(e) : 0;
}

/* C1, C5, C6 */
TEST(test_c1_recognized_layers_agree_with_tshark_on_both_corpora) {
    double t0 = now_s();
    unsigned ngroups = write_groups();
    CHECK(ngroups > 0);
    CHECK(tshark_groups(ngroups));
    rz_stats st;
    rz_stats_init(&st);
    for (unsigned g = 0; g < ngroups; g++) {
        char out[512];
        snprintf(out, sizeof out, "%s/group-%u.pcapng.txt", tmpdir, g);
        FILE *f = fopen(out, "r");
        CHECK(f != NULL);
        char line[65536];
        for (size_t i = 0; f && i < nfiles; i++) {
            if (files[i].group != g || !files[i].frames)
                continue;
            nmx_capture *cap = NULL;
            CHECK_EQ(nmx_capture_open(files[i].path, &cap, NULL, 0), NMERR_SUCCESS);
            for (uint32_t k = 0; k < files[i].frames; k++) {
                if (!fgets(line, sizeof line, f)) {
                    CHECK(!"tshark printed fewer frames than were written");
                    break;
                }
                line[strcspn(line, "\n")] = 0;
                nmx_frame fr;
                nmx_capture_frame(cap, k, &fr);
                rz_compare_frame(&st, base(files[i].path), k, &fr, line);
            }
            nmx_capture_close(cap);
        }
        if (f)
            fclose(f);
        remove(out);
        snprintf(out, sizeof out, "%s/group-%u.pcapng", tmpdir, g);
        remove(out);
    }
    rz_stats_print(&st, show_per_reason());
    CHECK_EQ(st.unexplained, 0);
    CHECK(st.frames > 50000);
    CHECK_EQ(rz_stale_reasons(&st), 0);
    printf("     %zu files in %u tshark runs (%.1f s)\n", nfiles, ngroups, now_s() - t0);
    rz_stats_free(&st);
}

int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    snprintf(corpus, sizeof corpus, "%s/captures", shared_dir());
    nftw(corpus, add_capture, 16, FTW_PHYS);
    if (nfiles == 0) {
        SKIP_TEST(test_c1_recognized_layers_agree_with_tshark_on_both_corpora,
                  "no captures under $NMX_SHARED_DIR/captures");
        return CHECK_DONE();
    }
    qsort(files, nfiles, sizeof *files, by_path);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_recognize_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (system("tshark -v >/dev/null 2>&1") == 0)
        RUN_CORPUS(test_c1_recognized_layers_agree_with_tshark_on_both_corpora);
    else
        SKIP_TEST(test_c1_recognized_layers_agree_with_tshark_on_both_corpora, "tshark not installed");
    if (rmdir(tmpdir) != 0) /* the test removed what it wrote */
        perror(tmpdir);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].path);
    free(files);
    return CHECK_DONE();
}
