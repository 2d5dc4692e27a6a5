/* TCP rendezvous and host-side gather/bcast (tr_dist_rdzv.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingot_err.h"
#include "mono_clock.h"
#include "sig_util.h"
#include "term_text.h"
#include "tr_dist_rdzv.h"

/* VERSION 2: the configuration grew to 1024 bytes. VERSION 3: a broadcast
 * is never shorter than LOST_WIRE bytes (struct lost). Every version lays out
 * struct hello alike up to the configuration, so rank 0 names a rank of
 * another build (check_hello) instead of waiting for bytes it never sends. */
enum { MAGIC = 0x52444749u /* "IGDR" */, VERSION = 3 };

struct hello {
    uint32_t magic, version;
    uint64_t job_key;
    int32_t rank, world, local_rank, pad;
    char host[TR_RDZV_HOST];
    char config[TR_RDZV_CONFIG];
};

struct reply {
    uint32_t magic;
    int32_t status;          /* 0 or the error code every rank returns */
    /* status 0: the rank's local rank; INGOT_E_INTERRUPTED: the signal that
     * stopped the rank msg names, for the exit status (0 from a build before
     * it, whose replies held 0 there: the layout is unchanged) */
    union {
        int32_t local_rank;
        int32_t sig;
    };
    int32_t local_world;
    char host0[TR_RDZV_HOST];
    char msg[512];
    unsigned char payload[TR_RDZV_PAYLOAD];
};

/* What a rank that sent its hello says to rank 0 when a signal stops it
 * before the verdict, then it closes: rank 0 tells the ranks present that
 * rank and the signal (a rank that closes without it died, or is of a
 * build before this notice, and is reported as gone). */
enum { BYE_MAGIC = 0x45594247u /* "GBYE" */ };

struct bye {
    uint32_t magic;
    int32_t sig;
};

/* What rank 0 sends every other rank, then closes, when an exchange with
 * one rank failed (it died, hangs, or sent nothing in time): the ranks talk
 * to rank 0 alone, so without it they saw rank 0 go and blamed it ("rank 0
 * closed the connection") for a rank they cannot see. It arrives where the
 * rank waits for rank 0's next broadcast (or after a send that failed),
 * followed by the end of the connection; no broadcast is as short
 * (LOST_WIRE), so it never reads as one. */
enum { LOST_MAGIC = 0x54534f4cu /* "LOST" */ };

struct lost {
    uint32_t magic;
    int32_t rank;            /* the rank rank 0 lost */
    int32_t err;             /* how: -EPIPE, -ETIMEDOUT, another -errno */
    int32_t pad;
    char host[TR_RDZV_HOST]; /* its host, as rank 0 shows it */
};

#define LOST_WIRE (sizeof(struct lost) + 8)

struct tr_rdzv {
    int rank, world, local_rank, local_world;
    /* rank 0: the first failed exchange (0: none), whose message every later
     * one repeats: the other ranks were told and the connections are shut */
    int broken;
    char broken_msg[768];
    int stop_sig;             /* a rendezvous stopped by a signal: which (tr_rdzv_opts) */
    double timeout_s;
    int *fds;                 /* rank 0: one per rank (fds[0] = -1); else fds[0] to rank 0 */
    /* rank 0: every rank's; else [0] = rank 0's, [1] = own; as term_text()
     * shows them (for messages: the hellos hold what each rank sent) */
    char (*hosts)[TR_RDZV_HOST];
};

/* What a rank sent (its host name, its configuration, rank 0's verdict) and
 * the launcher's MASTER_ADDR reach messages through term_text(): a broken
 * or hostile peer, or a script, may put an escape sequence or a bidi
 * override there. A host name is never longer shown than sent (64 bytes);
 * an address is cut to 128. */
#define HOST(h) term_text_n((h), TR_RDZV_HOST, (char[TR_RDZV_HOST]){ 0 }, TR_RDZV_HOST)
#define ADDR(a) TERM_SHOW_N(a, 128)

/* ---- byte transport with a deadline ---- */

/* The run's stop flag while tr_rdzv_open() waits (NULL otherwise): a
 * signal ends the waits below within a second (-EINTR), where they used to
 * retry until --dist-timeout, up to 600 s after Ctrl-C. One rendezvous per
 * process at a time. */
static volatile sig_atomic_t *rdzv_stop;

static bool stopped(void)
{
    return rdzv_stop && *rdzv_stop;
}

/* The signal that set the stop flag ("SIGTERM"). */
static const char *stop_sig(void)
{
    return sig_name(rdzv_stop ? (int)*rdzv_stop : 0);
}

static int wait_fd(int fd, short ev, double deadline)
{
    for (;;) {
        double left = deadline - mono_now();
        if (stopped())
            return -EINTR;
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = ev };
        int n = poll(&p, 1, left > 1.0 ? 1000 : (int)(left * 1e3) + 1);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Send or receive exactly n bytes by the deadline. -EPIPE: the peer closed.
 * *done (may be NULL): the bytes moved, also on failure. */
static int xfer_n(int fd, void *buf, size_t n, bool out, double deadline, size_t *done)
{
    char *p = buf;
    if (done)
        *done = 0;
    while (n) {
        int err = wait_fd(fd, out ? POLLOUT : POLLIN, deadline);
        if (err)
            return err;
        ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k == 0)
            return -EPIPE;
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? -EPIPE : -errno;
        }
        p += k;
        n -= (size_t)k;
        if (done)
            *done += (size_t)k;
    }
    return 0;
}

static int xfer(int fd, void *buf, size_t n, bool out, double deadline)
{
    return xfer_n(fd, buf, n, out, deadline, NULL);
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- helpers ---- */

int tr_config_diff(const char *a, const char *b, char *msg, size_t len)
{
    msg[0] = '\0';
    if (!strcmp(a, b))
        return 0;
    /* walk word by word to the first difference */
    while (*a && *b) {
        size_t na = strcspn(a, " "), nb = strcspn(b, " ");
        if (na != nb || memcmp(a, b, na))
            break;
        a += na + (a[na] == ' ');
        b += nb + (b[nb] == ' ');
    }
    const char *wa = *a ? a : "(nothing)", *wb = *b ? b : "(nothing)";
    char sa[128], sb[128];   /* a word may hold a path (data=), or anything a peer sent */
    snprintf(msg, len, "'%s', rank 0 has '%s'", term_text_n(wb, strcspn(wb, " "), sb, sizeof(sb)),
             term_text_n(wa, strcspn(wa, " "), sa, sizeof(sa)));
    return 1;
}

static void own_host(const char *given, char *out)
{
    if (given)
        snprintf(out, TR_RDZV_HOST, "%s", given);
    else if (gethostname(out, TR_RDZV_HOST))
        snprintf(out, TR_RDZV_HOST, "?");
    out[TR_RDZV_HOST - 1] = '\0';
}

static const char *what_err(int err)
{
    return err == -EPIPE ? "closed the connection (the process ended?)" :
           err == -ETIMEDOUT ? "did not answer in time" : strerror(-err);
}

void tr_rdzv_close(tr_rdzv *r)
{
    if (!r)
        return;
    for (int i = 0; r->fds && i < (r->rank == 0 ? r->world : 1); i++)
        if (r->fds[i] >= 0)
            close(r->fds[i]);
    free(r->fds);
    free(r->hosts);
    free(r);
}

int tr_rdzv_local_rank(const tr_rdzv *r) { return r->local_rank; }
int tr_rdzv_local_world(const tr_rdzv *r) { return r->local_world; }

const char *tr_rdzv_host(const tr_rdzv *r, int rank)
{
    if (r->rank == 0)
        return rank >= 0 && rank < r->world ? r->hosts[rank] : "?";
    return rank == 0 ? r->hosts[0] : rank == r->rank ? r->hosts[1] : "?";
}

/* ---- rank 0 ---- */

/* Connections whose hello is still arriving, at most (struct pending). */
#define N_PENDING 64

static int listen_on(int port, int *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ingot_fail(-errno, "rendezvous: socket: %s", strerror(errno));
    /* SO_REUSEADDR only: a restarted job may bind at once past TIME_WAIT,
     * while a port held by a live listener still fails (SO_REUSEPORT would
     * let two jobs share it and split each other's ranks) */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024)) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return ingot_fail(-EADDRINUSE, "rendezvous: port %d is in use on rank 0's host (another "
                              "job, torchrun's store when MASTER_PORT is reused, or a second "
                              "process given RANK=0): pass --dist-port or set INGOT_DIST_PORT "
                              "to a free port, or check the launcher's RANK", port);
        return ingot_fail(-e, "rendezvous: cannot listen on port %d: %s%s", port, strerror(e),
                          e == EACCES && port < 1024
                              ? " (ports below 1024 need privileges: set MASTER_PORT, "
                                "INGOT_DIST_PORT or --dist-port to a port from 1024)"
                              : "; set MASTER_PORT, INGOT_DIST_PORT or --dist-port to another");
    }
    set_nonblock(fd);
    *out = fd;
    return 0;
}

/* Send every connected rank the same verdict (best effort for errors). */
static int answer_all(tr_rdzv *r, struct reply *rep, const struct hello *hs, double deadline)
{
    int first = 0;
    for (int i = 1; i < r->world; i++) {
        if (r->fds[i] < 0)
            continue;
        if (!rep->status) {
            rep->local_rank = hs[i].local_rank;
            rep->local_world = 0;
            for (int j = 0; j < r->world; j++)
                rep->local_world += !strcmp(hs[j].host, hs[i].host);
        }
        int err = xfer(r->fds[i], rep, sizeof(*rep), true, deadline);
        if (err && !first)
            first = err == -EPIPE || err == -ETIMEDOUT ?
                    ingot_fail(err, "rendezvous: rank %d (%s) %s before rank 0 could send it "
                               "the rendezvous' outcome", i, HOST(hs[i].host), err == -EPIPE ?
                               "closed the connection" : "took no data for 5 s") :
                    ingot_fail(err, "rendezvous: sending rank %d its verdict: %s", i,
                               strerror(-err));
    }
    return first;
}

/* Answer one connection with the recorded error, and close it. sig: the
 * signal of an INGOT_E_INTERRUPTED, else 0. */
static void refuse(int fd, int err, int sig, double deadline)
{
    struct reply no = { .magic = MAGIC, .status = err, .sig = sig };
    snprintf(no.msg, sizeof(no.msg), "%s", ingot_errmsg());
    (void)xfer(fd, &no, sizeof(no), true, deadline);
    close(fd);
}

/* Check a hello; on failure record the message and return the code. */
static int check_hello(const tr_rdzv *r, const struct hello *h, const struct hello *mine,
                       const struct hello *hs)
{
    char d[TR_RDZV_CONFIG + 64];
    if (h->job_key != mine->job_key)
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: a process on host %s (rank %d) belongs "
                          "to another job (job key %016llx, this job's %016llx): two jobs share "
                          "the rendezvous port; give each its own --dist-port", HOST(h->host),
                          (int)h->rank, (unsigned long long)h->job_key,
                          (unsigned long long)mine->job_key);
    if (h->version != VERSION)
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: rank %d on host %s runs another Ingot "
                          "build (rendezvous protocol %u, rank 0's %u): every rank needs the same "
                          "build", (int)h->rank, HOST(h->host), (unsigned)h->version,
                          (unsigned)VERSION);
    if (h->world != r->world)
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: rank %d on host %s says the world has %d "
                          "ranks, rank 0 says %d: the launcher's world size differs between "
                          "ranks", (int)h->rank, HOST(h->host), (int)h->world, r->world);
    if (h->rank <= 0 || h->rank >= r->world) {
        if (h->rank == 0)
            return ingot_fail(INGOT_E_MISMATCH, "rendezvous: two processes are rank 0 (hosts %s "
                              "and %s): check the launcher's RANK", HOST(mine->host),
                              HOST(h->host));
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: host %s says rank %d, outside [0, %d)",
                          HOST(h->host), (int)h->rank, r->world);
    }
    if (r->fds[h->rank] >= 0)
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: rank %d arrived twice (hosts %s and "
                          "%s): two processes were given the same rank; check the launcher's "
                          "RANK/LOCAL_RANK", (int)h->rank, HOST(hs[h->rank].host),
                          HOST(h->host));
    if (tr_config_diff(mine->config, h->config, d, sizeof(d)))
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: rank %d on host %s runs another "
                          "configuration: it has %s; every rank needs the same command line and "
                          "data%s", (int)h->rank, HOST(h->host), d, !strncmp(d, "'weights=", 9) ?
                          " (the weights it starts from: the same --init-from file, or for "
                          "--resume the same checkpoints in --ckpt-dir, on a shared file system "
                          "or copied to every host)" : "");
    return 0;
}

/* Rank 0 holds a socket per rank (and a few for strays): a soft limit
 * below that (1024 is common under Slurm and systemd) would fail accept()
 * part-way. Raised towards the hard limit; what is still short is
 * reported by the accept that fails. */
static void raise_fd_limit(int world)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)world + 64 + N_PENDING;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* One accepted connection whose hello is still arriving. Each has its own
 * short limit and the listener stays open beside them, so that a silent or
 * slow stray (a port scan, another program, a half-sent hello) delays no
 * rank: read one at a time, each such connection held the rendezvous up for
 * its limit, and a few of them outlasted --dist-timeout. */
struct pending {
    int fd;
    size_t got;
    double until;
    struct hello h;
};

static int try_connect(const struct sockaddr_in *sa, double deadline, int *out);

/* The port is taken. When the holder is an ingot rendezvous (this job's
 * rank 0: two processes were given RANK=0; or another job's), its answer to
 * this process's greeting says which, on both sides; otherwise the
 * port-in-use message (err, recorded) stands. */
static int probe_holder(const struct tr_rdzv_opts *o, const struct hello *mine, int err)
{
    char keep[INGOT_ERRMSG_MAX];
    snprintf(keep, sizeof(keep), "%s", ingot_errmsg());
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    const double deadline = mono_now() + 2.0;
    struct reply rep;
    int fd = -1;
    bool answered = !try_connect(&sa, deadline, &fd) &&
                    !xfer(fd, (void *)mine, sizeof(*mine), true, deadline) &&
                    !xfer(fd, &rep, sizeof(rep), false, deadline) && rep.magic == MAGIC &&
                    rep.status;
    if (fd >= 0)
        close(fd);
    if (!answered)
        return ingot_fail(err, "%s", keep);
    char said[sizeof(rep.msg)];   /* the holder's words, whoever it is */
    return ingot_fail(rep.status, "%s", term_text_n(rep.msg, sizeof(rep.msg), said,
                                                    sizeof(said)));
}

/* "3, 7, 12" (the first 16 missing ranks, then ", ..."); returns how many
 * are missing. */
static int missing_ranks(const tr_rdzv *r, char *buf, size_t len)
{
    int n = 0;
    buf[0] = '\0';
    for (int i = 1; i < r->world; i++)
        if (r->fds[i] < 0 && n++ < 16)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%d", n > 1 ? ", " : "", i);
    if (n > 16)
        snprintf(buf + strlen(buf), len - strlen(buf), ", ...");
    return n;
}

/* A long wait says what it waits for, every o->report_s seconds: one
 * line, whole (many ranks share a terminal or a log). */
static bool report_due(const struct tr_rdzv_opts *o, double now, double *next)
{
    if (o->report_s <= 0.0 || now < *next)
        return false;
    *next = now + o->report_s;
    return true;
}

/* The connections of the ranks present into pf (their ranks into who),
 * watched for a rank that leaves before the verdict. Returns how many. */
static int watch_ranks(const tr_rdzv *r, struct pollfd *pf, int *who)
{
    int n = 0;
    for (int i = 1; i < r->world; i++)
        if (r->fds[i] >= 0) {
            who[n] = i;
            pf[n++] = (struct pollfd){ .fd = r->fds[i], .events = POLLIN };
        }
    return n;
}

/* Rank k, present, has something to read before the verdict: its bye (a
 * signal stopped it) or the end of its connection (it died; the others
 * would have waited for it to the deadline, counting it as present).
 * Returns 0 when there is nothing yet; else forgets the rank, puts what
 * the other ranks are told into rep->msg (the signal into rep->sig) and
 * returns the error (exit 128 + the signal on every rank present, as a stop
 * by signal is collective; else 1). */
static int rank_left(tr_rdzv *r, int k, const struct hello *hs, int *have, struct reply *rep)
{
    /* stopped itself too (Ctrl-C reaches every rank of a terminal): it says
     * so itself, at the top of the wait */
    if (stopped())
        return 0;
    struct bye b = { 0 };
    ssize_t got = recv(r->fds[k], &b, sizeof(b), 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    close(r->fds[k]);
    r->fds[k] = -1;
    (*have)--;
    if (got == (ssize_t)sizeof(b) && b.magic == BYE_MAGIC) {
        r->stop_sig = rep->sig = b.sig;   /* every rank present exits as that rank */
        snprintf(rep->msg, sizeof(rep->msg), "rendezvous: rank %d (%s) was stopped by a signal "
                 "(%s) before the rendezvous completed (%d of %d ranks present without it)",
                 k, HOST(hs[k].host), sig_name(b.sig), *have, r->world);
        return ingot_fail(INGOT_E_INTERRUPTED, "%s; the ranks present stop with it", rep->msg);
    }
    snprintf(rep->msg, sizeof(rep->msg), "rendezvous: rank %d (%s) left before the rendezvous "
             "completed: %s (the process ended? read its output); %d of %d ranks present "
             "without it", k, HOST(hs[k].host), got > 0 ? "it sent bytes out of turn" :
             "its connection closed", *have, r->world);
    return ingot_fail(got > 0 ? INGOT_E_MISMATCH : -EPIPE, "%s", rep->msg);
}

/* The ranks present once more, at once, before the verdict goes out: one
 * that left as the last arrived is named here, not by the next collective. */
static int sweep_ranks(tr_rdzv *r, const struct hello *hs, int *have, struct reply *rep,
                       struct pollfd *pf, int *who)
{
    int n = watch_ranks(r, pf, who), err = 0;
    if (poll(pf, (nfds_t)n, 0) <= 0)
        return 0;
    for (int j = 0; j < n && !err; j++)
        if (pf[j].revents)
            err = rank_left(r, who[j], hs, have, rep);
    return err;
}

static int serve(tr_rdzv *r, const struct tr_rdzv_opts *o, const struct hello *mine,
                 const void *payload, double deadline)
{
    int lfd = -1, err = 0, have = 1, np = 0;
    struct hello *hs = calloc((size_t)r->world, sizeof(*hs));
    struct pending *pend = calloc(N_PENDING, sizeof(*pend));
    /* polled: the pending connections, the ranks present, the listener */
    struct pollfd *pf = calloc((size_t)(N_PENDING + r->world), sizeof(*pf));
    int *who = calloc((size_t)r->world, sizeof(*who));
    struct reply rep = { .magic = MAGIC };
    if (!hs || !pend || !pf || !who) {
        free(hs);
        free(pend);
        free(pf);
        free(who);
        return ingot_oom("rendezvous host table", (size_t)r->world * sizeof(*hs));
    }
    raise_fd_limit(r->world);
    if ((err = listen_on(o->port, &lfd)) == -EADDRINUSE)
        err = probe_holder(o, mine, err);
    if (err) {
        free(hs);
        free(pend);
        free(pf);
        free(who);
        return err;
    }
    hs[0] = *mine;
    const double start = mono_now();
    double next_report = start + o->report_s;
    while (have < r->world && !err) {
        double now = mono_now(), wake = deadline;
        if (stopped()) {
            /* the others are told who was stopped: "stopped by a signal" in
             * their own words read as if they had been */
            r->stop_sig = rep.sig = (int32_t)*rdzv_stop;
            snprintf(rep.msg, sizeof(rep.msg), "rendezvous: rank 0 (%s) was stopped by a signal "
                     "(%s) while waiting for the ranks (%d of %d present)", HOST(mine->host),
                     stop_sig(), have, r->world);
            err = ingot_fail(INGOT_E_INTERRUPTED, "rendezvous: stopped by a signal (%s) while "
                             "waiting for the ranks (%d of %d present); the ranks present stop "
                             "with it", stop_sig(), have, r->world);
            break;
        }
        if (now >= deadline) {
            err = -ETIMEDOUT;
            break;
        }
        if (report_due(o, now, &next_report)) {
            char miss[256];
            int n = missing_ranks(r, miss, sizeof(miss));
            fprintf(stderr, "ingot-train: rendezvous: %d of %d ranks present after %.0f s, "
                    "waiting for rank%s %s (up to %.0f s more, --dist-timeout)\n", have,
                    r->world, now - start, n > 1 ? "s" : "", miss, deadline - now);
        }
        int n = 0;
        for (int i = 0; i < np; i++) {
            pf[n++] = (struct pollfd){ .fd = pend[i].fd, .events = POLLIN };
            wake = pend[i].until < wake ? pend[i].until : wake;
        }
        const int nr = watch_ranks(r, pf + n, who);
        n += nr;
        pf[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        double left = wake - now;
        int k = poll(pf, (nfds_t)n, left > 1.0 ? 1000 : (int)(left * 1e3) + 1);
        if (k < 0 && errno != EINTR) {
            err = ingot_fail(-errno, "rendezvous: poll: %s", strerror(errno));
            break;
        }
        now = mono_now();
        /* a rank present that left: named now, not counted to the deadline */
        for (int j = 0; j < nr && k > 0 && !err; j++)
            if (pf[np + j].revents)
                err = rank_left(r, who[j], hs, &have, &rep);
        if (err)
            break;
        /* the hellos arriving, each connection on its own */
        for (int i = 0; i < np && k > 0 && !err; i++) {
            struct pending *c = &pend[i];
            if (!pf[i].revents)
                continue;
            ssize_t got = recv(c->fd, (char *)&c->h + c->got, sizeof(c->h) - c->got, 0);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {                      /* gone before its hello: a stray */
                close(c->fd);
                c->fd = -1;
                continue;
            }
            c->got += (size_t)got;
            struct hello *h = &c->h;
            const bool other_build = c->got >= offsetof(struct hello, config) &&
                                     h->magic == MAGIC && h->version != VERSION;
            if (c->got < sizeof(c->h) && !other_build)
                continue;
            int fd = c->fd;
            c->fd = -1;
            if (h->magic != MAGIC) {
                close(fd);
                continue;
            }
            h->host[TR_RDZV_HOST - 1] = '\0';
            if (!other_build)   /* check_hello reads no further then */
                h->config[TR_RDZV_CONFIG - 1] = '\0';
            double hd = now + 5.0 < deadline ? now + 5.0 : deadline;
            if ((err = check_hello(r, h, mine, hs))) {
                if (h->job_key != mine->job_key) {
                    /* not ours: tell it and keep waiting for our own ranks */
                    refuse(fd, err, 0, hd);
                    err = 0;
                    continue;
                }
                int bad = h->rank > 0 && h->rank < r->world && r->fds[h->rank] < 0 ? h->rank : -1;
                if (bad > 0)
                    r->fds[bad] = fd;   /* it gets the verdict with the others */
                else
                    refuse(fd, err, 0, hd);
                break;
            }
            r->fds[h->rank] = fd;
            hs[h->rank] = *h;
            have++;
        }
        /* drop the finished and the expired, keeping the order */
        int m = 0;
        for (int i = 0; i < np; i++) {
            if (pend[i].fd >= 0 && pend[i].until <= now) {
                close(pend[i].fd);
                pend[i].fd = -1;
            }
            if (pend[i].fd >= 0)
                pend[m++] = pend[i];
        }
        np = m;
        /* new connections */
        while (!err && (pf[n - 1].revents & POLLIN)) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) {
                /* accept(2): the network errors of a pending connection
                 * are passed on by accept and are that connection's, to be
                 * treated like EAGAIN */
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ||
                    errno == ECONNABORTED || errno == ENETDOWN || errno == EPROTO ||
                    errno == ENOPROTOOPT || errno == EHOSTDOWN || errno == ENONET ||
                    errno == EHOSTUNREACH || errno == EOPNOTSUPP || errno == ENETUNREACH)
                    break;
                if (errno == EMFILE || errno == ENFILE)
                    err = ingot_fail(-errno, "rendezvous: rank 0 ran out of file descriptors "
                                     "with %d of %d ranks present: it holds one per rank; raise "
                                     "the limit above %d (ulimit -n; LimitNOFILE under systemd, "
                                     "--propagate or the node's limits under Slurm)", have,
                                     r->world, r->world + 64 + N_PENDING);
                else
                    err = ingot_fail(-errno, "rendezvous: accept on port %d: %s", o->port,
                                     strerror(errno));
                break;
            }
            set_nonblock(fd);
            if (np == N_PENDING) {
                /* full of silent connections: the oldest goes, so that a
                 * rank behind them is still read (a flood of strays slows
                 * the rendezvous; it does not stop it) */
                close(pend[0].fd);
                memmove(pend, pend + 1, (N_PENDING - 1) * sizeof(*pend));
                np--;
            }
            double lim = now + 5.0;   /* for its hello */
            pend[np++] = (struct pending){ .fd = fd, .until = lim < deadline ? lim : deadline };
        }
    }
    if (!err)
        err = sweep_ranks(r, hs, &have, &rep, pf, who);
    free(pf);
    free(who);
    close(lfd);
    /* The verdicts go out whatever the stop flag says (a signal would
     * otherwise leave every rank guessing why rank 0 went), each with a
     * fresh limit: the last hello may have come at the deadline. Nothing
     * waits on the flag past this point (tr_rdzv_open clears it anyway). */
    rdzv_stop = NULL;
    if (err == -ETIMEDOUT) {
        char miss[256];
        int n = missing_ranks(r, miss, sizeof(miss));
        err = ingot_fail(-ETIMEDOUT, "rendezvous: rank%s %s never arrived at port %d within "
                         "%.0f s (%d of %d ranks present): a rank failed to start, or cannot "
                         "reach this host (firewall, MASTER_ADDR, --dist-port)", n > 1 ? "s" : "",
                         miss, o->port, o->timeout_s, have, r->world);
    }
    if (err) {
        rep.status = err;
        if (!rep.msg[0])   /* else the others' own words */
            snprintf(rep.msg, sizeof(rep.msg), "%s", ingot_errmsg());
        /* connections whose hello was still arriving: maybe ranks, told too */
        for (int i = 0; i < np; i++)
            refuse(pend[i].fd, err, rep.sig, mono_now() + 2.0);
        free(pend);
        char keep[INGOT_ERRMSG_MAX];   /* a failed send below must not replace the reason */
        snprintf(keep, sizeof(keep), "%s", ingot_errmsg());
        (void)answer_all(r, &rep, hs, mono_now() + 2.0);
        free(hs);
        return ingot_fail(err, "%s", keep);
    }
    for (int i = 0; i < np; i++)   /* strays */
        close(pend[i].fd);
    free(pend);
    /* Local ranks the launcher did not give: order of rank among a host's ranks. */
    for (int i = 0; i < r->world; i++) {
        int lr = 0, lw = 0;
        for (int j = 0; j < r->world; j++) {
            bool same = !strcmp(hs[j].host, hs[i].host);
            lw += same;
            lr += same && j < i;
        }
        if (hs[i].local_rank < 0)
            hs[i].local_rank = lr;
        if (i == 0) {
            r->local_rank = hs[0].local_rank;
            r->local_world = lw;
        }
        term_text(hs[i].host, r->hosts[i], TR_RDZV_HOST);   /* for messages */
    }
    memcpy(rep.payload, payload, TR_RDZV_PAYLOAD);
    memcpy(rep.host0, mine->host, TR_RDZV_HOST);
    err = answer_all(r, &rep, hs, mono_now() + 5.0);
    free(hs);
    return err;
}

/* ---- other ranks ---- */

/* Rank 0's IPv4 address into *sa: 0, -EAGAIN (a transient lookup failure:
 * retry), or a failure to report. */
static int resolve(const struct tr_rdzv_opts *o, struct sockaddr_in *sa)
{
    char port[16];
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
    snprintf(port, sizeof(port), "%d", o->port);
    /* host:port (one colon, digits after it; an IPv6 literal has several):
     * it was reported as a host without an IPv4 address */
    const char *colon = strchr(o->addr, ':');
    if (colon && !strchr(colon + 1, ':') && colon[1] &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1))
        return ingot_fail(-EHOSTUNREACH, "rendezvous: MASTER_ADDR '%s' holds a port: give "
                          "rank 0's host alone, and the port in MASTER_PORT (or --dist-port)",
                          ADDR(o->addr));
    int gai = getaddrinfo(o->addr, port, &hints, &ai);
    /* the rendezvous listens on IPv4: an IPv6 literal, or a name with no
     * IPv4 address, would be retried to the deadline and then blamed on
     * rank 0 */
    if ((gai == EAI_NONAME && strchr(o->addr, ':')) || gai == EAI_ADDRFAMILY ||
        gai == EAI_NODATA || gai == EAI_FAMILY)
        return ingot_fail(-EHOSTUNREACH, "rendezvous: rank 0's host '%s' (MASTER_ADDR) has no "
                          "IPv4 address, and the tcp rendezvous is IPv4 only: give rank 0's "
                          "IPv4 address or a host name that has one", ADDR(o->addr));
    if (gai)
        return gai == EAI_NONAME ? ingot_fail(-EHOSTUNREACH, "rendezvous: cannot resolve rank "
                                              "0's host '%s' (MASTER_ADDR)", ADDR(o->addr)) :
                  -EAGAIN;
    memcpy(sa, ai->ai_addr, sizeof(*sa));
    freeaddrinfo(ai);
    return 0;
}

/* One connection attempt to sa, bounded by the deadline: 0 with *out, or
 * -EAGAIN. */
static int try_connect(const struct sockaddr_in *sa, double deadline, int *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = -EAGAIN;
    if (fd < 0)
        return err;
    set_nonblock(fd);
    if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) || errno == EINPROGRESS) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        double d = mono_now() + 2.0 < deadline ? mono_now() + 2.0 : deadline;
        if (!wait_fd(fd, POLLOUT, d) && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) &&
            !soerr) {
            *out = fd;
            fd = -1;
            err = 0;
        }
    }
    if (fd >= 0)
        close(fd);
    return err;
}

static int join(tr_rdzv *r, const struct tr_rdzv_opts *o, const struct hello *mine,
                void *payload, double deadline)
{
    double backoff = 0.05;
    int fd = -1, err;
    /* the name is looked up until it resolves, then again only at each
     * progress line (rank 0 restarted elsewhere, a record updated late):
     * each lookup may wait on a slow resolver (delaying a Ctrl-C), and a
     * thousand ranks retrying every second would ask it a thousand times a
     * second */
    struct sockaddr_in sa;
    bool resolved = false;
    const double start = mono_now();
    double next_report = start + o->report_s;
    for (;;) {
        if (resolved)
            err = try_connect(&sa, deadline, &fd);
        else if (!(err = resolve(o, &sa))) {
            resolved = true;   /* connect at once */
            continue;
        }
        if (err != -EAGAIN)
            break;
        if (stopped()) {
            r->stop_sig = (int)*rdzv_stop;
            return ingot_fail(INGOT_E_INTERRUPTED, "rendezvous: rank %d stopped by a signal "
                              "(%s) while trying to reach rank 0 at %s:%d", r->rank, stop_sig(),
                              ADDR(o->addr), o->port);
        }
        double left = deadline - mono_now();
        if (left <= 0.0)
            return ingot_fail(-ETIMEDOUT, "rendezvous: rank %d could not reach rank 0 at %s:%d "
                              "within %.0f s: rank 0 did not start, or MASTER_ADDR/--dist-port "
                              "is wrong, or a firewall is in the way", r->rank, ADDR(o->addr),
                              o->port, o->timeout_s);
        if (report_due(o, mono_now(), &next_report)) {
            char ip[INET_ADDRSTRLEN] = "";
            if (resolved && !inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip)))
                ip[0] = '\0';
            fprintf(stderr, "ingot-train: rendezvous: rank %d cannot reach rank 0 at %s:%d yet "
                    "after %.0f s (%s%s); retrying for up to %.0f s more (--dist-timeout)\n",
                    r->rank, ADDR(o->addr), o->port, mono_now() - start, resolved ?
                    "not listening yet, or unreachable, at " : "its name does not resolve yet",
                    ip, left);
            resolved = false;   /* looked up again */
        }
        const double nap = backoff < left ? backoff : left;   /* tries to the deadline */
        nanosleep(&(struct timespec){ (time_t)nap, (long)((nap - (time_t)nap) * 1e9) }, NULL);
        backoff = backoff < 1.0 ? backoff * 2 : 1.0;
    }
    if (err)
        return err;
    r->fds[0] = fd;
    struct reply rep;
    /* Rank 0 answers by its own deadline at the latest (with the names of
     * missing ranks). It was listening when this rank connected, so that
     * deadline is at most now + the timeout, however much earlier this rank
     * started (its own deadline made it give up on a rank 0 still waiting
     * for others, as at a skewed multi-node start); a grace period lets the
     * verdict arrive. */
    const double verdict_by = mono_now() + o->timeout_s + 5.0;
    err = xfer(fd, (void *)mine, sizeof(*mine), true, deadline);
    const bool greeted = !err;   /* rank 0 counts this rank as present */
    if (!err)
        err = xfer(fd, &rep, sizeof(rep), false, verdict_by);
    if (err) {
        if (err == -EINTR && stopped()) {
            /* tell rank 0 why this rank goes (best effort), so that it
             * stops every rank present naming this one */
            struct bye b = { .magic = BYE_MAGIC, .sig = (int32_t)*rdzv_stop };
            r->stop_sig = b.sig;
            if (greeted)
                (void)send(fd, &b, sizeof(b), MSG_NOSIGNAL);
            return ingot_fail(INGOT_E_INTERRUPTED, "rendezvous: rank %d stopped by a signal "
                              "(%s) while waiting for rank 0's verdict%s", r->rank, stop_sig(),
                              greeted ? "; rank 0 is told, and every rank stops with it" : "");
        }
        return ingot_fail(err, "rendezvous: rank %d: %s:%d accepted the connection but %s%s: "
                          "is another program listening on that port, or did rank 0 fail? "
                          "(MASTER_PORT / --dist-port; read rank 0's output)", r->rank,
                          ADDR(o->addr), o->port, err == -ETIMEDOUT ?
                          "sent no rendezvous answer in time" :
                          what_err(err), err == -ETIMEDOUT ? "" : " before its rendezvous answer");
    }
    if (rep.magic != MAGIC)
        return ingot_fail(INGOT_E_MISMATCH, "rendezvous: %s:%d is not an ingot rendezvous",
                          ADDR(o->addr), o->port);
    /* rank 0's words name the rank that failed or was stopped; this rank
     * says what it does about it, and whether it was stopped itself. Shown
     * as term_text() shows them: whatever answers on the port wrote them. */
    char said[sizeof(rep.msg)];
    term_text_n(rep.msg, sizeof(rep.msg), said, sizeof(said));
    const char *why = said[0] ? said : "rank 0 refused this rank";
    if (rep.status == INGOT_E_INTERRUPTED)   /* its own signal before the one it was told */
        r->stop_sig = stopped() ? (int)*rdzv_stop : rep.sig;
    if (rep.status == INGOT_E_INTERRUPTED && stopped())
        return ingot_fail(rep.status, "rank %d (%s): rendezvous: stopped by a signal (%s) while "
                          "waiting for rank 0's verdict, and rank 0 answered: %s", r->rank,
                          r->hosts[1], stop_sig(), why);
    if (rep.status == INGOT_E_INTERRUPTED)
        return ingot_fail(rep.status, "rank %d (%s): %s; this rank stops with it", r->rank,
                          r->hosts[1], why);
    if (rep.status)
        return ingot_fail(rep.status, "rank %d (%s): %s", r->rank, r->hosts[1], why);
    memcpy(payload, rep.payload, TR_RDZV_PAYLOAD);
    term_text_n(rep.host0, TR_RDZV_HOST, r->hosts[0], TR_RDZV_HOST);
    r->local_rank = rep.local_rank;
    r->local_world = rep.local_world;
    return 0;
}

int tr_rdzv_open(const struct tr_rdzv_opts *o, void *payload, tr_rdzv **out)
{
    *out = NULL;
    if (o->world < 1 || o->rank < 0 || o->rank >= o->world)
        return ingot_fail(INGOT_E_USAGE, "rendezvous: rank %d of %d", o->rank, o->world);
    if (o->config && strlen(o->config) >= TR_RDZV_CONFIG)
        return ingot_fail(INGOT_E_USAGE, "rendezvous: configuration string over %d bytes",
                          TR_RDZV_CONFIG - 1);
    tr_rdzv *r = calloc(1, sizeof(*r));
    int nfd = o->rank == 0 ? o->world : 1, nh = o->rank == 0 ? o->world : 2, err;
    if (!r || !(r->fds = malloc((size_t)nfd * sizeof(int))) ||
        !(r->hosts = calloc((size_t)nh, TR_RDZV_HOST))) {
        tr_rdzv_close(r);
        return ingot_oom("rendezvous state", (size_t)nh * TR_RDZV_HOST);
    }
    for (int i = 0; i < nfd; i++)
        r->fds[i] = -1;
    r->rank = o->rank;
    r->world = o->world;
    r->timeout_s = o->timeout_s;
    struct hello h = { .magic = MAGIC, .version = VERSION, .job_key = o->job_key,
                       .rank = o->rank, .world = o->world, .local_rank = o->local_rank };
    own_host(o->host, h.host);
    snprintf(h.config, sizeof(h.config), "%s", o->config ? o->config : "");
    term_text(h.host, r->hosts[o->rank == 0 ? 0 : 1], TR_RDZV_HOST);
    double deadline = mono_now() + o->timeout_s;
    if (o->world == 1) {
        r->local_rank = o->local_rank >= 0 ? o->local_rank : 0;
        r->local_world = 1;
        err = 0;
    } else {
        rdzv_stop = o->stop;
        err = o->rank == 0 ? serve(r, o, &h, payload, deadline) :
                             join(r, o, &h, payload, deadline);
        rdzv_stop = NULL;
    }
    if (err == INGOT_E_INTERRUPTED && o->stop_sig)
        *o->stop_sig = r->stop_sig;
    if (err) {
        tr_rdzv_close(r);
        return err;
    }
    *out = r;
    return 0;
}

void tr_rdzv_set_timeout(tr_rdzv *r, double s)
{
    r->timeout_s = s;
}

/* ---- host collectives over the open connections ---- */

/* The other ranks wait for rank 0 this much past the deadline: rank 0's
 * notice of a rank it lost (struct lost), sent when its own wait ran out,
 * then reaches them before theirs does. */
static double peer_deadline(const tr_rdzv *r)
{
    return mono_now() + r->timeout_s + (r->rank ? TR_RDZV_GRACE_S : 0.0);
}

/* Rank 0: the exchange with rank k failed (err). Records the message (which
 * every later exchange repeats), tells every other rank which rank was lost
 * (best effort, without waiting) and shuts the connections for writing. */
static int rank0_lost(tr_rdzv *r, int k, int err, const char *what)
{
    int ret = ingot_fail(err, "rank 0 (%s): %s: rank %d (%s) %s", r->hosts[0], what, k,
                         r->hosts[k], what_err(err));
    struct lost l = { .magic = LOST_MAGIC, .rank = k, .err = err };
    memcpy(l.host, r->hosts[k], TR_RDZV_HOST);
    for (int i = 1; i < r->world; i++) {
        if (r->fds[i] < 0)
            continue;
        if (i != k)
            (void)send(r->fds[i], &l, sizeof(l), MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(r->fds[i], SHUT_WR);
    }
    r->broken = ret;
    snprintf(r->broken_msg, sizeof(r->broken_msg), "%s", ingot_errmsg());
    return ret;
}

/* Another rank: the exchange with rank 0 failed (err). head: the got bytes
 * of it that arrived (a broadcast), or NULL (a send: what arrived is read
 * now, without waiting). When they are rank 0's notice of a rank it lost,
 * that rank is named, as rank 0 named it. */
static int rank0_gone(tr_rdzv *r, int err, const char *what, const void *head, size_t got)
{
    char tmp[sizeof(struct lost) + 1];
    if (!head) {
        ssize_t k;
        got = 0;
        while (got < sizeof(tmp) &&
               (k = recv(r->fds[0], tmp + got, sizeof(tmp) - got, MSG_DONTWAIT)) > 0)
            got += (size_t)k;
        head = tmp;
    }
    struct lost l;
    if (got == sizeof(l))
        memcpy(&l, head, sizeof(l));
    if (got == sizeof(l) && l.magic == LOST_MAGIC && l.rank > 0 && l.rank < r->world &&
        l.rank != r->rank) {
        const int code = l.err < 0 && l.err > -4096 ? l.err : -EPIPE;
        return ingot_fail(code, "rank %d (%s): %s: rank %d (%s) %s, rank 0 (%s) reports; it "
                          "stopped the run", r->rank, r->hosts[1], what, (int)l.rank,
                          HOST(l.host), what_err(code), r->hosts[0]);
    }
    return ingot_fail(err, "rank %d (%s): %s: rank 0 (%s) %s", r->rank, r->hosts[1], what,
                      r->hosts[0], what_err(err));
}

int tr_rdzv_gather(tr_rdzv *r, const void *mine, size_t n, void *all, const char *what)
{
    double deadline = peer_deadline(r);
    int err;
    if (r->broken)
        return ingot_fail(r->broken, "%s", r->broken_msg);
    if (r->rank != 0) {
        if ((err = xfer(r->fds[0], (void *)mine, n, true, deadline)))
            return rank0_gone(r, err, what, NULL, 0);
        return 0;
    }
    memcpy(all, mine, n);
    for (int i = 1; i < r->world; i++)
        if ((err = xfer(r->fds[i], (char *)all + (size_t)i * n, n, false, deadline)))
            return rank0_lost(r, i, err, what);
    return 0;
}

int tr_rdzv_bcast(tr_rdzv *r, void *buf, size_t n, const char *what)
{
    double deadline = peer_deadline(r);
    /* shorter than LOST_WIRE: padded, so that a notice never reads as one */
    unsigned char pad[LOST_WIRE] = { 0 };
    void *wire = buf;
    size_t len = n;
    int err;
    if (r->broken)
        return ingot_fail(r->broken, "%s", r->broken_msg);
    if (n < LOST_WIRE) {
        memcpy(pad, buf, n);
        wire = pad;
        len = LOST_WIRE;
    }
    if (r->rank != 0) {
        size_t got;
        if ((err = xfer_n(r->fds[0], wire, len, false, deadline, &got)))
            return rank0_gone(r, err, what, wire, got);
        if (wire != buf)
            memcpy(buf, pad, n);
        return 0;
    }
    for (int i = 1; i < r->world; i++)
        if ((err = xfer(r->fds[i], wire, len, true, deadline)))
            return rank0_lost(r, i, err, what);
    return 0;
}
