/* The capture of an isolated run (SPEC H11, C7; issues 9 and 10): the worker
 * attaches to the host's capture from the descriptors handed over with the
 * request, never opens the file, follows a capture still being read, and
 * gets it read-only.
 */
#define _GNU_SOURCE
#include "isolation_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NMX_SAMPLE_CAPTURE
#error "NMX_SAMPLE_CAPTURE must name samples/loopback-http.pcapng"
#endif

static char g_dir[64];

static void bundled_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.so", NMX_BUNDLED_EXPERTS_DIR, name);
}

/* Runs the bundled expert `name` over cap in a worker and in process, and
 * checks they agree. */
static void check_bundled_same(const char *name, nmx_capture *cap)
{
    char path[4096];
    bundled_path(path, sizeof path, name);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    iu_run r;
    CHECK_EQ(iu_start_path(&r, path, &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_DONE);
    CHECK(r.nev > 0);
    iu_check_same_as_in_process(&o, &r);
    iu_release(&r);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char buf[65536];
    ssize_t n;
    int ok = in >= 0 && out >= 0;
    while (ok && (n = read(in, buf, sizeof buf)) > 0)
        ok = write(out, buf, (size_t)n) == n;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ok ? 0 : -1;
}

/* H11, C7: the worker reads the host's capture, not the file: a capture
 * whose file is gone once opened gives the in-process results. */
TEST(test_h11_c7_worker_uses_the_host_capture_not_its_file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gone.pcapng", g_dir);
    CHECK_EQ(copy_file(NMX_SAMPLE_CAPTURE, path), 0);
    nmx_capture *cap = NULL;
    char err[1024];
    CHECK_EQ(nmx_capture_open(path, &cap, err, sizeof err), NMERR_SUCCESS);
    unlink(path);
    if (!cap)
        return;
    CHECK(nmx_capture_frames(cap) > 0);
    check_bundled_same("protdist", cap);
    check_bundled_same("topusers", cap);
    nmx_capture_close(cap);
}

typedef struct feeder {
    int fd;            /* the pipe's write end, closed at the end */
    unsigned pause_ms; /* after the first half */
} feeder;

/* Writes the sample into the pipe in two halves, pausing between them. */
static void *feed(void *arg)
{
    const feeder *f = arg;
    int in = open(NMX_SAMPLE_CAPTURE, O_RDONLY);
    struct stat st;
    char *buf = NULL;
    if (in >= 0 && fstat(in, &st) == 0 && (buf = malloc((size_t)st.st_size)) &&
        read(in, buf, (size_t)st.st_size) == st.st_size) {
        size_t half = (size_t)st.st_size / 2;
        if (write(f->fd, buf, half) == (ssize_t)half) {
            usleep(f->pause_ms * 1000u);
            (void)!write(f->fd, buf + half, (size_t)st.st_size - half);
        }
    }
    free(buf);
    if (in >= 0)
        close(in);
    close(f->fd);
    return NULL;
}

/* H11, C1, C7: a run in a worker over a capture still being read from
 * standard input (a pipe, which the worker could not open again: what
 * `cat x.pcap | nmexpert run -` does) waits for the frames the host has not
 * read yet and sees them all, as the same expert in process. */
TEST(test_h11_c1_worker_follows_a_capture_still_being_read_from_stdin)
{
    int p[2], saved = dup(0);
    CHECK_EQ(pipe(p), 0);
    CHECK(dup2(p[0], 0) == 0);
    close(p[0]);
    feeder f = {p[1], 300};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, feed, &f), 0);
    nmx_capture *cap = NULL;
    char err[1024];
    CHECK_EQ(nmx_capture_open("-", &cap, err, sizeof err), NMERR_SUCCESS);
    if (!cap)
        fprintf(stderr, "  %s\n", err);
    if (cap) {
        char path[4096];
        bundled_path(path, sizeof path, "protdist");
        nmx_run_options o;
        memset(&o, 0, sizeof o);
        o.capture = cap;
        iu_run r;
        CHECK_EQ(iu_start_path(&r, path, &o), NMERR_SUCCESS); /* before the second half */
        iu_finish(&r);
        CHECK_EQ(r.res.status.Status, EXPERTSTATUS_DONE);
        iu_check_same_as_in_process(&o, &r);
        iu_release(&r);
        CHECK(nmx_capture_frames(cap) > 0);
    }
    pthread_join(t, NULL);
    if (cap)
        nmx_capture_close(cap);
    dup2(saved, 0);
    close(saved);
}

/* H11: the capture is shared read-only: in a worker no mapping of it can be
 * made writable, and the only spool descriptor open for writing is the wait
 * page's. (In process the same expert would find the host's own spools
 * writable: they are the host's.) */
TEST(test_h11_the_capture_is_read_only_in_a_worker)
{
    nmx_capture *cap = NULL;
    char err[1024];
    CHECK_EQ(nmx_capture_open(NMX_SAMPLE_CAPTURE, &cap, err, sizeof err), NMERR_SUCCESS);
    CHECK(nmx_capture_frames(cap) > 0);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    iu_run r;
    CHECK_EQ(iu_start(&r, "capture_tamper", &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK_EQ(r.nev, 1);
    if (r.nev == 1) {
        CHECK_EQ(r.ev[0]->Column[0].VariantData.Value.Uint32Val, 0);
        CHECK_EQ(r.ev[0]->Column[1].VariantData.Value.Uint32Val, 1);
        CHECK(r.ev[0]->Column[2].VariantData.Value.Uint32Val >= 3); /* index, tables, data or input */
    }
    iu_release(&r);
    nmx_capture_close(cap);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a feeder whose reader went away gets EPIPE */
    snprintf(g_dir, sizeof g_dir, "/tmp/nmx-isocap-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_h11_c7_worker_uses_the_host_capture_not_its_file);
    RUN(test_h11_c1_worker_follows_a_capture_still_being_read_from_stdin);
    RUN(test_h11_the_capture_is_read_only_in_a_worker);
    rmdir(g_dir);
    return CHECK_DONE();
}
