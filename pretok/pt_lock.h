/* One conversion (or merge) per output directory at a time: an exclusive
 * flock(2) on DIR/.pretok.lock, held for the life of the process, with the
 * holder's pid written in the file so that a second run can name it. The
 * lock goes with its process (kill -9 included), so a stale file never
 * blocks a later run. The file is left in place, except by a failed
 * conversion or merge that removes the directory it created; pt_lock_acquire()
 * checks after locking that the file it holds is still the one at the
 * path (else it locks that one), so a removal never lets two runs hold the
 * lock. */
#ifndef INGOT_PT_LOCK_H
#define INGOT_PT_LOCK_H

#include <stdbool.h>
#include <stddef.h>

#define PT_LOCK_NAME ".pretok.lock"

/* Lock dir (which must exist). Returns an fd >= 0 to pass to pt_lock_release,
 * or -EBUSY when another process holds the lock (the message names
 * its pid), INGOT_E_USAGE when DIR/PT_LOCK_NAME is not a regular file (a
 * link, a FIFO, a directory: the message says which, and to remove it), or
 * -errno (message names the file). */
int pt_lock_acquire(const char *dir);
/* Release (close) the lock; accepts -1. */
void pt_lock_release(int fd);

/* A failed run into a directory it created itself keeps nothing
 * (docs/pretok.md): see pt_lock.c. made, out_made: fs_mkdir_p_made's list
 * and leaf for out;
 * ours: the names of this command's own files there. Releases the lock. */
void pt_out_abandon(const char *out, char **made, bool out_made, int lock,
                    const char *const *ours, size_t n_ours);

#endif
