/* common/cli_num and ingot_errmsg_for: the one number parser every program
 * uses, the formatters, and the rule that a bare error code never prints a
 * stale message. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "ingot_err.h"
#include "test_util.h"

/* What getopt_long(":h") says of args (after a program name), through
 * cli_opt_error(): its code, the message in ingot_errmsg(). */
static int opt_error(const char *a1, const char *a2)
{
    static const struct option longs[] = {
        { "quiet", no_argument, NULL, 256 }, { "val-every", required_argument, NULL, 257 },
        { "val-tokens", required_argument, NULL, 258 }, { "out", required_argument, NULL, 259 },
        { NULL, 0, NULL, 0 },
    };
    char *argv[] = { (char *)"prog", (char *)a1, (char *)a2, NULL };
    int argc = a2 ? 3 : 2, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1)
        if (c == '?' || c == ':')
            return cli_opt_error(c, argv, longs, "prog sub --help");
    return 0;
}

#define H "n\x1b]0;pwned\x07\xe2\x80\xaeh"   /* ESC ] 0 ; pwned BEL U+202E */
#define S "n?]0;pwned??h"                     /* as term_text shows it */

static int failures;

/* ret must be INGOT_E_USAGE with a message holding want (S for H) and none
 * of ESC, BEL or U+202E; counted, so that every case is reported. */
static void shown(const char *what, int ret, const char *want)
{
    const char *m = ingot_errmsg();
    if (ret != INGOT_E_USAGE || !strstr(m, want) || strchr(m, '\x1b') || strchr(m, '\x07') ||
        strstr(m, "\xe2\x80\xae")) {
        fprintf(stderr, "%s: returned %d, want a usage error saying \"%s\" and no raw byte: "
                "%s\n", what, ret, want, m);
        failures++;
    }
    ingot_clear_err();
}

/* What was typed (a value, an option, a --config file's path in the flag)
 * reaches the message through term_text(): an escape sequence in it was
 * printed raw by every program. */
static void values_shown(void)
{
    int64_t v;
    double d;
    shown("cli_parse_i64, not a number", cli_parse_i64("--steps", "1" H, 0, 100, &v),
          "--steps '1" S "': expected an integer in [0, 100]");
    shown("cli_parse_i64, past int64", cli_parse_i64("--n", "99999999999999999999" H, 0,
                                                     INT64_MAX, &v),
          "--n '99999999999999999999" S "': too large");
    shown("cli_parse_i64, the flag", cli_parse_i64("--config c" H ":3: --steps", "x", 0, 9, &v),
          "--config c" S ":3: --steps 'x'");
    shown("cli_parse_double", cli_parse_double("--lr", "0x1" H, 0.0, 1.0, &d),
          "--lr '0x1" S "': expected a number in [0, 1]");
    shown("cli_parse_duration", cli_parse_duration("--time-limit", "1-24" H, &d),
          "--time-limit '1-24" S "': expected a duration");
    shown("cli_check_value", cli_check_value("model", "--" H),
          "--model needs a value (got '--" S "', the next option?; a file named so can be "
          "given as ./--" S ")");
    shown("cli_opt_error, unknown", opt_error("--" H, NULL), "unknown option '--" S "' (see");
    shown("cli_opt_error, near", opt_error("--quite=" H, NULL),
          "unknown option '--quite=" S "'; did you mean --quiet?");
    shown("cli_opt_error, a switch's value", opt_error("--quiet=" H, NULL),
          "--quiet takes no value (got '--quiet=" S "'");
    shown("cli_opt_error, ambiguous", opt_error("--val=" H, NULL),
          "option '--val=" S "' is ambiguous");
    shown("cli_opt_error, a short one", opt_error("-\x1b", NULL), "unknown option '-?'");
    shown("cli_opt_error, a short one past ASCII", opt_error("-\xe2", NULL),
          "unknown option '-?'");
}

static int64_t ok(const char *s)
{
    int64_t v = -12345;
    CHECK_OK(cli_parse_i64("--x", s, 0, INT64_MAX, &v));
    return v;
}

int main(void)
{
    CHECK(ok("0") == 0);
    CHECK(ok("42") == 42);
    CHECK(ok("100M") == INT64_C(100000000));
    CHECK(ok("512k") == 512000);
    CHECK(ok("512K") == 512000);
    CHECK(ok("512Ki") == 524288);
    CHECK(ok("2G") == INT64_C(2000000000));
    CHECK(ok("1Ti") == (INT64_C(1) << 40));
    CHECK(ok("3GiB") == INT64_C(3) << 30);

    int64_t v;
    CHECK_FAIL(cli_parse_i64("--steps", "-1", 0, 100, &v), INGOT_E_USAGE, "--steps '-1'");
    CHECK_FAIL(cli_parse_i64("--steps", "101", 0, 100, &v), INGOT_E_USAGE, "[0, 100]");
    CHECK_FAIL(cli_parse_i64("--steps", "1.5", 0, 100, &v), INGOT_E_USAGE, "--steps");
    CHECK_FAIL(cli_parse_i64("--steps", "", 0, 100, &v), INGOT_E_USAGE, "--steps");
    CHECK_FAIL(cli_parse_i64("--steps", "10x", 0, 100, &v), INGOT_E_USAGE, "--steps");
    CHECK_FAIL(cli_parse_i64("--n", "99999999999999999999", 0, INT64_MAX, &v), INGOT_E_USAGE,
               "too large (at most 9223372036854775807)");
    CHECK_FAIL(cli_parse_i64("--n", "10000000T", 0, INT64_MAX, &v), INGOT_E_USAGE,
               "--n '10000000T': too large");
    /* the flag names and empty values (cli_check_value) */
    CHECK_OK(cli_check_value("out", "dir"));
    CHECK_OK(cli_check_value("out", "./--dir"));
    CHECK_FAIL(cli_check_value("out", ""), INGOT_E_USAGE, "--out: empty value");
    CHECK_FAIL(cli_check_value("model", "--out"), INGOT_E_USAGE,
               "--model needs a value (got '--out'");
    /* getopt_long's refusals, one wording in every program (cli_opt.h) */
    CHECK_FAIL(opt_error("--quite", NULL), INGOT_E_USAGE,
               "unknown option '--quite'; did you mean --quiet? (see prog sub --help)");
    CHECK_FAIL(opt_error("--bogus", NULL), INGOT_E_USAGE,
               "unknown option '--bogus' (see prog sub --help)");
    CHECK_FAIL(opt_error("--quiet=1", NULL), INGOT_E_USAGE, "--quiet takes no value");
    CHECK_FAIL(opt_error("--qui=1", NULL), INGOT_E_USAGE, "--quiet takes no value");
    CHECK_FAIL(opt_error("--val", "5"), INGOT_E_USAGE,
               "option '--val' is ambiguous: --val-every, --val-tokens");
    CHECK_FAIL(opt_error("--out", NULL), INGOT_E_USAGE, "--out needs a value (see prog sub");
    CHECK_FAIL(opt_error("-x", NULL), INGOT_E_USAGE, "unknown option '-x'");
    CHECK_OK(opt_error("--val-e", "5"));
    CHECK_OK(opt_error("--", "--quite"));
    CHECK_OK(cli_parse_i64("--seed", "-5", -10, 10, &v));
    CHECK(v == -5);

    int iv;
    CHECK_OK(cli_parse_int("--threads", "16", 1, 4096, &iv));
    CHECK(iv == 16);
    CHECK_FAIL(cli_parse_int("--threads", "0", 1, 4096, &iv), INGOT_E_USAGE, "[1, 4096]");
    CHECK_FAIL(cli_parse_int("--threads", "5k", 1, 4096, &iv), INGOT_E_USAGE, "[1, 4096]");

    double d;
    CHECK_OK(cli_parse_double("--lr", "6e-4", 0.0, 1.0, &d));
    CHECK(d == 6e-4);
    CHECK_FAIL(cli_parse_double("--lr", "nan", 0.0, 1.0, &d), INGOT_E_USAGE, "--lr");
    CHECK_FAIL(cli_parse_double("--lr", "inf", 0.0, 1e300 * 1e300, &d), INGOT_E_USAGE, ">= 0");
    CHECK_FAIL(cli_parse_double("--lr", "2", 0.0, 1.0, &d), INGOT_E_USAGE, "[0, 1]");
    /* strtod's extras are refused saying what they are (hexadecimal was
     * taken quietly; a subnormal in range was "expected a number in [0, 1]") */
    CHECK_FAIL(cli_parse_double("--f", "0x1p-3", 0.0, 1.0, &d), INGOT_E_USAGE,
               "--f '0x1p-3': hexadecimal is not taken, write it in decimal (0.125); "
               "expected a number in [0, 1]");
    CHECK_FAIL(cli_parse_double("--f", " -0X1P+3", 0.0, 1.0, &d), INGOT_E_USAGE, "decimal (-8)");
    CHECK_FAIL(cli_parse_double("--f", "nan", 0.0, 1.0, &d), INGOT_E_USAGE,
               "--f 'nan': not a finite number; expected a number in [0, 1]");
    CHECK_FAIL(cli_parse_double("--f", "-infinity", 0.0, 1.0, &d), INGOT_E_USAGE,
               "not a finite number");
    CHECK_FAIL(cli_parse_double("--f", "1e400", 0.0, 1.0, &d), INGOT_E_USAGE,
               "'1e400': too large for a double; expected a number in [0, 1]");
    CHECK_FAIL(cli_parse_double("--f", "1e-310", 0.0, 1.0, &d), INGOT_E_USAGE,
               "--f '1e-310': too small to compute with (nonzero, but closer to 0 than 2.2e-308");
    CHECK_FAIL(cli_parse_double("--f", "1e-320", 0.0, 1.0, &d), INGOT_E_USAGE, "too small");
    CHECK_FAIL(cli_parse_double("--f", "1e-400", 0.0, 1.0, &d), INGOT_E_USAGE, "too small");
    CHECK_FAIL(cli_parse_double("--f", "1e-310", 1e-9, 1.0, &d), INGOT_E_USAGE, "[1e-09, 1]");
    CHECK_OK(cli_parse_double("--f", "2.3e-308", 0.0, 1.0, &d));
    /* into a float: a nonzero below FLT_MIN was stored as 0 (--lr 1e-46
     * trained with lr 0.0, session 26's sweep) */
    float fv = -1.0f;
    CHECK_FAIL(cli_parse_float("--lr", "1e-46", 0.0, 10.0, &fv), INGOT_E_USAGE,
               "--lr '1e-46': too small to compute with (nonzero, but closer to 0 than 1.2e-38, "
               "the smallest normal float)");
    CHECK(fv == -1.0f);
    CHECK_FAIL(cli_parse_float("--lr", "1e-39", 0.0, 10.0, &fv), INGOT_E_USAGE, "normal float");
    CHECK_OK(cli_parse_float("--lr", "1.2e-38", 0.0, 10.0, &fv));
    CHECK(fv > 0.0f);
    CHECK_OK(cli_parse_float("--lr", "0", 0.0, 10.0, &fv));
    CHECK(fv == 0.0f);
    CHECK_OK(cli_parse_float("--lr", "6e-4", 0.0, 10.0, &fv));
    CHECK(fv == 6e-4f);
    CHECK_FAIL(cli_parse_float("--lr", "11", 0.0, 10.0, &fv), INGOT_E_USAGE, "[0, 10]");
    CHECK_OK(cli_parse_double("--f", "-0", 0.0, 1.0, &d));
    CHECK(d == 0.0 && !signbit(d));

    char b[32];
    /* the shortest text that reads back; whole numbers without an exponent */
    CHECK(!strcmp(cli_format_double(0.1, b, sizeof(b)), "0.1"));
    CHECK(!strcmp(cli_format_double(-0.1, b, sizeof(b)), "-0.1"));
    CHECK(!strcmp(cli_format_double(1000.0, b, sizeof(b)), "1000"));
    CHECK(!strcmp(cli_format_double(4e-4, b, sizeof(b)), "0.0004"));
    CHECK(!strcmp(cli_format_double(1234567.891, b, sizeof(b)), "1234567.891"));
    CHECK(!strcmp(cli_format_double(1e20, b, sizeof(b)), "1e+20"));
    CHECK(strtod(cli_format_double(1.0 / 3.0, b, sizeof(b)), NULL) == 1.0 / 3.0);
    /* a float's decimal as written; a tenth of it is the float nearest
     * the tenth (1e-3f * 0.1f is one ulp above 1e-4f) */
    CHECK(cli_float_decimal(1e-3f) == 1e-3 && cli_float_decimal(0.1f) == 0.1);
    CHECK(cli_float_decimal(6e-4f) == 6e-4 && cli_float_decimal(-2.5f) == -2.5);
    CHECK((float)(cli_float_decimal(1e-3f) / 10.0) == 1e-4f && 1e-3f * 0.1f != 1e-4f);
    CHECK((float)cli_float_decimal(1.17549435e-38f) == 1.17549435e-38f);
    /* the nearest name within two edits (a swap is one), none for a stranger */
    static const char *const names[] = { "model", "batch", "batch-tokens", "tiny", "small" };
    CHECK(!strcmp(cli_closest("modle", names, 5), "model"));
    CHECK(!strcmp(cli_closest("batch-tokes", names, 5), "batch-tokens"));
    CHECK(!strcmp(cli_closest("tny", names, 5), "tiny"));
    CHECK(!cli_closest("bogus", names, 5) && !cli_closest("x", names, 5));
    CHECK(!cli_closest("mod", names, 5));   /* two edits of three letters: a guess */
    CHECK(!strcmp(cli_human(1234567, b, sizeof(b)), "1.23M"));
    CHECK(!strcmp(cli_human(999, b, sizeof(b)), "999"));
    CHECK(!strcmp(cli_human(1500, b, sizeof(b)), "1.5k"));
    /* decimal, as pretok's MB and MB/s: the same bytes read the same in
     * ingot-pretok's report and ingot-dump info */
    CHECK(!strcmp(cli_human_bytes(1536, b, sizeof(b)), "1.5 kB"));
    CHECK(!strcmp(cli_human_bytes(12, b, sizeof(b)), "12 B"));
    CHECK(!strcmp(cli_human_bytes(8100000, b, sizeof(b)), "8.1 MB"));
    CHECK(!strcmp(cli_human_bytes(999, b, sizeof(b)), "999 B"));
    CHECK(!strcmp(cli_human_bytes(3.5e9, b, sizeof(b)), "3.5 GB"));
    CHECK(!strcmp(cli_human_bytes(999950, b, sizeof(b)), "1.0 MB"));   /* not 1000.0 kB */
    CHECK(!strcmp(cli_human_bytes(999940, b, sizeof(b)), "999.9 kB"));

    /* durations: Slurm's --time forms and units */
    static const struct { const char *s; double secs; } dur[] = {
        { "90", 5400 }, { "1:30", 90 }, { "2:00:00", 7200 }, { "1-0", 86400 },
        { "1-2:30", 95400 }, { "1-02:30:15", 95415 }, { "90s", 90 }, { "45m", 2700 },
        { "3h50m", 13800 }, { "1d12h", 129600 }, { "1.5h", 5400 }, { "0:01", 1 },
        { "100:59", 6059 }, { "30:59:59", 111599 }, { "2-23:59:59", 259199 },
    };
    for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
        double t = -1;
        CHECK_OK(cli_parse_duration("--time-limit", dur[i].s, &t));
        CHECK(t == dur[i].secs);
    }
    static const char *const bad_dur[] = { "", "0", "0:00", "-5", "5x", "m", "3m50h", "1h1h",
                                           "1:2:3:4", "1-", "a-1", "1-2:3:4:5", ":5", "5:" };
    for (size_t i = 0; i < sizeof(bad_dur) / sizeof(bad_dur[0]); i++) {
        double t = -1;
        CHECK(cli_parse_duration("--time-limit", bad_dur[i], &t) == INGOT_E_USAGE);
        CHECK(strstr(ingot_errmsg(), "--time-limit") && strstr(ingot_errmsg(), "HH:MM:SS"));
        CHECK(t == -1);
    }

    /* Past the fields' limit: too long, said so (was "expected a duration
     * above 0", session 26's sweep); the limit itself is taken. */
    static const char *const too_long[] = { "99999999999", "1e400s", "100000001", "1e9s",
                                            "99999999999-00", "100001-0", "1:100000001",
                                            "999999999999999999999999-1" };
    for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
        double t = -1;
        CHECK(cli_parse_duration("--time-limit", too_long[i], &t) == INGOT_E_USAGE);
        CHECK(strstr(ingot_errmsg(), too_long[i]) &&
              strstr(ingot_errmsg(), "too long for a time limit"));
        CHECK(t == -1);
    }
    double lim = -1;
    CHECK_OK(cli_parse_duration("--time-limit", "100000000", &lim));
    CHECK(lim == 6e9);
    CHECK_OK(cli_parse_duration("--time-limit", "100000-0", &lim));

    /* Only the first field is free: a clock field past 59 (or hours past 23
     * after a day) is a typo, refused with the rule. */
    static const char *const bad_clock[] = { "0:60", "1:60:00", "1:00:60", "1-24", "1-2:60",
                                             "1-2:3:60" };
    for (size_t i = 0; i < sizeof(bad_clock) / sizeof(bad_clock[0]); i++) {
        double t = -1;
        CHECK(cli_parse_duration("--time-limit", bad_clock[i], &t) == INGOT_E_USAGE);
        CHECK(strstr(ingot_errmsg(), "--time-limit") && strstr(ingot_errmsg(), "below"));
        CHECK(t == -1);
    }

    /* A message recorded for one failure must not be printed for another. */
    ingot_fail(INGOT_E_CORRUPT, "shard x: header field y is bad");
    CHECK(!strcmp(ingot_errmsg_for(-ENOMEM), strerror(ENOMEM)));
    CHECK(strstr(ingot_errmsg_for(INGOT_E_CORRUPT), "field y"));
    CHECK(ingot_oom("token buffer", 4096) == -ENOMEM);
    CHECK(strstr(ingot_errmsg_for(-ENOMEM), "token buffer (4096 bytes)"));
    values_shown();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    puts("cli_num: ok");
    return 0;
}
