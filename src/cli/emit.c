/* The output formats by name: adding one is its emit_<name>.c and a line here. */
#include "cli.h"

#include <string.h>

static const cli_emitter emitters[] = {
    {"text", nmx__cli_emit_text},
    {"json", nmx__cli_emit_json},
    {"csv", nmx__cli_emit_csv},
    {"html", nmx__cli_emit_html},
};

const cli_emitter *nmx__cli_emitter(const char *name)
{
    for (size_t i = 0; name && i < sizeof emitters / sizeof emitters[0]; i++)
        if (!strcmp(emitters[i].name, name))
            return &emitters[i];
    return NULL;
}

const char *nmx__cli_format_names(void)
{
    static char names[128];
    if (!names[0])
        for (size_t i = 0; i < sizeof emitters / sizeof emitters[0]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "",
                     emitters[i].name);
    return names;
}
