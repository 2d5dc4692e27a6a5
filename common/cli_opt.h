/* The usage errors of getopt_long() worded once for every program and
 * subcommand: a value left out, a value given to a switch, an abbreviation
 * of several options, an unknown option with the nearest known one. */
#ifndef INGOT_CLI_OPT_H
#define INGOT_CLI_OPT_H

#include <getopt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The error for c, what getopt_long() returned ('?' or ':', the optstring
 * beginning with ':') for the argument before argv[optind]:
 *   "--out needs a value", "--quiet takes no value",
 *   "option '--val' is ambiguous: --val-every, --val-tokens",
 *   "unknown option '--quite'; did you mean --quiet?",
 * each followed by " (see HELP)", HELP naming the help to read ("--help",
 * "ingot-train eval --help"). The option as typed is shown through
 * term_text(). longs ends with a zero entry. Returns
 * INGOT_E_USAGE (the message in ingot_errmsg()). */
int cli_opt_error(int c, char **argv, const struct option *longs, const char *help);

#ifdef __cplusplus
}
#endif
#endif
