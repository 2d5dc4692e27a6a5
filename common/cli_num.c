/* Command-line numbers: one parser, one formatter (cli_num.h). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "ingot_err.h"
#include "term_text.h"

/* The multiplier of a suffix, or 0 when s is not a known suffix. */
static int64_t suffix_mul(const char *s)
{
    static const struct { const char *name; int64_t mul; } tab[] = {
        { "", 1 },
        { "k", INT64_C(1000) }, { "K", INT64_C(1000) },
        { "M", INT64_C(1000000) }, { "G", INT64_C(1000000000) },
        { "T", INT64_C(1000000000000) },
        { "Ki", INT64_C(1) << 10 }, { "KiB", INT64_C(1) << 10 },
        { "Mi", INT64_C(1) << 20 }, { "MiB", INT64_C(1) << 20 },
        { "Gi", INT64_C(1) << 30 }, { "GiB", INT64_C(1) << 30 },
        { "Ti", INT64_C(1) << 40 }, { "TiB", INT64_C(1) << 40 },
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (!strcmp(s, tab[i].name))
            return tab[i].mul;
    return 0;
}

/* INGOT_E_USAGE with "FLAG 'S': " and then fmt's text. S is what was typed
 * (an escape sequence in it would reach the terminal), and FLAG may carry a
 * --config file's path and key: both through term_text(). */
__attribute__((format(printf, 3, 4)))
static int value_fail(const char *flag, const char *s, const char *fmt, ...)
{
    char rest[512], tf[1024], ts[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    return ingot_fail(INGOT_E_USAGE, "%s '%s': %s", term_text(flag, tf, sizeof(tf)),
                      term_text(s, ts, sizeof(ts)), rest);
}

static int range_fail(const char *flag, const char *s, int64_t lo, int64_t hi)
{
    if (hi == INT64_MAX)
        return value_fail(flag, s, "expected an integer >= %lld "
                          "(suffixes k M G T, Ki Mi Gi Ti allowed)", (long long)lo);
    /* the suffixes are worth a mention only where a range reaches them */
    return value_fail(flag, s, "expected an integer in [%lld, %lld]%s",
                      (long long)lo, (long long)hi,
                      hi >= 1000 ? " (suffixes k M G T, Ki Mi Gi Ti allowed)" : "");
}

int cli_parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s)
        return range_fail(flag, "", lo, hi);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    /* strtoll would quietly wrap "-1" into a huge unsigned-looking value for
     * callers that cast; refuse a sign where negatives are not allowed. */
    if (lo >= 0 && (*p == '-' || *p == '+'))
        return range_fail(flag, s, lo, hi);
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno == ERANGE)   /* past int64: say so, not just the lower bound */
        return value_fail(flag, s, "too large (at most %lld)", (long long)hi);
    if (errno || end == p)
        return range_fail(flag, s, lo, hi);
    int64_t mul = suffix_mul(end);
    if (!mul)
        return range_fail(flag, s, lo, hi);
    if (mul > 1 && (v > INT64_MAX / mul || v < INT64_MIN / mul))
        return value_fail(flag, s, "too large (at most %lld)", (long long)hi);
    int64_t r = (int64_t)v * mul;
    if (r < lo || r > hi)
        return range_fail(flag, s, lo, hi);
    *out = r;
    return 0;
}

int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    int64_t v = 0;
    int err = cli_parse_i64(flag, s, lo, hi, &v);
    if (!err)
        *out = (int)v;
    return err;
}

int cli_check_value(const char *name, const char *v)
{
    if (!*v)
        return ingot_fail(INGOT_E_USAGE, "--%s: empty value", name);
    char tv[1024];
    if (!strncmp(v, "--", 2))
        return ingot_fail(INGOT_E_USAGE, "--%s needs a value (got '%s', the next option?; a "
                          "file named so can be given as ./%s)", name,
                          term_text(v, tv, sizeof(tv)), tv);
    return 0;
}

/* "expected a number in [lo, hi]" (or ">= lo"), after what is wrong. */
static int double_fail(const char *flag, const char *s, const char *what, double lo, double hi)
{
    if (isinf(hi))
        return value_fail(flag, s, "%sexpected a number >= %g", what, lo);
    return value_fail(flag, s, "%sexpected a number in [%g, %g]", what, lo, hi);
}

int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    if (!s)
        return double_fail(flag, "", "", lo, hi);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    const int range = errno;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    p += *p == '-' || *p == '+';
    if (end == s || *end)
        return double_fail(flag, s, "", lo, hi);
    /* strtod's C99 extras, which no number in a flag or a config means */
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        char dec[32], what[128];
        snprintf(what, sizeof(what), "hexadecimal is not taken, write it in decimal%s%s%s; ",
                 isfinite(v) ? " (" : "", isfinite(v) ? cli_format_double(v, dec, sizeof(dec)) : "",
                 isfinite(v) ? ")" : "");
        return double_fail(flag, s, what, lo, hi);
    }
    if (isnan(v) || (isinf(v) && !range))
        return double_fail(flag, s, "not a finite number; ", lo, hi);
    if (isinf(v))
        return double_fail(flag, s, "too large for a double; ", lo, hi);
    if (v < lo || v > hi)
        return double_fail(flag, s, "", lo, hi);
    /* In range, but a subnormal (1e-310) or a nonzero that rounds to 0
     * (1e-400, ERANGE): precision is lost there, and no setting means it. */
    if (v != 0.0 ? fabs(v) < DBL_MIN : range == ERANGE)
        return value_fail(flag, s, "too small to compute with (nonzero, but closer to 0 than "
                          "%.2g, the smallest normal double); give 0 if none is meant", DBL_MIN);
    *out = v == 0.0 ? 0.0 : v;   /* -0 as 0: it is printed into options and files */
    return 0;
}

int cli_parse_float(const char *flag, const char *s, double lo, double hi, float *out)
{
    double v = 0.0;
    int err = cli_parse_double(flag, s, lo, hi, &v);
    if (err)
        return err;
    if (v != 0.0 && fabs(v) < FLT_MIN)
        return value_fail(flag, s, "too small to compute with (nonzero, but closer to 0 than "
                          "%.2g, the smallest normal float); give 0 if none is meant",
                          (double)FLT_MIN);
    *out = (float)v;
    return 0;
}

/* Durations' fields (and D-HH's days) above these are refused as too long,
 * not misread. */
#define DURATION_FIELD_MAX 100000000L
#define DURATION_DAYS_MAX 100000L

/* Up to max ':'-separated unsigned fields of s into f; their count, -1, or
 * -2 for a field above DURATION_FIELD_MAX. */
static int colon_fields(const char *s, long *f, int max)
{
    int n = 0;
    for (;;) {
        if (!isdigit((unsigned char)*s) || n == max)
            return -1;
        char *end;
        errno = 0;
        f[n++] = strtol(s, &end, 10);
        if ((errno == ERANGE && end != s) || f[n - 1] > DURATION_FIELD_MAX)
            return -2;
        if (errno)
            return -1;
        s = end;
        if (!*s)
            return n;
        if (*s++ != ':')
            return -1;
    }
}

/* "3h50m", "90s", "1d12h": numbers each followed by d, h, m or s, largest
 * first, each unit once. -1 when it is not that, -2 when a number is past
 * DURATION_FIELD_MAX. */
static int unit_duration(const char *s, double *out)
{
    static const char units[] = "dhms";
    static const double secs[] = { 86400.0, 3600.0, 60.0, 1.0 };
    int next = 0;
    double t = 0.0;
    if (!*s)
        return -1;
    while (*s) {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char)*s))
            return -1;
        double v = strtod(s, &end);
        if (end != s && (errno == ERANGE || v > DURATION_FIELD_MAX) && v >= 1.0)
            return -2;
        if (errno || end == s || !*end)
            return -1;
        const char *u = strchr(units + next, *end);
        if (!u || !*u)
            return -1;
        next = (int)(u - units) + 1;
        t += v * secs[u - units];
        s = end + 1;
    }
    *out = t;
    return 0;
}

int cli_parse_duration(const char *flag, const char *s, double *seconds)
{
    double t = -1.0;
    long f[3];
    int too_long = 0;
    const char *dash = s ? strchr(s, '-') : NULL;
    if (!s) {
        t = -1.0;
    } else if (dash) {   /* D-HH, D-HH:MM, D-HH:MM:SS */
        char *end;
        errno = 0;
        long d = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : -1;
        const bool d_range = errno == ERANGE;   /* days past a long */
        int n = d >= 0 && !errno && end == dash ? colon_fields(dash + 1, f, 3) : -1;
        too_long = n == -2 || (n >= 1 && d > DURATION_DAYS_MAX) || (d_range && end == dash);
        if (n >= 1 && d <= DURATION_DAYS_MAX) {
            /* After a day the hours are a clock's: 1-24 is a typo for 2-00. */
            if (f[0] > 23 || (n > 1 && f[1] > 59) || (n > 2 && f[2] > 59))
                return value_fail(flag, s, "after the day, the hours must be below 24 and "
                                  "the minutes and seconds below 60");
            t = d * 86400.0 + f[0] * 3600.0 + (n > 1 ? f[1] * 60.0 : 0.0) + (n > 2 ? f[2] : 0.0);
        }
    } else if (strpbrk(s, "dhms")) {
        const int u = unit_duration(s, &t);
        too_long = u == -2;
        if (u)
            t = -1.0;
    } else {   /* MINUTES, MM:SS, HH:MM:SS */
        int n = colon_fields(s, f, 3);
        too_long = n == -2;
        /* Only the first field is free: 0:60 or 1:75:00 are typos, not
         * durations (Slurm would quietly carry them over). */
        if (n >= 2 && (f[n - 1] > 59 || (n == 3 && f[1] > 59)))
            return value_fail(flag, s, "the minutes and seconds after the first field must be "
                              "below 60 (%s)", n == 2 ? "MM:SS" : "HH:MM:SS");
        t = n == 1 ? f[0] * 60.0 : n == 2 ? f[0] * 60.0 + f[1] :
            n == 3 ? f[0] * 3600.0 + f[1] * 60.0 + f[2] : -1.0;
    }
    if (too_long || (t > 0.0 && !isfinite(t)))
        return value_fail(flag, s, "too long for a time limit (each number at most %ld, the "
                          "days of D-HH at most %ld)", DURATION_FIELD_MAX, DURATION_DAYS_MAX);
    if (!(t > 0.0) || !isfinite(t))
        return value_fail(flag, s ? s : "", "expected a duration above 0, as Slurm's --time "
                          "writes it (MINUTES, MM:SS, HH:MM:SS, D-HH:MM:SS) or with units (90s, "
                          "45m, 3h50m, 1d12h)");
    *seconds = t;
    return 0;
}

const char *cli_format_double(double d, char *buf, size_t len)
{
    if (d == trunc(d) && fabs(d) < 1e15) {
        snprintf(buf, len, "%.0f", d);
        return buf;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

/* Optimal string alignment distance of a and b (at most 63 bytes each;
 * longer: a large distance). */
static int edits(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 1 << 20;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            v = d[i - 1][j] + 1 < v ? d[i - 1][j] + 1 : v;
            v = d[i][j - 1] + 1 < v ? d[i][j - 1] + 1 : v;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *cli_closest(const char *given, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < n; i++) {
        int e = edits(given, cands[i]);
        if (e < best_d && 2 * e < (int)strlen(given)) {
            best = cands[i];
            best_d = e;
        }
    }
    return best;
}

double cli_float_decimal(float f)
{
    char b[32];
    for (int p = 1; p <= 9; p++) {   /* 9 significant digits hold any float */
        snprintf(b, sizeof(b), "%.*g", p, (double)f);
        if ((float)strtod(b, NULL) == f)
            break;
    }
    return strtod(b, NULL);
}

const char *cli_human(double x, char *buf, size_t len)
{
    double a = fabs(x);
    if (a >= 1e12)
        snprintf(buf, len, "%.2fT", x / 1e12);
    else if (a >= 1e9)
        snprintf(buf, len, "%.2fG", x / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%.2fM", x / 1e6);
    else if (a >= 1e3)
        snprintf(buf, len, "%.1fk", x / 1e3);
    else
        snprintf(buf, len, "%.0f", x);
    return buf;
}

const char *cli_human_bytes(double bytes, char *buf, size_t len)
{
    static const char *unit[] = { "B", "kB", "MB", "GB", "TB", "PB" };
    int u = 0;
    /* 999.95 kB and up prints as 1.0 MB, not 1000.0 kB */
    while (u < 5 && fabs(bytes) >= (u ? 999.95 : 1000.0)) {
        bytes /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.0f B", bytes);
    else
        snprintf(buf, len, "%.1f %s", bytes, unit[u]);
    return buf;
}
