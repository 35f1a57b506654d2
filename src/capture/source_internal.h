/* Internals of the frame source (source*.c): one reader per input file, and
 * how standard input becomes a path the reader opens. */
#ifndef NMX_CAPTURE_SOURCE_INTERNAL_H
#define NMX_CAPTURE_SOURCE_INTERNAL_H

#include "capture/source.h"

/* source.c: the NMERR_* code for an errno value met opening an input. */
DWORD nmx__source_errno_rc(int e);

/* source_wtap.c: one input file read through libwiretap. */
typedef struct nmx__reader nmx__reader;

/* Open `open_path` (a path libwiretap opens: a file, a FIFO or
 * /proc/self/fd/N) and describe it in *desc (format, compression, snaplen,
 * encapsulation; not path, file_bytes, first_frame, frames). `shown` names
 * it in messages. Errors as nmx__source_open's, the text in err. */
DWORD nmx__reader_open(const char *open_path, const char *shown, nmx__reader **out, nmx__src_input *desc,
                       char *err, size_t errlen);

/* 1 = a frame in *f (every field but `input`); 0 = end of file; -1 =
 * damage, its text in *problem (malloc'd, the caller frees; NULL when
 * memory was refused). */
int nmx__reader_next(nmx__reader *r, nmx__src_frame *f, char **problem);

void nmx__reader_close(nmx__reader *r);

/* source_wtap.c: Netmon's MAC_TYPE_* for a wtap encapsulation; ns since
 * the epoch from seconds and nanoseconds, saturated at the int64_t range. */
int nmx__encap_mac_type(int encap);
int64_t nmx__ts_ns(int64_t sec, int64_t ns);

/* source_pcap.c: the libpcap reader, for plain pcap/pcapng files that
 * libwiretap misreads (see there). nmx__pcap_magic says whether the file
 * starts with (a prefix of) a pcap or pcapng magic number: PCAP_* or 0. */
enum { PCAP_MICRO = 1, PCAP_NANO, PCAP_NG };
typedef struct nmx__pcap_in nmx__pcap_in;
int nmx__pcap_magic(const char *path);
DWORD nmx__pcap_open(const char *path, int kind, const char *shown, nmx__pcap_in **out, nmx__src_input *d,
                     char *err, size_t errlen);
int nmx__pcap_next(nmx__pcap_in *in, nmx__src_frame *f, char **problem);
void nmx__pcap_close(nmx__pcap_in *in);

/* source_frames.c: 0 if `path`, a regular file of that compression
 * ("zstd", "lz4"), ends inside a compressed frame (libwiretap takes such a
 * cut for the end of the file); 1 otherwise, and for anything else. */
int nmx__compressed_whole(const char *path, const char *compression);

/* source_stdin.c: standard input as a path libwiretap can open. A regular
 * file or a pipe carrying a format that is read front to back (pcap, pcapng,
 * snoop, or compressed) is read as it is: the pipe streams. Anything else
 * (Network Monitor keeps its frame table at the end) is first copied to an
 * unlinked temporary file. *fd_out is the descriptor to close afterwards
 * (-1 when none); the path is written to buf. Errors as nmx__source_open's. */
DWORD nmx__stdin_path(char *buf, size_t len, int *fd_out, char *err, size_t errlen);

#endif
