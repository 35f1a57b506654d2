/* The capture the command reads. Every input kind the command accepts is
 * opened here, and only here (`info` and `run` both come through): files in
 * any format libwiretap reads, compressed or not, folders and "-" (standard
 * input), several of them making one capture (nmx_capture_open_inputs). */
#include "cli.h"

#include <string.h>

int nmx__cli_open_input(const char *const *paths, size_t n, nmx_capture **out)
{
    char err[1024];
    if (nmx_capture_open_inputs(paths, n, out, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    return 0;
}

const char *nmx__cli_input_name(const char *const *paths, size_t n)
{
    static char name[1024];
    name[0] = '\0';
    for (size_t i = 0, len = 0; i < n && len < sizeof name; i++) {
        const char *p = strcmp(paths[i], "-") ? paths[i] : "stdin";
        int k = snprintf(name + len, sizeof name - len, "%s%s", i ? ", " : "", p);
        len += k > 0 ? (size_t)k : 0;
    }
    return name;
}
