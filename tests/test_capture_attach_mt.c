/* A worker's view of a capture (issue 9 with C7, C8): nmx__capture_attach
 * over the descriptors nmx__capture_export gives sees the host's frames,
 * numbering, link types, tables and figures, without reading the input
 * again, and follows a capture still being read, also from another
 * process. */
#define _GNU_SOURCE
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static uint8_t bytes[3][80];

static void make_frames(tframe *fr)
{
    for (int i = 0; i < 3; i++) {
        size_t n = eth_hdr(bytes[i], 0x0800);
        static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
        n += ipv4_hdr(bytes[i] + n, 17, 0, 8 + 10, 0, a, b);
        n += udp_hdr(bytes[i] + n, (uint16_t)(1000 + i), 53, 10);
        fr[i] = (tframe){bytes[i], (uint32_t)n + 10, (uint32_t)n + 10, (int64_t)(i + 1) * 1000000000, 0};
    }
}

static int same_frame(const nmx_capture *a, const nmx_capture *b, uint32_t i)
{
    nmx_frame x, y;
    if (nmx_capture_frame(a, i, &x) != NMERR_SUCCESS || nmx_capture_frame(b, i, &y) != NMERR_SUCCESS)
        return 0;
    size_t tab = sizeof(RECOGNIZEDATATABLE) + x.recognized->nRecognizeDatas * sizeof(RECOGNIZEDATA);
    return x.bytes != y.bytes && x.cap_len == y.cap_len && x.wire_len == y.wire_len && x.ts_ns == y.ts_ns &&
           memcmp(x.bytes, y.bytes, x.cap_len) == 0 && x.link_type == y.link_type &&
           x.recognized->nRecognizeDatas == y.recognized->nRecognizeDatas &&
           memcmp(x.recognized, y.recognized, tab - sizeof(RECOGNIZEDATA)) == 0;
}

static void test_c7_attach_sees_the_hosts_frames(void)
{
    char dir[] = "/tmp/nmx_attach_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.pcap", dir);
    tframe fr[3];
    make_frames(fr);
    CHECK(write_pcap(path, 1, 0, 1, fr, 3));
    nmx_capture *cap, *view;
    CHECK_EQ(nmx_capture_open(path, &cap, NULL, 0), NMERR_SUCCESS);
    int fds[NMX__EXPORT_FDS + 1]; /* the spools, and the pcap file, mapped */
    CHECK_EQ(nmx__capture_export(cap, fds, NMX__EXPORT_FDS), -1); /* too few slots */
    CHECK_EQ(nmx__capture_export(cap, fds, NMX__EXPORT_FDS + 1), NMX__EXPORT_FDS + 1);
    CHECK_EQ(nmx__capture_attach(fds, NMX__EXPORT_FDS + 1, "view", &view), NMERR_SUCCESS);
    CHECK_EQ(nmx_capture_frames(view), 3);
    for (uint32_t i = 0; i < 3; i++)
        CHECK(same_frame(cap, view, i));
    nmx_capture_info a, b;
    nmx_capture_get_info(cap, &a);
    nmx_capture_get_info(view, &b);
    CHECK_EQ(a.frames, b.frames);
    CHECK_EQ(a.wire_bytes, b.wire_bytes);
    CHECK_EQ(a.latest_ts, b.latest_ts);
    CHECK(strcmp(nmx_capture_path(view), "view") == 0);
    CHECK_EQ(nmx_capture_link_type(view), 1);
    EXPERTFRAMEDESCRIPTOR d;
    CHECK_EQ(nmx__capture_get_frame(view, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, INVALID_FRAME_NUMBER, &d),
             NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 2);
    CHECK_EQ(nmx_capture_close(view), NMERR_SUCCESS);
    CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
    unlink(path);
    rmdir(dir);
}

static void test_attach_refuses_bad_descriptors(void)
{
    int fds[NMX__EXPORT_FDS] = {-1, -1, -1, -1};
    nmx_capture *view = (nmx_capture *)1;
    CHECK_EQ(nmx__capture_attach(fds, NMX__EXPORT_FDS, NULL, &view), NMERR_INVALID_PARAMETER);
    CHECK(view == NULL);
    CHECK_EQ(nmx__capture_attach(fds, NMX__EXPORT_FDS - 1, NULL, &view), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx__capture_attach(NULL, NMX__EXPORT_FDS, NULL, &view), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx__capture_attach(fds, NMX__EXPORT_FDS, NULL, NULL), NMERR_INVALID_PARAMETER);
    int p[2];
    CHECK(pipe(p) == 0);
    int f4[NMX__EXPORT_FDS] = {p[0], p[0], p[0], p[0]}; /* not spools */
    CHECK_EQ(nmx__capture_attach(f4, NMX__EXPORT_FDS, NULL, &view), NMERR_INVALID_PARAMETER);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(nmx__capture_export(NULL, fds, NMX__EXPORT_FDS), -1);
    CHECK_EQ(nmx__capture_export(nmx__capture_empty(), fds, NMX__EXPORT_FDS), -1);
}

static void write_all(int fd, const void *p, size_t n)
{
    if (write(fd, p, n) != (ssize_t)n)
        abort();
}

/* A child process attached to a capture read from a pipe gets a frame the
 * parent's reader publishes after the child started waiting for it. */
static void test_c8_attached_process_follows_the_reading(void)
{
    tframe fr[3];
    make_frames(fr);
    int p[2];
    CHECK(pipe(p) == 0 && dup2(p[0], 0) >= 0);
    close(p[0]);
    uint32_t hdr[6] = {0xa1b2c3d4u, 2u | 4u << 16, 0, 0, 262144, 1};
    write_all(p[1], hdr, sizeof hdr);
    uint32_t rec[4] = {1, 0, fr[0].caplen, fr[0].len};
    write_all(p[1], rec, sizeof rec);
    write_all(p[1], fr[0].b, fr[0].caplen);
    const char *dash = "-";
    nmx_capture *cap;
    CHECK_EQ(nmx_capture_open_inputs(&dash, 1, &cap, NULL, 0), NMERR_SUCCESS);
    int fds[NMX__EXPORT_FDS];
    CHECK_EQ(nmx__capture_export(cap, fds, NMX__EXPORT_FDS), NMX__EXPORT_FDS);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        close(p[1]); /* else the pipe never ends */
        nmx_capture *view;
        if (nmx__capture_attach(fds, NMX__EXPORT_FDS, NULL, &view) != NMERR_SUCCESS)
            _exit(10);
        EXPERTFRAMEDESCRIPTOR d;
        if (nmx__capture_get_frame(view, NULL, NULL, GET_SPECIFIED_FRAME, 0, 1, &d) != NMERR_SUCCESS)
            _exit(11);
        if (d.pFrame->TimeStamp != 2000000000 || d.pFrame->nBytesAvail != fr[1].caplen)
            _exit(12);
        if (nmx__capture_get_frame(view, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, 1, &d) != NMERR_NO_MORE_FRAMES)
            _exit(13);
        _exit(nmx_capture_frames(view) == 2 ? 0 : 14);
    }
    CHECK(pid > 0);
    usleep(200 * 1000); /* the child waits for frame 1 by now */
    rec[0] = 2;
    rec[2] = fr[1].caplen;
    rec[3] = fr[1].len;
    write_all(p[1], rec, sizeof rec);
    write_all(p[1], fr[1].b, fr[1].caplen);
    usleep(100 * 1000);
    close(p[1]);
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    if (WIFSIGNALED(st))
        printf("child signal %d\n", WTERMSIG(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    CHECK_EQ(nmx_capture_frames(cap), 2);
    nmx_capture_close(cap);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    alarm(60);
    RUN(test_c7_attach_sees_the_hosts_frames);
    RUN(test_attach_refuses_bad_descriptors);
    RUN(test_c8_attached_process_follows_the_reading);
    return CHECK_DONE();
}
