/* A mixture's loss split by source: the mean token loss of each --data
 * source's windows within a set of windows (the val set, or eval's windows),
 * next to the overall mean, which stays the mean over all of them. Every
 * window has seq_len targets, so a source's mean is the mean of its windows'
 * means, and the window counts weight the sources' means back into the
 * overall one. The short names the reports use are the directories'
 * basenames, with "#i" (the source's index in the --data list) added to the
 * names two sources share; a long one is cut to fit TR_SRC_NAME, at a
 * character's start, and one that is not UTF-8 is as term_text() shows it
 * (the names go into JSON). */
#ifndef INGOT_TR_SRC_LOSS_H
#define INGOT_TR_SRC_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "data_loader.h"

enum { TR_SRC_NAME = 40 };   /* a short name's buffer */

struct tr_src_loss {
    int n;                                  /* sources; 0: not a mixture (nothing to split) */
    char name[TR_MAX_SOURCES][TR_SRC_NAME]; /* short names */
    uint64_t windows[TR_MAX_SOURCES];       /* windows of each source added */
    double sum[TR_MAX_SOURCES];             /* the sum of their mean token losses */
};

/* Names from l's sources, no windows; n = 0 unless l is a mixture. */
void tr_src_loss_init(struct tr_src_loss *s, const tr_loader *l);
/* No windows (for the next evaluation of the same set). */
void tr_src_loss_clear(struct tr_src_loss *s);
/* One window of source src (0 <= src < n) whose mean token loss is loss. */
void tr_src_loss_add(struct tr_src_loss *s, int src, double loss);
/* Source i's mean token loss; NaN when it has no window in the set. */
double tr_src_loss_mean(const struct tr_src_loss *s, int i);
/* "web 3.3012, code 3.7511" into buf (n/a for a source without windows);
 * "" when n is 0. Cut to len - 1 bytes at a character's start. */
void tr_src_loss_format(const struct tr_src_loss *s, char *buf, size_t len);

#endif
