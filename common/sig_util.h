/* Signal handlers that respect an ignored signal. */
#ifndef INGOT_SIG_UTIL_H
#define INGOT_SIG_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Install handler for sig unless sig is ignored at this point (nohup's
 * SIGHUP, a shell's background job's SIGINT, a parent that chose it): that
 * process asked not to be stopped by it. *old (may be NULL) gets the action
 * in place before, for a later sigaction(sig, old, NULL). Returns whether
 * the handler was installed. */
bool sig_install_unless_ignored(int sig, void (*handler)(int), struct sigaction *old);

/* "SIGTERM" for the signals a run is stopped by (SIGINT, SIGTERM, SIGHUP,
 * SIGUSR1, SIGUSR2, SIGQUIT, SIGPIPE, SIGALRM), "another signal" for the
 * rest: for messages that say which signal stopped which process. Static
 * strings. */
const char *sig_name(int sig);

/* SIGXFSZ caught: a write past the file-size limit (ulimit -f) then fails
 * with EFBIG, and the writer names the file and removes its temporary file
 * as on a full disk. By default the signal killed the program without a
 * word, leaving the temporary file and (ingot-train) every step since the
 * last checkpoint lost. Called first thing in each program's main. */
void sig_file_size_errors(void);
/* Whether a write did pass the file-size limit: an -EFBIG of ours is also a
 * reader's refusal of a file too large to read, for which "raise ulimit -f"
 * would be the wrong advice. */
bool sig_file_size_hit(void);
/* When err is a write that passed the file-size limit (EFBIG, SIGXFSZ seen,
 * a limit set): "a file reached this process's file-size limit (ulimit -f,
 * 10.2 GB)" in buf, returned; else NULL. The one wording of the three
 * programs' hints. */
const char *sig_file_size_reached(int err, char *buf, size_t len);

#endif
