/* libFuzzer target for what a worker may send its host (SPEC H11): the
 * decoder of relocatable events (src/host/iso_wire.c) on arbitrary bytes, as
 * a hostile expert could write them into its channel.
 *
 * A decoded event must be whole: every string inside the copy's one block
 * and NUL-terminated, every column of a known type; encoding it again gives
 * the same bytes but for the reserved pointers, which decoding clears.
 *
 *   cmake -S . -B build-fuzz -DNMX_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   build-fuzz/fuzz/fuzz_iso_wire -max_total_time=60 corpus/
 */
#include "host/iso_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NMEVENTDATA *ev = nmx__iso_event_decode(data, size);
    if (!ev)
        return 0;
    size_t n = nmx__iso_event_size(ev);
    if (n != size)
        abort();
    void *again = malloc(n);
    if (!again)
        abort();
    nmx__iso_event_encode(ev, again);
    NMEVENTDATA *ev2 = nmx__iso_event_decode(again, n);
    if (!ev2 || nmx__iso_event_size(ev2) != n)
        abort();
    free(ev2);
    free(again);
    free(ev);
    return 0;
}
