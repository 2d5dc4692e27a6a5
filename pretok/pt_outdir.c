#include "pt_outdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "manifest.h"
#include "pt_state.h"
#include "pt_str.h"
#include "shard_format.h"
#include "term_text.h"

static bool run_file(const char *n)
{
    return ingot_train_ckpt_like(n) || !strcmp(n, INGOT_TRAIN_LOCK_NAME) ||
           !strcmp(n, INGOT_TRAIN_CONFIG_NAME);
}

int pt_outdir_scan(const char *dir, struct pt_outdir *sc)
{
    memset(sc, 0, sizeof(*sc));
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        char td[1024];
        return ingot_fail(-e, "%s: cannot open: %s", term_text(dir, td, sizeof(td)),
                          strerror(e));
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        /* fs_write_atomic's temp files of the state, manifest and model copy */
        bool tmp = pt_ends_with(n, INGOT_SHARD_SUFFIX ".tmp") ||
                   fs_temp_pid(n, PT_STATE_NAME) > 0 || fs_temp_pid(n, INGOT_MANIFEST_NAME) > 0 ||
                   fs_temp_pid(n, INGOT_TOKENIZER_NAME) > 0;
        if (tmp) {
            char *p = fs_path_join(dir, n);
            if (p)
                unlink(p);
            free(p);
        } else if (pt_ends_with(n, INGOT_SHARD_SUFFIX)) {
            sc->has_shards = true;
        } else if (!strcmp(n, INGOT_MANIFEST_NAME)) {
            sc->has_manifest = true;
        } else if (!strcmp(n, INGOT_TOKENIZER_NAME)) {
            sc->has_tok = true;
        } else if (!strcmp(n, PT_STATE_NAME)) {
            sc->has_state = true;
        } else if (!strcmp(n, INGOT_MERGE_RETIRED_NAME)) {
            sc->merged = true;
        } else if (!sc->run_file[0] && run_file(n)) {
            snprintf(sc->run_file, sizeof(sc->run_file), "%s", n);
        }
    }
    closedir(d);
    return 0;
}

int pt_outdir_refuse(const char *out, const struct pt_outdir *sc, bool own,
                     const char *model_opt)
{
    char to[1024];   /* --out, as term_text shows it */
    term_text(out, to, sizeof(to));
    /* a part whose shards a merge moved away: converting it again redid it
     * from the start, and the merged dataset then refused the new shards */
    if (sc->merged)
        return ingot_fail(INGOT_E_USAGE, "%s: a part already merged: ingot-pretok merge moved "
                          "its shards into the merged dataset (its manifest is now %s); use "
                          "that dataset, or convert into a new --out", to,
                          INGOT_MERGE_RETIRED_NAME);
    /* a --ckpt-dir (its --resume then refused the directory as a dataset's)
     * or an hf export (its tokenizer.model replaced) */
    if (sc->run_file[0]) {
        char tn[300];
        return ingot_fail(INGOT_E_USAGE, "%s: a training run's or an exported model's "
                          "directory (it holds %s): a dataset there would stop its --resume or "
                          "replace its tokenizer; choose another --out", to,
                          term_text(sc->run_file, tn, sizeof(tn)));
    }
    if (own)
        return 0;
    if (sc->has_manifest)
        return ingot_fail(INGOT_E_USAGE, "%s already holds a dataset (%s) that this command "
                          "did not start; choose an empty or new --out", to,
                          INGOT_MANIFEST_NAME);
    /* a conversion stopped part-way: writing another dataset there would
     * leave its resume with shards it never wrote */
    if (sc->has_state)
        return ingot_fail(INGOT_E_USAGE, "%s holds an unfinished conversion (its resume state "
                          "%s): run that conversion's command again to finish it, or choose "
                          "an empty or new --out", to, PT_STATE_NAME);
    if (sc->has_shards)
        return ingot_fail(INGOT_E_USAGE, "%s already holds shards (*%s) but no %s: left by a "
                          "run that was killed? Remove its *%s files%s, or choose an empty or "
                          "new --out", to, INGOT_SHARD_SUFFIX, INGOT_MANIFEST_NAME,
                          INGOT_SHARD_SUFFIX, sc->has_tok ? " and " INGOT_TOKENIZER_NAME : "");
    /* not this command's (it refuses to write over one, and removes its own
     * copy when it fails): a user's model, which the copy would replace */
    if (sc->has_tok && model_opt)
        return ingot_fail(INGOT_E_USAGE, "%s already holds a %s that this command did not "
                          "write (a dataset's copy of %s would replace it); choose an empty or "
                          "new --out", to, INGOT_TOKENIZER_NAME, model_opt);
    if (sc->has_tok)
        return ingot_fail(INGOT_E_USAGE, "%s already holds a %s that this command did not "
                          "write (a dataset's %s is the model its ids come from, and these "
                          "come from --vocab); choose an empty or new --out", to,
                          INGOT_TOKENIZER_NAME, INGOT_TOKENIZER_NAME);
    return 0;
}
