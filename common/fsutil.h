/* Small file-system helpers shared by the writers and readers. Every
 * function returns 0 or -errno and records a message naming the path. */
#ifndef INGOT_FSUTIL_H
#define INGOT_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One contiguous piece of a file written by fs_write_atomic_pieces(). */
struct fs_piece {
    const void *buf;
    size_t len;
};

/* The temporary name path is written under before its rename:
 * "path.tmp.<pid>" (malloc'd; NULL when out of memory). fs_write_atomic
 * uses it, and so may a writer of its own or a signal handler that removes
 * a half-written file. */
char *fs_temp_path(const char *path);
/* Write the pieces, in order, to path atomically: fs_temp_path(path), fsync,
 * rename, fsync dir; on failure the temp file is removed and path is left as
 * it was. Returns 0 or -errno (message names the path). */
int fs_write_atomic_pieces(const char *path, const struct fs_piece *pieces, size_t n);
/* The same for a file too large to hold: fill(fd, tmp, arg) writes it to
 * the temp file's fd (named tmp in its messages); a nonzero return from it
 * leaves path as it was. */
int fs_write_atomic_with(const char *path, int (*fill)(int fd, const char *tmp, void *arg),
                         void *arg);
/* A set of files replaced together: each written whole and fsynced under
 * fs_temp_path(path) by fs_stage_with() / fs_stage_pieces() (a failure
 * removes that temp file and leaves path as it was), then, once all are,
 * renamed into place by fs_stage_commit() (no directory fsync: the caller
 * does one fs_fsync_dir() after the set). A failure while writing the set
 * leaves every old file as it was. fs_stage_commit() removes the temp file
 * when its rename fails; -ENOENT: nothing was staged under that path. */
int fs_stage_with(const char *path, int (*fill)(int fd, const char *tmp, void *arg), void *arg);
int fs_stage_pieces(const char *path, const struct fs_piece *pieces, size_t n);
int fs_stage_commit(const char *path);
/* fs_write_atomic_pieces() with one piece. */
int fs_write_atomic(const char *path, const void *buf, size_t len);
/* Flush f and report whether everything written to it arrived: 0, or
 * -errno of the failed write (-EIO when an earlier buffered write failed
 * and left only the stream's error flag). No message: the caller names what
 * was lost (a full disk or a closed pipe must not read as success). */
int fs_flush(FILE *f);
/* When name is fs_temp_path()'s file of base ("base.tmp.<pid>"), the pid of
 * the process that wrote it, else -1. */
long fs_temp_pid(const char *name, const char *base);
/* Whether no process pid exists on this host (a killed writer's). */
bool fs_pid_gone(long pid);
/* A writer's claim on the temporary file fd it writes: an advisory lock
 * (flock) held until it closes fd, which a sweep of stale temps on another
 * host (a shared file system, where the pid says nothing) respects. Best
 * effort: a file system without locks leaves the pid check alone. */
void fs_temp_claim(int fd);
/* Remove the entries of dir whose owner(name) is the pid of a process gone
 * from this host (or this process's own, when own_stale: it has not written
 * yet) and that no writer holds (fs_temp_claim), counted in *removed;
 * owner() returns -1 for every other name. what
 * names the directory's role in messages ("--ckpt-dir"), kind the writer's
 * ("save"). */
int fs_remove_stale_temps(const char *dir, long (*owner)(const char *name), bool own_stale,
                          const char *what, const char *kind, int *removed);
/* fs_remove_stale_temps() for the one file path: its fs_temp_path() files
 * (path.tmp.<pid>, beside it) whose writer is gone, left by a kill -9 in
 * the middle of an atomic write. */
int fs_remove_stale_temps_of(const char *path, const char *what, const char *kind,
                             int *removed);
/* fsync the directory containing path (or path itself if a directory). */
int fs_fsync_dir(const char *path);
/* mkdir -p. */
int fs_mkdir_p(const char *path);
/* fs_mkdir_p, and into *made (when not NULL) the directories this call
 * created itself (its mkdir returned 0), in creation order, as a
 * NULL-terminated malloc'd list of paths (trailing slashes trimmed; free
 * with fs_free_list): what a failed run may remove again, and nothing else
 * (a path through "..", or a directory another process made meanwhile, is
 * not in it). *leaf (when not NULL): path itself was made by this call. */
int fs_mkdir_p_made(const char *path, char ***made, bool *leaf);
void fs_free_list(char **list);   /* accepts NULL */
/* Undo fs_mkdir_p_made() after a failure: rmdir the directories of made,
 * newest first; one that is not empty stays (so does every one above it). */
void fs_rmdir_made(char **made);
/* The cap of fs_read_all(): no input Ingot reads whole (manifest.json,
 * SentencePiece .model, state files) is near it, and jansson needs several
 * times a manifest's size in memory while parsing it. */
#define FS_READ_ALL_MAX ((size_t)256 << 20)

/* What a file that is not a regular one is, for messages ("a directory",
 * "a FIFO (named pipe)", "a symbolic link" (from lstat), ...; a static
 * string). */
const char *fs_file_kind(mode_t mode);
/* Open path for reading and check that it is a regular file of at most
 * max_size bytes (UINT64_MAX: any size). The open uses O_NONBLOCK, so a
 * FIFO without a writer is refused at once instead of blocking; the flag is
 * cleared before returning. Returns the fd (the caller closes it) and the
 * size in *size, or -errno / INGOT_E_FORMAT (not a regular file: names
 * what it is) / -EFBIG (too large), with a message naming what (e.g.
 * "manifest") and the path (through term_text(): a path from a manifest may
 * hold control bytes; so do the messages of the readers below). */
int fs_open_regular(const char *path, const char *what, uint64_t max_size, uint64_t *size);
/* Read a whole regular file of at most max_size bytes into a malloc'd,
 * NUL-terminated buffer; what names the file's role in messages. A file
 * that grows past max_size while being read is refused too. Errors as
 * fs_open_regular(), or a read error. */
int fs_read_capped(const char *path, const char *what, size_t max_size, char **buf,
                   size_t *len);
/* fs_read_capped() with the cap FS_READ_ALL_MAX. */
int fs_read_all(const char *path, char **buf, size_t *len);
/* XXH3-64 of a regular file's bytes, streamed; a file larger than
 * FS_READ_ALL_MAX is refused (-EFBIG) as fs_read_all() refuses it: what is
 * hashed is a tokenizer model found through a manifest, and one naming a
 * file of terabytes (a disk image, a sparse file) kept ingot-dump verify
 * reading for hours. */
int fs_hash_file(const char *path, uint64_t *hash);

/* The exit status of a main() that printed its result (help, version) to
 * standard output: 0, or 1 with "prog: standard output: ..." on stderr when
 * the output could not be written (a full disk, a closed pipe): a result
 * lost must not read as success. */
int fs_stdout_status(const char *prog);
/* Whether directory dir holds an entry called name (of any type): 1, 0, or
 * -ENOMEM (no message) when the path cannot be made. */
int fs_dir_holds(const char *dir, const char *name);
/* Opens /dev/null on whichever of descriptors 0, 1, 2 is closed, first
 * thing in main(): otherwise the first file a program opens gets that
 * number, and a lock file was read as the corpus (stdin closed) or
 * written the JSON report (stdout closed). Returns 0 or -errno. */
int fs_std_fds_open(void);
/* For a command whose result is its standard output (ingot-pretok text,
 * ingot-dump's listings, ingot-train generate): 0, or INGOT_E_USAGE naming
 * prog when fs_std_fds_open() found descriptor 1 closed (the /dev/null put
 * there swallowed the result, exit 0). */
int fs_stdout_closed(const char *prog);
/* For an input named "-": 0, or INGOT_E_USAGE naming what (the option or
 * argument) when fs_std_fds_open() found descriptor 0 closed (the
 * /dev/null put there read as an empty input). */
int fs_stdin_closed(const char *what);

/* "dir/name" in a malloc'd string (just name when dir is NULL or empty, or
 * when name is absolute); NULL when out of memory. */
char *fs_path_join(const char *dir, const char *name);
/* p made absolute, in a malloc'd string (so that a path recorded in a file
 * is found from another working directory): realpath when it exists, else
 * joined to the working directory; NULL when out of memory. */
char *fs_abs_path(const char *p);
/* The last path component (pointer into path; "" when path ends in '/'). */
const char *fs_basename(const char *path);
/* 1 if path exists and is a directory, 0 if not, -errno when stat fails
 * for another reason than ENOENT. */
int fs_is_dir(const char *path);
/* 1 when path would be created in (or already is an entry of) directory dir:
 * path's parent directory and dir are the same directory (same device and
 * inode, so links and "a/../a" count); 0 otherwise, also when either does not
 * exist. Guards an output from landing among an input's files. */
int fs_is_entry_of(const char *path, const char *dir);
/* The bytes an unprivileged process can still write on path's file system
 * (statvfs: available blocks x fragment size) into *bytes: 0, or -errno
 * (no message: callers use it for a warning). */
int fs_free_bytes(const char *path, uint64_t *bytes);

/* This process's file-size limit (ulimit -f) in bytes, 0 when there is
 * none: whether a write's -EFBIG was that limit, for the hint after it. */
uint64_t fs_file_size_limit(void);
/* write() all of buf at the current position, retrying on EINTR and short
 * writes. what names the file in the message. */
int fs_write_full(int fd, const void *buf, size_t len, const char *what);
/* pwrite() all of buf at offset. */
int fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *what);

#ifdef __cplusplus
}
#endif
#endif
