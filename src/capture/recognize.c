/* Recognition: what the host lists in a frame's RECOGNIZEDATATABLE (C5).
 *
 * The reader of a capture feeds every frame through one recognizer, in
 * capture order, once (C7): nmx_decode's layers, then whatever a frame's
 * context reveals. Runs never recognise anything themselves; they read the
 * tables the reader stored. State that spans frames (flows, signalled
 * ports) lives in the recognizer, so recognition is done by one thread at a
 * time and never repeated.
 */
#include "capture/capture_internal.h"

#include <stdlib.h>

struct nmx__recognizer {
    uint64_t frames; /* seen so far */
};

nmx__recognizer *nmx__recognizer_new(void)
{
    return calloc(1, sizeof(nmx__recognizer));
}

void nmx__recognizer_free(nmx__recognizer *rz)
{
    free(rz);
}

unsigned nmx__recognize(nmx__recognizer *rz, const uint8_t *bytes, uint32_t caplen, int dlt,
                        int64_t ts_ns, nmx_decoded *out)
{
    (void)ts_ns;
    rz->frames++;
    return nmx_decode(bytes, caplen, dlt, out);
}
