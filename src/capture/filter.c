/* Filters (SPEC C4): tcpdump/BPF expressions compiled by libpcap.
 *
 * A filter is compiled at creation for every link type of its capture (one,
 * with libpcap), so it is immutable afterwards and any number of runs match
 * with it at once without a lock: pcap_offline_filter only reads the
 * program (bpf_filter keeps its scratch memory on the stack). Compiling
 * eagerly also reports a bad expression at once, not at the first frame.
 * pcap_compile itself is serialised: libpcap 1.10 documents it thread-safe,
 * older versions were not, and filters are made rarely.
 *
 * Live filters are kept in a list so that a forged or destroyed handle is
 * refused without being dereferenced.
 */
#define _DEFAULT_SOURCE /* u_char & co. in <pcap/pcap.h>, strdup */
#include "capture/capture_internal.h"

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_SNAPLEN 262144

struct _FILTER {
    const nmx_capture *cap; /* compared, never dereferenced after creation */
    uint16_t slot;          /* the capture's slot and generation: a closed */
    uint32_t gen;           /* capture whose address is reused is not ours */
    unsigned nprogs;
    struct bpf_program progs[8]; /* one per link type of the capture (cap->lts) */
    char *expr;
};

static pthread_mutex_t compile_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static const nmx_filter **live;
static size_t nlive, live_cap;

static int live_add(const nmx_filter *f) {
    int ok = 1;
    pthread_mutex_lock(&live_mu);
    if (nlive == live_cap) {
        size_t ncap = live_cap ? live_cap * 2 : 32;
        const nmx_filter **nl = realloc(live, ncap * sizeof *nl);
        if (nl) {
            live = nl;
            live_cap = ncap;
        } else {
            ok = 0;
        }
    }
    if (ok)
        live[nlive++] = f;
    pthread_mutex_unlock(&live_mu);
    return ok;
}

/* Remove f from the live list; 0 if it was not there. */
static int live_remove(const nmx_filter *f) {
    int found = 0;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive; i++)
        if (live[i] == f) {
            live[i] = live[--nlive];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&live_mu);
    return found;
}

int nmx__filter_valid(const nmx_filter *f) {
    int found = 0;
    if (!f)
        return 0;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive && !found; i++)
        found = live[i] == f;
    pthread_mutex_unlock(&live_mu);
    return found;
}

static void filter_free(nmx_filter *f) {
    for (unsigned i = 0; i < f->nprogs; i++)
        pcap_freecode(&f->progs[i]);
    free(f->expr);
    free(f);
}

DWORD nmx_filter_create(const nmx_capture *cap, const char *expr, nmx_filter **out, char *errbuf,
                        size_t errlen) {
    nmx__errf(errbuf, errlen, "%s", "");
    if (out)
        *out = NULL;
    if (!cap || !expr || !out) {
        nmx__errf(errbuf, errlen, "nmx_filter_create: %s is NULL", !cap ? "cap" : !expr ? "expr" : "out");
        return NMERR_INVALID_PARAMETER;
    }
    if (!nmx__capture_valid(cap)) {
        nmx__errf(errbuf, errlen, "nmx_filter_create: not an open capture");
        return NMERR_INVALID_HCAPTURE;
    }
    nmx_filter *f = calloc(1, sizeof *f);
    if (!f || !(f->expr = strdup(expr))) {
        free(f);
        nmx__errf(errbuf, errlen, "nmx_filter_create: out of memory");
        return NMERR_OUT_OF_MEMORY;
    }
    f->cap = cap;
    f->slot = cap->slot;
    f->gen = cap->gen;
    DWORD rc = NMERR_SUCCESS;
    pthread_mutex_lock(&compile_mu);
    /* The link types: known at open when every input declares one, else
     * only once every frame has been read. */
    if (!cap->sh->lts_known)
        nmx__capture_wait_done(cap);
    unsigned nlts = atomic_load(&cap->sh->nlts);
    for (unsigned i = 0; i < nlts; i++) {
        pcap_t *p = pcap_open_dead(cap->sh->lts[i], FILTER_SNAPLEN);
        if (!p) {
            rc = NMERR_OUT_OF_MEMORY;
            nmx__errf(errbuf, errlen, "nmx_filter_create: out of memory");
            break;
        }
        if (pcap_compile(p, &f->progs[i], expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            const char *name = pcap_datalink_val_to_name(cap->sh->lts[i]);
            if (nlts > 1)
                nmx__errf(errbuf, errlen, "link type %s: %s", name ? name : "?", pcap_geterr(p));
            else
                nmx__errf(errbuf, errlen, "%s", pcap_geterr(p));
            rc = NMERR_FILTER_INVALID_EXPRESSION;
            pcap_close(p);
            break;
        }
        f->nprogs = i + 1;
        pcap_close(p);
    }
    pthread_mutex_unlock(&compile_mu);
    if (rc == NMERR_SUCCESS && !live_add(f)) {
        rc = NMERR_OUT_OF_MEMORY;
        nmx__errf(errbuf, errlen, "nmx_filter_create: out of memory");
    }
    if (rc != NMERR_SUCCESS) {
        filter_free(f);
        return rc;
    }
    *out = f;
    return NMERR_SUCCESS;
}

DWORD nmx_filter_destroy(nmx_filter *filter) {
    if (!filter)
        return NMERR_SUCCESS;
    if (!live_remove(filter))
        return NMERR_INVALID_HFILTER;
    filter_free(filter);
    return NMERR_SUCCESS;
}

const char *nmx_filter_expression(const nmx_filter *filter) {
    return nmx__filter_valid(filter) ? filter->expr : NULL;
}

int nmx__filter_pass(const nmx_filter *f, const nmx_capture *cap, uint32_t i) {
    if (f->cap != cap || f->slot != cap->slot || f->gen != cap->gen)
        return 0;
    const nmx__frec *r = nmx__rec(cap, i);
    if (r->lt >= f->nprogs)
        return 0;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = r->caplen;
    h.len = r->wire;
    return pcap_offline_filter(&f->progs[r->lt], &h, nmx__bytes(cap, r)) != 0;
}

int nmx_filter_match(const nmx_filter *filter, const nmx_capture *cap, DWORD number) {
    if (!nmx__filter_valid(filter) || !nmx__capture_valid(cap))
        return -1;
    if (nmx__capture_wait(cap, number, NULL, NULL) != 1)
        return 0;
    return nmx__filter_pass(filter, cap, number);
}
