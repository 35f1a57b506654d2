/* Capture formats and compressions (SPEC C1, C6), against Wireshark's own
 * tools. Corpus tests (RUN_CORPUS): they need $NMX_SHARED_DIR/captures,
 * editcap, capinfos, gzip, zstd and lz4.
 *
 * - A subset of the corpus (every 24th capture in name order that opens
 *   undamaged, about 50 files, plus the two bundled samples), converted with
 *   `editcap -F` to netmon1, netmon2 and snoop (where the link type allows:
 *   editcap refuses the others, and the reason is printed) and compressed
 *   with gzip, zstd and lz4, gives the original's frames: count, lengths,
 *   bytes, and time stamps to the format's resolution (Netmon 1.x keeps
 *   milliseconds, snoop and Netmon 2.x microseconds; compressed files are
 *   exact). capinfos agrees on every converted file's frame count, and an
 *   Ethernet Netmon file's frames are MAC_TYPE_ETHERNET (GetFrameMacType).
 * - Damaged copies of a sample's first 400 frames in every format and
 *   compression (cut at 16 points, 8 bytes overwritten at 16 points) open
 *   with a prefix of the frames (cut) and an error naming the file, or are
 *   refused naming it (a cut Network Monitor file has lost its frame table);
 *   nothing crashes, and every frame read can be reached.
 * - The frame source's file offsets (src/capture/source.h) of every frame
 *   of every corpus file point at the frame's bytes in the file.
 * About 30 s on an idle 2-core machine (editcap and capinfos dominate),
 * several times that under load.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "capture/source.h"
#include "check.h"
#include "test_capture_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char corpus[8192];

static int have(const char *tool) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static int tools_ok(void) {
    return have("editcap") && have("capinfos") && have("gzip") && have("zstd") && have("lz4");
}

/* ---- the files ---- */

static char **files;
static size_t nfiles;

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct found_list {
    char **all;
    size_t n, cap;
} found_list;

static void add_capture(const char *path, const char *name, void *arg) {
    found_list *l = arg;
    if (!strstr(name, ".pcap"))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->all = realloc(l->all, l->cap * sizeof *l->all);
    }
    l->all[l->n++] = strdup(path);
}

/* Every capture under dir (a name with .pcap in it) appended to *all. */
static void scan(const char *dir, char ***all, size_t *n, size_t *cap) {
    found_list l = {*all, *n, *cap};
    tcu_walk(dir, add_capture, &l);
    *all = l.all, *n = l.n, *cap = l.cap;
}

/* Every 24th capture that opens undamaged with frames, and the samples. */
static void pick_files(void) {
    char **all = NULL;
    size_t n = 0, cap = 0;
    scan(corpus, &all, &n, &cap);
    qsort(all, n, sizeof *all, by_str);
    files = calloc(n / 24 + 3, sizeof *files);
    for (size_t i = 0; i < n; i++) {
        nmx_capture *c = NULL;
        if (i % 24 == 0 && nmx_capture_open(all[i], &c, NULL, 0) == NMERR_SUCCESS && !nmx_capture_error(c) &&
            nmx_capture_frames(c) > 0)
            files[nfiles++] = all[i], all[i] = NULL;
        nmx_capture_close(c);
        free(all[i]);
    }
    free(all);
    files[nfiles++] = strdup(NMX_SOURCE_DIR "/samples/netns-lab.pcap");
    files[nfiles++] = strdup(NMX_SOURCE_DIR "/samples/loopback-http.pcapng");
}

static int run(const char *cmd) { return system(cmd); }

/* ---- comparing ---- */

/* ts resolution of a format, ns */
static int64_t resolution(const char *fmt) {
    if (!strcmp(fmt, "netmon1"))
        return 2000000; /* start time and offsets both in ms */
    if (!strcmp(fmt, "netmon2") || !strcmp(fmt, "snoop"))
        return 1000;
    return 0;
}

static int64_t absdiff(int64_t a, int64_t b) { return a > b ? a - b : b - a; }

/* Frames 0..n-1 of `got` equal those of `ref`; returns the number that differ. */
static unsigned same_frames(nmx_capture *ref, nmx_capture *got, uint32_t n, int64_t res) {
    unsigned bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        nmx_frame a, b;
        if (nmx_capture_frame(ref, i, &a) || nmx_capture_frame(got, i, &b)) {
            bad++;
            continue;
        }
        if (a.cap_len != b.cap_len || a.wire_len != b.wire_len || memcmp(a.bytes, b.bytes, a.cap_len) != 0 ||
            absdiff(a.ts_ns, b.ts_ns) > res) {
            if (bad++ == 0)
                printf("     frame %u differs: cap %u/%u wire %u/%u ts %lld/%lld\n", i, a.cap_len, b.cap_len,
                       a.wire_len, b.wire_len, (long long)a.ts_ns, (long long)b.ts_ns);
        }
    }
    return bad;
}

/* Netmon 1.x stores lengths in 16 bits and times as 32-bit millisecond
 * offsets from the first frame's: fuzzed files with absurd values do not
 * fit. 1 if every frame of cap does. */
static int netmon1_holds(nmx_capture *cap) {
    nmx_frame f0, f;
    for (uint32_t i = 0; i < nmx_capture_frames(cap); i++) {
        if (nmx_capture_frame(cap, 0, &f0) || nmx_capture_frame(cap, i, &f))
            return 0;
        if (f.wire_len > 0xffff || f.cap_len > 0xffff || f.ts_ns < f0.ts_ns ||
            (f.ts_ns - f0.ts_ns) / 1000000 >= ((int64_t)1 << 32))
            return 0;
    }
    return 1;
}

static const char *base(const char *p) {
    size_t n = strlen(corpus);
    return strncmp(p, corpus, n) == 0 ? p + n + 1 : p;
}

/* Convert f with editcap; 0 when editcap refuses (reason printed once per format). */
static int convert(const char *f, const char *fmt, const char *out) {
    char cmd[9000], errf[600];
    snprintf(errf, sizeof errf, "%s/editcap.err", tmpdir);
    snprintf(cmd, sizeof cmd, "editcap -F %s '%s' '%s' 2>'%s'", fmt, f, out, errf);
    if (run(cmd) == 0)
        return 1;
    FILE *e = fopen(errf, "r");
    char line[512] = "";
    if (e && fgets(line, sizeof line, e))
        line[strcspn(line, "\n")] = 0;
    if (e)
        fclose(e);
    printf("     skip %s as %s: %s\n", base(f), fmt, line);
    remove(out);
    return 0;
}

/* capinfos' frame count of each of the n files (UINT32_MAX when it reads
 * nothing), in one process. */
static void capinfos_counts(char (*f)[600], const int *made, size_t n, uint32_t *count) {
    char cmd[4000] = "capinfos -c -M -r -T";
    for (size_t i = 0; i < n; i++) {
        count[i] = UINT32_MAX;
        if (made[i])
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " '%s'", f[i]);
    }
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    char line[8192];
    while (p && fgets(line, sizeof line, p)) {
        char *tab = strrchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        for (size_t i = 0; i < n; i++)
            if (made[i] && strcmp(line, f[i]) == 0)
                count[i] = (uint32_t)strtoul(tab + 1, NULL, 10);
    }
    if (p)
        pclose(p);
}

/* C1 */
TEST(test_c1_converted_and_compressed_files_give_the_same_frames) {
    if (!tools_ok())
        SKIP_HERE("editcap, capinfos, gzip, zstd or lz4 missing");
    static const char *fmts[] = {"netmon1", "netmon2", "snoop"};
    static const char *comps[][2] = {{"gzip -c", "gz"}, {"zstd -q -c", "zst"}, {"lz4 -q -c", "lz4"}};
    unsigned converted = 0, refused = 0, compressed = 0, differ = 0, netmon_eth = 0;
    for (size_t i = 0; i < nfiles; i++) {
        nmx_capture *ref = NULL;
        if (nmx_capture_open(files[i], &ref, NULL, 0) != NMERR_SUCCESS)
            continue;
        uint32_t n = nmx_capture_frames(ref);
        char conv[4][600], out[600];
        int made[4] = {0, 0, 0, 1};
        uint32_t ci[4];
        for (size_t k = 0; k < 3; k++) {
            snprintf(conv[k], sizeof conv[k], "%s/conv.%s", tmpdir, fmts[k]);
            if (k == 0 && !netmon1_holds(ref)) {
                printf("     skip %s as netmon1: lengths or times beyond its 16-bit lengths and 32-bit ms "
                       "offsets\n", base(files[i]));
                refused++;
                continue;
            }
            made[k] = convert(files[i], fmts[k], conv[k]);
            made[k] ? converted++ : refused++;
        }
        snprintf(conv[3], sizeof conv[3], "%s", files[i]);
        capinfos_counts(conv, made, 4, ci);
        for (size_t k = 0; k < 3; k++) {
            if (!made[k])
                continue;
            nmx_capture *got = NULL;
            char err[1024];
            DWORD rc = nmx_capture_open(conv[k], &got, err, sizeof err);
            CHECK_EQ(rc, NMERR_SUCCESS);
            if (rc == NMERR_SUCCESS) {
                int ok = nmx_capture_frames(got) == n && ci[k] == n && !nmx_capture_error(got) &&
                         same_frames(ref, got, n, resolution(fmts[k])) == 0;
                if (!ok) {
                    differ++;
                    printf("     DIFFERS: %s as %s: %u frames, original %u, capinfos %u%s%s\n", base(files[i]),
                           fmts[k], nmx_capture_frames(got), n, ci[k], nmx_capture_error(got) ? ": " : "",
                           nmx_capture_error(got) ? nmx_capture_error(got) : "");
                }
                nmx_frame f;
                if (k < 2 && nmx_capture_link_type(ref) == 1 && nmx_capture_frame(got, 0, &f) == 0) {
                    CHECK_EQ(GetFrameMacType(f.hframe), MAC_TYPE_ETHERNET);
                    netmon_eth++;
                }
            } else {
                printf("     (%s)\n", err);
            }
            nmx_capture_close(got);
        }
        if (ci[3] == UINT32_MAX) { /* e.g. pcap link type 182: libpcap reads the plain file only */
            printf("     skip %s compressed: libwiretap (capinfos) cannot read its link type\n", base(files[i]));
            nmx_capture_close(ref);
            continue;
        }
        for (size_t k = 0; k < 3; k++) {
            char cmd[9000];
            snprintf(out, sizeof out, "%s/comp.%s", tmpdir, comps[k][1]);
            snprintf(cmd, sizeof cmd, "%s '%s' > '%s'", comps[k][0], files[i], out);
            CHECK(run(cmd) == 0);
            compressed++;
            nmx_capture *got = NULL;
            CHECK_EQ(nmx_capture_open(out, &got, NULL, 0), NMERR_SUCCESS);
            nmx_capture_input in;
            CHECK(nmx_capture_input_info(got, 0, &in) == NMERR_SUCCESS &&
                  strcmp(in.compression, k == 0 ? "gzip" : k == 1 ? "zstd" : "lz4") == 0);
            if (!got || nmx_capture_frames(got) != n || nmx_capture_error(got) || same_frames(ref, got, n, 0)) {
                differ++;
                printf("     DIFFERS: %s compressed with %s\n", base(files[i]), comps[k][0]);
            }
            nmx_capture_close(got);
        }
        nmx_capture_close(ref);
    }
    CHECK_EQ(differ, 0);
    CHECK(converted > nfiles && netmon_eth > 10);
    printf("     %zu files: %u conversions equal (%u refused by editcap), %u compressed copies equal, "
           "%u Netmon Ethernet files MAC_TYPE_ETHERNET\n",
           nfiles, converted, refused, compressed, netmon_eth);
}

/* The source's file offsets point at the bytes, in every corpus file. */
TEST(test_source_file_offsets_point_at_the_bytes_in_the_corpus) {
    uint64_t checked = 0, unmapped = 0;
    char **all = NULL;
    size_t nall = 0, cap = 0;
    scan(corpus, &all, &nall, &cap);
    for (size_t i = 0; i < nall; i++) {
        nmx__source *src;
        int fd = open(all[i], O_RDONLY);
        if (nmx__source_open((const char *const *)&all[i], 1, &src, NULL, 0) != NMERR_SUCCESS) {
            close(fd);
            free(all[i]);
            continue;
        }
        nmx__src_frame f;
        static uint8_t buf[1 << 18];
        while (nmx__source_next(src, &f) == 1) {
            if (f.file_off == UINT64_MAX) {
                unmapped++;
                continue;
            }
            CHECK(f.cap_len <= sizeof buf &&
                  pread(fd, buf, f.cap_len, (off_t)f.file_off) == (ssize_t)f.cap_len &&
                  memcmp(buf, f.bytes, f.cap_len) == 0);
            checked++;
        }
        close(fd);
        nmx__source_close(src);
        free(all[i]);
    }
    free(all);
    CHECK(checked > 10000);
    printf("     %llu frames at their file offsets, %llu without one (pseudo-header link types, libpcap)\n",
           (unsigned long long)checked, (unsigned long long)unmapped);
}

/* ---- damage ---- */

typedef struct variant {
    const char *name, *make; /* shell command from $IN to $OUT */
    int64_t res;
} variant;

static const variant variants[] = {
    {"pcap", "cp \"$IN\" \"$OUT\"", 0},
    {"pcapng", "editcap -F pcapng \"$IN\" \"$OUT\"", 0},
    {"netmon1", "editcap -F netmon1 \"$IN\" \"$OUT\"", 2000000},
    {"netmon2", "editcap -F netmon2 \"$IN\" \"$OUT\"", 1000},
    {"snoop", "editcap -F snoop \"$IN\" \"$OUT\"", 1000},
    {"pcap.gz", "gzip -c \"$IN\" > \"$OUT\"", 0},
    {"pcap.zst", "zstd -q -c \"$IN\" > \"$OUT\"", 0},
    {"pcap.lz4", "lz4 -q -c \"$IN\" > \"$OUT\"", 0},
    {"netmon2.gz", "editcap -F netmon2 \"$IN\" \"$OUT.tmp\" && gzip -c \"$OUT.tmp\" > \"$OUT\"", 1000},
};

static uint8_t *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static void spit(const char *p, const uint8_t *b, size_t len) {
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
}

/* Cut copies that opened short without an error. The fixed cuts of the
 * fixed sample fall inside records, so none may (libwiretap alone ends a
 * cut zstd or lz4 stream silently: source_frames.c). */
static unsigned short_silent;

/* One damaged copy: refused naming it, or a prefix of ref's frames (when
 * `cut`) plus an error naming it when short. Returns 1 if it opened. */
static int check_damaged(const char *path, nmx_capture *ref, int cut, int64_t res) {
    nmx_capture *cap = NULL;
    char err[1024] = "";
    DWORD rc = nmx_capture_open(path, &cap, err, sizeof err);
    if (rc != NMERR_SUCCESS) {
        CHECK(rc == NMERR_INVALID_FILE_FORMAT || rc == NMERR_FILE_READ_ERROR);
        CHECK(strncmp(err, path, strlen(path)) == 0 && strlen(err) > strlen(path) + 2);
        return 0;
    }
    uint32_t n = nmx_capture_frames(cap);
    const char *e = nmx_capture_error(cap);
    if (e)
        CHECK(strncmp(e, path, strlen(path)) == 0);
    if (cut) {
        CHECK(n <= nmx_capture_frames(ref));
        CHECK_EQ(same_frames(ref, cap, n, res), 0);
        if (n < nmx_capture_frames(ref) && !e) { /* short with nothing said */
            short_silent++;
            printf("     short, no error: %s: %u frames\n", path, n);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        nmx_frame f;
        CHECK_EQ(nmx_capture_frame(cap, i, &f), NMERR_SUCCESS);
    }
    nmx_capture_close(cap);
    return 1;
}

/* C6 */
TEST(test_c6_damaged_files_of_every_format_and_compression) {
    if (!tools_ok())
        SKIP_HERE("editcap, capinfos, gzip, zstd or lz4 missing");
    const char *src = NMX_SOURCE_DIR "/samples/netns-lab.pcap"; /* Ethernet: every format holds it */
    char in[600];
    snprintf(in, sizeof in, "%s/base.pcap", tmpdir);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "editcap -F pcap -r '%s' '%s' 1-400", src, in);
    CHECK(run(cmd) == 0);
    nmx_capture *ref = NULL;
    CHECK_EQ(nmx_capture_open(in, &ref, NULL, 0), NMERR_SUCCESS);
    if (!ref)
        return;
    unsigned opened = 0, refused = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char out[600], dmg[700];
        snprintf(out, sizeof out, "%s/whole.%s", tmpdir, variants[v].name);
        snprintf(dmg, sizeof dmg, "%s/damaged.%s", tmpdir, variants[v].name);
        snprintf(cmd, sizeof cmd, "IN='%s' OUT='%s' sh -c '%s'", in, out, variants[v].make);
        CHECK(run(cmd) == 0);
        size_t len;
        uint8_t *b = slurp(out, &len);
        if (!b || len < 64) {
            CHECK(0);
            free(b);
            continue;
        }
        for (int k = 1; k <= 16; k++) { /* cut */
            spit(dmg, b, len * (size_t)k / 17);
            check_damaged(dmg, ref, 1, variants[v].res) ? opened++ : refused++;
        }
        for (int k = 0; k < 16; k++) { /* 8 bytes overwritten */
            uint8_t *c = malloc(len);
            memcpy(c, b, len);
            size_t at = len * (size_t)k / 16;
            memset(c + at, k % 2 ? 0xff : 0x00, len - at < 8 ? len - at : 8);
            spit(dmg, c, len);
            free(c);
            check_damaged(dmg, ref, 0, variants[v].res) ? opened++ : refused++;
        }
        free(b);
    }
    nmx_capture_close(ref);
    CHECK_EQ(short_silent, 0);
    printf("     %zu formats x 32 damaged copies: %u opened with the frames before the damage, %u refused "
           "naming the file; %u cut copies short with no error\n",
           sizeof variants / sizeof variants[0], opened, refused, short_silent);
}

int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    snprintf(corpus, sizeof corpus, "%s/captures", shared_dir());
    struct stat st;
    if (stat(corpus, &st) != 0) {
        SKIP_TEST(test_c1_converted_and_compressed_files_give_the_same_frames, "no shared captures");
        SKIP_TEST(test_c6_damaged_files_of_every_format_and_compression, "no shared captures");
        SKIP_TEST(test_source_file_offsets_point_at_the_bytes_in_the_corpus, "no shared captures");
        return CHECK_DONE();
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_formats_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (argc > 1)
        pick_files();
    RUN_CORPUS(test_c1_converted_and_compressed_files_give_the_same_frames);
    RUN_CORPUS(test_c6_damaged_files_of_every_format_and_compression);
    RUN_CORPUS(test_source_file_offsets_point_at_the_bytes_in_the_corpus);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return CHECK_DONE();
}
