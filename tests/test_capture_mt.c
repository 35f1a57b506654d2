/* C7: one capture, read once, shared read-only by runs on several threads,
 * with a filter shared between them, while other captures open and close. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NFRAMES 3000
#define NTHREADS 4

static char tmpdir[256];
static char path[512];
static nmx_capture *cap;
static nmx_filter *shared_filter;

typedef struct result {
    DWORD forward, backward, filtered;
    uint64_t bytes;
    int bad;
} result;

static void *run(void *arg) {
    result *r = arg;
    EXPERTFRAMEDESCRIPTOR d;
    DWORD n = INVALID_FRAME_NUMBER;
    while (nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, n, &d) == NMERR_SUCCESS) {
        n = d.FrameNumber;
        r->forward++;
        r->bytes += GetFrameStoredLength(d.hFrame);
        if (GetFrameCaptureHandle(d.hFrame) != cap || GetFrameNumber(d.hFrame) != n ||
            GetFrameFromFrameHandle(d.hFrame) != d.pFrame)
            r->bad++;
    }
    n = INVALID_FRAME_NUMBER;
    while (nmx__capture_get_frame(cap, NULL, shared_filter, GET_FRAME_NEXT_BACKWARD, 0, n, &d) == NMERR_SUCCESS) {
        n = d.FrameNumber;
        r->filtered++;
    }
    n = INVALID_FRAME_NUMBER;
    while (nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, n, &d) == NMERR_SUCCESS) {
        n = d.FrameNumber;
        r->backward++;
    }
    return NULL;
}

static void *churn(void *arg) {
    (void)arg;
    for (int i = 0; i < 50; i++) {
        nmx_capture *c = NULL;
        if (nmx_capture_open(path, &c, NULL, 0) == NMERR_SUCCESS) {
            nmx_filter *f = NULL;
            nmx_filter_create(c, "udp", &f, NULL, 0);
            nmx_filter_destroy(f);
            nmx_capture_close(c);
        }
    }
    return NULL;
}

/* C7 */
TEST(test_c7_threads_share_one_capture_and_one_filter) {
    static uint8_t bytes[NFRAMES][80];
    static tframe fr[NFRAMES];
    static const uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    for (int i = 0; i < NFRAMES; i++) {
        size_t o = eth_hdr(bytes[i], 0x0800);
        o += ipv4_hdr(bytes[i] + o, i % 3 ? 6 : 17, 0, 28, 0, a, b);
        o += i % 3 ? tcp_hdr(bytes[i] + o, 1, (uint16_t)i, 0, 0x10, 0) : udp_hdr(bytes[i] + o, 1, 2, 0);
        fr[i] = (tframe){bytes[i], (uint32_t)o, (uint32_t)o, (int64_t)i * 1000, 0};
    }
    snprintf(path, sizeof path, "%s/mt.pcap", tmpdir);
    CHECK(write_pcap(path, 1, 0, 1, fr, NFRAMES));
    CHECK_EQ(nmx_capture_open(path, &cap, NULL, 0), NMERR_SUCCESS);
    CHECK_EQ(nmx_filter_create(cap, "tcp", &shared_filter, NULL, 0), NMERR_SUCCESS);
    pthread_t t[NTHREADS], c;
    result r[NTHREADS];
    memset(r, 0, sizeof r);
    pthread_create(&c, NULL, churn, NULL);
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, run, &r[i]);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_join(c, NULL);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_EQ(r[i].forward, NFRAMES);
        CHECK_EQ(r[i].backward, NFRAMES);
        CHECK_EQ(r[i].filtered, NFRAMES - (NFRAMES + 2) / 3);
        CHECK_EQ(r[i].bytes, r[0].bytes);
        CHECK_EQ(r[i].bad, 0);
    }
    nmx_filter_destroy(shared_filter);
    nmx_capture_close(cap);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_capture_mt_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(test_c7_threads_share_one_capture_and_one_filter);
    remove(path);
    rmdir(tmpdir);
    return CHECK_DONE();
}
