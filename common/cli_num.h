/* One parser and one formatter for the numbers every program takes on its
 * command line and prints, so `--shard-tokens 100M` and `--batch-tokens 512k`
 * mean the same thing in every program. */
#ifndef INGOT_CLI_NUM_H
#define INGOT_CLI_NUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parse an integer with an optional suffix: k M G T (powers of 1000) or
 * Ki Mi Gi Ti (powers of 1024); "100M" = 100000000, "512Ki" = 524288.
 * Refuses signs where lo >= 0, fractions, trailing text, overflow and values
 * outside [lo, hi] with INGOT_E_USAGE and a message naming the flag (as
 * given, e.g. "--steps") and the accepted range. Every parser's message
 * shows the flag and the text through term_text() (what was typed may hold
 * an escape sequence). */
int cli_parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out);
/* cli_parse_i64() into an int (hi must fit an int). */
int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out);
/* A finite real number in [lo, hi] (decimal strtod syntax, no suffix; -0 is
 * 0). Hexadecimal (0x1p-3), inf, nan and a nonzero closer to 0 than DBL_MIN
 * (1e-310) are refused with INGOT_E_USAGE, the message saying which. */
int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out);
/* The same into a float: also refused, a nonzero closer to 0 than FLT_MIN
 * (1e-46 became 0.0 as a float, silently). */
int cli_parse_float(const char *flag, const char *s, double lo, double hi, float *out);
/* A duration into *seconds (> 0): Slurm's --time forms (MINUTES, MM:SS,
 * HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS), so a job script can pass its own
 * limit, or units (90s, 45m, 3h50m, 1d12h). INGOT_E_USAGE naming flag. */
int cli_parse_duration(const char *flag, const char *s, double *seconds);

/* The value of the long option --name (name without its dashes, as in
 * struct option): refuses "" and a value that starts with "--", which is the
 * next flag taken as this one's value because the value was left out
 * ("--model --out DIR"); INGOT_E_USAGE naming the flag and showing v
 * through term_text(). A file whose name starts with "--" can be given as
 * ./--name. */
int cli_check_value(const char *name, const char *v);

/* d as the shortest decimal that reads back (strtod) as the same double:
 * what a file or a user wrote (0.1, not %.17g's 0.10000000000000001), and
 * a whole number below 1e15 without an exponent (1000, not %g's 1e+03, so
 * that an integer flag's parser takes it). Returns buf (32 bytes hold any). */
const char *cli_format_double(double d, char *buf, size_t len);
/* The shortest decimal that reads back as f, as a double: what the user
 * wrote (1e-3 for the float nearest 1e-3), for arithmetic and files that
 * should see 0.001 rather than 0.00100000005. */
double cli_float_decimal(float f);
/* The candidate nearest to a mistyped name (--modle, tny), for a "did you
 * mean" hint: the one fewest single-character edits away (insert, delete,
 * replace, swap of neighbours), if that is at most 2 and less than half of
 * given; NULL otherwise. */
const char *cli_closest(const char *given, const char *const *cands, size_t n);
/* x with a k/M/G/T suffix for people: 1234567 -> "1.23M"; returns buf. */
const char *cli_human(double x, char *buf, size_t len);
/* A byte count of data (files, text) with decimal units, as the MB/s
 * rates and sizes ingot-pretok prints: 1536 -> "1.5 kB", 8100000 ->
 * "8.1 MB"; returns buf. (Memory sizes are printed in MiB.) */
const char *cli_human_bytes(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
