/* A mapped input cut short while the capture is open (SPEC C6; inmap_guard.c):
 * another program truncates the file, and whatever thread then touches its
 * lost pages (the library user's, a run's in process, a worker's) reads
 * zeros instead of dying of SIGBUS; the frames past the cut are an error
 * (NMERR_MEMORY_MAPPED_FILE_ERROR), the capture's damage names the file, and
 * the frames before the cut stay intact.
 */
#define _GNU_SOURCE
#include "isolation_util.h"
#include "test_capture_util.h"

#include <unistd.h>

#define NFRAMES 3000u
#define CAPLEN 100u
#define REC (16u + CAPLEN)      /* a pcap record: header and bytes */
#define FRAME_END(n) (24u + ((n) + 1u) * REC) /* where frame n's bytes end */
#define PAGE 4096u
#define MID_CUT (2u * PAGE + 100u) /* inside a page */
#define PAGE_CUT (3u * PAGE)

static char g_dir[64];
static uint8_t g_bytes[NFRAMES][CAPLEN];

/* Frames whose bytes lie wholly before `cut`. */
static uint32_t intact_before(uint32_t cut)
{
    uint32_t n = 0;
    while (n < NFRAMES && FRAME_END(n) <= cut)
        n++;
    return n;
}

/* NFRAMES frames, byte j of frame n being (7n + j) mod 256 (tests/experts/walker.c). */
static const char *write_capture(const char *name)
{
    static char path[8][128];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", g_dir, name);
    static tframe fr[NFRAMES];
    for (uint32_t n = 0; n < NFRAMES; n++) {
        for (uint32_t j = 0; j < CAPLEN; j++)
            g_bytes[n][j] = (uint8_t)(7u * n + j);
        fr[n] = (tframe){g_bytes[n], CAPLEN, CAPLEN, 1700000000000000000LL + (int64_t)n * 1000, 0};
    }
    CHECK(write_pcap(p, 1, 0, 1, fr, NFRAMES));
    return p;
}

static nmx_capture *open_read(const char *path)
{
    nmx_capture *cap = NULL;
    char err[512];
    CHECK_EQ(nmx_capture_open(path, &cap, err, sizeof err), NMERR_SUCCESS);
    if (cap)
        CHECK_EQ(nmx_capture_frames(cap), NFRAMES); /* read to the end: every frame indexed */
    return cap;
}

static int frame_ok(const nmx_capture *cap, uint32_t n)
{
    nmx_frame f;
    return nmx_capture_frame(cap, n, &f) == NMERR_SUCCESS && f.cap_len == CAPLEN &&
           memcmp(f.bytes, g_bytes[n], CAPLEN) == 0 &&
           memcmp(f.frame->MacFrame, g_bytes[n], CAPLEN) == 0;
}

static void check_damage_names(const nmx_capture *cap, const char *path)
{
    const char *e = nmx_capture_error(cap);
    CHECK(e && strstr(e, path) && strstr(e, "truncated"));
    if (e)
        printf("     damage: %s\n", e);
}

typedef struct walk {
    nmx_run_result res;
    DWORD frames, bad, err;
} walk;

/* tests/experts/walker over cap, in this process or in a worker. */
static void run_walker(nmx_capture *cap, nmx_isolation iso, walk *w)
{
    memset(w, 0, sizeof *w);
    w->err = (DWORD)-1;
    iu_run r;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    if (iso == NMX_ISOLATION_PROCESS) {
        CHECK_EQ(iu_start(&r, "walker", &o), NMERR_SUCCESS);
    } else {
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        r.ex = iu_load("walker");
        CHECK(r.ex != NULL);
        CHECK_EQ(r.ex ? nmx_run_start(r.ex, &o, &r.run) : NMERR_LOAD_EXPERT_FAILED, NMERR_SUCCESS);
    }
    iu_finish(&r);
    w->res = r.res;
    if (r.nev == 1 && r.ev[0]->NumColumns == 3) {
        w->frames = r.ev[0]->Column[0].VariantData.Value.Uint32Val;
        w->bad = r.ev[0]->Column[1].VariantData.Value.Uint32Val;
        w->err = r.ev[0]->Column[2].VariantData.Value.Uint32Val;
    }
    CHECK(w->res.returned && w->res.run_value && w->res.fault_signal == 0);
    printf("     walker: %u frames, %u bad, error %u\n", (unsigned)w->frames, (unsigned)w->bad,
           (unsigned)w->err);
    iu_release(&r);
}

/* The library user's own thread meets the cut (no run has installed
 * anything yet); then a run in process walks the capture. */
TEST(test_c6_a_file_cut_short_under_the_library_user_is_an_error_not_a_crash)
{
    const char *path = write_capture("user.pcap");
    nmx_capture *cap = open_read(path);
    if (!cap)
        return;
    int ok = 1;
    for (uint32_t n = 0; n < 1000; n++)
        ok &= frame_ok(cap, n);
    CHECK(ok);
    CHECK_EQ(truncate(path, MID_CUT), 0);
    unsigned lost = 0;
    for (uint32_t n = 1000; n < NFRAMES; n++) {
        nmx_frame f;
        lost += nmx_capture_frame(cap, n, &f) == NMERR_MEMORY_MAPPED_FILE_ERROR;
    }
    CHECK_EQ(lost, NFRAMES - 1000);
    uint32_t intact = intact_before(MID_CUT);
    ok = 1;
    for (uint32_t n = 0; n < intact; n++)
        ok &= frame_ok(cap, n);
    CHECK(ok);
    nmx_frame f;
    CHECK_EQ(nmx_capture_frame(cap, intact, &f), NMERR_MEMORY_MAPPED_FILE_ERROR);
    check_damage_names(cap, path);
    walk w;
    run_walker(cap, NMX_ISOLATION_THREAD, &w);
    CHECK_EQ(w.frames, intact);
    CHECK_EQ(w.bad, 0u);
    CHECK_EQ(w.err, NMERR_MEMORY_MAPPED_FILE_ERROR);
    nmx_capture_close(cap);
}

/* A run's thread meets the cut first, inside the fault trap: the run is not
 * ended as a fault, ExpertGetFrame gives the error. */
TEST(test_c6_a_run_that_meets_the_cut_first_gets_an_error_not_a_fault)
{
    const char *path = write_capture("run.pcap");
    nmx_capture *cap = open_read(path);
    if (!cap)
        return;
    CHECK_EQ(truncate(path, PAGE_CUT), 0);
    walk w;
    run_walker(cap, NMX_ISOLATION_THREAD, &w);
    CHECK_EQ(w.frames, intact_before(PAGE_CUT));
    CHECK_EQ(w.bad, 0u);
    CHECK_EQ(w.err, NMERR_MEMORY_MAPPED_FILE_ERROR);
    check_damage_names(cap, path);
    nmx_capture_close(cap);
}

/* A worker maps the file too, when its run starts: here the file is already
 * cut, so it maps less than the host's frames need, and those frames are an
 * error in the worker (never bytes from beyond its mapping). The host never
 * touched the lost pages and still reports the change. */
TEST(test_c6_h11_a_worker_over_a_file_cut_short_gets_an_error_not_a_fault)
{
    const char *path = write_capture("worker.pcap");
    nmx_capture *cap = open_read(path);
    if (!cap)
        return;
    CHECK_EQ(truncate(path, MID_CUT), 0);
    walk w;
    run_walker(cap, NMX_ISOLATION_PROCESS, &w);
    CHECK_EQ(w.frames, intact_before(MID_CUT));
    CHECK_EQ(w.bad, 0u);
    CHECK_EQ(w.err, NMERR_MEMORY_MAPPED_FILE_ERROR);
    check_damage_names(cap, path);
    nmx_capture_close(cap);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    snprintf(g_dir, sizeof g_dir, "/tmp/nmx-trunc-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_c6_a_file_cut_short_under_the_library_user_is_an_error_not_a_crash);
    RUN(test_c6_a_run_that_meets_the_cut_first_gets_an_error_not_a_fault);
    RUN(test_c6_h11_a_worker_over_a_file_cut_short_gets_an_error_not_a_fault);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return CHECK_DONE();
}
