/* The TCP rendezvous of a data-parallel job, and the small host-side control
 * plane it leaves behind.
 *
 * Rank 0 listens on port (all interfaces, SO_REUSEADDR only, so two jobs on
 * one host cannot both bind it); every other rank connects to addr:port,
 * retrying with back-off until the deadline, and sends a hello: magic,
 * protocol version, job key, rank, world size, host name, local rank and the
 * run's configuration string. Rank 0 checks each hello against its own and
 * answers every rank with one verdict: the payload (NCCL's unique id) and
 * the host table, or an error that names the offending rank — a duplicate
 * rank, another world size, another configuration, another job on the same
 * port, ranks that never came before the deadline, or a rank that left
 * after its hello (a signal stopped it: it says so before it goes; or it
 * died): rank 0 watches the connections of the ranks present and fails at
 * once, naming it, instead of counting it present to the deadline. A rank
 * that left does not rejoin: launchers restart the whole group.
 *
 * The connections stay open: gather and bcast over them are the host-side
 * collectives the trainer needs besides the gradient all-reduce (a stop vote
 * per step, consistency checks; tr_dist.c), and a peer that dies closes its socket, which
 * the survivors report by rank and host. */
#ifndef INGOT_TR_DIST_RDZV_H
#define INGOT_TR_DIST_RDZV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TR_RDZV_PAYLOAD = 128,   /* bytes of the payload (sizeof(ncclUniqueId)) */
    TR_RDZV_CONFIG = 1024,   /* bytes of a configuration string, NUL included */
    TR_RDZV_HOST = 64,       /* bytes of a host name, NUL included */
    /* seconds the ranks other than 0 wait for rank 0 past the timeout of a
     * gather or bcast: when rank 0 loses a rank it tells the others which,
     * and that notice reaches them before their own wait runs out */
    TR_RDZV_GRACE_S = 2,
};

struct tr_rdzv_opts {
    const char *addr;        /* rank 0's host name or address (clients) */
    int port;
    int rank, world;
    int local_rank;          /* -1: derive from the host table */
    uint64_t job_key;        /* tr_dist_hash of the job id; 0 when none */
    const char *config;      /* the run's configuration in words; must match rank 0's */
    const char *host;        /* this rank's host name; NULL: gethostname() */
    double timeout_s;        /* for the rendezvous, and for each later exchange */
    volatile sig_atomic_t *stop;   /* set (a signal; its value the signal's
                                    * number, for messages): the rendezvous ends
                                    * with INGOT_E_INTERRUPTED on every rank
                                    * present; NULL: not watched */
    int *stop_sig;           /* NULL, or set with INGOT_E_INTERRUPTED: the
                              * signal that stopped the rendezvous, this
                              * rank's or the one of the rank named (0: not
                              * told, a rank 0 of an older build) */
    double report_s;         /* > 0: a line on stderr every report_s seconds while
                              * waiting (who is missing, how long is left) */
};

typedef struct tr_rdzv tr_rdzv;

/* Run the rendezvous. payload: TR_RDZV_PAYLOAD bytes, read on rank 0 and
 * filled on the others. Returns 0 and *out, or an error with a message:
 * INGOT_E_MISMATCH (duplicate rank, world size, configuration, job key: the
 * rank is named), -ETIMEDOUT (ranks missing, or rank 0 not reachable, by the
 * deadline), -EADDRINUSE (port taken; the message says what to pass),
 * INGOT_E_INTERRUPTED (a signal stopped this rank or, named, another one
 * present), -EPIPE (a rank present died: named), or another -errno. */
int tr_rdzv_open(const struct tr_rdzv_opts *o, void *payload, tr_rdzv **out);
void tr_rdzv_close(tr_rdzv *r);   /* accepts NULL */

/* Local rank and ranks on this host, from the host table when the launcher
 * did not say. */
int tr_rdzv_local_rank(const tr_rdzv *r);
/* The deadline of each host collective from now on (the rendezvous's
 * --dist-timeout until changed). */
void tr_rdzv_set_timeout(tr_rdzv *r, double s);
int tr_rdzv_local_world(const tr_rdzv *r);
/* Host name of a rank (for messages). */
const char *tr_rdzv_host(const tr_rdzv *r, int rank);

/* Rank 0 receives n bytes from every rank into all[rank * n] (its own from
 * mine); all may be NULL on other ranks. what names the exchange in errors.
 * When an exchange with a rank fails (it died: -EPIPE; hangs: -ETIMEDOUT),
 * rank 0 names it, and so do the other ranks, told by rank 0 (else they
 * name rank 0); every later gather or bcast on rank 0 repeats that error. */
int tr_rdzv_gather(tr_rdzv *r, const void *mine, size_t n, void *all, const char *what);
/* Rank 0's n bytes of buf reach every rank. */
int tr_rdzv_bcast(tr_rdzv *r, void *buf, size_t n, const char *what);
/* The first space-separated word ("batch=8") where configuration strings a
 * and b differ, as "b has W, a has V" into msg (empty when equal). Returns
 * whether they differ. */
int tr_config_diff(const char *a, const char *b, char *msg, size_t len);

#endif
