/* The readers' file checks in fsutil: only regular files are read (a FIFO,
 * a directory or a device is refused at once, naming what it is, and a FIFO
 * never blocks the open), and no whole-file read goes past its cap; a
 * staged write replaces its file only when committed. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "test_util.h"

int main(void)
{
    char *dir = tu_tmpdir("fsutil");
    char *f = tu_path(dir, "ten.txt"), *fifo = tu_path(dir, "fifo");
    CHECK_OK(fs_write_atomic(f, "0123456789", 10));
    CHECK(mkfifo(fifo, 0644) == 0);
    char *buf = NULL;
    size_t len = 0;
    uint64_t h;

    /* a cap at the size reads the file; one byte less refuses it */
    CHECK_OK(fs_read_capped(f, "test file", 10, &buf, &len));
    CHECK(len == 10 && !memcmp(buf, "0123456789", 11));
    free(buf);
    CHECK_FAIL(fs_read_capped(f, "test file", 9, &buf, &len), -EFBIG,
               "test file is 10 bytes, more than the 9");
    CHECK(buf == NULL && len == 0);

    /* a staged file leaves the old one in place until its commit; committing
     * what was never staged is -ENOENT and changes nothing */
    struct fs_piece staged = { "abc", 3 };
    CHECK_OK(fs_stage_pieces(f, &staged, 1));
    char *stg = fs_temp_path(f);
    CHECK_OK(fs_read_all(f, &buf, &len));
    CHECK(len == 10 && access(stg, F_OK) == 0);
    free(buf);
    CHECK_OK(fs_stage_commit(f));
    CHECK_OK(fs_read_all(f, &buf, &len));
    CHECK(len == 3 && !memcmp(buf, "abc", 3) && access(stg, F_OK) != 0);
    free(buf);
    CHECK_FAIL(fs_stage_commit(f), -ENOENT, "cannot rename");
    CHECK_OK(fs_read_all(f, &buf, &len));
    CHECK(len == 3);
    free(buf);
    free(stg);
    CHECK_OK(fs_write_atomic(f, "0123456789", 10));

    /* what is not a regular file; the alarm turns a hang into a failure */
    alarm(10);
    CHECK_FAIL(fs_read_all(fifo, &buf, &len), INGOT_E_FORMAT, "fifo: is a FIFO");
    CHECK_FAIL(fs_hash_file(fifo, &h), INGOT_E_FORMAT, "is a FIFO");
    /* a manifest's tokenizer naming a huge file: refused at once, not hashed
     * for minutes (8 GB took 30 s; sparse here, so it costs no disk) */
    char *huge = tu_path(dir, "huge.model");
    int hfd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(hfd >= 0 && ftruncate(hfd, (off_t)FS_READ_ALL_MAX + 1) == 0);
    close(hfd);
    CHECK_FAIL(fs_hash_file(huge, &h), -EFBIG, "more than the 268435456");
    unlink(huge);
    free(huge);
    /* a regular file whose stat size is 0 and that reads on (procfs): the bytes
     * read are capped too (ingot-dump verify hashed /proc/self/pagemap, named as
     * a tokenizer model, for minutes) */
    if (access("/proc/self/pagemap", R_OK) == 0) {
        CHECK_FAIL(fs_hash_file("/proc/self/pagemap", &h), -EFBIG,
                   "pagemap: file grew past 268435456 bytes while being read");
        /* refused one way or the other, in time (it reads 8-byte entries only) */
        CHECK(fs_read_all("/proc/self/pagemap", &buf, &len) < 0 && buf == NULL);
    }
    CHECK_FAIL(fs_read_all(dir, &buf, &len), INGOT_E_FORMAT, "is a directory");
    /* /dev/zero never ends: read whole it would exhaust memory */
    CHECK_FAIL(fs_read_capped("/dev/zero", "model", 1 << 20, &buf, &len), INGOT_E_FORMAT,
               "is a character device, but the model must be a regular file");
    alarm(0);

    /* fs_open_regular: the fd reads blocking (O_NONBLOCK cleared), size set */
    uint64_t size = 0;
    int fd = fs_open_regular(f, "test file", UINT64_MAX, &size);
    CHECK(fd >= 0 && size == 10);
    CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);
    char *missing = tu_path(dir, "missing");
    CHECK_FAIL(fs_open_regular(missing, "shard", UINT64_MAX, &size), -ENOENT,
               "cannot open shard");
    /* a path from a manifest (tokenizer.file) holding an escape sequence or
     * the 8-bit CSI: shown with '?' in every message, never raw */
    char *esc = tu_path(dir, "t\033]0;x\007\xc2\x9b" "2J.model");
    CHECK_FAIL(fs_hash_file(esc, &h), -ENOENT, "t?]0;x??2J.model: cannot open file");
    CHECK(!strchr(ingot_errmsg(), '\033') && !strstr(ingot_errmsg(), "\xc2\x9b"));
    hfd = open(esc, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(hfd >= 0 && ftruncate(hfd, (off_t)FS_READ_ALL_MAX + 1) == 0);
    close(hfd);
    CHECK_FAIL(fs_read_all(esc, &buf, &len), -EFBIG, "t?]0;x??2J.model: file is");
    CHECK_FAIL(fs_hash_file(esc, &h), -EFBIG, "t?]0;x??2J.model: file is");
    unlink(esc);
    CHECK(mkfifo(esc, 0644) == 0);
    CHECK_FAIL(fs_open_regular(esc, "model", UINT64_MAX, &size), INGOT_E_FORMAT,
               "t?]0;x??2J.model: is a FIFO");
    unlink(esc);
    free(esc);

    /* fs_mkdir_p of "" is refused (it read and wrote past the copy's end) */
    CHECK_FAIL(fs_mkdir_p(""), -EINVAL, "empty directory name");
    /* fs_is_entry_of: path's parent is dir (however spelled), else 0 */
    char *sub = tu_path(dir, "sub"), *in_sub = tu_path(dir, "sub/new.bin");
    char *dotted = tu_path(dir, "sub/../sub/x"), *trail = tu_path(dir, "sub/y/");
    CHECK_OK(fs_mkdir_p(sub));
    CHECK(fs_is_entry_of(in_sub, sub) == 1);     /* not there yet: still inside */
    CHECK(fs_is_entry_of(dotted, sub) == 1);
    CHECK(fs_is_entry_of(trail, sub) == 1);      /* "sub/y/" is the entry y of sub */
    CHECK(fs_is_entry_of(sub, sub) == 0);        /* sub itself is an entry of dir */
    CHECK(fs_is_entry_of(sub, dir) == 1);
    CHECK(fs_is_entry_of(in_sub, dir) == 0);
    CHECK(fs_is_entry_of(missing, sub) == 0);
    free(sub); free(in_sub); free(dotted); free(trail);

    /* a stale temp (its pid gone from this host) is removed, unless a
     * writer holds it (fs_temp_claim): on a shared file system its pid is
     * another host's, and the sweep removed a live export's file */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    CHECK(child > 0 && waitpid(child, NULL, 0) == child);
    char *target = tu_path(dir, "out.bin"), name[64];
    snprintf(name, sizeof(name), "out.bin.tmp.%ld", (long)child);
    char *tmp = tu_path(dir, name);
    int wfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(wfd >= 0);
    fs_temp_claim(wfd);
    int removed = -1;
    CHECK_OK(fs_remove_stale_temps_of(target, "--out", "export", &removed));
    CHECK(removed == 0 && access(tmp, F_OK) == 0);
    close(wfd);   /* the writer is done with it (killed): now it goes */
    CHECK_OK(fs_remove_stale_temps_of(target, "--out", "export", &removed));
    CHECK(removed == 1 && access(tmp, F_OK) != 0);
    free(target);
    free(tmp);

    free(missing);
    free(f);
    free(fifo);
    tu_rm_rf(dir);
    free(dir);
    printf("ok\n");
    return 0;
}
