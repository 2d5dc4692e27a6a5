#include "pt_reason.h"

#include <string.h>

static const char *const names[PT_R__COUNT] = {
    [PT_R_MALFORMED_JSON] = "malformed_json",
    [PT_R_MISSING_TEXT] = "missing_text",
    [PT_R_TEXT_NOT_STRING] = "text_not_string",
    [PT_R_INVALID_UTF8] = "invalid_utf8",
    [PT_R_LONE_SURROGATE] = "lone_surrogate",
    [PT_R_EMPTY_TEXT] = "empty_text",
    [PT_R_RECORD_TOO_LARGE] = "record_too_large",
    [PT_R_UNREADABLE_FILE] = "unreadable_file",
    [PT_R_NOT_REGULAR_FILE] = "not_regular_file",
    [PT_R_EMPTY_FILE] = "empty_file",
    [PT_R_NOT_ZSTD] = "not_zstd",
    [PT_R_CORRUPT_ZSTD] = "corrupt_zstd",
    [PT_R_TRUNCATED_ZSTD] = "truncated_zstd",
    [PT_R_NOT_GZIP] = "not_gzip",
    [PT_R_CORRUPT_GZIP] = "corrupt_gzip",
    [PT_R_TRUNCATED_GZIP] = "truncated_gzip",
    [PT_R_INVALID_UTF8_REPLACED] = "fixed_invalid_utf8",
    [PT_R_LONE_SURROGATE_REPLACED] = "fixed_lone_surrogate",
    [PT_R_NUL_REMOVED] = "fixed_nul",
    [PT_R_BOM_REMOVED] = "fixed_bom",
    [PT_R_CRLF_LINE] = "crlf_line",
    [PT_R_BLANK_LINE] = "blank_line",
    [PT_R_NO_FINAL_NEWLINE] = "no_final_newline",
};

const char *pt_reason_name(int reason)
{
    return reason >= 0 && reason < PT_R__COUNT ? names[reason] : "?";
}

bool pt_reason_is_skip(int reason)
{
    return reason >= 0 && reason < PT_R_INVALID_UTF8_REPLACED;
}

bool pt_reason_is_damage(int reason)
{
    switch (reason) {
    case PT_R_UNREADABLE_FILE:
    case PT_R_NOT_REGULAR_FILE:
    case PT_R_NOT_ZSTD:
    case PT_R_CORRUPT_ZSTD:
    case PT_R_TRUNCATED_ZSTD:
    case PT_R_NOT_GZIP:
    case PT_R_CORRUPT_GZIP:
    case PT_R_TRUNCATED_GZIP:
        return true;
    default:
        return false;
    }
}

int pt_reason_parse(const char *name)
{
    for (int i = 0; i < PT_R__COUNT; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}
