/* Training checkpoints: one file per save, DIR/ckpt-<step, 8 digits>.bin,
 * written atomically (hidden temp file DIR/.ckpt-<step>.bin.tmp.<pid>,
 * fsync, rename, fsync dir). Layout in
 * docs/checkpoint-format.md: a 4096-byte little-endian header (model
 * config, step, schedule, data position, RNG state, tokenizer hash,
 * checksums), then params, AdamW m and v as float32 in tr_params.h order,
 * then (version 2) the run's settings and data position as JSON text, so
 * that --resume alone continues the run (tr_settings.h). */
#ifndef INGOT_CHECKPOINT_H
#define INGOT_CHECKPOINT_H

#include <stdint.h>

#include "data_loader.h"
#include "shard_format.h"
#include "tr_params.h"

#define TR_CKPT_MAGIC INGOT_TRAIN_CKPT_MAGIC
/* The newest version this build reads. GPT-2 runs write version 2 (files
 * unchanged); llama runs write version 3, whose header adds the
 * architecture and its fields at offset 248 (docs/checkpoint-format.md). */
#define TR_CKPT_VERSION 3u
/* The longest settings section a reader accepts. */
#define TR_CKPT_MAX_SETTINGS (16u << 20)
/* The architecture of version 1 and 2 files (the settings' "arch"). */
#define TR_CKPT_ARCH "gpt2"
#define TR_CKPT_HEADER_SIZE 4096u
#define TR_CKPT_FLAG_SYNTHETIC 1u
#define TR_CKPT_FLAG_SEQUENTIAL 2u

/* On-disk header (little-endian; fields at fixed offsets). */
struct tr_ckpt_header {
    char magic[8];              /*    0 TR_CKPT_MAGIC */
    uint32_t version;           /*    8 */
    uint32_t header_size;       /*   12 TR_CKPT_HEADER_SIZE */
    uint32_t endian_mark;       /*   16 0x01020304 */
    uint32_t flags;             /*   20 TR_CKPT_FLAG_* */
    int32_t n_layer;            /*   24 */
    int32_t n_head;             /*   28 */
    int32_t n_embd;             /*   32 */
    int32_t seq_len;            /*   36 */
    int32_t vocab;              /*   40 */
    int32_t vocab_padded;       /*   44 */
    uint64_t n_params;          /*   48 floats per tensor block */
    uint64_t step;              /*   56 optimizer steps done */
    uint64_t steps;             /*   64 the run's --steps (schedule length) */
    uint64_t seed;              /*   72 */
    uint64_t tokenizer_hash;    /*   80 XXH3-64 of the tokenizer model; 0 if synthetic */
    uint64_t data_epoch;        /*   88 loader position */
    uint64_t data_index;        /*   96 */
    uint64_t synth_rng[4];      /*  104 synthetic-token stream state */
    uint64_t tokens;            /*  136 training tokens processed so far */
    double elapsed_s;           /*  144 training wall time so far */
    int32_t batch;              /*  152 */
    int32_t grad_accum;         /*  156 */
    float lr, min_lr;           /*  160, 164 */
    float weight_decay;         /*  168 */
    float grad_clip;            /*  172 */
    int32_t warmup;             /*  176 */
    uint32_t reserved0;         /*  180 */
    uint64_t params_offset;     /*  184 byte offsets of the three blocks */
    uint64_t m_offset;          /*  192 */
    uint64_t v_offset;          /*  200 */
    uint64_t file_size;         /*  208 */
    uint64_t payload_checksum;  /*  216 XXH3-64 of the tensors [params_offset, v_offset + 4P) */
    uint64_t settings_offset;   /*  224 version 2: the settings section (JSON) */
    uint64_t settings_size;     /*  232 its bytes */
    uint64_t settings_checksum; /*  240 XXH3-64 of it */
    uint32_t arch;              /*  248 version 3: enum tr_arch (0 gpt2, 1 llama) */
    int32_t n_kv_head;          /*  252 llama fields (0 for gpt2) */
    int32_t ffn_dim;            /*  256 */
    uint32_t tie_embeddings;    /*  260 0 or 1 */
    double rope_theta;          /*  264 */
    float norm_eps;             /*  272 */
    uint32_t reserved1;         /*  276 */
    uint8_t reserved[TR_CKPT_HEADER_SIZE - 280 - 8];
    uint64_t header_checksum;   /* 4088 XXH3-64 of bytes [0, 4088) */
};
_Static_assert(sizeof(struct tr_ckpt_header) == TR_CKPT_HEADER_SIZE, "checkpoint header size");

/* What a checkpoint holds besides the tensors. */
struct tr_ckpt_state {
    struct tr_config cfg;
    uint64_t step, steps, seed, tokenizer_hash, tokens;
    double elapsed_s;
    uint32_t flags;
    struct tr_loader_pos pos;
    int batch, grad_accum, warmup;
    float lr, min_lr, weight_decay, grad_clip;
    uint32_t version;           /* read: the file's format version */
    const char *settings;       /* save: the settings section text (JSON; NULL: "{}") */
};

/* Write DIR/ckpt-<step>.bin (creating DIR). params, m, v: tr_param_count()
 * floats each. *path_out (if not NULL) gets the malloc'd path. */
int tr_ckpt_save(const char *dir, const struct tr_ckpt_state *st, const float *params,
                 const float *m, const float *v, char **path_out);

/* Path of the newest checkpoint in dir (highest step), malloc'd into *path,
 * or *path = NULL when there is none (returns 0). */
int tr_ckpt_find_latest(const char *dir, char **path);
/* A checkpoint named by the user: a ckpt-*.bin file as it is, or a
 * --ckpt-dir directory, its newest checkpoint (-ENOENT with a message when
 * it holds none). *file gets a malloc'd path. */
int tr_ckpt_resolve(const char *path, char **file);
/* Files of dir named like a checkpoint but not as a save names one
 * ("ckpt-30.bin": a copy or rename by hand), which every reader passes
 * over: their number, and in hint (empty when none) "ckpt-30.bin is passed
 * over; if it is one, rename it ckpt-00000030.bin" for a message. */
int tr_ckpt_passed_over(const char *dir, char *hint, size_t len);

/* Read and verify the header of path (magic, version, endianness, checksums
 * of header, tensors and settings, sizes), and refuse a model architecture
 * this build does not know (INGOT_E_VERSION naming it), or one that differs
 * from the header's (INGOT_E_CORRUPT). A file named ckpt-<N>.bin whose
 * header step is not N (a copy or rename: the newest goes by the name) is
 * INGOT_E_CORRUPT too, here and in every reader below. Version-1 files (no
 * settings) are GPT-2. */
int tr_ckpt_read_state(const char *path, struct tr_ckpt_state *st);

/* What identifies a checkpoint's weights: its header's payload checksum
 * (the header checked, the payload not read: cheap for any size). */
int tr_ckpt_payload_id(const char *path, uint64_t *id);
/* The settings section of path (malloc'd, NUL-terminated), or *text = NULL
 * for a version-1 file. Verified against its checksum. */
int tr_ckpt_read_settings(const char *path, char **text);
/* INGOT_E_VERSION (naming it) when the settings text of path names an
 * architecture this build does not know (gpt2, llama); INGOT_E_CORRUPT when
 * it names none or is not JSON. */
int tr_ckpt_check_arch(const char *path, const char *text);
/* Read the tensors of a checkpoint whose state was read with
 * tr_ckpt_read_state() (n = tr_param_count(&st->cfg) floats each), checked
 * against the payload checksum once read. */
int tr_ckpt_read_tensors(const char *path, size_t n, float *params, float *m, float *v);

/* Check --ckpt-dir before any training: create it when missing, refuse a
 * path that is not a directory or where a probe file cannot be created
 * (message names the path), and remove the temp files of saves killed
 * half-way (theirs by the naming rule in docs/checkpoint-format.md, and only
 * when the writing process is gone and no run holds the directory's lock,
 * tr_ckpt_dir_lock()). *removed gets how many; removed NULL leaves them
 * (a data-parallel rank other than 0: rank 0 removes them and says so). */
int tr_ckpt_dir_prepare(const char *dir, int *removed);

/* The lock file of a --ckpt-dir (hidden; it stays in the directory). */
#define TR_CKPT_LOCK_NAME INGOT_TRAIN_LOCK_NAME

/* Make this process the one run training into dir: an exclusive flock on
 * DIR/TR_CKPT_LOCK_NAME (created; it records "pid N on HOST"), held until
 * tr_ckpt_dir_unlock(fd) or exit. Two runs in one directory would
 * interleave their checkpoints, prune each other's and overwrite
 * config.json. -EBUSY, naming the holder, when another process holds it;
 * *fd = -1 and 0 where the file system has no locks (the run is unguarded). */
int tr_ckpt_dir_lock(const char *dir, int *fd);
void tr_ckpt_dir_unlock(int fd);   /* accepts -1 */
/* Unlock for a run that failed in a directory it made, before writing
 * anything there but its lock (a refused --init-from, say): the lock file
 * (unlinked while still held, so no new locker shares it) and the
 * directory go. A directory holding anything else stays as it is. */
void tr_ckpt_dir_abandon(const char *dir, int fd);

/* err, from reading path, the newest checkpoint of dir for --resume. A
 * damaged file (INGOT_E_FORMAT, _CORRUPT, _CHECKSUM, _TRUNCATED) gets what
 * to do appended to its message: move it out of dir to resume from the
 * checkpoint before it (named), or restore it. Other codes are returned as
 * they are. dir NULL: path was named by --resume-from (the run's own
 * --ckpt-dir holds none of it); the advice names the checkpoint before it in
 * path's own directory. */
int tr_ckpt_resume_failed(const char *dir, const char *path, int err);

/* Remove all but the newest keep checkpoints of dir (keep >= 1); one that
 * cannot be removed does not stop the others (the first error returned). */
int tr_ckpt_prune(const char *dir, int keep);

#endif
