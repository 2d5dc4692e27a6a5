/* `ingot-train export`, and the checkpoint and tokenizer loading that the
 * export, `generate` and `eval` subcommands share. Formats (docs/export.md):
 *   hf           a Hugging Face transformers folder for GPT2LMHeadModel
 *                (config.json, model.safetensors without the padded
 *                vocabulary rows, generation_config.json) plus the
 *                SentencePiece tokenizer and a tokenizer_config.json that
 *                makes AutoTokenizer give SentencePiece's ids;
 *   llmc         llm.c's model file (the gpt2_124M.bin layout), fp32 or bf16;
 *   safetensors  the raw tensors with Ingot's names and shapes. */
#ifndef INGOT_TR_EXPORT_H
#define INGOT_TR_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"

struct ingot_spm;

/* Run argv[1] when it names a subcommand (export, generate, eval) and
 * return the process exit status (tr_exit_status(): 0, 1 error, 2 usage);
 * -1 when argv[1] is none of them (then nothing was done). Called by main()
 * first. version: prints the version line (main's: it knows the libraries
 * linked), for a subcommand's --version. */
int tr_subcommand(int argc, char **argv, void (*version)(void));

/* For the subcommands' getopt_long loops (argv[0] is the subcommand): the
 * usage error for the option getopt_long refused (c, argv[optind - 1]; as
 * cli_opt_error(), pointing to "ingot-train SUBCOMMAND --help"), and the
 * one positional argument, the checkpoint, once the options are done. */
struct option;
int tr_cli_bad_option(int c, char **argv, const struct option *longs);
int tr_cli_ckpt(int argc, char **argv, const char **ckpt);
/* Flush stdout: an error naming what was printed (the result of generate or
 * eval) when it could not be written, so that `> FILE` on a full disk does
 * not exit 0 with the result lost. */
int tr_cli_flush_stdout(const char *what);

/* `ingot-train export CKPT --format F --out DIR ...`; argv[0] is "export".
 * Returns 0, TR_OPTS_HELP after --help, TR_OPTS_VERSION for --version (the
 * caller prints it), or a negative code with a message. (generate and eval
 * return the same.) */
int tr_export_main(int argc, char **argv);

/* Load a checkpoint for inference: ckpt is a checkpoint file or a
 * --ckpt-dir directory (its newest checkpoint). The header and payload are
 * verified, and every weight must be finite (INGOT_E_CORRUPT naming the
 * tensor); *params gets a malloc'd copy of the weights (tr_param_count()
 * floats, the AdamW state is not read); *used (if not NULL) the malloc'd
 * path read. */
int tr_export_load(const char *ckpt, struct tr_ckpt_state *st, float **params, char **used);

/* tr_export_load(), and *settings (if not NULL) the malloc'd settings
 * section of the same file (NULL in a version-1 file): read with the
 * weights, as a run still training into the directory may remove the file
 * right after (--ckpt-keep). A directory's newest checkpoint removed while
 * it is read is taken again from the directory. */
int tr_export_load_run(const char *ckpt, struct tr_ckpt_state *st, float **params, char **used,
                       char **settings);

/* The checkpoint's tokenizer: model (a .model file) when not NULL, else the
 * tokenizer of the dataset data (as ingot-train finds it), else (neither
 * given) that of the dataset the checkpoint was trained on, as its settings
 * section (tr_export_load_run(); may be NULL) names it, when it is still
 * there. Its XXH3-64 must equal
 * want_hash (the checkpoint's) unless want_hash is 0 (synthetic). *used (if
 * not NULL) gets the malloc'd path loaded. quiet: no note on stderr (which
 * copy of the tokenizer was taken). */
int tr_export_tokenizer(const char *data, const char *model, const char *settings,
                        uint64_t want_hash, bool quiet, struct ingot_spm **spm, char **used);

#endif
