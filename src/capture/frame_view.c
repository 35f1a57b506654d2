/* A frame of a mapped input as a FRAME (capture_internal.h, nmx__frame_view).
 *
 * A frame stored verbatim in an uncompressed input file is not copied while
 * reading: its bytes are read where the file's mapping has them. What
 * pFrame must point to, a FRAME record (time stamp, lengths) followed by the
 * bytes, is not in the file (a pcap record header holds other fields), so it
 * is made when asked for: the record and the bytes copied into a buffer of
 * the calling thread. C5 as amended lets it live only until the run's next
 * ExpertGetFrame; a run calls ExpertGetFrame from its own thread.
 *
 * Each thread has one buffer per use, grown to the largest frame it held
 * and freed when the thread ends. The buffer remembers which frame it holds
 * (capture, its slot and generation, number), so asking again for the same
 * frame copies nothing.
 */
#include "capture/capture_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HDR offsetof(FRAME, MacFrame)

typedef struct view_buf {
    FRAME *f;
    size_t size;
    const nmx_capture *cap; /* the frame it holds: NULL none */
    uint32_t gen, number;   /* (an address is reused: the capture's slot and generation tell) */
    uint16_t slot;
} view_buf;

typedef struct views {
    view_buf b[2]; /* NMX__VIEW_GETFRAME, NMX__VIEW_OTHER */
} views;

static pthread_key_t views_key;
static pthread_once_t views_once = PTHREAD_ONCE_INIT;
static _Thread_local views *t_views;

static void views_free(void *p)
{
    views *v = p;
    for (int k = 0; k < 2; k++)
        free(v->b[k].f);
    free(v);
}

static void views_init(void) { (void)pthread_key_create(&views_key, views_free); }

/* This thread's buffers, made at its first use (freed when it ends). */
static views *my_views(void)
{
    if (t_views)
        return t_views;
    pthread_once(&views_once, views_init);
    views *v = calloc(1, sizeof *v);
    if (v && pthread_setspecific(views_key, v) != 0) {
        free(v);
        v = NULL;
    }
    return t_views = v;
}

static int holds(const view_buf *b, const nmx_capture *cap, uint32_t i)
{
    return b->cap == cap && b->slot == cap->slot && b->gen == cap->gen && b->number == i;
}

static FRAME *fill(view_buf *b, const nmx_capture *cap, uint32_t i, const nmx__frec *r)
{
    size_t need = FRAME_HDR + (r->caplen > 8 ? r->caplen : 8); /* a whole FRAME, as in the spool */
    if (need > b->size) {
        FRAME *f = malloc(need);
        if (!f)
            return NULL;
        free(b->f);
        b->f = f;
        b->size = need;
    }
    b->cap = NULL; /* not a frame while it is being filled */
    b->f->TimeStamp = r->ts;
    b->f->FrameLength = r->wire;
    b->f->nBytesAvail = r->caplen;
    memcpy(b->f->MacFrame, nmx__bytes(cap, r), r->caplen);
    if (r->caplen < 8)
        memset(b->f->MacFrame + r->caplen, 0, 8 - r->caplen);
    b->cap = cap;
    b->slot = cap->slot;
    b->gen = cap->gen;
    b->number = i;
    return b->f;
}

const FRAME *nmx__frame_view(const nmx_capture *cap, uint32_t i, const nmx__frec *r, int use)
{
    if (!r->in)
        return nmx__spooled_frame(cap, r);
    views *v = my_views();
    if (!v)
        return NULL;
    if (use == NMX__VIEW_OTHER && holds(&v->b[NMX__VIEW_GETFRAME], cap, i))
        return v->b[NMX__VIEW_GETFRAME].f;
    view_buf *b = &v->b[use];
    return holds(b, cap, i) ? b->f : fill(b, cap, i, r);
}
