/* Reads a list of files front to back as a stream of chunks, with several
 * large reads in flight across file boundaries (io_uring; plain pread() where
 * io_uring is unavailable, e.g. a kernel or sandbox that forbids it, or with
 * INGOT_PRETOK_NO_URING=1). Chunks come back strictly in order: file by
 * file, offset by offset. One thread drives a reader. */
#ifndef INGOT_PT_READER_H
#define INGOT_PT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pt_reader pt_reader;

struct pt_reader_file {
    const char *path;       /* borrowed; must outlive the reader */
    bool is_stdin;          /* read standard input instead (path: a name only) */
};

/* One piece of a file. A failed open or read is delivered in order as a
 * chunk with err < 0 (a failed open also has eof set; after a failed read
 * the file's remaining chunks still follow, the caller ignores them). A file
 * of size 0 yields one empty chunk with first and eof set. Only regular
 * files are read, up to the size they had when opened (what is appended
 * later is not read; a file that gets shorter is delivered as a failed read
 * with shrank set, at the first read that comes up short, since what it
 * holds after that point may be another version of it); the last chunk of
 * a file says whether its size or modification time at that point differ
 * from those at open (changed: a file still being written, or replaced in
 * place, while it was read). Only regular
 * files are read: anything else is delivered like a failed open, with
 * not_regular set (files are opened O_NONBLOCK, so a FIFO never blocks).
 * Standard input is a stream of unknown size: it is read with plain read()
 * until end of file (file_size 0; its last chunk may be empty); a terminal
 * or another device (but /dev/null) on it is delivered like a failed open
 * with not_regular set, unread. */
struct pt_chunk {
    size_t file;            /* index into the reader's file list */
    const char *data;       /* valid until pt_reader_release() */
    size_t len;
    uint64_t offset;        /* of data[0] in the file */
    uint64_t file_size;     /* as seen at open */
    bool first, eof;        /* first / last chunk of this file */
    bool not_regular;       /* err set: a FIFO, socket or device, never read */
    bool shrank;            /* err set (-ENODATA): the file ended before the size
                               it had when opened; data holds what was read */
    int64_t mtime_ns;       /* modification time at open (regular files) */
    bool changed;           /* eof, no err: the file's size or time is no longer
                               the one it had at open (size_now, mtime_now) */
    uint64_t size_now;
    int64_t mtime_now;
    int err;                /* 0 or -errno */
    int slot;               /* internal */
};

/* files[0, n) are read in order. chunk_size bytes per read, depth reads in
 * flight at most. Returns 0 or -ENOMEM. */
int pt_reader_open(const struct pt_reader_file *files, size_t n, size_t chunk_size,
                   unsigned depth, pt_reader **out);
void pt_reader_close(pt_reader *r);   /* accepts NULL */

/* Next chunk in order. Returns 1 with *c filled, 0 after the last file, or a
 * negative error of the ring itself (not of a file). At most one chunk is
 * held by the caller at a time: release it before asking for the next. */
int pt_reader_next(pt_reader *r, struct pt_chunk *c);
void pt_reader_release(pt_reader *r, struct pt_chunk *c);

/* True when io_uring is in use (for the report). */
bool pt_reader_uses_uring(const pt_reader *r);
/* Seconds the calling thread spent blocked in pt_reader_next(). */
double pt_reader_wait_seconds(const pt_reader *r);

#endif
