/* common/skip_reason: the one list of pretok's skip, repair and note
 * reasons, which ingot-pretok writes into the manifest and ingot-dump info
 * reads back (ingot-dump kept its own copy of the repairs and notes, since
 * dump may not include pretok/; the copies could drift apart). Every name
 * reads back as its reason; a name counts as lost data in ingot-dump
 * exactly when pretok counts it as a skip; damage is a kind of skip. */
#include <stdio.h>
#include <string.h>

#include "skip_reason.h"
#include "test_util.h"

/* Every reason as docs/pretok.md lists it: lost data (a skip) or a repair
 * or note that lost nothing. Written out here, not derived from the module,
 * so that a reason moved across the line fails. */
static const struct {
    const char *name;
    int skip;
} want[] = {
    { "malformed_json", 1 },     { "missing_text", 1 },         { "text_not_string", 1 },
    { "invalid_utf8", 1 },       { "lone_surrogate", 1 },       { "empty_text", 1 },
    { "record_too_large", 1 },   { "unreadable_file", 1 },      { "not_regular_file", 1 },
    { "empty_file", 1 },         { "not_zstd", 1 },             { "corrupt_zstd", 1 },
    { "truncated_zstd", 1 },     { "not_gzip", 1 },             { "corrupt_gzip", 1 },
    { "truncated_gzip", 1 },     { "fixed_invalid_utf8", 0 },   { "fixed_lone_surrogate", 0 },
    { "fixed_nul", 0 },          { "fixed_bom", 0 },            { "crlf_line", 0 },
    { "blank_line", 0 },         { "no_final_newline", 0 },
};

int main(void)
{
    CHECK(sizeof(want) / sizeof(want[0]) == SKIP_R__COUNT);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int k = skip_reason_parse(want[i].name);
        CHECK(k >= 0 && !strcmp(skip_reason_name(k), want[i].name));
        CHECK(skip_reason_is_skip(k) == want[i].skip);
        CHECK(skip_reason_name_noted(want[i].name) == !want[i].skip);
    }
    int n_skips = 0, n_noted = 0;
    for (int k = 0; k < SKIP_R__COUNT; k++) {
        const char *name = skip_reason_name(k);
        CHECK(name && name[0] && strcmp(name, "?"));
        CHECK(skip_reason_parse(name) == k);   /* unique and named */
        /* ingot-dump info's "skipped" vs "repaired or noted" is pretok's */
        CHECK(skip_reason_name_noted(name) == !skip_reason_is_skip(k));
        CHECK(!skip_reason_is_damage(k) || skip_reason_is_skip(k));
        n_skips += skip_reason_is_skip(k);
        n_noted += skip_reason_name_noted(name);
    }
    CHECK(n_skips == 16 && n_noted == 7);
    CHECK(skip_reason_name_noted("crlf_line") && skip_reason_name_noted("blank_line") &&
          skip_reason_name_noted("no_final_newline") && skip_reason_name_noted("fixed_bom"));
    CHECK(!skip_reason_name_noted("empty_text") && !skip_reason_is_damage(SKIP_R_EMPTY_FILE) &&
          skip_reason_is_damage(SKIP_R_TRUNCATED_ZSTD));
    /* a newer pretok's repair keeps its prefix; anything else unknown (an
     * older tool's name, an edited manifest) is counted as skipped */
    CHECK(skip_reason_name_noted("fixed_something_new"));
    CHECK(!skip_reason_name_noted("empty") && !skip_reason_name_noted("") &&
          !skip_reason_name_noted("\033[2Jempty"));
    CHECK(skip_reason_parse("nonesuch") == -1 && !strcmp(skip_reason_name(-1), "?") &&
          !strcmp(skip_reason_name(SKIP_R__COUNT), "?"));
    CHECK(!skip_reason_is_skip(-1) && !skip_reason_is_skip(SKIP_R__COUNT));
    printf("skip_reason: %d reasons, %d skips, %d repairs and notes: ok\n", SKIP_R__COUNT,
           n_skips, n_noted);
    return 0;
}
