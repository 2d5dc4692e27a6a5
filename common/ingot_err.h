/* Ingot error codes. Functions return 0 on success and a negative value on
 * failure: either -errno (from the C library) or one of the INGOT_E_* codes
 * below. A failing function may also record a detailed, human-readable
 * message (naming the file, record or field and what to do) with
 * ingot_fail(); callers print it with ingot_errmsg(). Only main() exits. */
#ifndef INGOT_ERR_H
#define INGOT_ERR_H

enum ingot_err {
    INGOT_OK = 0,
    INGOT_E_FORMAT = -1001,      /* not an Ingot file (magic, header size) */
    INGOT_E_VERSION = -1002,     /* written by a newer format version */
    INGOT_E_CORRUPT = -1003,     /* a structural field is inconsistent */
    INGOT_E_CHECKSUM = -1004,    /* a checksum does not match the bytes */
    INGOT_E_TRUNCATED = -1005,   /* the file is shorter than its header says */
    INGOT_E_USAGE = -1006,       /* bad command-line usage or argument */
    INGOT_E_TOKENIZER = -1007,   /* tokenizer model failed to load or encode */
    INGOT_E_JSON = -1008,        /* malformed JSON / manifest */
    INGOT_E_NOGPU = -1009,       /* CUDA asked for but no usable GPU */
    INGOT_E_CUDA = -1010,        /* a CUDA or cuBLAS call failed */
    INGOT_E_MISMATCH = -1011,    /* two things that must agree do not */
    INGOT_E_INTERRUPTED = -1012, /* stopped by a signal (SIGINT/SIGTERM) */
    INGOT_E_NODATA = -1013,      /* nothing to work on (no documents, no shards) */
    INGOT_E_INPUT = -1014,       /* bad input record under --on-error fail */
    INGOT_E_ENDIAN = -1015,      /* file written on a machine of other endianness */
};

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Short description of an error code (static string, never NULL). */
const char *ingot_strerror(int err);

/* Record a detailed message for the calling thread and return err, so that a
 * failure site reads `return ingot_fail(INGOT_E_CORRUPT, "%s: ...", path);`. */
int ingot_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last detailed message, or ingot_strerror(err) of the
 * last code when none was recorded. Valid until the next ingot_fail(). */
/* Bytes of a message, its NUL included: two paths shown whole
 * (TERM_SHOW_MAX each) and the sentences around them (1024 cut a long
 * --ckpt-dir's message before what to do). */
#define INGOT_ERRMSG_MAX 10240
const char *ingot_errmsg(void);

/* The message to print for a failure that returned err: the recorded
 * message when it was recorded for this very code, else err's own text
 * (ingot_strerror), so a bare `return -ENOMEM` never shows a stale message
 * from an earlier, unrelated failure. What main() prints. */
const char *ingot_errmsg_for(int err);

/* Record "out of memory allocating <what> (<bytes> bytes)" and return
 * -ENOMEM: allocation failures say what and how big. */
int ingot_oom(const char *what, size_t bytes);

/* Forget the calling thread's message (so a later ingot_errmsg() does not
 * show a stale one). */
void ingot_clear_err(void);

#ifdef __cplusplus
}
#endif
#endif
