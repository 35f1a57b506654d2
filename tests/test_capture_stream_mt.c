#define _GNU_SOURCE
/* Streaming (SPEC C8 with C5 as amended, H4): a capture read from a pipe
 * hands out its first frames while the rest is still to come, a run waiting
 * for a frame not yet read is woken by a terminate, and the end of the
 * input ends the waits with NO_MORE_FRAMES. */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static uint8_t frame_bytes[64];

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            abort();
        b += w;
        n -= (size_t)w;
    }
}

static void pcap_header(int fd)
{
    uint32_t h[6] = {0xa1b2c3d4u, 2u | 4u << 16, 0, 0, 262144, 1};
    write_all(fd, h, sizeof h);
}

static void pcap_frame(int fd, uint32_t sec)
{
    uint32_t h[4] = {sec, 0, sizeof frame_bytes, sizeof frame_bytes};
    write_all(fd, h, sizeof h);
    write_all(fd, frame_bytes, sizeof frame_bytes);
}

/* stdin becomes the read end of a pipe; returns the write end. */
static int stdin_pipe(void)
{
    int p[2];
    if (pipe(p) != 0 || dup2(p[0], 0) < 0)
        abort();
    close(p[0]);
    return p[1];
}

typedef struct waiter {
    const nmx_capture *cap;
    DWORD from;
    _Atomic int stop;
    DWORD rc;
    EXPERTFRAMEDESCRIPTOR d;
} waiter;

static int stop_asked(void *arg) { return atomic_load(&((waiter *)arg)->stop); }

static void *wait_next(void *arg)
{
    waiter *w = arg;
    w->rc = nmx__capture_get_frame_wait(w->cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, w->from, stop_asked, w,
                                        &w->d);
    return NULL;
}

static void test_c8_frames_come_before_the_input_ends_and_terminate_interrupts_a_wait(void)
{
    size_t n = eth_hdr(frame_bytes, 0x0800);
    (void)n;
    int wr = stdin_pipe();
    pcap_header(wr);
    for (uint32_t i = 0; i < 3; i++)
        pcap_frame(wr, 1000 + i);
    const char *dash = "-";
    nmx_capture *cap;
    char err[256];
    CHECK_EQ(nmx_capture_open_inputs(&dash, 1, &cap, err, sizeof err), NMERR_SUCCESS);
    if (!cap)
        return;
    /* The writer still holds the pipe open: these come from a capture whose
     * reading has not ended. */
    EXPERTFRAMEDESCRIPTOR d;
    DWORD at = INVALID_FRAME_NUMBER;
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, at, &d), NMERR_SUCCESS);
        CHECK_EQ(d.FrameNumber, i);
        CHECK_EQ(d.pFrame->TimeStamp, (int64_t)(1000 + i) * 1000000000);
        at = d.FrameNumber;
    }
    CHECK(!atomic_load(&cap->sh->done));

    /* A run waiting for frame 3 is woken by its terminate (H4). */
    waiter w = {.cap = cap, .from = 2};
    pthread_t t;
    pthread_create(&t, NULL, wait_next, &w);
    usleep(100 * 1000);
    atomic_store(&w.stop, 1);
    nmx__capture_wake(cap);
    pthread_join(t, NULL);
    CHECK_EQ(w.rc, NMERR_EXPERT_TERMINATE);

    /* Another waits, and gets frame 3 when it is written; then the end. */
    waiter w2 = {.cap = cap, .from = 2};
    pthread_create(&t, NULL, wait_next, &w2);
    usleep(50 * 1000);
    pcap_frame(wr, 1003);
    pthread_join(t, NULL);
    CHECK_EQ(w2.rc, NMERR_SUCCESS);
    CHECK_EQ(w2.d.FrameNumber, 3);
    waiter w3 = {.cap = cap, .from = 3};
    pthread_create(&t, NULL, wait_next, &w3);
    usleep(50 * 1000);
    close(wr);
    pthread_join(t, NULL);
    CHECK_EQ(w3.rc, NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx_capture_frames(cap), 4);
    /* Backward and specified access work on what was read from the pipe. */
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, INVALID_FRAME_NUMBER, &d),
             NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 3);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 1, &d), NMERR_SUCCESS);
    CHECK_EQ(d.pFrame->TimeStamp, (int64_t)1001 * 1000000000);
    nmx_capture_close(cap);
}

/* Closing a capture whose input has not ended stops its reader. */
static void test_c8_close_while_reading(void)
{
    int wr = stdin_pipe();
    pcap_header(wr);
    pcap_frame(wr, 1);
    const char *dash = "-";
    nmx_capture *cap;
    CHECK_EQ(nmx_capture_open_inputs(&dash, 1, &cap, NULL, 0), NMERR_SUCCESS);
    EXPERTFRAMEDESCRIPTOR d;
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 0, &d), NMERR_SUCCESS);
    close(wr); /* the reader, blocked in read, sees the end */
    CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    alarm(60); /* a lost wake would hang: fail instead */
    RUN(test_c8_frames_come_before_the_input_ends_and_terminate_interrupts_a_wait);
    RUN(test_c8_close_while_reading);
    return CHECK_DONE();
}
