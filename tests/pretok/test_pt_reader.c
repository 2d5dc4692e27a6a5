/* pt_reader: files of awkward sizes (empty, one byte, around the chunk
 * size, several chunks) come back complete and in order, through io_uring
 * and through the pread fallback; a missing file is an error chunk in its
 * place in the order. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pt_reader.h"
#include "pt_test.h"

enum { CHUNK = 4096, N_FILES = 9 };

static const size_t sizes[N_FILES] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 13,
                                       (size_t)-1 /* missing */, 100, 3 * CHUNK };

static unsigned char byte_at(size_t file, size_t off)
{
    return (unsigned char)((file * 131 + off * 7 + off / 251) & 0xFF);
}

/* path holds n bytes of file pattern's bytes (byte_at). */
static void write_pattern(const char *path, size_t pattern, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    for (size_t k = 0; k < n; k++)
        fputc(byte_at(pattern, k), f);
    CHECK(fclose(f) == 0);
}

static void run(struct pt_reader_file *files, const char *mode)
{
    pt_reader *r;
    CHECK_OK(pt_reader_open(files, N_FILES, CHUNK, 4, &r));
    size_t expect_file = 0, expect_off = 0;
    bool saw_end[N_FILES] = { false };
    struct pt_chunk c;
    int ret;
    while ((ret = pt_reader_next(r, &c)) == 1) {
        CHECK(c.file == expect_file);
        if (sizes[c.file] == (size_t)-1) {
            CHECK(c.err == -ENOENT && c.eof && c.first);
        } else {
            CHECK(c.err == 0);
            CHECK(c.offset == expect_off);
            CHECK(c.first == (expect_off == 0));
            for (size_t i = 0; i < c.len; i++)
                CHECK(((const unsigned char *)c.data)[i] == byte_at(c.file, c.offset + i));
            expect_off += c.len;
            CHECK(c.eof == (expect_off == sizes[c.file]));
            CHECK(!c.changed);      /* nobody wrote to it */
        }
        if (c.eof) {
            saw_end[c.file] = true;
            expect_file++;
            expect_off = 0;
        }
        pt_reader_release(r, &c);
    }
    CHECK(ret == 0);
    CHECK(expect_file == N_FILES);
    for (size_t i = 0; i < N_FILES; i++)
        CHECK(saw_end[i]);
    printf("%s: ok (%s)\n", mode, pt_reader_uses_uring(r) ? "io_uring" : "pread");
    pt_reader_close(r);
}

/* files: f1 (1 byte), standard input (n bytes of file 5's pattern, from a
 * pipe fed by a child), f7 (100 bytes). */
static void run_stdin(char (*paths)[64], size_t n, const char *mode)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        for (size_t k = 0; k < n; k++) {
            unsigned char b = byte_at(5, k);
            if (write(pfd[1], &b, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    close(pfd[1]);
    int saved = dup(0);
    CHECK(saved >= 0 && dup2(pfd[0], 0) == 0);
    close(pfd[0]);
    struct pt_reader_file files[3] = { { paths[1], false }, { "<stdin>", true },
                                       { paths[7], false } };
    const size_t want[3] = { 1, n, 100 }, pattern[3] = { 1, 5, 7 };
    pt_reader *r;
    CHECK_OK(pt_reader_open(files, 3, CHUNK, 4, &r));
    size_t expect_file = 0, expect_off = 0;
    struct pt_chunk c;
    int ret;
    while ((ret = pt_reader_next(r, &c)) == 1) {
        CHECK(c.file == expect_file && c.err == 0 && c.offset == expect_off);
        CHECK(c.first == (expect_off == 0));
        for (size_t i = 0; i < c.len; i++)
            CHECK(((const unsigned char *)c.data)[i] == byte_at(pattern[c.file], c.offset + i));
        expect_off += c.len;
        CHECK(expect_off <= want[c.file]);
        if (c.eof) {
            CHECK(expect_off == want[c.file]);
            expect_file++;
            expect_off = 0;
        }
        pt_reader_release(r, &c);
    }
    CHECK(ret == 0 && expect_file == 3);
    pt_reader_close(r);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(dup2(saved, 0) == 0);
    close(saved);
    printf("%s: stdin of %zu bytes: ok\n", mode, n);
}

/* A file cut short while it is read (another program rewriting it): a read
 * that comes up short is an error chunk with shrank set, never a chunk
 * that quietly ends early (its cut record was then parsed as the last
 * line, and a file rewritten meanwhile read as a mix of two versions).
 * The bytes delivered before it are the file's. */
static void run_shrink(const char *dir, const char *mode)
{
    char path[96];
    snprintf(path, sizeof(path), "%s/shrink", dir);
    write_pattern(path, 2, 20 * CHUNK);
    struct pt_reader_file files[1] = { { path, false } };
    pt_reader *r;
    CHECK_OK(pt_reader_open(files, 1, CHUNK, 4, &r));
    struct pt_chunk c;
    int ret, shrank = 0;
    size_t off = 0;
    const size_t cut = 10 * CHUNK + 100;
    while ((ret = pt_reader_next(r, &c)) == 1) {
        if (off == 0)   /* the read-ahead holds 4 chunks at most: the cut is past it */
            CHECK(truncate(path, (off_t)cut) == 0);
        if (!shrank && c.err) {
            CHECK(c.err == -ENODATA && c.shrank && c.offset == off && c.offset + c.len <= cut);
            shrank = 1;
        }
        if (!shrank) {
            CHECK(c.err == 0 && c.offset == off && c.len == CHUNK && c.file_size == 20 * CHUNK);
            for (size_t i = 0; i < c.len; i++)
                CHECK(((const unsigned char *)c.data)[i] == byte_at(2, c.offset + i));
            off += c.len;
        }
        pt_reader_release(r, &c);
    }
    CHECK(ret == 0 && shrank && off == 10 * CHUNK);
    pt_reader_close(r);
    unlink(path);
    printf("%s: a file cut short while read: ok\n", mode);
}

/* A file written to while it is read (a download or a writer still going,
 * or another version written over it): its last chunk says so, with the
 * size and time it has then; the bytes read are those it had at open. The
 * last line it was read up to may be cut, and nothing said so (what was
 * appended was dropped and the run ended "done"). how: 0 appends a few
 * bytes after the first chunk is taken, 1 rewrites a byte in place (the
 * size unchanged, the time set 2 s later), 2 leaves it alone. */
static void run_changed(const char *dir, int how, const char *mode)
{
    char path[96];
    snprintf(path, sizeof(path), "%s/changing", dir);
    write_pattern(path, 3, 6 * CHUNK + 10);
    FILE *f;
    struct stat st0;
    CHECK(stat(path, &st0) == 0);
    struct pt_reader_file files[1] = { { path, false } };
    pt_reader *r;
    CHECK_OK(pt_reader_open(files, 1, CHUNK, 4, &r));
    struct pt_chunk c;
    int ret, last = 0;
    size_t off = 0;
    while ((ret = pt_reader_next(r, &c)) == 1) {
        CHECK(c.err == 0 && c.offset == off && c.file_size == 6 * CHUNK + 10);
        if (off == 0 && how == 0) {
            f = fopen(path, "ab");
            CHECK(f && fwrite("more\n", 1, 5, f) == 5 && fclose(f) == 0);
        } else if (off == 0 && how == 1) {
            int fd = open(path, O_WRONLY);
            CHECK(fd >= 0 && pwrite(fd, "x", 1, 5) == 1 && close(fd) == 0);
            struct timespec ts[2] = { st0.st_atim, st0.st_mtim };
            ts[1].tv_sec += 2;
            CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
        }
        CHECK(c.mtime_ns == (int64_t)st0.st_mtim.tv_sec * 1000000000 + st0.st_mtim.tv_nsec);
        off += c.len;
        if (c.eof) {
            last = 1;
            CHECK(off == 6 * CHUNK + 10);
            CHECK(c.changed == (how != 2));
            CHECK(c.size_now == 6 * CHUNK + 10 + (how == 0 ? 5 : 0));
            CHECK((c.mtime_now != c.mtime_ns) == (how != 2));
        } else {
            CHECK(!c.changed);
        }
        pt_reader_release(r, &c);
    }
    CHECK(ret == 0 && last);
    pt_reader_close(r);
    unlink(path);
    printf("%s: a file %s while read: ok\n", mode,
           how == 0 ? "appended to" : how == 1 ? "rewritten in place" : "left alone");
}

int main(void)
{
    char dir[] = "/tmp/pt_reader_XXXXXX";
    CHECK(mkdtemp(dir));
    struct pt_reader_file files[N_FILES] = { 0 };
    char paths[N_FILES][64];
    for (size_t i = 0; i < N_FILES; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/f%zu", dir, i);
        files[i].path = paths[i];
        if (sizes[i] == (size_t)-1)
            continue;
        write_pattern(paths[i], i, sizes[i]);
    }
    run(files, "default");
    run_shrink(dir, "default");
    for (int how = 0; how < 3; how++)
        run_changed(dir, how, "default");
    for (size_t n = 0; n <= 2 * CHUNK + 1; n += CHUNK / 2 + (n == CHUNK ? 1 : 0))
        run_stdin(paths, n, "default");
    run_stdin(paths, 2 * CHUNK, "default");
    setenv("INGOT_PRETOK_NO_URING", "1", 1);
    run(files, "fallback");
    run_shrink(dir, "fallback");
    for (int how = 0; how < 3; how++)
        run_changed(dir, how, "fallback");
    run_stdin(paths, CHUNK, "fallback");
    run_stdin(paths, 3 * CHUNK + 5, "fallback");
    for (size_t i = 0; i < N_FILES; i++)
        unlink(paths[i]);
    rmdir(dir);
    return 0;
}
