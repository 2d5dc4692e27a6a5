/* ingot-train: parse the command line, run, report the error. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "train_loop.h"
#include "train_opts.h"

static void on_signal(int sig)
{
    (void)sig;
    tr_request_stop();
}

int main(int argc, char **argv)
{
    struct tr_opts o;
    int err = tr_opts_parse(argc, argv, &o);
    if (err == 1)
        return 0;
    if (err) {
        fprintf(stderr, "ingot-train: %s\n", ingot_errmsg());
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    err = tr_train(&o);
    if (err) {
        fprintf(stderr, "ingot-train: %s\n", ingot_errmsg());
        return err == INGOT_E_INTERRUPTED ? 130 : err == INGOT_E_USAGE ? 2 : 1;
    }
    return 0;
}
