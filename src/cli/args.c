/* `run`'s options: parsed into cli_args; nothing is opened or loaded here. */
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned shift = *end == 'k' || *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (*end || v > (SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_seconds(const char *s, unsigned *ms)
{
    char *end;
    double t = strtod(s, &end);
    if (end == s || *end || !(t > 0) || t > 4e6)
        return -1;
    *ms = (unsigned)(t * 1000);
    if (*ms == 0)
        *ms = 1;
    return 0;
}

static int bad(const char *what)
{
    fprintf(stderr, "nmexpert: %s\n", what);
    return EXIT_BAD_INPUT;
}

enum { O_EXPERT, O_FILTER, O_CONFIG, O_MEM, O_TIME, O_FORMAT, O_HTML };

/* The options that take a value, short and long spelling. */
static const struct {
    const char *shrt, *lng;
} opts[] = {
    [O_EXPERT] = {"-e", "--expert"}, [O_FILTER] = {"-f", "--filter"},
    [O_CONFIG] = {"-c", "--config"}, [O_MEM] = {"-m", "--mem-limit"},
    [O_TIME] = {"-t", "--timeout"},  [O_FORMAT] = {"-o", "--format"},
    [O_HTML] = {NULL, "--html"},
};

static int which(const char *a)
{
    for (int k = 0; k < (int)(sizeof opts / sizeof opts[0]); k++)
        if ((opts[k].shrt && !strcmp(a, opts[k].shrt)) || !strcmp(a, opts[k].lng))
            return k;
    return -1;
}

/* Stores option k's value; returns 0, or EXIT_BAD_INPUT. */
static int option(int k, const char *v, cli_args *o)
{
    switch (k) {
    case O_EXPERT:
        if (o->nnames == CLI_MAX_NAMES)
            return bad("too many --expert");
        o->names[o->nnames++] = v;
        return 0;
    case O_FILTER: o->filter = v; return 0;
    case O_CONFIG:
        if (o->nconfigs == CLI_MAX_CONFIGS)
            return bad("too many --config");
        o->configs[o->nconfigs++] = v;
        return 0;
    case O_MEM: return parse_size(v, &o->quota) ? bad("bad --mem-limit") : 0;
    case O_TIME: return parse_seconds(v, &o->timeout_ms) ? bad("bad --timeout") : 0;
    case O_FORMAT:
        if (!nmx__cli_emitter(v)) {
            fprintf(stderr, "nmexpert: --format is %s\n", nmx__cli_format_names());
            return EXIT_BAD_INPUT;
        }
        o->format = v;
        return 0;
    default: o->html = v; return 0;
    }
}

int nmx__cli_parse_run(int argc, char **argv, cli_args *o)
{
    memset(o, 0, sizeof *o);
    o->format = "text";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            return 0;
        }
        if (!strcmp(a, "--in-process")) { /* the one option without a value */
            o->in_process = 1;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') { /* "-" alone is an input: standard input */
            int k = which(a);
            if (k < 0) {
                fprintf(stderr, "nmexpert: unknown option %s (see nmexpert run --help)\n", a);
                return EXIT_BAD_INPUT;
            }
            if (i + 1 == argc) {
                fprintf(stderr, "nmexpert: %s needs a value\n", a);
                return EXIT_BAD_INPUT;
            }
            int rc = option(k, argv[++i], o);
            if (rc)
                return rc;
            continue;
        }
        if (o->ninputs == CLI_MAX_INPUTS)
            return bad("too many inputs (at most 1024; give a folder instead)");
        o->inputs[o->ninputs++] = a;
    }
    if (o->ninputs == 0)
        return bad("run needs a capture (see nmexpert run --help)");
    return 0;
}
