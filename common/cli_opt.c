/* getopt_long()'s usage errors, worded once (cli_opt.h). */
#include <stdio.h>
#include <string.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "ingot_err.h"
#include "term_text.h"

int cli_opt_error(int c, char **argv, const struct option *longs, const char *help)
{
    /* a short option (-x): getopt_long puts it in optopt; a long one has
     * optopt 0 (unknown) or its val, which is above 255 here. Decided by
     * optopt alone: in a cluster (-qx) getopt has not moved past the word
     * yet, so argv[optind - 1] is the one before ("unknown option
     * '--quiet'; did you mean --quiet?" for --quiet -xy) */
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    /* what was typed is shown through term_text(): an escape sequence in
     * it (-$'\e]0;...\a', --$'\e...') would reach the terminal */
    char shown[1024];
    if (optopt > 0 && optopt < 256) {
        const char one[2] = { (char)optopt, '\0' };
        term_text(one, shown, sizeof(shown));
        return c == ':' ? ingot_fail(INGOT_E_USAGE, "-%s needs a value (see %s)", shown, help)
                        : ingot_fail(INGOT_E_USAGE, "unknown option '-%s' (see %s)", shown, help);
    }
    term_text(arg, shown, sizeof(shown));
    if (c == ':')
        return ingot_fail(INGOT_E_USAGE, "%s needs a value (see %s)", shown, help);
    char given[64];
    snprintf(given, sizeof(given), "%s", arg + strspn(arg, "-"));
    const char *eq = strchr(arg, '=');
    given[strcspn(given, "=")] = '\0';
    const size_t len = strlen(given);
    const struct option *exact = NULL, *prefix = NULL;
    size_t n = 0, n_prefix = 0;
    for (const struct option *l = longs; l->name; l++, n++) {
        if (!strcmp(l->name, given))
            exact = l;
        else if (len && !strncmp(l->name, given, len))
            prefix = n_prefix++ ? prefix : l;
    }
    /* the only option this abbreviates, or the one it names */
    const struct option *named = exact ? exact : n_prefix == 1 ? prefix : NULL;
    if (named && eq && named->has_arg == no_argument)
        return ingot_fail(INGOT_E_USAGE, "--%s takes no value (got '%s'; see %s)", named->name,
                          shown, help);
    if (!exact && n_prefix > 1 && strncmp(arg, "--", 2) == 0) {
        char list[512];
        size_t at = 0;
        list[0] = '\0';
        for (const struct option *l = longs; l->name && at < sizeof(list); l++)
            if (!strncmp(l->name, given, len))
                at += (size_t)snprintf(list + at, sizeof(list) - at, "%s--%s", at ? ", " : "",
                                       l->name);
        return ingot_fail(INGOT_E_USAGE, "option '%s' is ambiguous: %s (see %s)", shown, list,
                          help);
    }
    const char *names[256];
    size_t k = 0;
    for (const struct option *l = longs; l->name && k < sizeof(names) / sizeof(*names); l++)
        names[k++] = l->name;
    const char *near = !strncmp(arg, "--", 2) ? cli_closest(given, names, k) : NULL;
    if (near)
        return ingot_fail(INGOT_E_USAGE, "unknown option '%s'; did you mean --%s? (see %s)",
                          shown, near, help);
    return ingot_fail(INGOT_E_USAGE, "unknown option '%s' (see %s)", shown, help);
}
