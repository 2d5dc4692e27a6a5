/* Signal handlers that respect an ignored signal. */
#ifndef INGOT_SIG_UTIL_H
#define INGOT_SIG_UTIL_H

#include <signal.h>
#include <stdbool.h>

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

#endif
