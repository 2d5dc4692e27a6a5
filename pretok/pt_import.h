/* `ingot-pretok import-bin`: token files of llm.c (a 256 x int32 header,
 * then uint16 or uint32 tokens) or nanoGPT (raw uint16, no header) into an
 * Ingot dataset, with no tokenizing: the ids are taken as they are, checked
 * against the vocabulary, split into documents at an end-of-text id when one
 * is named (else one document per file), and written as shards with a
 * manifest (provenance: the .bin file and the document number in it). */
#ifndef INGOT_PT_IMPORT_H
#define INGOT_PT_IMPORT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* llm.c's header: 256 int32, [0] magic, [1] version, [2] token count. */
#define PT_LLMC_HEADER_INTS 256
#define PT_LLMC_MAGIC_GPT2 20240520     /* version 1: uint16 tokens */
#define PT_LLMC_MAGIC_LLAMA3 20240801   /* version 7: uint32 tokens */

/* Run the command: argv[0] the program, argv[1] == "import-bin", then its
 * options and files (the whole command line goes into the manifest).
 * *interrupt (set by a signal handler; may be NULL) stops it between
 * documents with INGOT_E_INTERRUPTED, every shard written removed.
 * Returns 0, INGOT_E_USAGE, or an error with its message recorded. */
int pt_import_bin(int argc, char **argv, volatile sig_atomic_t *interrupt);
void pt_import_usage(FILE *f);

#endif
