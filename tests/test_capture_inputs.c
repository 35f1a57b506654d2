/* Inputs of a capture (SPEC C1, C6): several files, a folder and standard
 * input make one capture whose frames are those of the files one after the
 * other (what `mergecap -a` of them holds); damage in any file keeps every
 * frame before it; the frame source's file offsets point at the bytes.
 * Files are written byte by byte here: no tool is needed.
 */
#define _GNU_SOURCE /* mkdtemp, pipe2 */
#include "capture/capture_internal.h"
#include "capture/source.h"
#include "check.h"
#include "test_capture_util.h"

#include <nmexpert/capture.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LT_ETH 1

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* 12 frames: file i of 3 gets frames 4i..4i+3 */
static uint8_t bytes[12][80];
static tframe fr[12];

static void make_frames(void) {
    for (int i = 0; i < 12; i++) {
        size_t n = eth_hdr(bytes[i], 0x0800);
        memset(bytes[i] + n, i + 1, sizeof bytes[i] - n);
        fr[i] = (tframe){bytes[i], (uint32_t)(40 + i), (uint32_t)(60 + i), 1700000000123456789LL + i * 1000000LL, 0};
    }
}

/* The capture holds exactly frames fr[first .. first+n-1], in order. */
static void check_frames(nmx_capture *cap, int first, int n) {
    CHECK_EQ(nmx_capture_frames(cap), (uint32_t)n);
    for (int i = 0; i < n && i < (int)nmx_capture_frames(cap); i++) {
        nmx_frame f;
        CHECK_EQ(nmx_capture_frame(cap, (DWORD)i, &f), NMERR_SUCCESS);
        const tframe *t = &fr[first + i];
        CHECK(f.cap_len == t->caplen && f.wire_len == t->len && memcmp(f.bytes, t->b, t->caplen) == 0);
        CHECK_EQ(f.ts_ns, t->ts_ns);
        CHECK_EQ(f.link_type, LT_ETH);
    }
}

static nmx_capture *open_all(const char *const *paths, size_t n) {
    nmx_capture *cap = NULL;
    char err[1024];
    DWORD rc = nmx_capture_open_inputs(paths, n, &cap, err, sizeof err);
    CHECK_EQ(rc, NMERR_SUCCESS);
    if (rc)
        printf("     (%s)\n", err);
    return cap;
}

/* a.pcap (pcap, nanoseconds), b.pcapng, c.pcap (big-endian, micro): 4 frames each */
static void write_three(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/a.pcap", dir);
    CHECK(write_pcap(p, LT_ETH, 0, 1, fr, 4));
    snprintf(p, sizeof p, "%s/b.pcapng", dir);
    uint32_t lt = LT_ETH;
    CHECK(write_pcapng(p, &lt, 1, fr + 4, 4));
    snprintf(p, sizeof p, "%s/c.pcap", dir);
    CHECK(write_pcap(p, LT_ETH, 1, 1, fr + 8, 4));
}

/* C1 */
TEST(test_c1_several_files_are_one_capture_numbered_in_order) {
    const char *paths[] = {tmp("a.pcap"), tmp("b.pcapng"), tmp("c.pcap")};
    nmx_capture *cap = open_all(paths, 3);
    if (!cap)
        return;
    check_frames(cap, 0, 12);
    CHECK_EQ(nmx_capture_inputs(cap), 3);
    nmx_capture_input in;
    CHECK_EQ(nmx_capture_input_info(cap, 1, &in), NMERR_SUCCESS);
    CHECK(strcmp(in.path, paths[1]) == 0 && strcmp(in.format_name, "pcapng") == 0);
    CHECK(strcmp(in.compression, "none") == 0 && in.first_frame == 4 && in.frames == 4);
    CHECK_EQ(nmx_capture_input_info(cap, 3, &in), NMERR_FILE_NOT_FOUND);
    nmx_capture_info info;
    nmx_capture_get_info(cap, &info);
    CHECK(info.inputs == 3 && info.format == NMX_FORMAT_PCAP && strstr(info.file_type, "pcap"));
    nmx_capture_close(cap);

    /* the order given is the order read */
    const char *rev[] = {paths[2], paths[0]};
    cap = open_all(rev, 2);
    if (cap) {
        nmx_frame f;
        CHECK(nmx_capture_frame(cap, 0, &f) == NMERR_SUCCESS && f.ts_ns == fr[8].ts_ns);
        CHECK(nmx_capture_frame(cap, 4, &f) == NMERR_SUCCESS && f.ts_ns == fr[0].ts_ns);
        nmx_capture_close(cap);
    }
}

/* C1 */
TEST(test_c1_a_folder_is_its_captures_by_name) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ring", tmpdir);
    CHECK(mkdir(dir, 0700) == 0);
    write_three(dir); /* a, b, c: written in that order, read by name */
    char p[600];
    snprintf(p, sizeof p, "%s/README.txt", dir);
    FILE *f = fopen(p, "w");
    fputs("not a capture: skipped\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/.hidden.pcap", dir);
    CHECK(write_pcap(p, LT_ETH, 0, 0, fr, 1));
    const char *paths[] = {dir};
    nmx_capture *cap = open_all(paths, 1);
    if (!cap)
        return;
    check_frames(cap, 0, 12);
    CHECK_EQ(nmx_capture_inputs(cap), 3);
    nmx_capture_input in;
    nmx_capture_input_info(cap, 2, &in);
    CHECK(strstr(in.path, "/ring/c.pcap") != NULL);
    nmx_capture_close(cap);

    /* a trailing slash, and a folder among files */
    snprintf(p, sizeof p, "%s/", dir);
    const char *mix[] = {tmp("c.pcap"), p};
    cap = open_all(mix, 2);
    if (cap) {
        CHECK_EQ(nmx_capture_frames(cap), 16);
        nmx_capture_close(cap);
    }
}

typedef struct feeder {
    int fd;
    const char *path;
} feeder;

static void *feed(void *arg) {
    feeder *fd = arg;
    FILE *f = fopen(fd->path, "rb");
    char buf[97]; /* small writes: the reader must cope with a pipe filling slowly */
    size_t n, want = 3; /* a magic number cut in two, 50 ms apart, first */
    while (f && (n = fread(buf, 1, want, f)) > 0) {
        if (write(fd->fd, buf, n) != (ssize_t)n)
            break;
        if (want == 3)
            usleep(50000);
        want = sizeof buf;
    }
    if (f)
        fclose(f);
    close(fd->fd);
    return NULL;
}

/* Open `paths` with standard input fed from `file` through a pipe. */
static DWORD open_with_stdin(const char *file, const char *const *paths, size_t n, nmx_capture **cap,
                             char *err, size_t errlen) {
    int p[2];
    if (pipe(p) != 0)
        return NMERR_FILE_READ_ERROR;
    int saved = dup(0);
    dup2(p[0], 0);
    close(p[0]);
    feeder fd = {p[1], file};
    pthread_t t;
    pthread_create(&t, NULL, feed, &fd);
    DWORD rc = nmx_capture_open_inputs(paths, n, cap, err, errlen);
    dup2(saved, 0); /* the reader is done with the pipe: the feeder sees EOF or EPIPE */
    close(saved);
    pthread_join(t, NULL);
    return rc;
}

/* C1 */
TEST(test_c1_stdin_pipe_streams_and_mixes_with_files) {
    signal(SIGPIPE, SIG_IGN);
    const char *paths[] = {tmp("a.pcap"), "-", tmp("c.pcap")};
    nmx_capture *cap = NULL;
    char err[1024] = "";
    CHECK_EQ(open_with_stdin(tmp("b.pcapng"), paths, 3, &cap, err, sizeof err), NMERR_SUCCESS);
    if (!cap) {
        printf("     (%s)\n", err);
        return;
    }
    check_frames(cap, 0, 12);
    nmx_capture_input in;
    nmx_capture_input_info(cap, 1, &in);
    CHECK(strcmp(in.path, "-") == 0 && in.file_bytes == 0 && in.frames == 4);
    nmx_capture_close(cap);

    /* a pcap alone on the pipe */
    const char *one[] = {"-"};
    CHECK_EQ(open_with_stdin(tmp("a.pcap"), one, 1, &cap, err, sizeof err), NMERR_SUCCESS);
    if (cap) {
        check_frames(cap, 0, 4);
        nmx_capture_close(cap);
    }
}

/* C1: what is not a capture on a pipe is copied to a temporary file and
 * refused from there, with the reason */
TEST(test_c1_stdin_not_a_capture_is_refused_with_reason) {
    signal(SIGPIPE, SIG_IGN);
    const char *p = tmp("text.txt");
    FILE *f = fopen(p, "w");
    fputs("hello, this is not a capture at all, but long enough to be looked at\n", f);
    fclose(f);
    const char *one[] = {"-"};
    nmx_capture *cap = (nmx_capture *)1;
    char err[1024] = "";
    CHECK_EQ(open_with_stdin(p, one, 1, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    CHECK(cap == NULL && strncmp(err, "stdin: ", 7) == 0);
    printf("     (%s)\n", err);
    /* nothing at all, and 3 bytes of a pcap magic number */
    const char *empty = tmp("empty.bin"), *three = tmp("three.bin");
    fclose(fopen(empty, "w"));
    f = fopen(three, "wb");
    fwrite("\xd4\xc3\xb2", 1, 3, f);
    fclose(f);
    CHECK_EQ(open_with_stdin(empty, one, 1, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_EQ(open_with_stdin(three, one, 1, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    printf("     (%s)\n", err);
}

/* C6 */
TEST(test_c6_damage_in_a_later_file_keeps_every_frame_before_it) {
    const char *cut = tmp("cut.pcap");
    CHECK(write_pcap(cut, LT_ETH, 0, 1, fr + 4, 4));
    struct stat st;
    CHECK(stat(cut, &st) == 0 && truncate(cut, st.st_size - 10) == 0); /* inside its 4th frame */
    const char *paths[] = {tmp("a.pcap"), cut, tmp("c.pcap")};
    nmx_capture *cap = open_all(paths, 3);
    if (!cap)
        return;
    check_frames(cap, 0, 7); /* a's 4, cut's first 3; c is not read */
    const char *e = nmx_capture_error(cap);
    CHECK(e && strncmp(e, cut, strlen(cut)) == 0 && strstr(e, "frame 3") && strstr(e, "truncated"));
    printf("     (%s)\n", e ? e : "no error");
    nmx_capture_close(cap);
}

/* C6 */
TEST(test_c6_bad_input_lists_are_refused_clearly) {
    nmx_capture *cap = (nmx_capture *)1;
    char err[512];
    const char *twice[] = {"-", "-"};
    CHECK_EQ(nmx_capture_open_inputs(twice, 2, &cap, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK(cap == NULL && strstr(err, "once"));
    const char *withnull[] = {tmp("a.pcap"), NULL};
    CHECK_EQ(nmx_capture_open_inputs(withnull, 2, &cap, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_open_inputs(withnull, 0, &cap, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_open_inputs(NULL, 1, &cap, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_open_inputs(withnull, 1, NULL, err, sizeof err), NMERR_INVALID_PARAMETER);
    /* a missing second file fails the open, naming it */
    const char *missing[] = {tmp("a.pcap"), tmp("nope.pcap")};
    CHECK_EQ(nmx_capture_open_inputs(missing, 2, &cap, err, sizeof err), NMERR_FILE_NOT_FOUND);
    CHECK(strstr(err, "nope.pcap") != NULL);
    /* a folder without captures */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK_EQ(nmx_capture_open(dir, &cap, err, sizeof err), NMERR_FILE_NOT_FOUND);
    CHECK(strstr(err, "no capture") != NULL);
    /* an empty file is no capture (libwiretap would call it ERF) */
    const char *zero = tmp("zero.cap");
    fclose(fopen(zero, "w"));
    CHECK_EQ(nmx_capture_open(zero, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    /* a file cut inside the pcap magic is pcap's problem, not MP4's */
    const char *two = tmp("two.pcap");
    FILE *f = fopen(two, "wb");
    fwrite("\xd4\xc3", 1, 2, f);
    fclose(f);
    CHECK_EQ(nmx_capture_open(two, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    printf("     (%s)\n", err);
}

/* C6: a standard pcap cut inside its second record: libwiretap alone would
 * read it as Nokia pcap with no error */
TEST(test_c6_pcap_cut_in_second_record_header_reports_damage) {
    const char *p = tmp("cut2.pcap");
    CHECK(write_pcap(p, LT_ETH, 0, 0, fr, 2));
    CHECK(truncate(p, 24 + 16 + fr[0].caplen + 4) == 0);
    nmx_capture *cap = NULL;
    char err[512];
    CHECK_EQ(nmx_capture_open(p, &cap, err, sizeof err), NMERR_SUCCESS);
    if (!cap)
        return;
    CHECK_EQ(nmx_capture_frames(cap), 1);
    nmx_frame f;
    CHECK(nmx_capture_frame(cap, 0, &f) == NMERR_SUCCESS && memcmp(f.bytes, fr[0].b, fr[0].caplen) == 0);
    CHECK(nmx_capture_error(cap) != NULL);
    nmx_capture_close(cap);
}

/* C1: GetFrameMacType gives Netmon's media type for the link types it has
 * one for (Netmon files' own media types: tests/test_capture_formats.c) */
TEST(test_c1_mac_types_of_link_types) {
    static const struct {
        uint32_t linktype;
        DWORD mac;
    } cases[] = {{1, MAC_TYPE_ETHERNET}, {6, MAC_TYPE_TOKENRING}, {10, MAC_TYPE_FDDI},
                 {100, MAC_TYPE_ATM},    {123, MAC_TYPE_ATM},      {138, MAC_TYPE_1394},
                 {0, MAC_TYPE_UNKNOWN},  {101, MAC_TYPE_UNKNOWN},  {147, MAC_TYPE_UNKNOWN}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "lt%u.pcap", cases[i].linktype);
        const char *p = tmp(name);
        CHECK(write_pcap(p, cases[i].linktype, 0, 0, fr, 1));
        nmx_capture *cap = NULL;
        CHECK_EQ(nmx_capture_open(p, &cap, NULL, 0), NMERR_SUCCESS);
        nmx_frame f;
        if (cap && nmx_capture_frame(cap, 0, &f) == NMERR_SUCCESS) {
            if (GetFrameMacType(f.hframe) != cases[i].mac)
                printf("     link type %u: MAC type %u\n", cases[i].linktype, GetFrameMacType(f.hframe));
            CHECK_EQ(GetFrameMacType(f.hframe), cases[i].mac);
        }
        nmx_capture_close(cap);
    }
}

/* C6: libwiretap reads pcapng interfaces of any number of link types; a
 * capture holds 8 and says where it stopped */
TEST(test_c6_a_ninth_link_type_stops_the_reading_with_a_message) {
    const uint32_t lts[9] = {1, 101, 0, 108, 113, 276, 6, 10, 105};
    tframe f9[9];
    for (int i = 0; i < 9; i++)
        f9[i] = fr[i], f9[i].iface = (uint32_t)i;
    const char *p = tmp("nine.pcapng");
    CHECK(write_pcapng(p, lts, 9, f9, 9));
    nmx_capture *cap = NULL;
    CHECK_EQ(nmx_capture_open(p, &cap, NULL, 0), NMERR_SUCCESS);
    if (!cap)
        return;
    CHECK_EQ(nmx_capture_frames(cap), 8);
    CHECK_EQ(nmx_capture_link_types(cap, NULL, 0), 8);
    const char *e = nmx_capture_error(cap);
    CHECK(e && strstr(e, p) && strstr(e, "frame 8: link type") && strstr(e, "ninth"));
    printf("     (%s)\n", e ? e : "no error");
    nmx_capture_close(cap);
}

/* The frame source's offsets: where a frame's bytes lie in a plain file. */
TEST(test_source_file_offsets_point_at_the_bytes) {
    const char *paths[] = {tmp("a.pcap"), tmp("b.pcapng")};
    nmx__source *s;
    char err[512];
    CHECK_EQ(nmx__source_open(paths, 2, &s, err, sizeof err), NMERR_SUCCESS);
    if (!s)
        return;
    nmx__src_frame f;
    int n = 0, r;
    while ((r = nmx__source_next(s, &f)) == 1) {
        CHECK(f.file_off != UINT64_MAX && f.input == (uint32_t)(n / 4));
        CHECK(f.mac_type == MAC_TYPE_ETHERNET && f.dlt == LT_ETH);
        uint8_t buf[128];
        int fd = open(paths[f.input], O_RDONLY);
        CHECK(pread(fd, buf, f.cap_len, (off_t)f.file_off) == (ssize_t)f.cap_len);
        CHECK(memcmp(buf, f.bytes, f.cap_len) == 0);
        close(fd);
        n++;
    }
    CHECK(r == 0 && n == 8 && nmx__source_error(s) == NULL);
    CHECK_EQ(nmx__source_next(s, &f), 0); /* stays at the end */
    CHECK_EQ(nmx__source_inputs(s), 2);
    CHECK(nmx__source_input(s, 2) == NULL);
    nmx__source_close(s);
    CHECK_EQ(nmx__source_next(NULL, &f), -1);
    nmx__source_close(NULL);
}

int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_inputs_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    make_frames();
    write_three(tmpdir);
    RUN(test_c1_several_files_are_one_capture_numbered_in_order);
    RUN(test_c1_a_folder_is_its_captures_by_name);
    RUN(test_c1_stdin_pipe_streams_and_mixes_with_files);
    RUN(test_c1_stdin_not_a_capture_is_refused_with_reason);
    RUN(test_c6_damage_in_a_later_file_keeps_every_frame_before_it);
    RUN(test_c6_bad_input_lists_are_refused_clearly);
    RUN(test_c6_pcap_cut_in_second_record_header_reports_damage);
    RUN(test_c1_mac_types_of_link_types);
    RUN(test_c6_a_ninth_link_type_stops_the_reading_with_a_message);
    RUN(test_source_file_offsets_point_at_the_bytes);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
