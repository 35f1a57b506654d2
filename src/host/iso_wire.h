/* The wire between a host and its isolated workers (issue 9, SPEC H11).
 *
 * Three processes take part: the host (the library user's process), the
 * fork-server (nmexpert-worker, spawned once by the host) and one worker per
 * run (forked by the server). Per run the host creates:
 *   - the run's page: a memfd holding nmx_iso_page and, after it, the
 *     request's strings and configuration blob. The host writes the request
 *     before the worker exists; the worker publishes its key's statistics
 *     there (a seqlock) and the system call the policy stopped; the server
 *     writes the worker's exit status there after reaping it. The host keeps
 *     its mapping, so all of it survives the worker's death.
 *   - the run's channel: a socketpair (SOCK_STREAM). The worker writes
 *     frames (status, events, result) to it; the host writes one byte per
 *     terminate. The server keeps a duplicate of the worker's end until it
 *     has reaped the worker and written the exit status, so the host's EOF
 *     means "the worker is gone and its exit status is in the page".
 *   - the capture's descriptors (nmx__capture_export), passed with the
 *     request and placed by the worker at fixed numbers from
 *     WORKER_CAPTURE_FD (src/worker/worker.h), from which it attaches to
 *     the host's capture instead of reading the file again (C7).
 * Everything that comes from a worker is hostile input: the decoders here
 * check every length and offset, and never trust a pointer.
 */
#ifndef NMX_ISO_WIRE_H
#define NMX_ISO_WIRE_H

#include <nmexpert/host.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMX_ISO_MAGIC 0x4e4d5849u /* "NMXI" */
#define NMX_ISO_VERSION 2u
#define NMX_ISO_NSTATS 14u /* the fields of nmx_mem_stats, in order */
/* The largest frame a worker may send: above any event a run keeps once the
 * event copy cuts each of its at most 515 strings at 64 KiB (issue 8): about
 * 34 MiB. */
#define NMX_ISO_MAX_FRAME ((uint32_t)64 << 20)
#define NMX_ISO_TERMINATE 'T' /* host -> worker: nmx_run_terminate (H4) */
/* A request carries the run's page, the worker's channel end and at most
 * this many descriptors of the capture (nmx__capture_export), in one
 * SCM_RIGHTS message (the kernel's SCM_MAX_FD is 253). */
#define NMX_ISO_MAX_CAPTURE_FDS 248u

_Static_assert(sizeof(nmx_mem_stats) == NMX_ISO_NSTATS * sizeof(uint64_t),
               "nmx_mem_stats is NMX_ISO_NSTATS uint64_t");

/* Where a string of the request lies in the page's data area (len 0: none). */
typedef struct nmx_iso_str {
    uint32_t off, len; /* len counts the NUL */
} nmx_iso_str;

/* What a worker is asked to do: the module is loaded (Register) in each. */
enum {
    NMX_ISO_OP_RUN = 0,  /* run it (nmx_run_start) */
    NMX_ISO_OP_REGISTER, /* answer what Register filled (nmx_iso_registered) */
    NMX_ISO_OP_CONFIGURE /* call Configure (nmx_expert_configure), answer the blob */
};

typedef struct nmx_iso_request {
    uint32_t op;          /* NMX_ISO_OP_* */
    uint32_t reserved;
    uint64_t quota_bytes;
    uint32_t startup_flags;
    uint32_t cpu_seconds; /* RLIMIT_CPU; 0: none */
    uint32_t confine;     /* 1: seccomp policy and rlimits (the default) */
    uint32_t capture_fds; /* descriptors of the capture passed with the request */
    nmx_iso_str expert;   /* the module's path */
    nmx_iso_str capture;  /* the capture's path: what the worker's capture
                             reports (nmx__capture_attach); without
                             capture_fds, the file it opens; len 0 and no
                             capture_fds: the empty capture */
    nmx_iso_str filter;   /* the host filter's expression; len 0: none */
    nmx_iso_str config;   /* the configuration blob; len 0: none */
} nmx_iso_request;

typedef struct nmx_iso_page {
    uint32_t magic, version;
    uint64_t size; /* bytes mapped */
    nmx_iso_request req;
    /* the worker's */
    _Atomic uint32_t seq; /* odd while the statistics are being written */
    _Atomic uint64_t stats[NMX_ISO_NSTATS];
    _Atomic int32_t policy_syscall; /* the call the policy stopped; -1: none */
    /* the server's, written before exit_known is set */
    _Atomic int32_t exit_known; /* 1 once exit_status is the worker's wait status */
    _Atomic int32_t exit_status;
    char policy_call[32]; /* the name of policy_syscall, or "" */
} nmx_iso_page;

#define NMX_ISO_DATA_OFF ((sizeof(nmx_iso_page) + 63) & ~(size_t)63)

/* Frame types, worker -> host. A frame is an nmx_iso_frame header and `len`
 * payload bytes. */
enum {
    NMX_ISO_MSG_STATUS = 1, /* EXPERTSTATUS, as ExpertIndicateStatus recorded it (H7) */
    NMX_ISO_MSG_EVENT,      /* an event, relocatable (nmx__iso_event_encode) (H8) */
    NMX_ISO_MSG_RESULT,     /* nmx_iso_result: the run ended in the worker */
    NMX_ISO_MSG_FAIL,       /* text: the worker could not start the run */
    NMX_ISO_MSG_REGISTERED, /* nmx_iso_registered: the answer to NMX_ISO_OP_REGISTER */
    NMX_ISO_MSG_CONFIGURED  /* nmx_iso_configured, then the blob Configure left
                               (RawConfigLength bytes; none if it left none) */
};

typedef struct nmx_iso_frame {
    uint32_t type, len;
} nmx_iso_frame;

typedef struct nmx_iso_result {
    uint32_t returned, run_value;
    int32_t fault_signal;
    uint32_t reserved;
    uint64_t fault_address;
    EXPERTSTATUS status;
    uint64_t mem[NMX_ISO_NSTATS];
} nmx_iso_result;

typedef struct nmx_iso_registered {
    uint32_t rc;           /* nmx_expert_load's */
    uint32_t configurable; /* the module exports Configure */
    char name[EXPERTSTRINGLENGTH], vendor[EXPERTSTRINGLENGTH],
        description[EXPERTSTRINGLENGTH];
    uint32_t version, flags;
    char error[1024];      /* nmx_expert_load's message when rc is not 0 */
} nmx_iso_registered;

typedef struct nmx_iso_configured {
    uint32_t rc;       /* nmx_expert_configure's */
    uint32_t returned; /* Configure's BOOL */
} nmx_iso_configured;

/* ---- the page ---- */

/* Publish a key's statistics (the worker; one writer at a time). */
void nmx__iso_stats_put(nmx_iso_page *pg, const nmx_mem_stats *st);
/* Read them (the host; any time, even while the worker writes or after it
 * died halfway through a write: then the last values are taken as they are). */
void nmx__iso_stats_get(const nmx_iso_page *pg, nmx_mem_stats *out);

/* The request's string s as a NUL-terminated string inside the page, or NULL
 * if it is absent or does not lie within the page. */
const char *nmx__iso_str(const nmx_iso_page *pg, nmx_iso_str s);

/* ---- events ---- */

/* Bytes nmx__iso_event_encode needs for ev (an event as run.c copies it:
 * valid types, NUL-terminated strings). */
size_t nmx__iso_event_size(const NMEVENTDATA *ev);
/* Write ev into buf (nmx__iso_event_size(ev) bytes): the header and columns
 * with every string pointer replaced by 1 + its offset in the string pool
 * that follows (0 for NULL), then the pool. */
void nmx__iso_event_encode(const NMEVENTDATA *ev, void *buf);
/* A malloc'd deep copy (one block, as run.c makes them) of the encoded event
 * in buf[0..len), or NULL if the bytes do not form a valid event (any
 * offset outside the pool, a string without its NUL, an unknown column type,
 * a size that does not match) or memory is refused. */
NMEVENTDATA *nmx__iso_event_decode(const void *buf, size_t len);

#endif
