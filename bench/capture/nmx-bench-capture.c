/* nmx-bench-capture: how fast a capture is read and walked, against libpcap.
 *
 *   nmx-bench-capture [-r ROUNDS] [-e EXPERT.so] [-n NMEXPERT] [FILE]
 *
 * In one process, ROUNDS rounds (default 5) of these steps, interleaved, over
 * the same file; the medians are printed:
 *   (a) a bare libpcap loop: pcap_open_offline + pcap_next_ex to the end,
 *       touching one byte of every packet;
 *   (b) nmx_capture_open + one run of walk_expert to its end: reading,
 *       recognising and walking at once (the run streams behind the reader);
 *   (c) a second walk_expert run over the capture (b) read: the
 *       ExpertGetFrame pass alone;
 *   (d) the command `nmexpert run --in-process FILE`: every bundled expert;
 *   (d5) the same with the five experts (-e topusers -e protdist
 *       -e propdist -e tcpretrans -e resptime);
 *   (e) `nmexpert run FILE`: every bundled expert, each in a worker process;
 * then frames per second of each and its ratio to (a) (frames/s of the step
 * over frames/s of (a)). The targets: (b) >= 1.0, (d5) >= 0.5 (the
 * issue named five experts; (d) runs the seven bundled now).
 *
 * Without FILE, a synthetic capture is used: 1,000,000 Ethernet/IPv4 frames,
 * 70 % TCP and 30 % UDP, of 60 to 1514 bytes (half 60-128, a quarter
 * 129-1000, a quarter 1514), written deterministically with pcap_dump to
 * /tmp/nmx-bench-capture-1M.pcap (about 590 MB) and reused while its size is
 * the expected one. walk_expert.so is looked for beside this program, the
 * command two folders up (the build's root). Never a test: nothing here is
 * registered with ctest.
 */
#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include <pcap/pcap.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <getopt.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NMX_BENCH_BUILD_TYPE
#define NMX_BENCH_BUILD_TYPE "?"
#endif

#define SYNTH_PATH "/tmp/nmx-bench-capture-1M.pcap"
#define SYNTH_FRAMES 1000000u

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the synthetic capture -------------------------------------------- */

static uint64_t rng_state;
static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static unsigned synth_len(uint64_t r)
{
    unsigned c = (unsigned)(r % 100), v = (unsigned)(r >> 32);
    if (c < 50)
        return 60 + v % 69;  /* 60..128 */
    if (c < 75)
        return 129 + v % 872; /* 129..1000 */
    return 1514;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* Frame i of the synthetic capture into buf; returns its length. */
static unsigned synth_frame(uint32_t i, uint8_t *buf)
{
    uint64_t r1 = rng(), r2 = rng();
    unsigned len = synth_len(r1), flow = (unsigned)(r2 % 4096);
    int tcp = (r2 >> 16) % 10 < 7;
    memset(buf, 0, 54);
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
    memcpy(buf, dst, 6);
    buf[6] = 0x02; /* 02:00:00:00:<flow> */
    buf[10] = (uint8_t)(flow >> 8);
    buf[11] = (uint8_t)flow;
    put16(buf + 12, 0x0800);
    uint8_t *ip = buf + 14;
    ip[0] = 0x45;
    put16(ip + 2, len - 14);
    put16(ip + 4, i & 0xffff);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = tcp ? 6 : 17;
    put32(ip + 12, 0x0a000000u | flow);    /* 10.0.x.y */
    put32(ip + 16, 0xc0a80100u | (flow & 0xff)); /* 192.168.1.z */
    uint32_t s = 0;
    for (int k = 0; k < 20; k += 2)
        s += (uint32_t)ip[k] << 8 | ip[k + 1];
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    put16(ip + 10, ~s & 0xffff);
    uint8_t *l4 = ip + 20;
    unsigned sport = 1024 + flow, dport = tcp ? (flow & 1 ? 443 : 80) : 53, hdr;
    put16(l4, sport);
    put16(l4 + 2, dport);
    if (tcp) {
        put32(l4 + 4, i * 1000u);
        put32(l4 + 8, i * 7u);
        l4[12] = 5 << 4;
        l4[13] = (r2 >> 40) % 50 == 0 ? 0x02 : 0x18; /* a few SYN, else PSH|ACK */
        put16(l4 + 14, 65535);
        hdr = 20;
    } else {
        put16(l4 + 4, len - 34);
        hdr = 8;
    }
    unsigned off = 34 + hdr;
    memset(buf + off, (int)(i & 0xff), len - off);
    return len;
}

/* Size of the synthetic file (the same sequence, not written). */
static uint64_t synth_size(void)
{
    uint64_t size = 24;
    rng_state = 42;
    for (uint32_t i = 0; i < SYNTH_FRAMES; i++) {
        uint64_t r1 = rng();
        (void)rng();
        size += 16 + synth_len(r1);
    }
    return size;
}

static int synth_make(const char *path)
{
    uint64_t want = synth_size();
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == want) {
        printf("using %s (synthetic, %u frames, already there)\n", path, SYNTH_FRAMES);
        return 0;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    printf("writing %s (synthetic, %u frames) ... ", path, SYNTH_FRAMES);
    fflush(stdout);
    double t0 = now();
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = p ? pcap_dump_open(p, tmp) : NULL;
    if (!d) {
        fprintf(stderr, "\nnmx-bench-capture: cannot write %s: %s\n", tmp,
                p ? pcap_geterr(p) : "pcap_open_dead failed");
        if (p)
            pcap_close(p);
        return -1;
    }
    static uint8_t buf[1514];
    rng_state = 42;
    for (uint32_t i = 0; i < SYNTH_FRAMES; i++) {
        struct pcap_pkthdr h;
        h.caplen = h.len = synth_frame(i, buf);
        uint64_t us = (uint64_t)i * 10; /* one frame every 10 us */
        h.ts.tv_sec = (time_t)(1700000000 + us / 1000000);
        h.ts.tv_usec = (suseconds_t)(us % 1000000);
        pcap_dump((u_char *)d, &h, buf);
    }
    int bad = pcap_dump_flush(d) != 0;
    pcap_dump_close(d);
    pcap_close(p);
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "\nnmx-bench-capture: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    printf("%.1f s\n", now() - t0);
    return 0;
}

/* ---- (a) the bare libpcap loop ------------------------------------------ */

static volatile uint64_t sink;

static int bare_loop(const char *path, uint64_t *frames)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p) {
        fprintf(stderr, "nmx-bench-capture: %s: %s\n", path, err);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *pkt;
    uint64_t n = 0, sum = 0;
    while (pcap_next_ex(p, &h, &pkt) == 1) {
        n++;
        if (h->caplen)
            sum += pkt[0];
    }
    pcap_close(p);
    sink += sum;
    *frames = n;
    return 0;
}

/* ---- (c)'s expected checksum: walk_expert.c's arithmetic over nmx_capture_frame */

static uint64_t expected_sum(const nmx_capture *cap)
{
    uint64_t sum = 0;
    uint32_t n = nmx_capture_frames(cap);
    for (uint32_t i = 0; i < n; i++) {
        nmx_frame fr;
        if (nmx_capture_frame(cap, i, &fr) != NMERR_SUCCESS)
            return 0;
        sum += fr.frame->FrameLength;
        uint32_t tcp = 0;
        const RECOGNIZEDATATABLE *t = fr.recognized;
        for (unsigned k = 0; k < t->nRecognizeDatas; k++) {
            unsigned id = t->RecognizeData[k].ProtocolID, off = t->RecognizeData[k].nProtocolOffset;
            if (id == NMX_PROTO_IPV4)
                sum += off;
            else if (id == NMX_PROTO_TCP) {
                sum += (uint64_t)off << 8;
                tcp = off + 13u;
            }
        }
        if (tcp && tcp < fr.frame->nBytesAvail)
            sum += (uint64_t)fr.bytes[tcp] << 16;
        else if (fr.frame->nBytesAvail)
            sum += fr.bytes[0];
    }
    return sum;
}

/* ---- (c) one run of walk_expert ----------------------------------------- */

/* Returns 0 and the run's wall time (start to wait) and the loop's own time. */
static int walk(nmx_expert *ex, nmx_capture *cap, uint64_t want_sum, double *wall, double *loop)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = (HCAPTURE)cap;
    nmx_run *run;
    nmx_run_result res;
    double t0 = now();
    DWORD rc = nmx_run_start(ex, &o, &run);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-capture: nmx_run_start: %s\n", nmx_strerror(rc));
        return -1;
    }
    rc = nmx_run_wait(run, UINT32_MAX, &res);
    *wall = now() - t0;
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-capture: nmx_run_wait: %s\n", nmx_strerror(rc));
        return -1;
    }
    size_t nev = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &nev);
    int ok = res.returned && res.run_value && nev == 1 && ev[0]->NumColumns == 4;
    if (ok) {
        const NMCOLUMNINFO *c = ev[0]->Column;
        uint64_t sum = (uint64_t)c[2].VariantData.Value.Uint32Val << 32 |
                       c[1].VariantData.Value.Uint32Val;
        *loop = c[3].VariantData.Value.Float64Val;
        if (c[0].VariantData.Value.Uint32Val != nmx_capture_frames(cap) || sum != want_sum) {
            fprintf(stderr,
                    "nmx-bench-capture: walk_expert saw %u frames, checksum %llu; expected %u, %llu\n",
                    (unsigned)c[0].VariantData.Value.Uint32Val, (unsigned long long)sum,
                    (unsigned)nmx_capture_frames(cap), (unsigned long long)want_sum);
            ok = 0;
        }
    } else {
        fprintf(stderr, "nmx-bench-capture: walk_expert failed (returned %d, value %d, signal %d, %zu events)\n",
                (int)res.returned, (int)res.run_value, res.fault_signal, nev);
    }
    nmx_run_free(run);
    return ok ? 0 : -1;
}

/* ---- (d) the command ------------------------------------------------------ */

/* The experts issue 10 named: (d5) runs these. */
static const char *const five[] = {"topusers", "protdist", "propdist", "tcpretrans", "resptime"};
#define NFIVE (sizeof five / sizeof five[0])

/* Wall time of `nmexpert run [--in-process] [-e NAME ...] FILE` (every
 * bundled expert, or the five), its output thrown away. */
static int command(const char *nmexpert, const char *path, int in_process, int only_five, double *wall)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        const char *argv[6 + 2 * NFIVE];
        int n = 0;
        argv[n++] = nmexpert;
        argv[n++] = "run";
        if (in_process)
            argv[n++] = "--in-process";
        for (size_t k = 0; only_five && k < NFIVE; k++) {
            argv[n++] = "-e";
            argv[n++] = five[k];
        }
        argv[n++] = path;
        argv[n] = NULL;
        execv(nmexpert, (char *const *)argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "nmx-bench-capture: %s run %s failed (status %d)\n", nmexpert, path, st);
        return -1;
    }
    *wall = now() - t0;
    return 0;
}

/* ---- the driver ---------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: nmx-bench-capture [-r ROUNDS] [-e EXPERT.so] [-n NMEXPERT] [FILE]\n"
            "  FILE  a capture; default: a synthetic 1M-frame pcap in %s\n"
            "  -r    rounds, each step once per round, interleaved; medians (default: 5)\n"
            "  -e    the walk expert (default: walk_expert.so beside this program)\n"
            "  -n    the nmexpert command (default: ../../nmexpert from this program)\n",
            SYNTH_PATH);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { A_BARE, B_OPEN_WALK, C_WALK, C_LOOP, D_CMD, D5_CMD, E_CMD_ISO, NSTEPS };
#define MAX_ROUNDS 101

/* One round: every step once. 0 or -1. */
static int round_once(const char *path, nmx_expert *ex, const char *nmexpert, uint64_t *want_sum,
                      double t[NSTEPS])
{
    uint64_t n;
    double t0 = now();
    if (bare_loop(path, &n) != 0)
        return -1;
    t[A_BARE] = now() - t0;

    char err[512];
    nmx_capture *cap;
    t0 = now();
    if (nmx_capture_open(path, &cap, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-capture: %s\n", err);
        return -1;
    }
    double wall, loop;
    if (!*want_sum) /* the first round: untimed, the checksum */
        *want_sum = expected_sum(cap);
    int bad = walk(ex, cap, *want_sum, &wall, &loop) != 0;
    t[B_OPEN_WALK] = now() - t0;
    bad = bad || walk(ex, cap, *want_sum, &t[C_WALK], &t[C_LOOP]) != 0;
    nmx_capture_close(cap);
    bad = bad || command(nmexpert, path, 1, 0, &t[D_CMD]) != 0;
    bad = bad || command(nmexpert, path, 1, 1, &t[D5_CMD]) != 0;
    bad = bad || command(nmexpert, path, 0, 0, &t[E_CMD_ISO]) != 0;
    return bad ? -1 : 0;
}

static void row(const char *what, double t, double f, double ta)
{
    printf("%-62s %10.3f %12.4g %9.3f\n", what, t * 1e3, f / t, ta / t);
}

static const char *beside_exe(const char *rel, char *buf, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    snprintf(buf, len, "%s/%s", dirname(exe), rel);
    return buf;
}

int main(int argc, char **argv)
{
    int rounds = 5, opt;
    const char *expert_path = NULL, *nmexpert = NULL;
    while ((opt = getopt(argc, argv, "r:e:n:h")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'e')
            expert_path = optarg;
        else if (opt == 'n')
            nmexpert = optarg;
        else {
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (argc - optind > 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        usage();
        return 2;
    }
    const char *path = optind < argc ? argv[optind] : SYNTH_PATH;
    if (optind == argc && synth_make(path) != 0)
        return 1;
    char epath[4300], npath[4300];
    if (!expert_path)
        expert_path = beside_exe("walk_expert.so", epath, sizeof epath);
    if (!nmexpert)
        nmexpert = beside_exe("../../nmexpert", npath, sizeof npath);
    char err[512];
    nmx_expert *ex;
    if (!expert_path || !nmexpert || nmx_expert_load(expert_path, &ex, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-capture: %s\n", expert_path ? err : "/proc/self/exe unreadable");
        return 1;
    }
    uint64_t frames = 0; /* untimed: the file into the page cache, and its frame count */
    if (bare_loop(path, &frames) != 0 || frames == 0) {
        fprintf(stderr, "nmx-bench-capture: %s has no frames\n", path);
        return 1;
    }
    static double t[NSTEPS][MAX_ROUNDS];
    uint64_t want_sum = 0;
    for (int r = 0; r < rounds; r++) {
        double one[NSTEPS];
        if (round_once(path, ex, nmexpert, &want_sum, one) != 0)
            return 1;
        for (int k = 0; k < NSTEPS; k++)
            t[k][r] = one[k];
    }
    nmx_expert_unload(ex);
    double m[NSTEPS], f = (double)frames;
    for (int k = 0; k < NSTEPS; k++)
        m[k] = median(t[k], rounds);

    printf("nmx-bench-capture: %s\n", path);
    printf("%llu frames; %s build; medians of %d interleaved rounds\n\n", (unsigned long long)frames,
           NMX_BENCH_BUILD_TYPE, rounds);
    printf("%-62s %10s %12s %9s\n", "step", "ms", "frames/s", "vs (a)");
    row("(a) bare libpcap: pcap_open_offline + pcap_next_ex", m[A_BARE], f, m[A_BARE]);
    row("(b) nmx_capture_open + one walk_expert run, streaming", m[B_OPEN_WALK], f, m[A_BARE]);
    row("(c) walk_expert run over the capture read in (b)", m[C_WALK], f, m[A_BARE]);
    row("    (c)'s loop alone, timed inside Run", m[C_LOOP], f, m[A_BARE]);
    row("(d) nmexpert run --in-process FILE (every bundled expert)", m[D_CMD], f, m[A_BARE]);
    row("(d5) the same, -e for the issue's five experts", m[D5_CMD], f, m[A_BARE]);
    row("(e) nmexpert run FILE (every expert, each in a worker process)", m[E_CMD_ISO], f, m[A_BARE]);
    printf("\n'vs (a)': frames/s of the step / frames/s of (a)\n");
    printf("  (b) open + one pass of a walking expert  %.3f  (target >= 1.0: %s)\n", m[A_BARE] / m[B_OPEN_WALK],
           m[A_BARE] / m[B_OPEN_WALK] >= 1.0 ? "PASS" : "MISS");
    printf("  (d5) the command, the five experts       %.3f  (target >= 0.5: %s)\n", m[A_BARE] / m[D5_CMD],
           m[A_BARE] / m[D5_CMD] >= 0.5 ? "PASS" : "MISS");
    printf("  (d) the command, every bundled expert    %.3f\n", m[A_BARE] / m[D_CMD]);
    printf("  (e) the same, isolated                   %.3f\n", m[A_BARE] / m[E_CMD_ISO]);
    return 0;
}
