/* The frame source: every input of a capture (files in any format
 * libwiretap reads, compressed or not; folders; standard input) read in
 * order as one stream of frames, numbered across the inputs (SPEC C1).
 * capture.c consumes it; docs/CAPTURES.md describes the formats and inputs.
 *
 * One source is used by one thread at a time. Everything it hands out is
 * owned by it.
 */
#ifndef NMX_CAPTURE_SOURCE_H
#define NMX_CAPTURE_SOURCE_H

#include <nmexpert/capture.h>

#include <stddef.h>
#include <stdint.h>

typedef struct nmx__source nmx__source;

typedef struct nmx__src_frame {
    int64_t ts_ns;          /* ns since the epoch, saturated at the int64_t range */
    uint32_t cap_len, wire_len;
    int dlt;                /* pcap DLT_* of this frame (the wtap encapsulation mapped back to
                               the smallest DLT libwiretap maps to it); -1 when none, or when
                               libwiretap took a pseudo-header out of the bytes (SunATM, ERF...) */
    int mac_type;           /* Netmon MAC_TYPE_* for GetFrameMacType (include/nmexpert/netmon.h) */
    uint32_t input;         /* index of the input (file) it came from */
    uint64_t file_off;      /* offset of the bytes in that input file when stored there verbatim
                               (uncompressed file), else UINT64_MAX; lets the storage map files */
    const uint8_t *bytes;   /* valid until the next nmx__source_next / _close */
} nmx__src_frame;

/* One input, as capinfos describes a file (include/nmexpert/capture.h).
 * Strings are owned by the source or static. */
typedef struct nmx_capture_input nmx__src_input;

/* paths: files, folders (every capture in it, sorted by name; files that
 * are no capture are skipped), "-" (stdin, at most once). Every input is
 * opened and identified here, so a missing or unreadable file fails the
 * open, not the reading. Returns NMERR_SUCCESS or, with *out NULL and the
 * reason in err ("path: problem"):
 *   NMERR_INVALID_PARAMETER    paths or out NULL, n 0, a NULL path, "-" twice
 *   NMERR_FILE_NOT_FOUND       no such file, or a folder without captures
 *   NMERR_ACCESS_DENIED        a file may not be read
 *   NMERR_FILE_READ_ERROR      another error opening or reading it
 *   NMERR_INVALID_FILE_FORMAT  not a capture libwiretap reads (its text)
 *   NMERR_OUT_OF_MEMORY */
DWORD nmx__source_open(const char *const *paths, size_t n, nmx__source **out, char *err, size_t errlen);

/* 1 = a frame in *f; 0 = end of every input; -1 = damage:
 * nmx__source_error() names the file and the problem; every frame before
 * the damage was delivered. Reading stops at the first damage (C6), like
 * capinfos; later calls return -1 again. */
int nmx__source_next(nmx__source *s, nmx__src_frame *f);

/* The damage message ("path: frame N: problem", N counted in that file),
 * or NULL while there is none. */
const char *nmx__source_error(const nmx__source *s);

size_t nmx__source_inputs(const nmx__source *s);
/* Input i (< nmx__source_inputs), NULL otherwise. */
const nmx__src_input *nmx__source_input(const nmx__source *s, size_t i);

void nmx__source_close(nmx__source *s);

#endif
