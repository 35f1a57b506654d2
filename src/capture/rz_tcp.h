/* What the parts of the TCP recognizer share: one segment's payload as
 * the framings see it, and what they found in it. */
#ifndef NMX_RZ_TCP_H
#define NMX_RZ_TCP_H

#include "capture/rz_flow.h"

#include <stdint.h>

/* What a framing found in one segment. */
typedef struct nmx__rz_found {
    int ended;      /* a message ended in this segment: the frame carries the protocol */
    int cont;       /* ... or bytes that start no message were taken as a continuation */
    int32_t start;  /* where that message starts in the payload; -1: in an earlier segment */
    unsigned n;     /* its layers */
    uint16_t proto[3];
    uint8_t rel[3]; /* offsets from the message start */
} nmx__rz_found;

/* rz_tcp.c: forget a direction's message in progress (its sequence
 * numbers stay): the next byte is read as a message start. */
void nmx__rz_dir_restart(nmx__rz_dir *dd);

/* rz_tcp.c: the conversation carries `proto` from the next byte on, both
 * ways (after STARTTLS, a WebSocket upgrade). */
void nmx__rz_switch(nmx__rz_flow *f, uint16_t proto);

/* rz_http.c: the bytes [0, n) of a segment in direction `dir` of an HTTP
 * (or SIP over TCP) conversation; all of them captured. */
void nmx__rz_http(nmx__rz_flow *f, int dir, const uint8_t *p, uint32_t n, nmx__rz_found *out);

/* rz_http.c: the direction's FIN: a body that runs to the close ends. */
int nmx__rz_http_fin(nmx__rz_flow *f, int dir);

/* rz_http.c: is the conversation an upgraded (or CONNECTed) one, whose
 * every segment Wireshark's HTTP takes? */
int nmx__rz_http_upgraded(const nmx__rz_flow *f, int dir);

/* rz_http.c: is the direction inside a body or chunk of known length
 * (in nmx__rz_dir.remain)? */
int nmx__rz_http_in_body(const nmx__rz_flow *f, int dir);

/* rz_http.c: does a payload start like an HTTP request or response (the
 * check of Wireshark's HTTP heuristic)? */
int nmx__rz_http_start(const uint8_t *p, uint32_t n);

#endif
