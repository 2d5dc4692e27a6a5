/* Small file-system helpers shared by the writers. */
#ifndef INGOT_FSUTIL_H
#define INGOT_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Write buf to path atomically: path.tmp.<pid>, fsync, rename, fsync dir.
 * Returns 0 or -errno (message names the path). */
int fs_write_atomic(const char *path, const void *buf, size_t len);
/* fsync the directory containing path (or path itself if a directory). */
int fs_fsync_dir(const char *path);
/* mkdir -p. */
int fs_mkdir_p(const char *path);
/* Read a whole file into a malloc'd buffer (NUL-terminated). */
int fs_read_all(const char *path, char **buf, size_t *len);
/* XXH3-64 of a file's bytes. */
int fs_hash_file(const char *path, uint64_t *hash);

#endif
