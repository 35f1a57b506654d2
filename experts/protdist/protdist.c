/* Protocol Distribution: frames and wire bytes per protocol, as a hierarchy
 * in the manner of Wireshark's `-z io,phs` (eth > ip > tcp ...).
 *
 * Each frame's path is the list of the layers the host recognised, in frame
 * order (payload excluded); the frame counts once in every node of its path.
 * Percentages are of all frames (bytes) walked. Config: "depth=N" (rows
 * deeper than N levels are not reported; 0 = all, the default). README.md.
 */
#include <nmexpert/netmon.h>

#include "expert_util.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Protocol Distribution"
#define MAX_PATH_LAYERS 32

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Frames and bytes per protocol as a hierarchy (eth > ip > tcp ...), with percentages of "
                       "the capture (config: depth=N)",
                       1);
}

/* ---- configuration ---- */

typedef struct pd_config {
    unsigned long depth;
    char error[200];
} pd_config;

static int cfg_line(const char *k, const char *v, void *ctx)
{
    pd_config *c = ctx;
    if (strcmp(k, "depth") == 0) {
        if (!xu_parse_uint(v, 64, &c->depth)) {
            snprintf(c->error, sizeof c->error, "depth=%.60s: not a depth (0..64)", v);
            return 1;
        }
        return 0;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: depth)", k);
    return 1;
}

static int cfg_parse(const EXPERTCONFIG *cfg, pd_config *c)
{
    memset(c, 0, sizeof *c);
    return xu_config_load(cfg, cfg_line, c, c->error, sizeof c->error);
}

static void normalise(const pd_config *c, char *text, size_t len)
{
    snprintf(text, len, "depth=%lu\n", c->depth);
}

XU_CONFIGURE(pd_config, cfg_parse, normalise)

/* ---- the tree ---- */

/* A node's name is a protocol id (xu_proto.h), or one of two layers
 * Wireshark names apart from the id's name: N_8021AD, a VLAN tag announced
 * by 0x88a8; N_PPPOED, a PPPoE discovery packet (code not 0, RFC 2516). */
#define N_8021AD XU_NPROTO
#define N_PPPOED (XU_NPROTO + 1)

static const char *node_name(uint32_t name)
{
    return name == N_8021AD ? "ieee8021ad" : name == N_PPPOED ? "pppoed" : xu_proto_name(name);
}

typedef struct node {
    int32_t parent, child, sibling, last_child; /* -1: none; node 0 is the root */
    uint32_t name;
    uint64_t frames, bytes;
} node;

typedef struct tree {
    node *n;
    size_t len, cap;
} tree;

/* The child of `parent` named `name`, created if needed; -1 with *err set. */
static int32_t child_of(HEXPERTKEY key, tree *t, int32_t parent, uint32_t name, DWORD *err)
{
    for (int32_t c = t->n[parent].child; c >= 0; c = t->n[c].sibling)
        if (t->n[c].name == name)
            return c;
    if (t->len == t->cap) {
        size_t ncap = t->cap * 2;
        node *nn = ExpertReallocMemory(key, t->n, ncap * sizeof *nn, err);
        if (!nn)
            return -1;
        t->n = nn;
        t->cap = ncap;
    }
    int32_t id = (int32_t)t->len++;
    node *x = &t->n[id];
    memset(x, 0, sizeof *x);
    x->parent = parent;
    x->child = x->sibling = x->last_child = -1;
    x->name = name;
    if (t->n[parent].last_child >= 0)
        t->n[t->n[parent].last_child].sibling = id;
    else
        t->n[parent].child = id;
    t->n[parent].last_child = id;
    return id;
}

/* The frame's path: its named layers ordered by offset (the table's order
 * for layers at one offset); VLAN tags one node each, named after the TPID
 * that announced them. */
static unsigned frame_path(const xu_frame *f, uint32_t *path)
{
    /* An Ethernet header cut short by the snapshot length: Wireshark's tree
     * has no "eth" (only its _ws.short), so the frame has no path here. */
    if (xu_has(f, NMX_PROTO_ETHERNET) && xu_avail(f, xu_off(f, NMX_PROTO_ETHERNET)) < 14)
        return 0;
    struct {
        DWORD off;
        uint32_t name;
    } l[MAX_PATH_LAYERS];
    unsigned n = 0;
    for (unsigned i = 0; i < f->nlayers && n < MAX_PATH_LAYERS; i++) {
        unsigned p = f->layer[i].proto;
        DWORD o = f->layer[i].off;
        if (!xu_proto_name(p))
            continue;
        uint32_t name = p;
        /* the type field announcing a tag is the 2 bytes before it */
        if (p == NMX_PROTO_VLAN && o >= 2 && xu_avail(f, o - 2) >= 2 && xu_be16(f->bytes + o - 2) == 0x88a8)
            name = N_8021AD;
        if (p == NMX_PROTO_PPPOE && xu_avail(f, o) >= 2 && f->bytes[o + 1] != 0)
            name = N_PPPOED;
        unsigned j = n++;
        for (; j > 0 && l[j - 1].off > o; j--) /* insertion by offset, stable */
            l[j] = l[j - 1];
        l[j].off = o;
        l[j].name = name;
    }
    for (unsigned i = 0; i < n; i++)
        path[i] = l[i].name;
    return n;
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* Submits the rows depth-first; returns an Expert error code. */
static DWORD report(HEXPERTKEY key, const tree *t, unsigned long maxdepth)
{
    uint64_t fr = t->n[0].frames, by = t->n[0].bytes;
    int32_t cur = t->n[0].child;
    unsigned depth = 0;
    while (cur >= 0) {
        const node *x = &t->n[cur];
        if (!maxdepth || depth < maxdepth) {
            char label[2 * 64 + 32];
            unsigned ind = depth < 64 ? depth : 64;
            memset(label, ' ', 2 * ind);
            snprintf(label + 2 * ind, sizeof label - 2 * ind, "%s", node_name(x->name));
            xu_row r;
            xu_row_begin(&r, NAME, 1, "Protocol Hierarchy");
            xu_col_str(&r, "Protocol", label);
            xu_col_f64(&r, "Frames", (double)x->frames);
            xu_col_f64(&r, "Bytes", (double)x->bytes);
            xu_col_f64(&r, "% Frames", pct(x->frames, fr));
            xu_col_f64(&r, "% Bytes", pct(x->bytes, by));
            DWORD rc = xu_row_submit(key, &r);
            if (rc != NMERR_SUCCESS)
                return rc;
        }
        if (x->child >= 0) {
            cur = x->child;
            depth++;
            continue;
        }
        while (cur > 0 && t->n[cur].sibling < 0) {
            cur = t->n[cur].parent;
            depth--;
        }
        cur = cur > 0 ? t->n[cur].sibling : -1;
    }
    return NMERR_SUCCESS;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    pd_config c;
    if (!xu_run_config(key, cfg_parse(config, &c), c.error))
        return FALSE;
    DWORD rc = NMERR_SUCCESS;
    tree t = {0};
    t.cap = 64;
    t.n = ExpertAllocMemory(key, t.cap * sizeof *t.n, &rc);
    if (!t.n)
        return xu_run_end(key, NAME, rc);
    t.len = 1;
    t.n[0].parent = t.n[0].child = t.n[0].sibling = t.n[0].last_child = -1;

    xu_walk w;
    xu_frame f;
    xu_walk_begin(&w, key, startup, "Counting protocols");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f)) {
        uint32_t path[MAX_PATH_LAYERS];
        unsigned n = frame_path(&f, path);
        int32_t cur = 0;
        t.n[0].frames++;
        t.n[0].bytes += f.wirelen;
        for (unsigned i = 0; i < n && cur >= 0; i++) {
            cur = child_of(key, &t, cur, path[i], &rc);
            if (cur >= 0) {
                t.n[cur].frames++;
                t.n[cur].bytes += f.wirelen;
            }
        }
    }
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report(key, &t, c.depth);
    ExpertFreeMemory(key, t.n);
    return xu_run_end(key, NAME, rc);
}
