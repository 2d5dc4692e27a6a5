/* The one list of pretok's skip, repair and note reasons (skip_reason.h). */
#include "skip_reason.h"

#include <string.h>

static const char *const names[SKIP_R__COUNT] = {
    [SKIP_R_MALFORMED_JSON] = "malformed_json",
    [SKIP_R_MISSING_TEXT] = "missing_text",
    [SKIP_R_TEXT_NOT_STRING] = "text_not_string",
    [SKIP_R_INVALID_UTF8] = "invalid_utf8",
    [SKIP_R_LONE_SURROGATE] = "lone_surrogate",
    [SKIP_R_EMPTY_TEXT] = "empty_text",
    [SKIP_R_RECORD_TOO_LARGE] = "record_too_large",
    [SKIP_R_UNREADABLE_FILE] = "unreadable_file",
    [SKIP_R_NOT_REGULAR_FILE] = "not_regular_file",
    [SKIP_R_EMPTY_FILE] = "empty_file",
    [SKIP_R_NOT_ZSTD] = "not_zstd",
    [SKIP_R_CORRUPT_ZSTD] = "corrupt_zstd",
    [SKIP_R_TRUNCATED_ZSTD] = "truncated_zstd",
    [SKIP_R_NOT_GZIP] = "not_gzip",
    [SKIP_R_CORRUPT_GZIP] = "corrupt_gzip",
    [SKIP_R_TRUNCATED_GZIP] = "truncated_gzip",
    [SKIP_R_INVALID_UTF8_REPLACED] = "fixed_invalid_utf8",
    [SKIP_R_LONE_SURROGATE_REPLACED] = "fixed_lone_surrogate",
    [SKIP_R_NUL_REMOVED] = "fixed_nul",
    [SKIP_R_BOM_REMOVED] = "fixed_bom",
    [SKIP_R_CRLF_LINE] = "crlf_line",
    [SKIP_R_BLANK_LINE] = "blank_line",
    [SKIP_R_NO_FINAL_NEWLINE] = "no_final_newline",
};

const char *skip_reason_name(int reason)
{
    return reason >= 0 && reason < SKIP_R__COUNT ? names[reason] : "?";
}

bool skip_reason_is_skip(int reason)
{
    return reason >= 0 && reason < SKIP_R_INVALID_UTF8_REPLACED;
}

bool skip_reason_is_damage(int reason)
{
    switch (reason) {
    case SKIP_R_UNREADABLE_FILE:
    case SKIP_R_NOT_REGULAR_FILE:
    case SKIP_R_NOT_ZSTD:
    case SKIP_R_CORRUPT_ZSTD:
    case SKIP_R_TRUNCATED_ZSTD:
    case SKIP_R_NOT_GZIP:
    case SKIP_R_CORRUPT_GZIP:
    case SKIP_R_TRUNCATED_GZIP:
        return true;
    default:
        return false;
    }
}

int skip_reason_parse(const char *name)
{
    for (int i = 0; i < SKIP_R__COUNT; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

bool skip_reason_name_noted(const char *name)
{
    if (!strncmp(name, "fixed_", 6))
        return true;
    int r = skip_reason_parse(name);
    return r >= 0 && !skip_reason_is_skip(r);
}

double skip_share(uint64_t skipped, uint64_t docs)
{
    return skipped ? (double)skipped / (double)(skipped + docs) : 0.0;
}

double skip_accept_fraction(double share)
{
    return share < 0.9999 ? share + 0.0001 : 1.0;
}
