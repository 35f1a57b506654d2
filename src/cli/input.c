/* The capture the command reads. Every input kind the command accepts is
 * opened here, and only here (`info` and `run` both come through). */
#include "cli.h"

int nmx__cli_open_input(const char *const *paths, size_t n, nmx_capture **out)
{
    char err[1024];
    if (n != 1) {
        fprintf(stderr, "nmexpert: one capture only\n");
        return EXIT_BAD_INPUT;
    }
    if (nmx_capture_open(paths[0], out, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    return 0;
}

const char *nmx__cli_input_name(const char *const *paths, size_t n)
{
    return n ? paths[0] : "";
}
