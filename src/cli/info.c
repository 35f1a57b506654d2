/* `info`: what capinfos would say about a capture: each input file (format,
 * compression, size, encapsulation, frames), then the capture as a whole. */
#define _DEFAULT_SOURCE /* pcap.h needs the BSD u_int types; gmtime_r */
#include "cli.h"

#include <inttypes.h>
#include <pcap/pcap.h>
#include <string.h>
#include <time.h>

static void fmt_time(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[64];
    strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09" PRId64 " UTC", d, ns % 1000000000);
}

static void print_input(const nmx_capture_input *in, int several)
{
    printf("File:            %s\n", strcmp(in->path, "-") ? in->path : "stdin");
    printf("File type:       %s\n", in->format);
    printf("Compression:     %s\n", in->compression);
    printf("Encapsulation:   %s\n", in->encap);
    if (in->file_bytes)
        printf("File size:       %" PRIu64 " bytes\n", in->file_bytes);
    if (in->snaplen)
        printf("Snapshot length: %" PRIu32 "\n", in->snaplen);
    if (several)
        printf("Frames in file:  %" PRIu32 " (from frame %" PRIu32 ")\n", in->frames, in->first_frame);
}

static void print_summary(const nmx_capture *cap, const nmx_capture_info *in)
{
    int lts[8];
    unsigned nlt = nmx_capture_link_types(cap, lts, 8);
    printf("Frames:          %u\n", nmx_capture_frames(cap));
    printf("Wire bytes:      %" PRIu64 "\n", (uint64_t)in->wire_bytes);
    printf("Captured bytes:  %" PRIu64 "\n", (uint64_t)in->captured_bytes);
    printf("Link types:     ");
    for (unsigned i = 0; i < nlt && i < 8; i++) {
        const char *name = lts[i] >= 0 ? pcap_datalink_val_to_name(lts[i]) : "none";
        printf(" %d (%s)", lts[i], name ? name : "?");
    }
    printf("\n");
    if (nmx_capture_frames(cap)) {
        char a[96], b[96];
        fmt_time(in->earliest_ts, a, sizeof a);
        fmt_time(in->latest_ts, b, sizeof b);
        printf("First time:      %s\nLast time:       %s\n", a, b);
        printf("Duration:        %.6f s\n", (double)(in->latest_ts - in->earliest_ts) / 1e9);
    }
}

int nmx__cli_info(const char *const *paths, size_t n)
{
    nmx_capture *cap;
    int rc = nmx__cli_open_input(paths, n, &cap);
    if (rc)
        return rc;
    nmx_capture_info in;
    nmx_capture_get_info(cap, &in);
    unsigned ni = nmx_capture_inputs(cap);
    for (unsigned i = 0; i < ni; i++) {
        nmx_capture_input f;
        if (nmx_capture_input_info(cap, i, &f) == NMERR_SUCCESS)
            print_input(&f, ni > 1);
    }
    if (ni > 1)
        printf("Files:           %u\n", ni);
    print_summary(cap, &in);
    if (nmx_capture_error(cap))
        printf("Damage:          %s\n", nmx_capture_error(cap));
    nmx_capture_close(cap);
    return 0;
}
