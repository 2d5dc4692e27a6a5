/* Error codes and the per-thread detailed message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "term_text.h"

/* One message per thread: worker threads (pretok, data loader) may fail at
 * the same time without trampling each other's text. */
static _Thread_local char errmsg[INGOT_ERRMSG_MAX];
static _Thread_local int errcode;

const char *ingot_strerror(int err)
{
    switch (err) {
    case INGOT_OK: return "success";
    case INGOT_E_FORMAT: return "not an Ingot file";
    case INGOT_E_VERSION: return "written by a newer format version";
    case INGOT_E_CORRUPT: return "inconsistent structural field";
    case INGOT_E_CHECKSUM: return "checksum mismatch";
    case INGOT_E_TRUNCATED: return "file truncated";
    case INGOT_E_USAGE: return "bad usage or argument";
    case INGOT_E_TOKENIZER: return "tokenizer error";
    case INGOT_E_JSON: return "malformed JSON";
    case INGOT_E_NOGPU: return "no usable GPU";
    case INGOT_E_CUDA: return "CUDA error";
    case INGOT_E_MISMATCH: return "mismatch between files that must agree";
    case INGOT_E_INTERRUPTED: return "interrupted";
    case INGOT_E_NODATA: return "nothing to work on";
    case INGOT_E_INPUT: return "bad input record";
    case INGOT_E_ENDIAN: return "written on a machine of other endianness";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

int ingot_fail(int err, const char *fmt, ...)
{
    /* Formatted apart first: an argument may be ingot_errmsg() itself
     * ("%s: ...", ingot_errmsg() adds context to the last message), and
     * vsnprintf into its own source is undefined (it garbled those). A few
     * bytes past the message's room show whether its end is inside a
     * character: cut there, the name at the end put bytes that are not
     * UTF-8 on the terminal. */
    char text[sizeof(errmsg) + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t n = term_text_cut(text, strlen(text), sizeof(errmsg) - 1);
    memcpy(errmsg, text, n);
    errmsg[n] = '\0';
    errcode = err;
    return err;
}

const char *ingot_errmsg(void)
{
    if (errmsg[0])
        return errmsg;
    return ingot_strerror(errcode);
}

const char *ingot_errmsg_for(int err)
{
    if (errmsg[0] && errcode == err)
        return errmsg;
    return ingot_strerror(err);
}

int ingot_oom(const char *what, size_t bytes)
{
    return ingot_fail(-ENOMEM, "out of memory allocating %s (%zu bytes)", what, bytes);
}

void ingot_clear_err(void)
{
    errmsg[0] = '\0';
    errcode = 0;
}
