/* ZeRO-1 shard layout and the gather command channel (tr_dist_zero.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "tr_dist_zero.h"

void tr_zero_layout(size_t n, const tr_dist *d, struct tr_zero *z)
{
    z->world = tr_dist_world(d);
    z->rank = tr_dist_rank(d);
    z->n = n;
    size_t unit = (size_t)z->world * TR_ZERO_ALIGN;
    z->n_pad = (n + unit - 1) / unit * unit;
    z->shard = z->n_pad / (size_t)z->world;
    z->lo = (size_t)z->rank * z->shard;
}

bool tr_zero_clip(const struct tr_zero *z, size_t off, size_t len, size_t *a, size_t *b)
{
    size_t hi = z->lo + z->shard < z->n ? z->lo + z->shard : z->n;
    *a = off > z->lo ? off : z->lo;
    *b = off + len < hi ? off + len : hi;
    return *a < *b;
}

enum { CMD_MAGIC = 0x5a45524f };   /* "ZERO" */

struct cmd {
    uint32_t magic;
    int32_t cmd, arg;
};

int tr_zero_post(tr_dist *d, enum tr_zero_cmd cmd, int arg)
{
    if (tr_dist_world(d) == 1)
        return 0;
    struct cmd c = { CMD_MAGIC, (int32_t)cmd, arg };
    return tr_dist_bcast(d, &c, sizeof(c), "--zero 1 command");
}

static const char *cmd_name(int c)
{
    return c == TR_ZERO_STEP ? "step" : c == TR_ZERO_GATHER ? "gather" :
           c == TR_ZERO_END ? "end" : "unknown";
}

int tr_zero_next(tr_dist *d, int *cmd, int *arg)
{
    struct cmd c = { 0 };
    int err = tr_dist_bcast(d, &c, sizeof(c), "--zero 1 command");
    if (err)
        return err;
    if (c.magic != CMD_MAGIC)
        return ingot_fail(INGOT_E_MISMATCH, "rank %d (%s): --zero 1: rank 0 sent something "
                          "else than a command (the ranks run different programs?)",
                          tr_dist_rank(d), tr_dist_host(d));
    *cmd = c.cmd;
    *arg = c.arg;
    return 0;
}

int tr_zero_serve(tr_dist *d, enum tr_zero_cmd until, tr_zero_serve_fn fn, void *ctx)
{
    if (tr_dist_world(d) == 1)
        return 0;
    for (;;) {
        struct cmd c = { 0 };
        int err = tr_zero_next(d, &c.cmd, &c.arg);
        if (err)
            return err;
        if (c.cmd == (int32_t)until)
            return 0;
        /* rank 0 ending while this rank waits for a step: it left the loop (a
         * failure or a stop of its own, which its output names), not another
         * program (the message read as a protocol mismatch) */
        if (c.cmd == TR_ZERO_END)
            return ingot_fail(INGOT_E_MISMATCH, "rank %d (%s): --zero 1: rank 0 left the "
                              "training loop while this rank was at '%s' (rank 0 failed or "
                              "stopped: its own lines say why)", tr_dist_rank(d),
                              tr_dist_host(d), cmd_name((int)until));
        if (c.cmd != TR_ZERO_GATHER)
            return ingot_fail(INGOT_E_MISMATCH, "rank %d (%s): --zero 1: rank 0 is at '%s' "
                              "where this rank is at '%s'", tr_dist_rank(d), tr_dist_host(d),
                              cmd_name(c.cmd), cmd_name((int)until));
        if ((err = fn(ctx, c.arg)))
            return err;
    }
}

int tr_zero_end(tr_dist *d, tr_zero_serve_fn fn, void *ctx)
{
    if (tr_dist_world(d) == 1)
        return 0;
    /* ingot_err has no getter for the code: find it (every code is in
     * (-4096, 0)) */
    const char *cur = ingot_errmsg();
    char msg[1024] = { 0 };
    int code = 0;
    if (strcmp(cur, ingot_strerror(INGOT_OK))) {
        snprintf(msg, sizeof(msg), "%s", cur);
        for (int c = -4095; c < 0 && !code; c++)
            if (ingot_errmsg_for(c) == cur)
                code = c;
    }
    int err = tr_dist_rank(d) == 0 ? tr_zero_post(d, TR_ZERO_END, 0) :
              tr_zero_serve(d, TR_ZERO_END, fn, ctx);
    ingot_clear_err();
    if (code)
        ingot_fail(code, "%s", msg);
    return err;
}
