/* The reader thread of a capture (reader.c): reads the input once, appends
 * every frame to the capture's spools, recognises it and publishes it. */
#ifndef NMX_READER_H
#define NMX_READER_H

#include "capture/capture_internal.h"

#include <pcap/pcap.h>

/* Start reading p (opened on the capture's file; the reader owns it from
 * now on, also on failure) on a thread of its own. 0, or an errno value. */
int nmx__reader_start(nmx_capture *cap, pcap_t *p);

/* Stop reading (at the next frame) and wait for the thread; free its state.
 * Safe when none was started. */
void nmx__reader_stop(nmx_capture *cap);

#endif
