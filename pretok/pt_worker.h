/* Worker stage: turns a batch's records into documents. JSON records go
 * through pt_json (field extraction), then every text through the UTF-8
 * policy and NUL removal, then SentencePiece. Problems become events in the
 * batch's `out`, each before the document of the same record. One
 * pt_worker (scratch buffers, stage clocks) per thread; the configuration
 * and the tokenizer are shared read-only. */
#ifndef INGOT_PT_WORKER_H
#define INGOT_PT_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt_batch.h"
#include "pt_buf.h"
#include "pt_input.h"
#include "pt_json.h"
#include "spm_encode.h"
#include "spm_shim.h"

struct pt_tok_cfg {
    const ingot_spm *spm;           /* NULL: text only (pt_worker_text) */
    const spe_model *enc;           /* Ingot's encoder; NULL: libsentencepiece */
    const struct pt_json_path *path;
    bool invalid_utf8_skip;         /* --invalid-utf8 skip (else replace) */
    int32_t bos, eos;               /* ids to add around each document, -1 none */
    uint32_t vocab_size;
    /* For messages: the input list (indexed by pt_item.file; NULL: none) and
     * --max-record-bytes. */
    const struct pt_input *inputs;
    size_t n_inputs;
    uint64_t max_record;
};

struct pt_worker {
    struct pt_buf text, fixed;
    uint32_t *ids;
    size_t ids_cap;
    spe_scratch *enc_s;             /* Ingot's encoder's buffers and cache */
    double parse_s, tokenize_s;     /* thread time spent per stage */
    uint64_t text_bytes;            /* bytes of the texts tokenized */
};

/* Clean the text of input item `it` of batch b. Returns 1 with *text and *len
 * set (valid until the next call),, 0 when the record was skipped (event
 * added to b->out), or -ENOMEM. Fix events are added to b->out too. */
int pt_worker_text(const struct pt_tok_cfg *cfg, struct pt_worker *w, struct pt_batch *b,
                   const struct pt_item *it, const char **text, size_t *len);

/* Process every input item of b into b->out / b->tok. A document too long
 * for the encoder (-E2BIG) is skipped as record_too_large. On a tokenizer
 * failure or out of memory b->err and b->errmsg are set, the message naming
 * the record (and for memory, --max-record-bytes). Scratch buffers a huge
 * document grew are given back after it, so that memory returns to its
 * usual size instead of every thread keeping its largest document's. */
void pt_worker_run(const struct pt_tok_cfg *cfg, struct pt_worker *w, struct pt_batch *b);

void pt_worker_free(struct pt_worker *w);

#endif
