/* pt_json: the corpus of json_corpus/ against json_expected.txt (results of
 * Python's json module), dotted paths, and hostile nesting. */
#include <stdint.h>

#include "pt_json.h"
#include "pt_test.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void run_corpus(const char *dir, const char *expected)
{
    FILE *f = fopen(expected, "r");
    CHECK(f);
    struct pt_json_path path;
    CHECK_OK(pt_json_path_init(&path, "text"));
    struct pt_buf out = { 0 };
    char line[65536];
    int n_cases = 0;
    static unsigned char want[40000];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name[256], hex[32768] = "";
        int status;
        CHECK(sscanf(line, "%255s %d %32767s", name, &status, hex) >= 2);
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        size_t len;
        char *data = read_file(p, &len);
        struct pt_json_result res;
        CHECK_OK(pt_json_extract(data, len, &path, &out, &res));
        if ((int)res.status != status) {
            fprintf(stderr, "%s: status %d, expected %d (%s at %zu)\n", name, res.status,
                    status, res.err_what ? res.err_what : "-", res.err_offset);
            exit(1);
        }
        if (status == PT_JSON_OK) {
            size_t wn = pt_unhex(hex, want, sizeof(want));
            if (wn != out.len || memcmp(want, out.p, wn)) {
                fprintf(stderr, "%s: extracted text differs (%zu vs %zu bytes)\n", name,
                        out.len, wn);
                exit(1);
            }
        }
        if (status == PT_JSON_MALFORMED)
            CHECK(res.err_what && res.err_offset <= len);
        free(data);
        n_cases++;
    }
    fclose(f);
    CHECK(n_cases >= 50);
    pt_buf_free(&out);
    pt_json_path_free(&path);
    printf("corpus: %d cases\n", n_cases);
}

static int extract(const char *s, const char *dotted, struct pt_buf *out,
                   struct pt_json_result *res)
{
    struct pt_json_path path;
    CHECK_OK(pt_json_path_init(&path, dotted));
    CHECK_OK(pt_json_extract(s, strlen(s), &path, out, res));
    pt_json_path_free(&path);
    return (int)res->status;
}

static void check_text(const char *s, const char *dotted, int status, const char *text)
{
    struct pt_buf out = { 0 };
    struct pt_json_result res;
    int st = extract(s, dotted, &out, &res);
    if (st != status || (text && (out.len != strlen(text) || memcmp(out.p, text, out.len)))) {
        fprintf(stderr, "%s [%s]: got %d '%.*s', expected %d '%s'\n", s, dotted, st,
                (int)out.len, out.p, status, text ? text : "");
        exit(1);
    }
    pt_buf_free(&out);
}

static void dotted_paths(void)
{
    check_text("{\"meta\": {\"body\": \"x\"}, \"body\": \"y\"}", "meta.body", PT_JSON_OK, "x");
    check_text("{\"body\": \"y\", \"meta\": {\"body\": \"x\"}}", "meta.body", PT_JSON_OK, "x");
    check_text("{\"meta\": {\"body\": 1}}", "meta.body", PT_JSON_NOT_STRING, NULL);
    check_text("{\"meta\": \"body\"}", "meta.body", PT_JSON_MISSING, NULL);
    check_text("{\"meta\": [{\"body\": \"x\"}]}", "meta.body", PT_JSON_MISSING, NULL);
    check_text("{\"a\": {\"b\": {\"c\": \"deep\"}}}", "a.b.c", PT_JSON_OK, "deep");
    check_text("{\"a\": {\"x\": {\"c\": \"no\"}, \"b\": {\"c\": \"yes\"}}}", "a.b.c", PT_JSON_OK,
               "yes");
    /* a later duplicate of a path object replaces the earlier one */
    check_text("{\"m\": {\"t\": \"1\"}, \"m\": {\"u\": \"2\"}}", "m.t", PT_JSON_MISSING, NULL);
    check_text("{\"m\": {\"t\": \"1\"}, \"m\": {\"t\": \"2\"}}", "m.t", PT_JSON_OK, "2");
    check_text("{\"m\": {\"t\": \"1\"}, \"m\": 5}", "m.t", PT_JSON_MISSING, NULL);
    /* only the top-level key matches a one-component path */
    check_text("{\"a\": {\"text\": \"inner\"}}", "text", PT_JSON_MISSING, NULL);
    /* the rest of a record is validated after the field was found */
    check_text("{\"text\": \"x\", \"b\": [1,}", "text", PT_JSON_MALFORMED, NULL);

    struct pt_json_path p;
    CHECK(pt_json_path_init(&p, "a..b") == INGOT_E_USAGE);
    CHECK(pt_json_path_init(&p, "") == INGOT_E_USAGE);
    CHECK(pt_json_path_init(&p, "a.") == INGOT_E_USAGE);
    CHECK(pt_json_path_init(&p, "messages.-1.content") == INGOT_E_USAGE &&
          strstr(ingot_errmsg(), "negative ones from the end are not supported"));
    CHECK_OK(pt_json_path_init(&p, "a.-x"));   /* a key that only starts with '-' */
    pt_json_path_free(&p);
    /* a key of 20,000 bytes: the message shows its start and still says why
     * (the reason was cut off after 1 KB of key) */
    {
        static char longkey[20001];
        for (size_t i = 0; i < 20000; i++)
            longkey[i] = i % 2 ? '.' : 'a';
        longkey[19999] = 'a';
        CHECK(pt_json_path_init(&p, longkey) == INGOT_E_USAGE &&
              strstr(ingot_errmsg(), "...': more than 16 components in one path"));
        for (size_t i = 0; i < 20000; i++)
            longkey[i] = i % 2 ? ',' : 'a';
        longkey[19999] = 'a';
        CHECK(pt_json_path_init(&p, longkey) == INGOT_E_USAGE &&
              strstr(ingot_errmsg(), "...': more than 16 alternatives"));
    }
    CHECK_OK(pt_json_path_init(&p, "a.-x"));
    pt_json_path_free(&p);
}

/* --text-key alternatives (first string wins) and array indices. */
static void alternatives_and_indices(void)
{
    const char *chat = "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, "
                       "{\"role\": \"user\", \"content\": [1, [2, 3], \"u\"]}, "
                       "{\"content\": \"third\"}]}";
    check_text(chat, "messages.0.content", PT_JSON_OK, "sys");
    check_text(chat, "messages.2.content", PT_JSON_OK, "third");
    check_text(chat, "messages.1.content.2", PT_JSON_OK, "u");
    check_text(chat, "messages.1.content.1.0", PT_JSON_NOT_STRING, NULL);
    check_text(chat, "messages.1.content", PT_JSON_NOT_STRING, NULL);
    check_text(chat, "messages.3.content", PT_JSON_MISSING, NULL);
    check_text(chat, "messages.content", PT_JSON_MISSING, NULL);
    /* an inner array's elements do not advance the outer count */
    check_text("{\"a\": [[1, 2, 3], \"one\", \"two\"]}", "a.2", PT_JSON_OK, "two");
    check_text("{\"a\": [[\"x\", [\"y\", \"z\"]], \"one\"]}", "a.0.1.1", PT_JSON_OK, "z");
    check_text("[\"top\"]", "0", PT_JSON_MALFORMED, NULL);
    /* a digit component is a key in an object */
    check_text("{\"a\": {\"0\": \"key\"}}", "a.0", PT_JSON_OK, "key");
    check_text("{\"a\": []}", "a.0", PT_JSON_MISSING, NULL);
    /* alternatives in order of preference */
    check_text("{\"content\": \"c\", \"text\": \"t\"}", "text,content", PT_JSON_OK, "t");
    check_text("{\"content\": \"c\"}", "text,content", PT_JSON_OK, "c");
    check_text("{\"text\": null, \"content\": \"c\"}", "text,content", PT_JSON_OK, "c");
    check_text("{\"text\": null}", "text,content", PT_JSON_NOT_STRING, NULL);
    check_text("{\"other\": \"x\"}", "text,content", PT_JSON_MISSING, NULL);
    check_text(chat, "text,messages.2.content", PT_JSON_OK, "third");
    check_text("{\"text\": 1,}", "text,content", PT_JSON_MALFORMED, NULL);
    struct pt_json_path p;
    CHECK(pt_json_path_init(&p, "text,") == INGOT_E_USAGE);
    CHECK(pt_json_path_init(&p, ",text") == INGOT_E_USAGE);
    CHECK_OK(pt_json_path_init(&p, "a,b.0,c.d.1"));
    CHECK(p.n_alts == 3 && p.alt[1].n == 2 && p.alt[1].index[1] == 0 && p.alt[2].index[2] == 1);
    pt_json_path_free(&p);
}

static void nesting(void)
{
    /* Far deeper than any stack could recurse: refused, not crashed. */
    size_t depth = 5000000;
    char *s = malloc(2 * depth + 64);
    CHECK(s);
    size_t n = (size_t)sprintf(s, "{\"a\": ");
    memset(s + n, '[', depth);
    n += depth;
    memset(s + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(s + n, ", \"text\": \"t\"}");
    struct pt_json_path path;
    CHECK_OK(pt_json_path_init(&path, "text"));
    struct pt_buf out = { 0 };
    struct pt_json_result res;
    CHECK_OK(pt_json_extract(s, n, &path, &out, &res));
    CHECK(res.status == PT_JSON_MALFORMED && strstr(res.err_what, "nesting"));

    /* Exactly at the limit (the object counts as one level): accepted. */
    depth = PT_JSON_MAX_DEPTH - 1;
    n = (size_t)sprintf(s, "{\"a\": ");
    memset(s + n, '[', depth);
    n += depth;
    memset(s + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(s + n, ", \"text\": \"t\"}");
    CHECK_OK(pt_json_extract(s, n, &path, &out, &res));
    CHECK(res.status == PT_JSON_OK && out.len == 1 && out.p[0] == 't');
    free(s);
    pt_buf_free(&out);
    pt_json_path_free(&path);
}

/* Lone surrogates are counted in the extracted field only: one elsewhere in
 * the record (another key's value, a key) made --invalid-utf8 skip drop a
 * record whose text was clean. */
static void lone_surrogates_of_the_field(void)
{
    static const struct { const char *json, *path; size_t lone; } cases[] = {
        { "{\"meta\": \"\\ud800\", \"text\": \"hello\"}", "text", 0 },
        { "{\"\\udc00\": 1, \"text\": \"hello\"}", "text", 0 },
        { "{\"text\": \"a\\ud800b\\udfff\", \"x\": \"\\ud800\"}", "text", 2 },
        { "{\"text\": \"\\ud800\", \"text\": \"clean\"}", "text", 0 },   /* last wins */
        { "{\"a\": [\"\\ud800\", \"ok\", \"\\ud801\"]}", "a.1", 0 },
        { "{\"a\": [\"ok\", \"\\ud800\\ud800\"]}", "a.1", 2 },
        { "{\"x\": \"\\ud800\", \"t\\u0065xt\": \"y\"}", "text", 0 },  /* escaped key */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pt_buf out = { 0 };
        struct pt_json_result res;
        int st = extract(cases[i].json, cases[i].path, &out, &res);
        if (st != PT_JSON_OK || res.n_lone_surrogates != cases[i].lone) {
            fprintf(stderr, "%s [%s]: status %d, %zu lone surrogates, expected %zu\n",
                    cases[i].json, cases[i].path, st, res.n_lone_surrogates, cases[i].lone);
            exit(1);
        }
        pt_buf_free(&out);
    }
}

/* The top level's keys, for a message about a missing field. */
static void top_keys(void)
{
    char k[32];
    const char *rec = "{\"text\": \"x\", \"meta\": {\"inner\": 1}, \"s\\\"q\": [{\"no\": 2}]}";
    CHECK_OK(pt_json_keys(rec, strlen(rec), k, sizeof(k)));
    CHECK(!strcmp(k, "text, meta, s\\\"q"));
    CHECK_OK(pt_json_keys("{}", 2, k, sizeof(k)) );
    CHECK(!strcmp(k, ""));
    const char *many = "{\"aaaaaaaaaa\": 1, \"bbbbbbbbbb\": 2, \"cccccccccc\": 3, \"d\": 4}";
    CHECK_OK(pt_json_keys(many, strlen(many), k, sizeof(k)));
    CHECK(!strcmp(k, "aaaaaaaaaa, bbbbbbbbbb, ..."));
    /* a key of 5 MB: its start and its length, then the others (it was
     * dropped, the list reading "its fields: , ...") */
    const size_t big = 5000000;
    char *huge = malloc(big + 64);
    CHECK(huge);
    memcpy(huge, "{\"\xc3\xa9", 4);               /* a 2-byte character first */
    memset(huge + 4, 'k', big - 2);
    strcpy(huge + 2 + big, "\": 1, \"text2\": 2}");
    char kk[160];
    CHECK_OK(pt_json_keys(huge, strlen(huge), kk, sizeof(kk)));
    /* 40 bytes: the character and 38 more */
    CHECK(!strcmp(kk, "\"\xc3\xa9kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\" (5000000 bytes), text2"));
    huge[2 + 39] = '\xc3';                             /* a character across the cut */
    huge[2 + 40] = '\xa9';
    CHECK_OK(pt_json_keys(huge, strlen(huge), kk, sizeof(kk)));
    /* 39 bytes, not half of it */
    CHECK(!strcmp(kk, "\"\xc3\xa9kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\" (5000000 bytes), text2"));
    free(huge);
    /* a --text-key in a record's message: quoted, its start when long */
    struct pt_json_path jp;
    CHECK_OK(pt_json_path_init(&jp, "meta.body,text"));
    CHECK(!strcmp(jp.shown, "\"meta.body,text\""));
    pt_json_path_free(&jp);
    char spec[300];
    memset(spec, 'q', 299);
    spec[299] = '\0';
    CHECK_OK(pt_json_path_init(&jp, spec));
    CHECK(!strcmp(jp.shown, "\"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...\" (299 bytes)"));
    pt_json_path_free(&jp);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_pt_json CORPUS_DIR EXPECTED_FILE\n");
        return 2;
    }
    run_corpus(argv[1], argv[2]);
    dotted_paths();
    alternatives_and_indices();
    nesting();
    lone_surrogates_of_the_field();
    top_keys();
    printf("ok\n");
    return 0;
}
