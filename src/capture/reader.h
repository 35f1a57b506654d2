/* The reader thread of a capture (reader.c): reads the input once, appends
 * every frame to the capture's spools, recognises it and publishes it. */
#ifndef NMX_READER_H
#define NMX_READER_H

#include "capture/capture_internal.h"

#include "capture/source.h"

/* Start reading src (the capture's inputs; the reader owns it from now on,
 * also on failure) on a thread of its own. Registers the link types the
 * inputs declare first. 0, or an errno value. */
int nmx__reader_start(nmx_capture *cap, nmx__source *src);

/* Stop reading (at the next frame) and wait for the thread; free its state.
 * Safe when none was started. */
void nmx__reader_stop(nmx_capture *cap);

#endif
