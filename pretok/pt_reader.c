/* Read-ahead over a file list. Chunks are numbered in submission order and
 * live in a ring of `depth` slots (chunk seq s uses slot s % depth), so the
 * consumer simply waits for the slot of the next sequence number. Files are
 * opened when their first read is submitted and closed after their last
 * chunk is handed out. */
#include "pt_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mono_clock.h"

enum slot_state { SLOT_FREE, SLOT_INFLIGHT, SLOT_READY, SLOT_HELD };

struct slot {
    enum slot_state state;
    char *buf;
    size_t file;
    uint64_t offset;
    size_t want, got;       /* bytes asked for / read so far */
    uint64_t file_size;
    bool first, eof;
    bool not_regular;
    bool shrank;            /* the read ended before want: the file got shorter */
    int err;
};

struct open_file {
    int fd;
    int err;                /* open/fstat failure, delivered as a chunk */
    bool not_regular;
    uint64_t size;
    int64_t mtime_ns;       /* at open */
    uint64_t next_off;      /* next offset to submit */
    bool opened, done_submitting;
    bool stream;            /* standard input: size unknown, read() in order */
    size_t chunks_left;     /* submitted but not yet handed out */
};

struct pt_reader {
    const struct pt_reader_file *files;
    size_t n_files;
    size_t chunk;
    unsigned depth;
    struct slot *slots;
    uint64_t seq_submit, seq_deliver;
    size_t cur_file;        /* file being submitted */
    struct open_file *of;   /* per file, fd -1 when closed */
    struct io_uring ring;
    bool uring;
    unsigned inflight;
    double wait_s;
};

int pt_reader_open(const struct pt_reader_file *files, size_t n, size_t chunk_size,
                   unsigned depth, pt_reader **out)
{
    *out = NULL;
    if (depth < 2)
        depth = 2;
    pt_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->files = files;
    r->n_files = n;
    r->chunk = chunk_size;
    r->depth = depth;
    r->slots = calloc(depth, sizeof(*r->slots));
    r->of = calloc(n ? n : 1, sizeof(*r->of));
    if (!r->slots || !r->of) {
        pt_reader_close(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        r->of[i].fd = -1;
    for (unsigned i = 0; i < depth; i++) {
        if (posix_memalign((void **)&r->slots[i].buf, 4096, chunk_size)) {
            pt_reader_close(r);
            return -ENOMEM;
        }
    }
    const char *no = getenv("INGOT_PRETOK_NO_URING");
    if (!(no && *no && strcmp(no, "0")))
        r->uring = io_uring_queue_init(depth, &r->ring, 0) == 0;
    *out = r;
    return 0;
}

void pt_reader_close(pt_reader *r)
{
    if (!r)
        return;
    if (r->uring) {
        /* Reap reads still in flight before their buffers go away. */
        while (r->inflight) {
            struct io_uring_cqe *cqe;
            if (io_uring_wait_cqe(&r->ring, &cqe))
                break;
            io_uring_cqe_seen(&r->ring, cqe);
            r->inflight--;
        }
        io_uring_queue_exit(&r->ring);
    }
    if (r->slots)
        for (unsigned i = 0; i < r->depth; i++)
            free(r->slots[i].buf);
    if (r->of)
        for (size_t i = 0; i < r->n_files; i++)
            if (r->of[i].fd >= 0)
                close(r->of[i].fd);
    free(r->slots);
    free(r->of);
    free(r);
}

bool pt_reader_uses_uring(const pt_reader *r)
{
    return r->uring;
}

double pt_reader_wait_seconds(const pt_reader *r)
{
    return r->wait_s;
}

/* Standard input is read whatever it is, a pipe, a socket or a file, but
 * a terminal would wait for typing (`ingot-pretok ... -` with nothing piped
 * in) and /dev/zero or /dev/urandom never end: a character or block device
 * other than /dev/null (empty) is not read. */
static bool stdin_device(int fd)
{
    struct stat st, null;
    if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
        return false;
    return !(S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
             st.st_rdev == null.st_rdev);
}

static int64_t stat_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* O_NONBLOCK: opening a FIFO must not wait for a writer, nor a device for
 * its carrier; the type is checked on the open file (no race with a rename)
 * before anything is read. A socket cannot be opened at all (ENXIO): the
 * path's type says why. */
static void open_file(pt_reader *r, size_t i)
{
    struct open_file *f = &r->of[i];
    struct stat st;
    if (r->files[i].is_stdin) {
        /* A duplicate, so that closing it leaves descriptor 0 alone. */
        f->stream = true;
        f->fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
        if (f->fd < 0) {
            f->err = -errno;
        } else if (stdin_device(f->fd)) {
            f->err = -ENOTTY;
            f->not_regular = true;
            close(f->fd);
            f->fd = -1;
        }
        return;
    }
    f->fd = open(r->files[i].path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f->fd < 0) {
        f->err = -errno;
        if (stat(r->files[i].path, &st) == 0 && !S_ISREG(st.st_mode))
            f->not_regular = true;
        return;
    }
    if (fstat(f->fd, &st)) {
        f->err = -errno;
    } else if (!S_ISREG(st.st_mode)) {
        f->err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        f->not_regular = true;
    } else {
        f->size = (uint64_t)st.st_size;
        f->mtime_ns = stat_mtime_ns(&st);
        fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
        posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (f->err) {
        close(f->fd);
        f->fd = -1;
    }
}

static void submit_read(pt_reader *r, struct slot *s)
{
    int fd = r->of[s->file].fd;
    if (r->uring) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
        if (sqe) {
            io_uring_prep_read(sqe, fd, s->buf + s->got, (unsigned)(s->want - s->got),
                               s->offset + s->got);
            io_uring_sqe_set_data(sqe, s);
            s->state = SLOT_INFLIGHT;
            r->inflight++;
            return;
        }
    }
    /* Synchronous fallback: do the read now. */
    while (s->got < s->want) {
        ssize_t n = pread(fd, s->buf + s->got, s->want - s->got, (off_t)(s->offset + s->got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s->err = -errno;
            break;
        }
        if (n == 0) {
            s->shrank = true;
            break;
        }
        s->got += (size_t)n;
    }
    s->state = SLOT_READY;
}

/* Standard input: fill the slot synchronously; end of file is known only
 * when read() returns 0, so a stream that ends on a chunk boundary yields a
 * last, empty chunk. */
static void read_stream(struct open_file *f, struct slot *s, size_t chunk)
{
    s->want = chunk;
    s->eof = false;
    while (s->got < s->want) {
        ssize_t n = read(f->fd, s->buf + s->got, s->want - s->got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s->err = -errno;
            s->eof = true;
            break;
        }
        if (n == 0) {
            s->eof = true;
            break;
        }
        s->got += (size_t)n;
    }
    s->want = s->got;
    f->next_off += s->got;
    s->state = SLOT_READY;
}

/* Fill free slots with the next reads, in sequence order. */
static void fill(pt_reader *r)
{
    while (r->cur_file < r->n_files) {
        struct slot *s = &r->slots[r->seq_submit % r->depth];
        if (s->state != SLOT_FREE)
            return;
        /* In the synchronous mode read only what is needed next. */
        if (!r->uring && r->seq_submit != r->seq_deliver)
            return;
        size_t fi = r->cur_file;
        struct open_file *f = &r->of[fi];
        if (!f->opened) {
            f->opened = true;
            open_file(r, fi);
        }
        s->file = fi;
        s->offset = f->next_off;
        s->first = f->next_off == 0;
        s->file_size = f->size;
        s->err = f->err;
        s->not_regular = f->not_regular;
        s->shrank = false;
        s->got = 0;
        s->want = 0;
        if (f->stream && !f->err) {
            read_stream(f, s, r->chunk);
        } else if (f->err || f->size == 0) {
            s->eof = true;
            s->state = SLOT_READY;
        } else {
            uint64_t left = f->size - f->next_off;
            s->want = left < r->chunk ? (size_t)left : r->chunk;
            s->eof = left <= r->chunk;
            f->next_off += s->want;
            submit_read(r, s);
        }
        f->chunks_left++;
        r->seq_submit++;
        if (s->eof) {
            f->done_submitting = true;
            r->cur_file++;
        }
    }
}

static int reap(pt_reader *r, bool wait)
{
    if (r->uring && io_uring_sq_ready(&r->ring)) {
        int ret = io_uring_submit(&r->ring);
        if (ret < 0)
            return ret;
    }
    struct io_uring_cqe *cqe;
    int ret = wait ? io_uring_wait_cqe(&r->ring, &cqe) : io_uring_peek_cqe(&r->ring, &cqe);
    if (ret == -EAGAIN && !wait)
        return 0;
    if (ret == -EINTR)
        return 0;
    if (ret < 0)
        return ret;
    struct slot *s = io_uring_cqe_get_data(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&r->ring, cqe);
    r->inflight--;
    if (res < 0) {
        if (res == -EAGAIN || res == -EINTR) {
            submit_read(r, s);
            return 0;
        }
        s->err = res;
        s->state = SLOT_READY;
    } else if (res == 0) {
        s->shrank = true;           /* the file shrank since it was opened */
        s->state = SLOT_READY;
    } else {
        s->got += (size_t)res;
        if (s->got < s->want)
            submit_read(r, s);      /* short read: ask for the rest */
        else
            s->state = SLOT_READY;
    }
    return 0;
}

int pt_reader_next(pt_reader *r, struct pt_chunk *c)
{
    if (r->seq_deliver == r->seq_submit)
        fill(r);
    if (r->seq_deliver == r->seq_submit)
        return 0;
    struct slot *s = &r->slots[r->seq_deliver % r->depth];
    double t0 = mono_now();
    while (s->state != SLOT_READY) {
        fill(r);
        if (r->uring) {
            int ret = reap(r, true);
            if (ret < 0)
                return ret;
        }
    }
    r->wait_s += mono_now() - t0;
    s->state = SLOT_HELD;
    c->file = s->file;
    c->data = s->buf;
    c->len = s->got;
    c->offset = s->offset;
    c->file_size = s->file_size;
    c->first = s->first;
    c->eof = s->eof;
    c->err = s->err;
    c->not_regular = s->not_regular;
    c->shrank = s->shrank;
    if (s->shrank && !c->err)
        c->err = -ENODATA;
    struct open_file *f = &r->of[s->file];
    c->mtime_ns = f->mtime_ns;
    c->changed = false;
    c->size_now = s->file_size;
    c->mtime_now = f->mtime_ns;
    /* The file's last read is done (all of its reads are, in order): is it
     * still the file that was opened? Appended to (a download or a writer
     * still going: its last line may be cut) or rewritten in place, what was
     * read is not the file as it is now. */
    struct stat st;
    if (c->eof && !c->err && !f->stream && f->fd >= 0 && fstat(f->fd, &st) == 0) {
        c->size_now = (uint64_t)st.st_size;
        c->mtime_now = stat_mtime_ns(&st);
        c->changed = c->size_now != s->file_size || c->mtime_now != f->mtime_ns;
    }
    c->slot = (int)(r->seq_deliver % r->depth);
    r->seq_deliver++;
    return 1;
}

void pt_reader_release(pt_reader *r, struct pt_chunk *c)
{
    struct slot *s = &r->slots[c->slot];
    struct open_file *f = &r->of[s->file];
    s->state = SLOT_FREE;
    if (--f->chunks_left == 0 && f->done_submitting && f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    fill(r);
    if (r->uring && io_uring_sq_ready(&r->ring))
        io_uring_submit(&r->ring);
}
