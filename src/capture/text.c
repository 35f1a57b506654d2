/* Text protocol helpers (text.h). */
#include "capture/text.h"

#include <string.h>

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int nmx__text_prefix(const char *m, uint32_t len, const char *lit) {
    uint32_t n = (uint32_t)strlen(lit);
    if (len < n)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (lower((unsigned char)m[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

long nmx__line_len(const char *m, uint32_t len) {
    const char *nl = memchr(m, '\n', len);
    if (!nl)
        return -1;
    long n = nl - m;
    return n > 0 && m[n - 1] == '\r' ? n - 1 : n;
}

uint32_t nmx__next_line(const char *m, uint32_t len, uint32_t at, uint32_t *ll) {
    const char *nl = memchr(m + at, '\n', len - at);
    uint32_t end = nl ? (uint32_t)(nl - m) : len;
    *ll = end > at && m[end - 1] == '\r' && nl ? end - 1 - at : end - at;
    return nl ? end + 1 : len;
}

uint32_t nmx__headers_end(const char *m, uint32_t len) {
    for (uint32_t i = 0; i + 1 < len; i++) {
        if (m[i] != '\n')
            continue;
        if (m[i + 1] == '\n')
            return i + 2;
        if (m[i + 1] == '\r' && i + 2 < len && m[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static const char *value_at(const char *m, uint32_t len, uint32_t i, uint32_t *vlen) {
    while (i < len && (m[i] == ' ' || m[i] == '\t'))
        i++;
    uint32_t e = i;
    while (e < len && m[e] != '\r' && m[e] != '\n')
        e++;
    *vlen = e - i;
    return m + i;
}

/* Does the line at m[i] name `name` followed by optional blanks and ':'?
 * Returns the offset after the colon, 0 if not. */
static uint32_t names(const char *m, uint32_t len, uint32_t i, const char *name) {
    uint32_t n = (uint32_t)strlen(name);
    if (len - i < n || !nmx__text_prefix(m + i, len - i, name))
        return 0;
    i += n;
    while (i < len && (m[i] == ' ' || m[i] == '\t'))
        i++;
    return i < len && m[i] == ':' ? i + 1 : 0;
}

const char *nmx__header_value(const char *m, uint32_t len, const char *name, const char *alt, uint32_t *vlen) {
    uint32_t i = 0;
    /* skip the start line */
    while (i < len && m[i] != '\n')
        i++;
    for (i++; i < len; i++) {
        uint32_t v = names(m, len, i, name);
        if (!v && alt)
            v = names(m, len, i, alt);
        if (v)
            return value_at(m, len, v, vlen);
        while (i < len && m[i] != '\n')
            i++;
    }
    return NULL;
}

static int upper(char c) { return c >= 'A' && c <= 'Z'; }

int nmx__sip_start_line(const char *m, uint32_t len) {
    /* "SIP/2.0 " or a method (ACK, BYE, INVITE ...): three upper-case
     * letters first, a request line of reasonable length */
    if (len < 8 || !upper(m[0]) || !upper(m[1]) || !upper(m[2]) || !(upper(m[3]) || m[3] == ' ' || m[3] == '/'))
        return 0;
    uint32_t cap = len < 1024 ? len : 1024;
    long n = nmx__line_len(m, cap);
    if (n < 8)
        return 0;
    if (nmx__text_prefix(m, (uint32_t)n, "SIP/2.0 "))
        return 1;
    /* METHOD SP Request-URI SP SIP-Version: a token, then a space */
    long sp = 0;
    while (sp < n && m[sp] > ' ' && m[sp] < 127)
        sp++;
    return sp > 0 && sp < n && m[sp] == ' ' && nmx__text_prefix(m + n - 8, 8, " SIP/2.0");
}

int nmx__sip_has_sdp(const char *m, uint32_t len) {
    uint32_t vlen;
    const char *v = nmx__header_value(m, len, "Content-Type", "c", &vlen);
    return v && nmx__text_prefix(v, vlen, "application/sdp");
}
