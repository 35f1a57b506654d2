/* Shared by the tests of the three counting experts (test_expert_protdist,
 * test_expert_topusers, test_expert_propdist): running an expert over a
 * capture, reading its rows, writing small captures, running tshark, and
 * choosing the corpus files. Each test program includes it once, first
 * (it sets _DEFAULT_SOURCE), and defines nothing it defines. */
#ifndef NMX_TESTS_EXPERT_COUNTING_UTIL_H
#define NMX_TESTS_EXPERT_COUNTING_UTIL_H

#define _DEFAULT_SOURCE /* mkdtemp, strdup */
#include <nmexpert/capture.h>
#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include "check.h"
#include "test_capture_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expert_test_util.h"

#define WAIT_MS 60000u

/* Runs `ex` over `cap` with `config` (text, may be NULL); returns the ended
 * run (free it with nmx_run_free) or NULL; *res filled. */
static nmx_run *run_over(nmx_expert *ex, nmx_capture *cap, const char *config, nmx_run_result *res,
                         nmx_progress_fn progress)
{
    memset(res, 0, sizeof *res);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = (HCAPTURE)cap;
    EXPERTCONFIG *c = make_config(config);
    o.config = c;
    o.progress = progress;
    nmx_run *run = NULL;
    DWORD rc = nmx_run_start(ex, &o, &run);
    free(c);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx_run_start: %s\n", nmx_strerror(rc));
        return NULL;
    }
    rc = nmx_run_wait(run, WAIT_MS, res);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx_run_wait: %s\n", nmx_strerror(rc));
        return NULL;
    }
    return run;
}

/* The well-behaved end every run over a readable capture must have. */
static void check_clean_end(const nmx_run_result *r)
{
    CHECK(r->returned);
    CHECK(r->run_value);
    CHECK_EQ(r->fault_signal, 0);
    CHECK_EQ(r->status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(r->mem.live_blocks, 0);
    CHECK_EQ(r->mem.bad_double_free + r->mem.bad_foreign + r->mem.bad_interior + r->mem.bad_wrong_owner, 0);
}

static nmx_capture *open_capture(const char *path)
{
    nmx_capture *cap = NULL;
    char err[1024];
    if (nmx_capture_open(path, &cap, err, sizeof err) != NMERR_SUCCESS)
        return NULL;
    return cap;
}

/* Terminates the run at its first progress report. */
static volatile int terminate_calls;
static void terminate_at_progress(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)st;
    (void)ctx;
    if (st->Status == EXPERTSTATUS_RUNNING && st->PercentDone >= 1) {
        terminate_calls++;
        nmx_run_terminate(run);
    }
}

/* ---- a small capture written by the test ---- */

static size_t ipv6_hdr(uint8_t *p, uint8_t next, size_t paylen, const uint8_t src[16], const uint8_t dst[16])
{
    memset(p, 0, 40);
    p[0] = 0x60;
    p[4] = (uint8_t)(paylen >> 8);
    p[5] = (uint8_t)paylen;
    p[6] = next;
    p[7] = 64;
    memcpy(p + 8, src, 16);
    memcpy(p + 24, dst, 16);
    return 40;
}

/* Builds the unit-test frames into fr (storage) and t; returns the count.
 *  0-2  eth/ip 10.0.0.1 > 10.0.0.2 /tcp 1000>80, 20 payload bytes (74 wire)
 *  3-4  eth/ip 10.0.0.2 > 10.0.0.1 /udp 53>5353, 12 payload (54 wire, 60 with padding)
 *  5    eth/arp (42 captured, 60 wire)
 *  6    eth/vlan/ip 10.0.0.3 > 10.0.0.1 /udp (4 bytes more)
 *  7    eth/ipv6 2001:db8::1 > 2001:db8::2 /icmpv6 (8 bytes)
 *  8    eth/ip/tcp truncated: 40 captured of 1514
 * then `extra` copies of frame 0 (for progress and terminate). */
#define UNIT_FRAMES 9
static size_t unit_frames(uint8_t (*fr)[128], tframe *t, size_t extra)
{
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2}, c3[4] = {10, 0, 0, 3};
    static const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, d6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    size_t k = 0;
    for (int i = 0; i < 3; i++, k++) {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x0800);
        n += ipv4_hdr(p + n, 6, 0, 40, 0, a, b);
        n += tcp_hdr(p + n, 1000, 80, (uint32_t)i, 0x18, 0);
        memset(p + n, 'x', 20);
        n += 20;
        t[k] = (tframe){p, (uint32_t)n, (uint32_t)n, (int64_t)k * 1000000, 0};
    }
    for (int i = 0; i < 2; i++, k++) {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x0800);
        n += ipv4_hdr(p + n, 17, 0, 20, 0, b, a);
        n += udp_hdr(p + n, 53, 5353, 12);
        memset(p + n, 'y', 12);
        n += 12;
        size_t wire = i ? 60 : n; /* the second one padded on the wire, not captured */
        t[k] = (tframe){p, (uint32_t)n, (uint32_t)wire, (int64_t)k * 1000000, 0};
    }
    {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x0806);
        static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
        memcpy(p + n, arp, 28);
        n += 28;
        t[k] = (tframe){p, (uint32_t)n, 60, (int64_t)k * 1000000, 0};
        k++;
    }
    {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x8100);
        p[n] = 0;
        p[n + 1] = 7;
        p[n + 2] = 0x08;
        p[n + 3] = 0x00;
        n += 4;
        n += ipv4_hdr(p + n, 17, 0, 12, 0, c3, a);
        n += udp_hdr(p + n, 4000, 4001, 4);
        memset(p + n, 'z', 4);
        n += 4;
        t[k] = (tframe){p, (uint32_t)n, (uint32_t)n, (int64_t)k * 1000000, 0};
        k++;
    }
    {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x86dd);
        n += ipv6_hdr(p + n, 58, 8, s6, d6);
        static const uint8_t echo[8] = {128, 0, 0, 0, 0, 1, 0, 1};
        memcpy(p + n, echo, 8);
        n += 8;
        t[k] = (tframe){p, (uint32_t)n, (uint32_t)n, (int64_t)k * 1000000, 0};
        k++;
    }
    {
        uint8_t *p = fr[k];
        size_t n = eth_hdr(p, 0x0800);
        n += ipv4_hdr(p + n, 6, 0, 1480, 0, a, b);
        tcp_hdr(p + n, 1000, 80, 9, 0x10, 0);
        t[k] = (tframe){p, 40, 1514, (int64_t)k * 1000000, 0};
        k++;
    }
    for (size_t i = 0; i < extra; i++, k++) {
        t[k] = t[0];
        t[k].ts_ns = (int64_t)k * 1000000;
    }
    return k;
}

/* Writes the unit capture with `extra` repeats; returns its path (static). */
static const char *write_unit_capture(size_t extra)
{
    static char path[512];
    static uint8_t fr[UNIT_FRAMES][128];
    tframe *t = calloc(UNIT_FRAMES + extra, sizeof *t);
    if (!t)
        return NULL;
    size_t n = unit_frames(fr, t, extra);
    snprintf(path, sizeof path, "%s/unit-%zu.pcap", tmpdir, extra);
    int ok = write_pcap(path, 1, 0, 0, t, n);
    free(t);
    return ok ? path : NULL;
}

/* Writes 2000 damaged frames: Ethernet headers announcing IPv4, IPv6, VLAN,
 * QinQ or ARP followed by pseudo-random bytes, cut at every length from 0 to
 * 119 bytes; returns the path (static) or NULL. */
static const char *write_fuzz_capture(void)
{
    static char path[512];
    enum { N = 2000 };
    static uint8_t fr[N][120];
    tframe *t = calloc(N, sizeof *t);
    if (!t)
        return NULL;
    static const uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x9100};
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        uint8_t *p = fr[i];
        for (int k = 0; k < 120; k++) {
            x = x * 1103515245u + 12345u;
            p[k] = (uint8_t)(x >> 16);
        }
        eth_hdr(p, types[i % 6]);
        if (i % 3 == 0)
            p[14] = (uint8_t)(i % 2 ? 0x45 : 0x60); /* a plausible version nibble */
        if (i % 6 == 2 && i % 4 == 0) {
            p[16] = 0x08; /* VLAN then IPv4 */
            p[17] = 0x00;
            p[18] = 0x4f;
        }
        uint32_t cap = (uint32_t)(i % 120);
        t[i] = (tframe){p, cap, cap + (uint32_t)(i % 7) * 100, (int64_t)i * 1000, 0};
    }
    snprintf(path, sizeof path, "%s/fuzz.pcap", tmpdir);
    int ok = write_pcap(path, 1, 0, 0, t, N);
    free(t);
    return ok ? path : NULL;
}

/* Runs the expert over the damaged capture with each config: a clean end
 * (and rows, when want_rows: the counting experts always have some). */
static void check_survives_damage(nmx_expert *e, const char *const *configs, size_t n, int want_rows)
{
    const char *path = write_fuzz_capture();
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !e)
        return;
    for (size_t i = 0; i < n; i++) {
        nmx_run_result r;
        nmx_run *run = run_over(e, cap, configs[i], &r, NULL);
        CHECK(run != NULL);
        if (run) {
            check_clean_end(&r);
            CHECK(!want_rows || r.events > 0);
            nmx_run_free(run);
        }
    }
    nmx_capture_close(cap);
}

/* ---- the zeek corpus and tshark ---- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static void strv_push(strv *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strdup(x);
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void add_capture(const char *path, const char *name, void *out)
{
    (void)name;
    if (ends_with(path, ".pcap") || ends_with(path, ".pcapng") || ends_with(path, ".trace"))
        strv_push(out, path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The zeek corpus, sorted; empty when absent. */
static void zeek_files(strv *out)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%.4096s/captures/zeek", shared_dir());
    tcu_walk(dir, add_capture, out);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

static const char *short_name(const char *p)
{
    const char *z = strstr(p, "/zeek/");
    return z ? z + 6 : p;
}

typedef struct job {
    char **argv;
    char out[600];
    pid_t pid;
    int status;
} job;

static pid_t spawn(char *const *argv, const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(nul, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int jobs_par(void)
{
    const char *e = getenv("NMX_TSHARK_JOBS");
    int n = e ? atoi(e) : 2;
    return n > 0 && n < 64 ? n : 2;
}

/* Runs every job, `par` at a time. */
static void run_jobs(job *jobs, size_t n, int par)
{
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

/* A file's whole content (malloc'd, NUL-terminated) or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) {
            cap *= 2;
            b = realloc(b, cap);
        }
    }
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

/* What the per-frame frame.protocols lines (first column of the -T fields
 * output, up to the statistics) say about a file. */
typedef struct file_traits {
    unsigned frames;
    int fragments;  /* IPv4 MF/offset or an IPv6 fragment header */
    int tunnels;    /* a second eth, ip or ipv6 layer, not inside ICMP */
    int icmp_quote; /* ip/ipv6 inside icmp/icmpv6 (an error's quoted packet) */
    int undecoded;  /* ip/ipv6 reached through a layer nmexpert does not decode (VN-Tag, PBB ...) */
} file_traits;

/* 1 if tshark reaches IP through a protocol nmexpert's decoder does not know
 * (the link layers and encapsulations before the first IP header that
 * src/capture/decode*.c decodes are known: PPPoE, PPP, MPLS, 802.11 with
 * radiotap, LLC, Cisco HDLC besides Ethernet, VLAN tags and SLL). */
static int ip_behind_unknown(const char *protos)
{
    static const char *const link[] = {"eth",   "ethertype", "vlan", "vlan.etype", "ieee8021ad", "sll",
                                       "null",  "raw",       "pppoes", "ppp",      "mpls",       "wlan",
                                       "wlan_radio", "radiotap", "llc", "chdlc"};
    int unknown = 0;
    for (const char *p = protos; p && *p;) {
        const char *e = strchr(p, ':');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        char tok[64];
        snprintf(tok, sizeof tok, "%.*s", (int)(tl < 63 ? tl : 63), p);
        if (!strcmp(tok, "ip") || !strcmp(tok, "ipv6") || !strcmp(tok, "arp"))
            return unknown;
        int known = 0;
        for (size_t i = 0; i < sizeof link / sizeof *link; i++)
            known |= !strcmp(tok, link[i]);
        if (!known)
            unknown = 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int count_tok(const char *protos, const char *name)
{
    int n = 0;
    size_t l = strlen(name);
    for (const char *p = protos; p && *p;) {
        const char *e = strchr(p, ':');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        if (tl == l && strncmp(p, name, l) == 0)
            n++;
        p = e ? e + 1 : NULL;
    }
    return n;
}

/* Reads the per-frame lines at the start of `text` (columns: frame.protocols,
 * ip.flags.mf, ip.frag_offset, ...) and returns where the statistics begin. */
static char *read_traits(char *text, file_traits *tr)
{
    memset(tr, 0, sizeof *tr);
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (strncmp(p, "====", 4) == 0 || (*p == '\n' && nl && strncmp(nl + 1, "====", 4) == 0))
            return p;
        if (nl)
            *nl = 0;
        char line[8192];
        snprintf(line, sizeof line, "%s", p);
        char *cols[4] = {line, "", "", ""};
        for (int i = 1; i < 4; i++) {
            char *tab = strchr(cols[i - 1], '\t');
            if (!tab)
                break;
            *tab = 0;
            cols[i] = tab + 1;
        }
        tr->frames++;
        if (strstr(cols[1], "1") || (cols[2][0] && strspn(cols[2], "0,") != strlen(cols[2])) ||
            strstr(cols[0], "ipv6.fraghdr"))
            tr->fragments = 1;
        const char *ic = strstr(cols[0], ":icmp");
        char head[8192];
        snprintf(head, sizeof head, "%s", cols[0]);
        if (ic)
            head[ic - cols[0]] = 0; /* what is inside ICMP is a quote, not a tunnel */
        if (ic && (strstr(ic + 1, ":ip:") || strstr(ic + 1, ":ipv6:") || ends_with(ic, ":ip") ||
                   ends_with(ic, ":ipv6")))
            tr->icmp_quote = 1;
        if (ip_behind_unknown(head))
            tr->undecoded = 1;
        if (count_tok(head, "eth") > 1 || count_tok(head, "ip") + count_tok(head, "ipv6") > 1)
            tr->tunnels = 1;
        if (nl)
            *nl = '\n';
        p = nl ? nl + 1 : NULL;
    }
    return p;
}

/* Frames the capture layer reads of a file (it stops where libpcap does). */
static unsigned our_frames(nmx_capture *cap)
{
    nmx_capture_info in;
    return nmx_capture_get_info(cap, &in) == NMERR_SUCCESS ? in.frames : 0;
}

/* A deterministic subset of n files: every k-th (NMX_EXPERT_CORPUS_FULL=1: all). */
static int in_subset(size_t i, size_t step)
{
    const char *e = getenv("NMX_EXPERT_CORPUS_FULL");
    if (e && *e == '1')
        return 1;
    return i % step == 0;
}

static nmx_expert *ex;

/* A counting test program's start (CHECK_INIT, the scratch folder, the
 * expert `name` in ex) and its end (the expert unloaded, the folder
 * removed, CHECK_DONE's status). */
static inline int counting_begin(int argc, char **argv, const char *name)
{
    CHECK_INIT(argc, argv);
    if (!tests_begin(name))
        return 0;
    ex = load_bundled(name);
    CHECK(ex != NULL);
    return 1;
}

static inline int counting_end(void)
{
    nmx_expert_unload(ex);
    tests_end();
    return CHECK_DONE();
}

/* Each blob of `bad` is refused by Configure, and a run given it stops at
 * once with EXPERTSTATUS_PROBLEM, no row and nothing leaked. */
static inline void check_bad_configs(const char *const *bad, size_t n)
{
    for (size_t i = 0; ex && i < n; i++) {
        EXPERTCONFIG *in = make_config(bad[i]), *out = NULL;
        BOOL ret = TRUE;
        nmx_expert_configure(ex, in, NULL, &out, &ret);
        if (ret)
            fprintf(stderr, "  accepted bad config: %s", bad[i]);
        CHECK(!ret);
        free(out);
        free(in);
        nmx_run_result r;
        nmx_run *run = run_over(ex, NULL, bad[i], &r, NULL);
        CHECK(run != NULL);
        if (run) {
            CHECK(r.returned);
            CHECK_EQ(r.status.Status, EXPERTSTATUS_PROBLEM);
            CHECK_EQ(r.events, 0);
            CHECK_EQ(r.mem.live_blocks, 0);
            nmx_run_free(run);
        }
    }
}

/* A run over `cap` (config NULL) terminated at its first progress report
 * returns at once, reports nothing and leaks nothing (H4). */
static inline void check_terminates(nmx_capture *cap)
{
    terminate_calls = 0;
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, NULL, &r, terminate_at_progress);
    CHECK(run != NULL);
    if (run) {
        CHECK(terminate_calls > 0);
        CHECK(r.returned && r.terminated && !r.run_value);
        CHECK_EQ(r.fault_signal, 0);
        CHECK(!r.hung);
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(r.events, 0);
        nmx_run_free(run);
    }
}

/* ---- a corpus comparison: tshark over zeek files, then each file in turn ---- */

typedef struct corpus {
    strv files;
    job *jobs;
    size_t *which, nj, next;
    double t0;
    unsigned unreadable; /* tshark or the capture layer could not read it */
} corpus;

typedef struct corpus_file {
    const char *path;
    char *text, *stats; /* tshark's output; where its statistics start */
    file_traits tr;
    nmx_capture *cap;
} corpus_file;

/* Makes the tshark command line for file i (argv: room for 64 words, the
 * caller's strings must outlive the run), or returns 0 to leave it out. */
typedef int (*corpus_argv_fn)(size_t i, const char *path, char **argv, void *ctx);

/* Runs tshark over the zeek files argv_for accepts, two at a time (or
 * NMX_TSHARK_JOBS). Returns 0 without a corpus, tshark or the expert: the
 * caller then skips, with the reason in *why. */
static inline int corpus_start(corpus *c, corpus_argv_fn argv_for, void *ctx, const char **why)
{
    memset(c, 0, sizeof *c);
    zeek_files(&c->files);
    if (!c->files.n || !have_tshark() || !ex) {
        *why = !c->files.n ? "the shared capture corpus is absent"
               : !ex       ? "the expert did not load"
                           : "tshark is not installed";
        strv_free(&c->files);
        return 0;
    }
    c->t0 = now_s();
    c->jobs = calloc(c->files.n, sizeof *c->jobs);
    c->which = calloc(c->files.n, sizeof *c->which);
    for (size_t i = 0; i < c->files.n; i++) {
        char **argv = calloc(64, sizeof *argv);
        if (!argv_for(i, c->files.v[i], argv, ctx)) {
            free(argv);
            continue;
        }
        c->jobs[c->nj].argv = argv;
        snprintf(c->jobs[c->nj].out, sizeof c->jobs[c->nj].out, "%s/tshark-%zu.txt", tmpdir, i);
        c->which[c->nj++] = i;
    }
    run_jobs(c->jobs, c->nj, jobs_par());
    return 1;
}

/* The standard tshark line: -n -r PATH -T fields with the traits' fields,
 * then the words of `extra` (NULL-terminated). */
static inline void corpus_argv(char **argv, const char *path, const char *const *extra)
{
    static const char *const head[] = {"tshark", "-n", "-r", NULL, "-T", "fields", "-e", "frame.protocols",
                                       "-e", "ip.flags.mf", "-e", "ip.frag_offset"};
    size_t n = 0;
    for (; n < sizeof head / sizeof *head; n++)
        argv[n] = (char *)(head[n] ? head[n] : path);
    for (size_t k = 0; extra[k] && n < 63; k++)
        argv[n++] = (char *)extra[k];
    argv[n] = NULL;
}

/* The next file tshark and the capture layer both read (1), or 0 at the end. */
static inline int corpus_next(corpus *c, corpus_file *f)
{
    while (c->next < c->nj) {
        job *j = &c->jobs[c->next];
        memset(f, 0, sizeof *f);
        f->path = c->files.v[c->which[c->next++]];
        f->text = slurp(j->out);
        unlink(j->out);
        f->cap = open_capture(f->path);
        if (f->text && j->status == 0 && f->cap) {
            f->stats = read_traits(f->text, &f->tr);
            return 1;
        }
        c->unreadable++;
        free(f->text);
        if (f->cap)
            nmx_capture_close(f->cap);
    }
    return 0;
}

static inline void corpus_file_done(corpus_file *f)
{
    free(f->text);
    if (f->cap)
        nmx_capture_close(f->cap);
    memset(f, 0, sizeof *f);
}

static inline void corpus_end(corpus *c)
{
    for (size_t j = 0; j < c->nj; j++)
        free(c->jobs[j].argv);
    free(c->jobs);
    free(c->which);
    strv_free(&c->files);
}

/* Captures where what tshark decodes inside a tunnel is beyond what the
 * host decodes: every counting expert differs there, for these reasons. */
static const struct {
    const char *file, *why;
} tunnel_exceptions[] = {
    {"tunnels/ayiya3.pcap",
     "IPv6 inside an AYIYA tunnel (UDP 5072), which the host does not decode (not among issue 11's tunnels)"},
    {"tunnels/gre-aruba-amsdu.pcap",
     "an 802.11 A-MSDU inside Aruba's GRE: several datagrams in one frame; Wireshark taps each, the host "
     "lists the layers of the first"},
    {"tunnels/gtp/gtp_control_prime.pcap",
     "GTP' and GTP-C messages that carry IP packets (data records): tshark decodes them, the host lists "
     "GTP-C without decoding it"},
    {"tunnels/gtp/pdp_ctx_messages.pcapng", "GTP-C messages carrying IP packets, as above"},
};

static inline const char *tunnel_exception(const char *path)
{
    for (size_t i = 0; i < sizeof tunnel_exceptions / sizeof *tunnel_exceptions; i++)
        if (strcmp(short_name(path), tunnel_exceptions[i].file) == 0)
            return tunnel_exceptions[i].why;
    return NULL;
}

#endif
