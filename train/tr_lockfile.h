/* A lock file that keeps a second ingot-train out of what one run writes
 * (its --ckpt-dir, its --metrics file): an exclusive flock on a file that
 * records its holder ("pid N on HOST"), for the second run's message. */
#ifndef INGOT_TR_LOCKFILE_H
#define INGOT_TR_LOCKFILE_H

#include <stddef.h>

/* Take the lock on path (created; a symbolic link or anything but a regular
 * file there is refused, never followed). what: the flag it guards, for
 * messages ("--ckpt-dir D"). Returns
 *   0 with *fd >= 0: held, until close(*fd) or exit;
 *   0 with *fd = -1: the file system has no locks (the caller goes on
 *     unguarded, and may say so);
 *   -EBUSY with holder filled ("pid N on HOST", or "pid unknown") and no
 *     message recorded: another process holds it (the caller says what
 *     that means for its files);
 *   another error, with a message naming the lock file.
 * A lock file its holder removed while this took it (tr_lockfile_release)
 * is opened again, so two processes never hold two files of one name. */
int tr_lockfile_take(const char *path, const char *what, int *fd, char *holder,
                     size_t holder_len);

/* Give the lock up and remove its file while still holding it (a taker
 * waiting on it sees it gone and opens the new one). fd -1: nothing. */
void tr_lockfile_release(const char *path, int fd);

#endif
