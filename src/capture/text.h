/* Reading the text protocols' messages (SIP, HTTP, the mail protocols):
 * start lines, the end of a header block, a header's value. Every function
 * reads only the `len` bytes it is given; none needs them NUL-terminated.
 */
#ifndef NMX_CAPTURE_TEXT_H
#define NMX_CAPTURE_TEXT_H

#include <stdint.h>

/* Do the `len` bytes at m start with `lit` (ASCII, case-insensitive)? */
int nmx__text_prefix(const char *m, uint32_t len, const char *lit);

/* The length of the first line without its CR LF (or LF), when a line end
 * is among the first `len` bytes; else -1. */
long nmx__line_len(const char *m, uint32_t len);

/* Lines: the line starting at `at` has *ll bytes before its CR LF / LF;
 * returns where the next line starts (len when this is the last). */
uint32_t nmx__next_line(const char *m, uint32_t len, uint32_t at, uint32_t *ll);

/* The offset just after the empty line that ends a header block (CR LF CR
 * LF, or LF LF), 0 when it is not among the `len` bytes. */
uint32_t nmx__headers_end(const char *m, uint32_t len);

/* The value of header `name` (or of its compact form `alt`, NULL for none)
 * in the header block of `len` bytes at m, without the start line:
 * leading blanks skipped, up to the line end. NULL when absent. */
const char *nmx__header_value(const char *m, uint32_t len, const char *name, const char *alt, uint32_t *vlen);

/* A SIP message's start line: "SIP/2.0 NNN ..." or "METHOD uri SIP/2.0". */
int nmx__sip_start_line(const char *m, uint32_t len);

/* Do a SIP message's headers (the `len` bytes before its body) announce an
 * SDP body (Content-Type application/sdp)? */
int nmx__sip_has_sdp(const char *m, uint32_t len);

#endif
