/* `ingot-pretok text INPUT...`: print the documents' text, cleaned exactly
 * as the conversion cleans it, one document per line group (each followed
 * by a newline), for spm_train (scripts/train-tokenizer.sh). */
#ifndef INGOT_PT_TEXT_H
#define INGOT_PT_TEXT_H

#include <stdio.h>

#include "pt_cli.h"

/* Returns 0 or an error (message recorded). */
int pt_text(const struct pt_opts *o, FILE *out);

#endif
