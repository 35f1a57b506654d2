/* nmexpert/capture.h — the host side of captures: open, index, filter, decode.
 *
 * A capture (one or several files in any format Wireshark reads, SPEC C1)
 * is read once, by libwiretap, on a reader thread of its own, into
 * file-backed spools (so memory does not grow with its size, C8) that
 * every run over it shares without locks (C7); runs start on the first
 * frames while the rest is read. An nmx_capture* IS an HCAPTURE
 * and an nmx_filter* IS an HFILTER, so the host hands them to experts as they
 * are. Frames are reached by their 0-based number (C2) or through the
 * HFRAME handles the Netmon frame functions of netmon.h take.
 *
 * Lifetimes: everything a capture hands out (FRAME records, frame bytes,
 * recognition tables, HFRAME handles, filters made for it) stays valid until
 * the capture is closed, so it outlives every run over it (C5). Closing a
 * capture while a call on it or on one of its frames is still running is the
 * caller's bug; every other misuse (NULL, forged, stale or closed handles) is
 * detected and refused without touching memory the library does not own.
 *
 * Time stamps are nanoseconds since the Unix epoch (1970-01-01 UTC), exact
 * for nanosecond files, saturated at the int64_t range for absurd ones.
 *
 * Error convention (host.h): functions return NMERR_* codes; where
 * libwiretap or libpcap (filters) has something to say, its text goes into
 * the caller's errbuf (always
 * NUL-terminated when errlen > 0; errbuf may be NULL when errlen is 0).
 * docs/CAPTURES.md explains the design and its costs.
 */
#ifndef NMEXPERT_CAPTURE_H
#define NMEXPERT_CAPTURE_H

#include <nmexpert/netmon.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _CAPTURE nmx_capture; /* an nmx_capture* is an HCAPTURE */
typedef struct _FILTER nmx_filter;   /* an nmx_filter* is an HFILTER */

/* ------------------------------------------------------------------------
 * Opening and closing (C1, C6, C7)
 * ------------------------------------------------------------------------ */

/* Open the capture `path` and start reading it (docs/CAPTURES.md: a reader
 * thread spools its frames into unlinked files in $TMPDIR, else /var/tmp;
 * frames are handed out as they are read). `path` is a
 * capture file in any format libwiretap (Wireshark's reader) reads, plain
 * or gzip-, zstd- or lz4-compressed (C1); a folder (every capture in it,
 * sorted by name, one capture with frames numbered across the files; files
 * that are no capture are skipped); or "-", standard input (a pipe is read
 * as it arrives when its format allows, else copied to a temporary file
 * first; docs/CAPTURES.md).
 *
 * On success *out holds the capture and the result is NMERR_SUCCESS. A file
 * that is damaged after its header (truncated, corrupt record) still opens
 * with every frame read before the damage; nmx_capture_error() then says
 * what is wrong ("path: frame N: ...", N the 0-based number, in that file,
 * of the first frame that could not be read), and no later file is read
 * (C6).
 *
 * Errors (*out set to NULL, the reason in errbuf, prefixed with the path):
 *   NMERR_INVALID_PARAMETER    path or out is NULL; "-" given twice; stdin a terminal
 *   NMERR_FILE_NOT_FOUND       no such file (or a path component is missing),
 *                              or a folder holding no capture
 *   NMERR_ACCESS_DENIED        the file may not be read
 *   NMERR_FILE_READ_ERROR      another error opening it
 *   NMERR_INVALID_FILE_FORMAT  not a capture libwiretap reads (libwiretap's text)
 *   NMERR_OUT_OF_MEMORY        memory refused (a full spool disk is damage, C6)
 *   NMERR_NO_HANDLES           4096 captures are open already */
NMX_API DWORD nmx_capture_open(const char *path, nmx_capture **out, char *errbuf, size_t errlen);

/* Open several inputs (files, folders, "-" at most once) as one capture,
 * frames numbered across them in the order given. As nmx_capture_open;
 * NMERR_INVALID_PARAMETER also for n 0 or a NULL path. */
NMX_API DWORD nmx_capture_open_inputs(const char *const *paths, size_t n, nmx_capture **out, char *errbuf,
                                      size_t errlen);

/* Close a capture and free everything it handed out (FRAME records, HFRAMEs,
 * recognition tables). Filters made for it must be destroyed by the caller,
 * before or after; after close they match nothing.
 * Returns NMERR_SUCCESS; NMERR_SUCCESS for NULL (a no-op);
 * NMERR_INVALID_HCAPTURE for anything that is not an open capture. */
NMX_API DWORD nmx_capture_close(nmx_capture *cap);

/* ------------------------------------------------------------------------
 * What a capture holds (for `nmexpert info`). Each accessor returns 0 / NULL
 * for NULL or an invalid capture. Those that report totals (frames, damage,
 * info, link types, input info) wait until the reading has ended (from a
 * pipe: until it closes); nmx_capture_frame waits for that frame.
 * ------------------------------------------------------------------------ */

/* Number of frames read (the same as GetCaptureTotalFrames). */
NMX_API uint32_t nmx_capture_frames(const nmx_capture *cap);
/* The link type (DLT_*, as pcap_datalink gives it) of the file's first
 * interface; -1 for an invalid capture. */
NMX_API int nmx_capture_link_type(const nmx_capture *cap);
/* The damage message (C6) if the file could not be read to its end, else
 * NULL. Owned by the capture. */
NMX_API const char *nmx_capture_error(const nmx_capture *cap);
/* The path the capture was opened with, as given (a folder, "-"; the first
 * when several: nmx_capture_input_info names each file). Owned by the
 * capture. */
NMX_API const char *nmx_capture_path(const nmx_capture *cap);

#define NMX_FORMAT_OTHER 0 /* another format libwiretap reads (see file_type) */
#define NMX_FORMAT_PCAP 1
#define NMX_FORMAT_PCAPNG 2

/* One input file, as capinfos describes it. Strings are owned by the
 * capture (or static). */
typedef struct nmx_capture_input {
    const char *path;        /* as given; a folder's files as "folder/name"; "-" for stdin */
    const char *format;      /* capinfos' "File type" ("Wireshark/tcpdump/... - pcap",
                                "Microsoft NetMon 2.x") */
    const char *format_name; /* editcap -F's short name ("pcap", "netmon2") */
    const char *compression; /* "none", "gzip", "zstd" or "lz4" */
    uint64_t file_bytes;     /* size of the file as stored (compressed); 0 for a pipe */
    uint32_t snaplen;        /* 0 when the file does not say */
    int encap_dlt;           /* the file's link type as a DLT; -1 when per packet or none */
    const char *encap;       /* capinfos' "File encapsulation" ("Ethernet", "Per packet") */
    int ts_digits;           /* digits of the file's time stamps (6 micro, 9 nano); -1 per packet */
    uint32_t first_frame;    /* the capture's number of this input's first frame */
    uint32_t frames;         /* frames read from it */
} nmx_capture_input;

/* Number of input files of the capture; 0 for an invalid capture. */
NMX_API unsigned nmx_capture_inputs(const nmx_capture *cap);
/* Input i. Errors: NMERR_INVALID_PARAMETER (out NULL), NMERR_INVALID_HCAPTURE,
 * NMERR_FILE_NOT_FOUND (i >= nmx_capture_inputs). */
NMX_API DWORD nmx_capture_input_info(const nmx_capture *cap, unsigned i, nmx_capture_input *out);

/* capinfos-like summary. Strings point into the capture. */
typedef struct nmx_capture_info {
    const char *path;
    const char *error;        /* as nmx_capture_error() */
    int format;               /* NMX_FORMAT_* of the first input */
    const char *file_type;    /* its capinfos "File type" (nmx_capture_input.format) */
    const char *compression;  /* its compression: "none", "gzip", "zstd" or "lz4" */
    unsigned inputs;          /* input files (nmx_capture_input_info) */
    int swapped;              /* plain pcap/pcapng: 1 when the file's byte order is not the host's */
    int ts_digits;            /* pcap: 6 (microsecond file) or 9 (nanosecond); pcapng: 0 (per interface) */
    int version_major, version_minor; /* plain pcap/pcapng: the header's version */
    int snaplen;
    int link_type;            /* the first interface's DLT */
    unsigned n_link_types;    /* distinct link types among the frames (see nmx_capture_link_types) */
    uint32_t frames;
    uint64_t wire_bytes;      /* sum of the frames' lengths on the wire */
    uint64_t captured_bytes;  /* sum of their captured lengths */
    int64_t first_ts, last_ts;       /* ns since the epoch, of frame 0 and of the last frame */
    int64_t earliest_ts, latest_ts;  /* the smallest and largest time stamps (capinfos' first/last) */
    uint64_t file_bytes;      /* size of the files as stored */
    uint64_t memory_bytes;    /* memory the capture holds: frames, index, tables */
} nmx_capture_info;

/* Fill *out. Errors: NMERR_INVALID_PARAMETER (out NULL), NMERR_INVALID_HCAPTURE. */
NMX_API DWORD nmx_capture_get_info(const nmx_capture *cap, nmx_capture_info *out);

/* Copy up to n of the capture's distinct link types (DLT_*, first seen
 * first) into out (may be NULL when n is 0); returns how many there are. */
NMX_API unsigned nmx_capture_link_types(const nmx_capture *cap, int *out, unsigned n);

/* One frame, as stored. Every pointer but `frame` stays valid until the
 * capture closes; `frame` too when the frame was spooled, else (a frame read
 * in place from a mapped pcap/pcapng file, docs/CAPTURES.md) it is a copy in
 * a buffer of the calling thread, valid until the thread's next
 * nmx_capture_frame or GetFrameFromFrameHandle. */
typedef struct nmx_frame {
    DWORD number;                        /* 0-based (C2) */
    HFRAME hframe;                       /* the handle the Netmon functions take */
    const FRAME *frame;                  /* TimeStamp, FrameLength, nBytesAvail, MacFrame */
    const uint8_t *bytes;                /* the bytes (frame->MacFrame holds the same) */
    uint32_t wire_len, cap_len;
    int64_t ts_ns;
    int link_type;                       /* DLT_* of this frame */
    const RECOGNIZEDATATABLE *recognized; /* never NULL (nRecognizeDatas may be 0) */
} nmx_frame;

/* Frame `number` of the capture. Errors: NMERR_INVALID_PARAMETER (out NULL),
 * NMERR_INVALID_HCAPTURE, NMERR_FRAME_NOT_FOUND (number >= frames),
 * NMERR_OUT_OF_MEMORY (no buffer for `frame`), NMERR_MEMORY_MAPPED_FILE_ERROR
 * (its input file was cut short while open: nmx_capture_error says which). */
NMX_API DWORD nmx_capture_frame(const nmx_capture *cap, DWORD number, nmx_frame *out);

/* ------------------------------------------------------------------------
 * Filters (C4): tcpdump/BPF expressions compiled by libpcap
 * ------------------------------------------------------------------------ */

/* Compile `expr` (pcap-filter(7) syntax; "" matches every frame) for every
 * link type of `cap`, with snaplen 262144, optimised, netmask unknown. The
 * filter is immutable once made: any number of threads may match with it at
 * once. It belongs to `cap` and matches only that capture's frames.
 * Errors (*out set to NULL):
 *   NMERR_INVALID_PARAMETER          cap, expr or out is NULL
 *   NMERR_INVALID_HCAPTURE           cap is not an open capture
 *   NMERR_FILTER_INVALID_EXPRESSION  libpcap refused it; its message is in
 *                                    errbuf (prefixed with the link type's
 *                                    name when the capture has several)
 *   NMERR_OUT_OF_MEMORY */
NMX_API DWORD nmx_filter_create(const nmx_capture *cap, const char *expr, nmx_filter **out,
                                char *errbuf, size_t errlen);

/* Destroy a filter. Returns NMERR_SUCCESS (also for NULL: a no-op);
 * NMERR_INVALID_HFILTER for anything that is not a live filter. */
NMX_API DWORD nmx_filter_destroy(nmx_filter *filter);

/* The expression a filter was made from; NULL for an invalid filter. */
NMX_API const char *nmx_filter_expression(const nmx_filter *filter);

/* 1 if frame `number` of `cap` passes the filter, 0 if it does not, does not
 * exist, or the filter belongs to another capture; -1 for an invalid filter
 * or capture. */
NMX_API int nmx_filter_match(const nmx_filter *filter, const nmx_capture *cap, DWORD number);

/* An expert makes its own filters with nmx_ExpertCreateFilter (netmon.h). */

/* ------------------------------------------------------------------------
 * Decoding (C1, C5, C6)
 * ------------------------------------------------------------------------ */

/* The protocol ids (NMX_PROTO_*) are in netmon.h: experts read them. */

/* A short lower-case name ("ethernet", "ipv4", ...); "?" for unknown ids. */
NMX_API const char *nmx_proto_name(unsigned proto);

/* Layers of one frame: enough for a tunnel in a tunnel with VLAN tags and
 * MPLS labels on both (eth vlan vlan mpls mpls ipv4 gre erspan eth vlan ipv6
 * udp vxlan eth ipv4 tcp nbss smb2 is 18). A frame with more lists the first
 * NMX_DECODE_MAX_LAYERS. */
#define NMX_DECODE_MAX_LAYERS 24
#define NMX_DECODE_MAX_VLANS 8

typedef struct nmx_layer {
    uint16_t proto;  /* NMX_PROTO_* */
    uint32_t offset; /* where its header starts in the frame */
} nmx_layer;

/* nmx_decoded.flags */
#define NMX_DEC_ETH 0x01       /* eth_dst, eth_src valid: a complete Ethernet header */
#define NMX_DEC_IP 0x02        /* the ip_* fields valid: a complete IPv4/IPv6 fixed header */
#define NMX_DEC_L4 0x04        /* sport/dport (TCP, UDP) or icmp_type/code (ICMP, ICMPv6) valid */
#define NMX_DEC_TCP 0x08       /* the tcp_* fields valid: a complete 20-byte TCP header */
#define NMX_DEC_TRUNCATED 0x10 /* a header was cut short by the captured length */
#define NMX_DEC_MALFORMED 0x20 /* a field contradicts its format (bad version, short length ...) */
#define NMX_DEC_IP_LEN_ZERO 0x40 /* IPv4 total length or IPv6 payload length was 0
                                    (TSO or a jumbogram): lengths taken from the captured bytes */
#define NMX_DEC_TUNNEL 0x80    /* an IP datagram inside another was decoded (IP-in-IP, GRE,
                                  VXLAN, GTP-U ...): the flow fields describe the inner one */

/* What nmx_decode found. Fields not marked valid by `flags` are 0; layers[]
 * beyond nlayers are undefined. Multi-byte values are in host order;
 * addresses stay in network order.
 *
 * Tunnels: layers[] lists every layer, outer first (as Wireshark's
 * frame.protocols does), while the flow fields describe the INNERMOST flow:
 * the Ethernet fields the innermost complete Ethernet header, the network
 * and transport fields the innermost complete IPv4/IPv6 header and the
 * transport header after it (an inner header that is cut short leaves the
 * outer one's). vlan_ids lists every tag of the frame, outer first;
 * ethertype is the type field of the innermost link layer. */
typedef struct nmx_decoded {
    int dlt;
    uint32_t caplen;
    uint32_t flags; /* NMX_DEC_* */
    unsigned nlayers;

    /* link */
    uint8_t eth_dst[6], eth_src[6];
    uint16_t ethertype; /* the type of what follows the link layer (after VLAN tags); 0 if none */
    unsigned nvlans;
    uint16_t vlan_ids[NMX_DECODE_MAX_VLANS]; /* 12-bit VLAN ids, outermost first */
    uint16_t arp_op;                         /* ARP opcode, when 8 ARP bytes are captured */

    /* network (the innermost datagram; from here to `layers`, an inner IP
     * header resets every field) */
    uint8_t ip_version;   /* 4 or 6 when NMX_DEC_IP */
    uint8_t ip_proto;     /* the transport protocol: IPv4 protocol or last IPv6 next header */
    uint8_t ttl;          /* TTL / hop limit */
    uint8_t ip_fragment;  /* 1: part of a fragmented datagram (MF set or offset != 0) */
    uint8_t ip_more_fragments;
    uint16_t frag_offset; /* in bytes */
    uint32_t ip_id;       /* IPv4 identification; IPv6 fragment header identification */
    uint8_t ip_src[16], ip_dst[16]; /* IPv4 in the first 4 bytes */
    uint32_t l3_offset;
    uint32_t l3_hdr_len;  /* IPv4 IHL*4; IPv6 40 + extension headers */
    uint32_t ip_total_len; /* IPv4 total length; IPv6 40 + payload length */

    /* transport */
    uint32_t l4_offset;
    uint16_t sport, dport;
    uint8_t icmp_type, icmp_code;
    uint32_t tcp_seq, tcp_ack;
    uint16_t tcp_flags;   /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 NS/AE 0x100 */
    uint16_t tcp_window;  /* unscaled */
    uint8_t tcp_hdr_len;  /* data offset * 4 */
    uint32_t payload_offset; /* first byte after the transport header (ICMP: after its 8 bytes) */
    uint32_t payload_len;    /* payload length by the IP (UDP: UDP) lengths; may exceed what was captured */

    nmx_layer layers[NMX_DECODE_MAX_LAYERS]; /* last: not cleared beyond nlayers */
} nmx_decoded;

/* Decode `caplen` bytes of a frame of link type `dlt` (DLT_* as
 * pcap_datalink gives it: EN10MB, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW,
 * IPV4, IPV6, PPP, PPP_SERIAL, PPP_ETHER, C_HDLC, IEEE802_11,
 * IEEE802_11_RADIO; LINKTYPE_RAW 101 is accepted too): its link, network
 * and transport layers, every tunnel, and the UDP protocols a datagram
 * alone shows (docs/CAPTURES.md). A pure function of the frame: what needs
 * the conversation (TCP protocols, QUIC, RTP) is the capture reader's
 * recognition, in the tables experts get (docs/RECOGNITION.md). Never reads
 * beyond caplen; a malformed frame decodes as far as its bytes allow (C6).
 * Unknown link types give no layers. bytes may be NULL when caplen is 0.
 * Returns out->nlayers; out NULL returns 0. */
NMX_API unsigned nmx_decode(const uint8_t *bytes, uint32_t caplen, int dlt, nmx_decoded *out);

#ifdef __cplusplus
}
#endif

#endif
