#include "sig_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"

bool sig_install_unless_ignored(int sig, void (*handler)(int), struct sigaction *old)
{
    struct sigaction before, sa;
    if (sigaction(sig, NULL, &before) != 0)
        return false;
    if (old)
        *old = before;
    if (before.sa_handler == SIG_IGN)
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) == 0;
}

const char *sig_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGQUIT: return "SIGQUIT";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    default: return "another signal";
    }
}

static volatile sig_atomic_t file_size_hit;

static void on_file_size(int sig)
{
    (void)sig;
    file_size_hit = 1;
}

void sig_file_size_errors(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_file_size;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGXFSZ, &sa, NULL) != 0)
        signal(SIGXFSZ, SIG_IGN);
}

bool sig_file_size_hit(void)
{
    return file_size_hit != 0;
}

const char *sig_file_size_reached(int err, char *buf, size_t len)
{
    const uint64_t limit = err == -EFBIG && sig_file_size_hit() ? fs_file_size_limit() : 0;
    if (!limit)
        return NULL;
    char b[32];
    snprintf(buf, len, "a file reached this process's file-size limit (ulimit -f, %s)",
             cli_human_bytes((double)limit, b, sizeof(b)));
    return buf;
}
