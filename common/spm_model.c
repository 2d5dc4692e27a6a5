/* The .model reader: a protobuf wire-format walker and the three messages
 * the encoder needs (ModelProto, TrainerSpec, NormalizerSpec). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_model.h"
#include "term_text.h"

/* One field as read off the wire. Length-delimited values point into the
 * buffer; fixed32/fixed64/varint values land in u. */
struct pb_field {
    uint32_t num;
    unsigned wt;
    uint64_t u;
    const unsigned char *data;
    size_t len;
};

struct pb_reader {
    const unsigned char *p;
    size_t n, i;
    size_t base;        /* offset of p in the file, for messages */
    const char *name;   /* file name */
    const char *msg;    /* message being read, for messages */
    unsigned depth;     /* groups open (pb_skip_group) */
};

static int pb_bad(const struct pb_reader *r, const char *what)
{
    char tn[1024];   /* a path from the command line or a manifest */
    return ingot_fail(INGOT_E_TOKENIZER,
                      "%s: not a SentencePiece model: %s in %s at byte %zu "
                      "(the file is truncated or not a .model; retrain or re-copy it)",
                      term_text(r->name, tn, sizeof(tn)), what, r->msg, r->base + r->i);
}

static int pb_varint(struct pb_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && r->i < r->n; shift += 7) {
        unsigned char b = r->p[r->i++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return pb_bad(r, "malformed varint");
}

/* Groups nested deeper than this are refused (libprotobuf stops at 100
 * levels, messages included; spm_train writes none). */
enum { PB_MAX_GROUP_DEPTH = 64 };

static int pb_read_field(struct pb_reader *r, struct pb_field *f);

/* Skip the fields of the group of field num that pb_read_field has just
 * opened, through its end tag. */
static int pb_skip_group(struct pb_reader *r, uint32_t num)
{
    if (++r->depth > PB_MAX_GROUP_DEPTH)
        return pb_bad(r, "groups nested too deeply");
    struct pb_field g;
    int ret;
    while ((ret = pb_read_field(r, &g)) == 0) {
        if (g.wt == 4) {
            r->depth--;
            return g.num == num ? 0 : pb_bad(r, "a group closed by another field's end tag");
        }
    }
    return ret < 0 ? ret : pb_bad(r, "a group without its end tag");
}

/* Read the next field, a whole group included (f->data, f->len: its
 * fields and end tag), or a group's end tag (wire type 4, no value).
 * Returns 0, 1 at the end of the message, or an error. */
static int pb_read_field(struct pb_reader *r, struct pb_field *f)
{
    if (r->i >= r->n)
        return 1;
    uint64_t key = 0;
    int ret = pb_varint(r, &key);
    if (ret)
        return ret;
    f->num = (uint32_t)(key >> 3);
    f->wt = (unsigned)(key & 7);
    f->data = NULL;
    f->len = 0;
    if (f->num == 0 || key >> 32)
        return pb_bad(r, "invalid field number");
    switch (f->wt) {
    case 0:
        return pb_varint(r, &f->u);
    case 1:
        if (r->n - r->i < 8)
            return pb_bad(r, "truncated fixed64");
        f->u = 0;
        for (int k = 7; k >= 0; k--)
            f->u = f->u << 8 | r->p[r->i + (size_t)k];
        r->i += 8;
        return 0;
    case 5:
        if (r->n - r->i < 4)
            return pb_bad(r, "truncated fixed32");
        f->u = (uint64_t)r->p[r->i] | (uint64_t)r->p[r->i + 1] << 8 |
               (uint64_t)r->p[r->i + 2] << 16 | (uint64_t)r->p[r->i + 3] << 24;
        r->i += 4;
        return 0;
    case 2: {
        uint64_t len = 0;
        if ((ret = pb_varint(r, &len)))
            return ret;
        if (len > r->n - r->i)
            return pb_bad(r, "length past the end");
        f->data = r->p + r->i;
        f->len = (size_t)len;
        r->i += (size_t)len;
        return 0;
    }
    case 3: {
        size_t start = r->i;
        if ((ret = pb_skip_group(r, f->num)))
            return ret;
        f->data = r->p + start;
        f->len = r->i - start;
        return 0;
    }
    case 4:
        return 0;
    default:
        return pb_bad(r, "reserved wire type");
    }
}

/* The next field of a message: pb_read_field, where an end tag outside a
 * group is malformed. A group (wire type 3) is returned whole: every
 * message here reads it as an unknown field and skips it. */
static int pb_next(struct pb_reader *r, struct pb_field *f)
{
    int ret = pb_read_field(r, f);
    if (ret == 0 && f->wt == 4)
        return pb_bad(r, "a group's end tag outside a group");
    return ret;
}

static struct pb_reader pb_sub(const struct pb_reader *r, const struct pb_field *f,
                               const char *msg)
{
    struct pb_reader s = { f->data, f->len, 0, r->base + (size_t)(f->data - r->p), r->name, msg,
                           0 };
    return s;
}

static float pb_float(uint64_t u)
{
    uint32_t b = (uint32_t)u;
    float x;
    memcpy(&x, &b, sizeof(x));
    return x;
}

/* A field of the wrong wire type is an unknown field to protobuf: skipped. */
static int piece_parse(struct pb_reader r, struct spe_piece *pc)
{
    pc->s = NULL;
    pc->len = 0;
    pc->score = 0.0f;
    pc->type = SPE_NORMAL;
    struct pb_field f;
    int ret;
    while ((ret = pb_next(&r, &f)) == 0) {
        if (f.num == 1 && f.wt == 2) {
            if (f.len > UINT32_MAX)
                return pb_bad(&r, "piece too long");
            pc->s = (const char *)f.data;
            pc->len = (uint32_t)f.len;
        } else if (f.num == 2 && f.wt == 5) {
            pc->score = pb_float(f.u);
        } else if (f.num == 3 && f.wt == 0) {
            /* proto2's closed enum: a value it does not know is an unknown
             * field, and the type keeps what it was (NORMAL, or an earlier
             * occurrence's), as libsentencepiece reads it */
            int32_t v = (int32_t)f.u;
            if (v >= SPE_NORMAL && v <= SPE_BYTE)
                pc->type = (uint8_t)v;
        }
    }
    return ret < 0 ? ret : 0;
}

static int trainer_parse(struct pb_reader r, struct spe_proto *m)
{
    struct pb_field f;
    int ret;
    while ((ret = pb_next(&r, &f)) == 0) {
        if (f.wt != 0)
            continue;
        switch (f.num) {
        case 3: /* a value the closed enum lacks is an unknown field (proto2):
                 * the type stays as it was, unigram by default */
            if ((int32_t)f.u >= SPE_UNIGRAM && (int32_t)f.u <= SPE_CHAR)
                m->model_type = (int32_t)f.u;
            break;
        case 35: m->byte_fallback = f.u != 0; break;
        case 24: m->treat_ws_suffix = f.u != 0; break;
        case 22: m->split_by_ws = f.u != 0; break;
        case 26: m->allow_ws_only = f.u != 0; break;
        default: break;
        }
    }
    return ret < 0 ? ret : 0;
}

static int normalizer_parse(struct pb_reader r, struct spe_proto *m)
{
    struct pb_field f;
    int ret;
    while ((ret = pb_next(&r, &f)) == 0) {
        if (f.num == 1 && f.wt == 2) {
            m->norm_name = (const char *)f.data;
            m->norm_name_len = f.len;
        } else if (f.num == 2 && f.wt == 2) {
            m->charsmap = f.len ? f.data : NULL;
            m->charsmap_len = f.len;
        } else if (f.wt == 0 && f.num == 3) {
            m->add_dummy_prefix = f.u != 0;
        } else if (f.wt == 0 && f.num == 4) {
            m->remove_extra_ws = f.u != 0;
        } else if (f.wt == 0 && f.num == 5) {
            m->escape_ws = f.u != 0;
        }
    }
    return ret < 0 ? ret : 0;
}

/* The denormalizer's spec (a NormalizerSpec): only its charsmap matters
 * here, the one thing of it libsentencepiece reads unchecked. */
static int denormalizer_parse(struct pb_reader r, struct spe_proto *m)
{
    struct pb_field f;
    int ret;
    while ((ret = pb_next(&r, &f)) == 0) {
        if (f.num == 2 && f.wt == 2) {
            m->denorm_charsmap = f.len ? f.data : NULL;
            m->denorm_charsmap_len = f.len;
        }
    }
    return ret < 0 ? ret : 0;
}

int spe_proto_parse(const void *buf, size_t len, const char *name, struct spe_proto *m)
{
    memset(m, 0, sizeof(*m));
    m->model_type = SPE_UNIGRAM;
    m->split_by_ws = true;
    m->add_dummy_prefix = true;
    m->remove_extra_ws = true;
    m->escape_ws = true;
    m->blob = malloc(len ? len : 1);
    if (!m->blob)
        return ingot_oom("the SentencePiece model's bytes", len);
    memcpy(m->blob, buf, len);
    m->blob_len = len;

    /* Pass 1 counts the pieces, pass 2 fills them. */
    struct pb_reader r = { m->blob, len, 0, 0, name, "ModelProto", 0 };
    struct pb_field f;
    int ret;
    size_t n = 0;
    while ((ret = pb_next(&r, &f)) == 0)
        n += f.num == 1 && f.wt == 2;
    if (ret < 0)
        goto fail;
    if (n > UINT32_MAX / 2) {
        ret = pb_bad(&r, "too many pieces");
        goto fail;
    }
    m->pieces = calloc(n ? n : 1, sizeof(*m->pieces));
    if (!m->pieces) {
        ret = ingot_oom("the model's piece table", n * sizeof(*m->pieces));
        goto fail;
    }
    r.i = 0;
    while ((ret = pb_next(&r, &f)) == 0) {
        if (f.wt != 2)
            continue;
        if (f.num == 1) {
            if ((ret = piece_parse(pb_sub(&r, &f, "ModelProto.pieces"), &m->pieces[m->n_pieces])))
                goto fail;
            /* libsentencepiece builds its tries recursively, a level per
             * byte of a piece: a 200 KB piece overflowed its stack */
            if (m->pieces[m->n_pieces].len > SPE_MAX_PIECE_BYTES) {
                char tn[1024];
                ret = ingot_fail(INGOT_E_TOKENIZER,
                                 "%s: piece %u is %u bytes long, more than a SentencePiece "
                                 "model holds (%d at most here); retrain the model",
                                 term_text(name, tn, sizeof(tn)), m->n_pieces,
                                 m->pieces[m->n_pieces].len, SPE_MAX_PIECE_BYTES);
                goto fail;
            }
            m->n_pieces++;
        } else if (f.num == 2) {
            if ((ret = trainer_parse(pb_sub(&r, &f, "TrainerSpec"), m)))
                goto fail;
        } else if (f.num == 3) {
            if ((ret = normalizer_parse(pb_sub(&r, &f, "NormalizerSpec"), m)))
                goto fail;
        } else if (f.num == 5) {
            if ((ret = denormalizer_parse(pb_sub(&r, &f, "denormalizer_spec"), m)))
                goto fail;
        }
    }
    if (ret < 0)
        goto fail;
    return 0;
fail:
    spe_proto_free(m);
    return ret;
}

void spe_proto_free(struct spe_proto *p)
{
    if (!p)
        return;
    free(p->pieces);
    free(p->blob);
    memset(p, 0, sizeof(*p));
}
