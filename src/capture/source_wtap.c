/* One input file read through libwiretap, Wireshark's reader library: every
 * format Wireshark reads, gzip/zstd/lz4-compressed or not (SPEC C1).
 *
 * libwiretap speaks its own encapsulations (WTAP_ENCAP_*); frames are handed
 * on with the pcap DLT that maps to it. Wireshark 4.0 does not export
 * wtap_wtap_encap_to_pcap_encap, so the inverse of the exported
 * wtap_pcap_encap_to_wtap_encap is built once: the smallest DLT for each
 * encapsulation, as libpcap itself names link types (LINKTYPE_RAW 101 is
 * DLT_RAW 12, as pcap_datalink says). An encapsulation whose DLT carries a
 * pseudo-header (SunATM, IrDA, ERF ...) has none: libwiretap takes the
 * pseudo-header out of the bytes, which then are not what the DLT says.
 */
#define _DEFAULT_SOURCE /* strdup */
#include "capture/source_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wiretap/wtap.h>
#include <wsutil/buffer.h>

/* wiretap/pcap-encap.h, exported */
int wtap_pcap_encap_to_wtap_encap(int encap);
gboolean wtap_encap_requires_phdr(int encap);

#define NENCAP 1024 /* more than WTAP_NUM_ENCAP_TYPES of any 4.x */
#define NDLT 1024   /* LINKTYPE_* values stay below this */

struct nmx__reader {
    nmx__pcap_in *pc; /* a plain pcap/pcapng file libwiretap misreads, else NULL */
    wtap *wth;
    wtap_rec rec;
    Buffer buf;
    int pcap_verbatim;   /* uncompressed pcap: a record's bytes follow its 16-byte header */
    int pcapng_verbatim; /* uncompressed pcapng: EPB/PB bytes 28 bytes into the block, SPB 12 */
    uint32_t nread;      /* frames delivered */
    const char *shown;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static short dlt_of[NENCAP]; /* DLT + 1 per wtap encapsulation; 0 none */

/* libwiretap's log (debug-level until a program sets it) is not the host's
 * to print: problems reach the caller as errors. */
static void no_log(const char *domain, enum ws_log_level level, struct timespec timestamp, const char *file,
                   long line, const char *func, const char *user_format, va_list user_ap, void *user_data) {
    (void)domain, (void)level, (void)timestamp, (void)file, (void)line, (void)func, (void)user_format,
        (void)user_ap, (void)user_data;
}

static void init(void) {
    ws_log_set_level(LOG_LEVEL_CRITICAL);
    ws_log_set_writer(no_log);
    wtap_init(FALSE);
    for (int dlt = NDLT - 1; dlt >= 0; dlt--) { /* descending: the smallest DLT wins */
        int e = wtap_pcap_encap_to_wtap_encap(dlt);
        if (e > 0 && e < NENCAP && !wtap_encap_requires_phdr(e))
            dlt_of[e] = (short)(dlt + 1);
    }
}

static int encap_dlt(int encap) { return encap > 0 && encap < NENCAP ? dlt_of[encap] - 1 : -1; }

/* Netmon's media types, as libwiretap maps Netmon 1.x/2.x ones (and pcap
 * link types) to encapsulations. */
int nmx__encap_mac_type(int encap) {
    switch (encap) {
    case WTAP_ENCAP_ETHERNET:
        return MAC_TYPE_ETHERNET;
    case WTAP_ENCAP_TOKEN_RING:
        return MAC_TYPE_TOKENRING;
    case WTAP_ENCAP_FDDI:
    case WTAP_ENCAP_FDDI_BITSWAPPED:
        return MAC_TYPE_FDDI;
    case WTAP_ENCAP_ATM_RFC1483:
    case WTAP_ENCAP_ATM_PDUS:
    case WTAP_ENCAP_ATM_PDUS_UNTRUNCATED:
        return MAC_TYPE_ATM;
    case WTAP_ENCAP_APPLE_IP_OVER_IEEE1394:
        return MAC_TYPE_1394;
    default:
        return MAC_TYPE_UNKNOWN;
    }
}

/* Encapsulations whose bytes libwiretap hands on exactly as the file holds
 * them (no pseudo-header taken off, no byte order fixed). */
static int encap_verbatim(int encap) {
    switch (encap) {
    case WTAP_ENCAP_ETHERNET:
    case WTAP_ENCAP_RAW_IP:
    case WTAP_ENCAP_RAW_IP4:
    case WTAP_ENCAP_RAW_IP6:
    case WTAP_ENCAP_SLL:
    case WTAP_ENCAP_SLL2:
    case WTAP_ENCAP_NULL:
    case WTAP_ENCAP_LOOP:
    case WTAP_ENCAP_PPP:
    case WTAP_ENCAP_CHDLC:
    case WTAP_ENCAP_IEEE_802_11:
    case WTAP_ENCAP_IEEE_802_11_RADIOTAP:
        return 1;
    default:
        return 0;
    }
}

static const char *compression_name(wtap_compression_type c) {
    switch (c) {
    case WTAP_GZIP_COMPRESSED:
        return "gzip";
    case WTAP_ZSTD_COMPRESSED:
        return "zstd";
    case WTAP_LZ4_COMPRESSED:
        return "lz4";
    default:
        return "none";
    }
}

static DWORD open_error(int err, const char *info, const char *shown, char *msg, size_t len) {
    snprintf(msg, len, "%s: %s%s%s", shown, wtap_strerror(err), info ? ": " : "", info ? info : "");
    if (err > 0)
        return nmx__source_errno_rc(err);
    switch (err) {
    case WTAP_ERR_FILE_UNKNOWN_FORMAT:
    case WTAP_ERR_UNSUPPORTED:
    case WTAP_ERR_BAD_FILE:
    case WTAP_ERR_SHORT_READ:
    case WTAP_ERR_DECOMPRESS:
    case WTAP_ERR_COMPRESSION_NOT_SUPPORTED:
    case WTAP_ERR_DECOMPRESSION_NOT_SUPPORTED:
    case WTAP_ERR_UNC_OVERFLOW:
        return NMERR_INVALID_FILE_FORMAT;
    default:
        return NMERR_FILE_READ_ERROR;
    }
}

static void describe(nmx__reader *r, nmx__src_input *d) {
    int ft = wtap_file_type_subtype(r->wth);
    wtap_compression_type c = wtap_get_compression_type(r->wth);
    int encap = wtap_file_encap(r->wth), prec = wtap_file_tsprec(r->wth);
    d->format = wtap_file_type_subtype_description(ft);
    d->format_name = wtap_file_type_subtype_name(ft);
    d->compression = compression_name(c);
    d->snaplen = wtap_snapshot_length(r->wth);
    d->encap_dlt = encap_dlt(encap);
    d->encap = wtap_encap_description(encap);
    d->ts_digits = prec >= 0 ? prec : -1;
    r->pcap_verbatim = c == WTAP_UNCOMPRESSED &&
                       (ft == wtap_pcap_file_type_subtype() || ft == wtap_pcap_nsec_file_type_subtype());
    r->pcapng_verbatim = c == WTAP_UNCOMPRESSED && ft == wtap_pcapng_file_type_subtype();
}

/* May libwiretap read a file with a pcap/pcapng magic number? Only if it
 * takes it for standard pcap or pcapng, and the link type carries no
 * pseudo-header (SunATM, IrDA, ...: libwiretap takes it out of the bytes,
 * which then no longer are what the DLT says). */
static int read_as_pcap(wtap *wth) {
    if (!wth)
        return 0;
    int ft = wtap_file_type_subtype(wth);
    return (ft == wtap_pcap_file_type_subtype() || ft == wtap_pcap_nsec_file_type_subtype() ||
            ft == wtap_pcapng_file_type_subtype()) &&
           !wtap_encap_requires_phdr(wtap_file_encap(wth));
}

DWORD nmx__reader_open(const char *open_path, const char *shown, nmx__reader **out, nmx__src_input *desc,
                       char *err, size_t errlen) {
    pthread_once(&init_once, init);
    *out = NULL;
    nmx__reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", shown);
        return NMERR_OUT_OF_MEMORY;
    }
    int e = 0, kind = nmx__pcap_magic(open_path);
    gchar *info = NULL;
    r->wth = wtap_open_offline(open_path, WTAP_TYPE_AUTO, &e, &info, FALSE);
    if (kind && !read_as_pcap(r->wth)) {
        if (r->wth)
            wtap_close(r->wth);
        g_free(info);
        DWORD rc = nmx__pcap_open(open_path, kind, shown, &r->pc, desc, err, errlen);
        if (rc != NMERR_SUCCESS)
            free(r);
        else
            *out = r;
        return rc;
    }
    if (!r->wth) {
        DWORD rc = open_error(e, info, shown, err, errlen);
        g_free(info);
        free(r);
        return rc;
    }
    r->shown = shown;
    wtap_rec_init(&r->rec);
    ws_buffer_init(&r->buf, 2048);
    describe(r, desc);
    *out = r;
    return NMERR_SUCCESS;
}

static int64_t ts_ns(const wtap_rec *rec) {
    return (rec->presence_flags & WTAP_HAS_TS) ? nmx__ts_ns((int64_t)rec->ts.secs, rec->ts.nsecs) : 0;
}

int64_t nmx__ts_ns(int64_t sec, int64_t ns) {
    if (sec > INT64_MAX / 1000000000 - 1)
        return INT64_MAX;
    if (sec < INT64_MIN / 1000000000 + 1)
        return INT64_MIN;
    return sec * 1000000000 + ns;
}

static uint64_t file_off(const nmx__reader *r, int64_t rec_off, int encap) {
    if (rec_off < 0 || !encap_verbatim(encap))
        return UINT64_MAX;
    if (r->pcap_verbatim)
        return (uint64_t)rec_off + 16;
    if (r->pcapng_verbatim) /* a Simple Packet Block has no time stamp */
        return (uint64_t)rec_off + ((r->rec.presence_flags & WTAP_HAS_TS) ? 28 : 12);
    return UINT64_MAX;
}

static char *problem_text(uint32_t frame, int e, const char *info) {
    const char *what = e == WTAP_ERR_SHORT_READ  ? "truncated: the file ends inside a frame"
                       : e == WTAP_ERR_BAD_FILE   ? "corrupt"
                       : e == WTAP_ERR_DECOMPRESS ? "corrupt compressed data"
                                                  : wtap_strerror(e);
    char buf[1024];
    snprintf(buf, sizeof buf, "frame %u: %s%s%s", frame, what, info ? ": " : "", info ? info : "");
    return strdup(buf);
}

int nmx__reader_next(nmx__reader *r, nmx__src_frame *f, char **problem) {
    if (r->pc)
        return nmx__pcap_next(r->pc, f, problem);
    *problem = NULL;
    for (;;) {
        int e = 0;
        gchar *info = NULL;
        gint64 off = -1;
        wtap_rec_reset(&r->rec);
        if (!wtap_read(r->wth, &r->rec, &r->buf, &e, &info, &off)) {
            if (e == 0)
                return 0;
            *problem = problem_text(r->nread, e, info);
            g_free(info);
            return -1;
        }
        g_free(info);
        if (r->rec.rec_type != REC_TYPE_PACKET)
            continue; /* events, reports, system calls: not frames */
        const wtap_packet_header *ph = &r->rec.rec_header.packet_header;
        f->ts_ns = ts_ns(&r->rec);
        f->cap_len = ph->caplen;
        f->wire_len = ph->len;
        f->dlt = encap_dlt(ph->pkt_encap);
        f->mac_type = nmx__encap_mac_type(ph->pkt_encap);
        f->file_off = file_off(r, off, ph->pkt_encap);
        f->bytes = ws_buffer_start_ptr(&r->buf);
        r->nread++;
        return 1;
    }
}

void nmx__reader_close(nmx__reader *r) {
    if (!r)
        return;
    if (r->pc) {
        nmx__pcap_close(r->pc);
        free(r);
        return;
    }
    wtap_close(r->wth);
    wtap_rec_cleanup(&r->rec);
    ws_buffer_free(&r->buf);
    free(r);
}
