/* nmexpert: list experts, describe a capture, run experts over it.
 *
 *   nmexpert list
 *   nmexpert info CAPTURE
 *   nmexpert run [-e NAME]... [--filter EXPR] [--config NAME:KEY=VALUE]...
 *                [--mem-limit BYTES] [--timeout SECONDS] [--format FMT]
 *                [--html FILE] [--in-process] CAPTURE
 *
 * Exit status: 0 when every run finished; 1 when a run failed (crashed, hung,
 * timed out, reported a problem); 2 for bad input (usage, a capture or filter
 * that cannot be used, an unknown expert).
 *
 * The seams are described in cli.h.
 */
#include "cli.h"

#include <string.h>

static int usage(FILE *o, int rc)
{
    fprintf(o,
            "usage: nmexpert list\n"
            "       nmexpert info CAPTURE...\n"
            "       nmexpert run [options] CAPTURE...\n"
            "A CAPTURE is a file in any format Wireshark reads (plain or gzip/zstd/lz4), a folder\n"
            "(every capture in it, by name) or - (standard input); several make one capture.\n"
            "run options:\n"
            "  -e, --expert NAME        run this expert (file name or registered name); repeatable;\n"
            "                           default: every expert found\n"
            "  -f, --filter EXPR        tcpdump/BPF filter the experts see the capture through\n"
            "  -c, --config NAME:K=V    a configuration line for expert NAME; repeatable\n"
            "  -m, --mem-limit BYTES    memory quota of each run (suffixes k, M, G)\n"
            "  -t, --timeout SECONDS    time limit of each run\n"
            "  -o, --format FMT         %s (default text)\n"
            "      --html FILE          also write a self-contained HTML report with charts\n"
            "      --in-process         run the experts on threads of this process instead of\n"
            "                           each in a confined worker process (the default)\n"
            "Experts are looked for in NMEXPERT_PATH (colon-separated folders), then in the\n"
            "bundled folder. Exit status: 0 every run finished; 1 a run failed; 2 bad input.\n",
            nmx__cli_format_names());
    return rc;
}

static int help_asked(int argc, char **argv)
{
    return argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"));
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr, EXIT_BAD_INPUT);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
        return usage(stdout, 0);
    if (!strcmp(cmd, "list")) {
        if (help_asked(argc, argv)) {
            printf("usage: nmexpert list\nLists the experts found (NMEXPERT_PATH, then the bundled "
                   "folder) and the modules rejected, with the reason.\n");
            return 0;
        }
        return nmx__cli_list();
    }
    if (!strcmp(cmd, "info")) {
        if (help_asked(argc, argv)) {
            printf("usage: nmexpert info CAPTURE...\nEach file's format, compression, size and "
                   "encapsulation, then the frames, bytes, link types, first and last time and "
                   "duration of the capture they make, and any damage found.\n");
            return 0;
        }
        if (argc < 3)
            return usage(stderr, EXIT_BAD_INPUT);
        return nmx__cli_info((const char *const *)argv + 2, (size_t)(argc - 2));
    }
    if (!strcmp(cmd, "run")) {
        cli_args a;
        int rc = nmx__cli_parse_run(argc - 2, argv + 2, &a);
        if (rc)
            return rc;
        return a.help ? usage(stdout, 0) : nmx__cli_run(&a);
    }
    fprintf(stderr, "nmexpert: unknown command %s\n", cmd);
    return usage(stderr, EXIT_BAD_INPUT);
}
