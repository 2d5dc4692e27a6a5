/* The TCP rendezvous with forked processes on 127.0.0.1: a good rendezvous
 * (payload, local ranks, gather/bcast), and every way it must fail clearly
 * and in time: duplicate rank, wrong world size, another configuration,
 * another job on the port, a rank that never comes, rank 0 absent, a rank
 * that dies or hangs after the rendezvous (named by rank 0, and by the other
 * ranks as rank 0 tells them), two rank 0s (both told); silent strays on
 * the port delay no rank; rank 0's name is looked up once, not per attempt;
 * a rank that leaves before the verdict (stopped by a signal, or dead) is
 * named at once by rank 0 and every rank present, and a signalled rank 0 is
 * named by the others (each rank said "stopped by a signal" of itself).
 * What a peer sends (its host name, rank 0's verdict) and MASTER_ADDR reach
 * messages through term_text(): a hostile host name in a hello (a fake
 * peer's, 64 bytes with no NUL), a hostile rank 0's name and words, and a
 * hostile MASTER_ADDR show '?' for ESC, BEL and U+202E; no message of any
 * scenario holds those bytes. */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mono_clock.h"
#include "dist_test.h"
#include "test_check.h"
#include "tr_dist_rdzv.h"

static const char *CFG = "model=L2,H2,C64 batch=4 batch-tokens=1024 data=synthetic";
/* ESC ] 0 ; pwned BEL (retitles a terminal's window), U+202E; as shown */
#define HOSTILE "x\x1b]0;pwned\a\xe2\x80\xae"
#define SHOWN_H "x?]0;pwned??"

/* The bytes that must never reach a message. */
static bool raw_in(const char *m)
{
    return strchr(m, '\x1b') || strchr(m, '\a') || strstr(m, "\xe2\x80\xae");
}

/* Rendezvous protocol 3 on the wire (tr_dist_rdzv.c), for the fake peers. */
struct wire_hello {
    uint32_t magic, version;
    uint64_t job_key;
    int32_t rank, world, local_rank, pad;
    char host[TR_RDZV_HOST], config[TR_RDZV_CONFIG];
};
struct wire_reply {
    uint32_t magic;
    int32_t status, local_rank, local_world;
    char host0[TR_RDZV_HOST], msg[512];
    unsigned char payload[TR_RDZV_PAYLOAD];
};

struct proc {
    int rank, world;
    uint64_t key;
    const char *config;
    double delay_s;       /* start late (clients retry) */
    const char *expect;   /* error substring; NULL: success */
    int local_rank;       /* expected local rank on success */
    enum { STAY, LEAVE, HANG } after;   /* LEAVE: exit right after the rendezvous;
                                   * HANG: silent past every deadline, then exit */
    const char *after_expect;     /* error of the gather/bcast that follows */
    const char *addr;             /* MASTER_ADDR; NULL: 127.0.0.1 */
    int lookups;                  /* > 0: name lookups it must have made */
    double report_s;              /* > 0: progress lines this often, */
    const char *report, *report2; /* and contain these (report2 may be NULL) */
    int old_build;                /* > 0: not this build but an older one's rank
                                   * old_build, whose reply must say expect */
    double stop_s;                /* > 0: "SIGTERM" this long after the start
                                   * (its stop flag: a launcher's signal) */
    double die_s;                 /* > 0: killed (SIGALRM) this long after the
                                   * start, without a word */
    int code;                     /* nonzero: the error expect comes with; for
                                   * INGOT_E_INTERRUPTED the rendezvous must
                                   * also name the signal (stop_sig), this
                                   * rank's or the stopped rank's, for the
                                   * exit status 128 + N */
    const char *host;             /* its host name; NULL: "testhost" */
    enum { REAL, FAKE_PEER, FAKE_RANK0 } fake;   /* FAKE_PEER: a hello of this
                                   * protocol whose host name is HOSTILE over
                                   * all 64 bytes, no NUL (world: its world),
                                   * and rank 0's reply must say expect;
                                   * FAKE_RANK0: listens, and answers a hello
                                   * with an error whose words and host name
                                   * are HOSTILE */
};

/* The stop flag of a rank given stop_s, set as ingot-train's handler sets
 * it: the signal's number. */
static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
    (void)sig;
    stop_flag = SIGTERM;
}

static void arm(double s)
{
    struct itimerval it = { .it_value = { (time_t)s, (suseconds_t)((s - (time_t)s) * 1e6) } };
    setitimer(ITIMER_REAL, &it, NULL);
}

/* What this process wrote on stderr since fd (a temporary file that took
 * stderr's place) was made: into buf, NUL-terminated. */
static const char *stderr_text(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Name lookups of this process: the rendezvous's getaddrinfo calls land
 * here (the executable's definition comes first), then go to the C
 * library's. */
static int n_lookups;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    n_lookups++;
    return real ? real(node, service, hints, res) : EAI_SYSTEM;
}

static unsigned char payload_of(int i)
{
    return (unsigned char)(i * 7 + 3);
}

/* Not a rank: n connections to the rendezvous port that stay silent for
 * 2 s, as a port scan or another program may (rank -n in a scenario). */
static int stray(int port, int n)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fds[128], open = 0;
    for (int i = 0; i < 400 && open < n && open < 128; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
            fds[open++] = fd;
            continue;
        }
        if (fd >= 0)
            close(fd);
        usleep(10000);
    }
    usleep(2000000);
    for (int i = 0; i < open; i++)
        close(fds[i]);
    return open == n ? 0 : 1;
}

/* A rank of an older build (rendezvous protocol 1, a 512-byte
 * configuration): its hello, then rank 0's reply, whose layout every
 * version shares; 0 when the reply's message contains expect. */
static int old_build(int port, int rank, int world, uint64_t key, const char *expect)
{
    struct {
        uint32_t magic, version;
        uint64_t job_key;
        int32_t rank, world, local_rank, pad;
        char host[64], config[512];
    } h = { .magic = 0x52444749u, .version = 1, .job_key = key, .rank = rank, .world = world,
            .local_rank = -1, .host = "oldhost" };
    struct {
        uint32_t magic;
        int32_t status, local_rank, local_world;
        char host0[64], msg[512];
    } rep;
    snprintf(h.config, sizeof(h.config), "%s", CFG);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = -1;
    for (int i = 0; i < 200; i++) {   /* rank 0 may not listen yet */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
            break;
        close(fd);
        fd = -1;
        usleep(10000);
    }
    if (fd < 0 || send(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        recv(fd, &rep, sizeof(rep), MSG_WAITALL) != (ssize_t)sizeof(rep)) {
        fprintf(stderr, "old build: no reply from rank 0\n");
        return 1;
    }
    close(fd);
    rep.msg[sizeof(rep.msg) - 1] = '\0';
    if (!rep.status || !strstr(rep.msg, expect)) {
        fprintf(stderr, "old build: status %d, \"%s\", expected \"%s\"\n", rep.status, rep.msg,
                expect);
        return 1;
    }
    return 0;
}

static int fake_connect(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 200; i++) {   /* rank 0 may not listen yet */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
            return fd;
        close(fd);
        usleep(10000);
    }
    return -1;
}

/* A peer of this protocol whose hello holds a hostile host name (no NUL in
 * its 64 bytes); rank 0's reply must say expect, and hold no raw byte. */
static int fake_peer(int port, const struct proc *p)
{
    struct wire_hello h = { .magic = 0x52444749u, .version = 3, .job_key = p->key,
                            .rank = 1, .world = p->world, .local_rank = -1 };
    for (size_t i = 0; i < sizeof(h.host); i += sizeof(HOSTILE) - 1)
        memcpy(h.host + i, HOSTILE, sizeof(h.host) - i < sizeof(HOSTILE) - 1 ?
               sizeof(h.host) - i : sizeof(HOSTILE) - 1);
    snprintf(h.config, sizeof(h.config), "%s", CFG);
    struct wire_reply rep;
    int fd = fake_connect(port);
    if (fd < 0 || send(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        recv(fd, &rep, sizeof(rep), MSG_WAITALL) != (ssize_t)sizeof(rep)) {
        fprintf(stderr, "fake peer: no reply from rank 0\n");
        return 1;
    }
    close(fd);
    rep.msg[sizeof(rep.msg) - 1] = '\0';
    if (!rep.status || !strstr(rep.msg, p->expect) || raw_in(rep.msg)) {
        fprintf(stderr, "fake peer: status %d, \"%s\", expected \"%s\"\n", rep.status, rep.msg,
                p->expect);
        return 1;
    }
    return 0;
}

/* A rank 0 that answers the first hello with an error: a status, and words
 * and a host name that are HOSTILE (the words with no NUL in their 512 bytes). */
static int fake_rank0(int port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4))
        return 1;
    int fd = accept(lfd, NULL, NULL);
    struct wire_hello h;
    struct wire_reply rep = { .magic = 0x52444749u, .status = INGOT_E_MISMATCH,
                              .host0 = HOSTILE };
    for (size_t i = 0; i < sizeof(rep.msg); i++)
        rep.msg[i] = HOSTILE[i % (sizeof(HOSTILE) - 1)];
    int bad = fd < 0 || recv(fd, &h, sizeof(h), MSG_WAITALL) != (ssize_t)sizeof(h) ||
              send(fd, &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep);
    close(fd);
    close(lfd);
    return bad;
}

static int child(const struct proc *p, int port, double timeout)
{
    if (p->delay_s > 0)
        usleep((useconds_t)(p->delay_s * 1e6));
    if (p->rank < 0)
        return stray(port, -p->rank);
    if (p->old_build)
        return old_build(port, p->old_build, p->world, p->key, p->expect);
    if (p->fake == FAKE_PEER)
        return fake_peer(port, p);
    if (p->fake == FAKE_RANK0)
        return fake_rank0(port);
    if (p->die_s > 0) {   /* replaces the scenario's alarm */
        signal(SIGALRM, SIG_DFL);
        arm(p->die_s);
    }
    if (p->stop_s > 0) {
        signal(SIGALRM, on_alarm);
        arm(p->stop_s);
    }
    unsigned char pay[TR_RDZV_PAYLOAD];
    int stop_sig = 0;
    for (int i = 0; i < TR_RDZV_PAYLOAD; i++)
        pay[i] = p->rank == 0 ? payload_of(i) : 0;
    struct tr_rdzv_opts o = { .addr = p->addr ? p->addr : "127.0.0.1", .port = port, .rank = p->rank,
                              .world = p->world, .local_rank = -1, .job_key = p->key,
                              .config = p->config ? p->config : CFG,
                              .host = p->host ? p->host : "testhost",
                              .timeout_s = timeout, .report_s = p->report_s,
                              .stop = p->stop_s > 0 ? &stop_flag : NULL,
                              .stop_sig = &stop_sig };
    tr_rdzv *r;
    FILE *log = p->report ? tmpfile() : NULL;
    int saved = log ? dup(2) : -1;
    if (log)
        dup2(fileno(log), 2);
    int err = tr_rdzv_open(&o, pay, &r);
    if (log) {
        char text[4096];
        dup2(saved, 2);
        stderr_text(fileno(log), text, sizeof(text));
        if (!strstr(text, p->report) || (p->report2 && !strstr(text, p->report2))) {
            fprintf(stderr, "rank %d: no progress line with \"%s\" and \"%s\" in:\n%s\n",
                    p->rank, p->report, p->report2 ? p->report2 : "", text);
            return 1;
        }
    }
    if (p->lookups && n_lookups != p->lookups) {
        fprintf(stderr, "rank %d: %d name lookups of '%s', not %d\n", p->rank, n_lookups,
                o.addr, p->lookups);
        return 1;
    }
    if (p->expect) {
        if (!err && p->after == STAY)
            tr_rdzv_close(r);
        if (err == INGOT_E_INTERRUPTED && p->code == err && stop_sig != SIGTERM) {
            fprintf(stderr, "rank %d: stopped by SIGTERM, but the rendezvous says signal %d\n",
                    p->rank, stop_sig);
            return 1;
        }
        if (err && strstr(ingot_errmsg(), p->expect) && (!p->code || err == p->code) &&
            !raw_in(ingot_errmsg()))
            return 0;
        fprintf(stderr, "rank %d: expected \"%s\" (code %d), got %d: %s\n", p->rank, p->expect,
                p->code, err, err ? ingot_errmsg() : "success");
        return 1;
    }
    if (err) {
        fprintf(stderr, "rank %d: %s\n", p->rank, ingot_errmsg());
        return 1;
    }
    for (int i = 0; i < TR_RDZV_PAYLOAD; i++)
        if (pay[i] != payload_of(i)) {
            fprintf(stderr, "rank %d: payload byte %d is %d\n", p->rank, i, pay[i]);
            return 1;
        }
    if (tr_rdzv_local_rank(r) != p->local_rank || tr_rdzv_local_world(r) != p->world) {
        fprintf(stderr, "rank %d: local rank %d of %d\n", p->rank, tr_rdzv_local_rank(r),
                tr_rdzv_local_world(r));
        return 1;
    }
    if (p->after == LEAVE)
        _exit(0);   /* dies without a word: the others must notice */
    if (p->after == HANG) {   /* alive, silent: the others must not wait for ever */
        usleep((useconds_t)((timeout + TR_RDZV_GRACE_S + 1.0) * 1e6));
        _exit(0);
    }
    /* gather every rank's number at rank 0, which sends back the sum */
    int mine = 10 + p->rank, all[8], sum = 0;
    err = tr_rdzv_gather(r, &mine, sizeof(mine), all, "test gather");
    if (!err && p->rank == 0)
        for (int i = 0; i < p->world; i++)
            sum += all[i];
    if (!err)
        err = tr_rdzv_bcast(r, &sum, sizeof(sum), "test bcast");
    tr_rdzv_close(r);
    if (p->after_expect) {
        if (err && strstr(ingot_errmsg(), p->after_expect) && !raw_in(ingot_errmsg()))
            return 0;
        fprintf(stderr, "rank %d: expected \"%s\" after, got %d: %s\n", p->rank,
                p->after_expect, err, err ? ingot_errmsg() : "success");
        return 1;
    }
    if (err || sum != 10 * p->world + p->world * (p->world - 1) / 2) {
        fprintf(stderr, "rank %d: gather/bcast: err %d (%s), sum %d\n", p->rank, err,
                err ? ingot_errmsg() : "", sum);
        return 1;
    }
    return 0;
}

/* Run the processes, wait for all; each must exit 0 and the whole within limit_s. */
static void scenario(const char *name, const struct proc *ps, int n, double timeout,
                     double limit_s)
{
    int port = dist_free_port();
    pid_t pids[8];
    double t0 = mono_now();
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (!pids[i]) {
            alarm((unsigned)limit_s + 5);
            _exit(child(&ps[i], port, timeout));
        }
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int st;
        CHECK(waitpid(pids[i], &st, 0) == pids[i]);
        if (ps[i].die_s > 0 ? !WIFSIGNALED(st) || WTERMSIG(st) != SIGALRM :
                              !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "%s: process %d (rank %d) failed (status %#x)\n", name, i,
                    ps[i].rank, st);
            bad = 1;
        }
    }
    double dt = mono_now() - t0;
    if (bad || dt > limit_s) {
        fprintf(stderr, "%s: %s after %.2f s (limit %.1f s)\n", name, bad ? "failed" : "too slow",
                dt, limit_s);
        exit(1);
    }
    printf("%-28s ok (%.2f s)\n", name, dt);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const uint64_t K = 0x1234;
    /* three ranks, rank 0 late: clients retry */
    scenario("three ranks", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .delay_s = 0.3, .local_rank = 0 },
        { .rank = 1, .world = 3, .key = K, .local_rank = 1 },
        { .rank = 2, .world = 3, .key = K, .local_rank = 2 } }, 3, 10.0, 5.0);
    scenario("one rank", (struct proc[]){ { .rank = 0, .world = 1, .key = K } }, 1, 1.0, 2.0);
    /* silent connections beside the ranks: each once held the rendezvous up
     * for 5 s (its hello read before the next accept), so rank 1 "never
     * arrived" within the timeout */
    scenario("three silent strays", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .local_rank = 0 },
        { .rank = -1, .delay_s = 0.05 }, { .rank = -1, .delay_s = 0.05 },
        { .rank = -1, .delay_s = 0.05 },
        { .rank = 1, .world = 2, .key = K, .delay_s = 0.3, .local_rank = 1 } }, 5, 1.5, 2.5);
    scenario("duplicate rank", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .delay_s = 0.2, .expect = "rank 1 arrived twice" },
        { .rank = 1, .world = 3, .key = K, .expect = "arrived twice" },
        { .rank = 1, .world = 3, .key = K, .expect = "arrived twice" } }, 3, 5.0, 5.0);
    /* the second rank 0 finds the port taken; the holder's answer names both */
    /* more silent connections than rank 0 reads side by side (64): the
     * oldest give way, so rank 1 behind them is still read */
    scenario("70 silent connections", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .local_rank = 0 },
        { .rank = -70, .delay_s = 0.05 },
        { .rank = 1, .world = 2, .key = K, .delay_s = 0.5, .local_rank = 1 } }, 3, 1.5, 3.0);
    scenario("two rank 0", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .expect = "two processes are rank 0" },
        { .rank = 0, .world = 2, .key = K, .delay_s = 0.2, .expect = "two processes are rank 0" } },
        2, 3.0, 3.0);
    scenario("wrong world size", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .expect = "rank 1 on host testhost says the world "
          "has 3 ranks, rank 0 says 2" },
        { .rank = 1, .world = 3, .key = K, .delay_s = 0.1, .expect = "says the world has 3" } },
        2, 5.0, 5.0);
    scenario("configuration mismatch", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .expect = "rank 2 on host testhost runs another "
          "configuration: it has 'batch=8', rank 0 has 'batch=4'" },
        { .rank = 1, .world = 3, .key = K, .delay_s = 0.1, .expect = "rank 2" },
        { .rank = 2, .world = 3, .key = K, .delay_s = 0.2,
          .config = "model=L2,H2,C64 batch=8 batch-tokens=1024 data=synthetic",
          .expect = "'batch=8', rank 0 has 'batch=4'" } }, 3, 5.0, 5.0);
    scenario("another job on the port", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .local_rank = 0 },
        { .rank = 1, .world = 2, .key = 99, .delay_s = 0.1, .expect = "belongs to another job" },
        { .rank = 1, .world = 2, .key = K, .delay_s = 0.5, .local_rank = 1 } }, 3, 5.0, 5.0);
    /* a rank of another build is named at once (it was read as a stray: the
     * rank "never arrived" after --dist-timeout) */
    scenario("rank of an older build", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .expect = "rank 1 on host oldhost runs another "
          "Ingot build (rendezvous protocol 1, rank 0's 3)" },
        { .old_build = 1, .world = 2, .key = K, .delay_s = 0.1,
          .expect = "runs another Ingot build" } }, 2, 10.0, 3.0);
    scenario("rank never comes", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .expect = "rank 2 never arrived" },
        { .rank = 1, .world = 3, .key = K, .expect = "rank 2 never arrived" } }, 2, 1.0, 3.0);
    /* a long wait says, while it waits, whom it waits for */
    scenario("progress while waiting", (struct proc[]){
        { .rank = 0, .world = 4, .key = K, .expect = "ranks 2, 3 never arrived",
          .report_s = 0.5, .report = "ingot-train: rendezvous: 2 of 4 ranks present after ",
          .report2 = " s, waiting for ranks 2, 3 (up to " },
        { .rank = 1, .world = 4, .key = K, .expect = "ranks 2, 3 never arrived" } },
        2, 2.0, 4.0);
    scenario("progress, rank 0 absent", (struct proc[]){
        { .rank = 1, .world = 2, .key = K, .report_s = 0.5, .addr = "localhost",
          .report = "rank 1 cannot reach rank 0 at localhost:",
          .report2 = "(not listening yet, or unreachable, at 127.0.0.1); retrying",
          .expect = "could not reach rank 0" } }, 1, 1.5, 4.0);
    scenario("rank 0 absent", (struct proc[]){
        { .rank = 1, .world = 2, .key = K, .expect = "could not reach rank 0 at 127.0.0.1" } },
        1, 0.7, 3.0);
    /* ~8 connection attempts in 2 s, the name looked up once (it was looked
     * up before each: a slow resolver delayed Ctrl-C, and many ranks asked
     * it every second) */
    scenario("rank 0 absent, by name", (struct proc[]){
        { .rank = 1, .world = 2, .key = K, .addr = "localhost", .lookups = 1,
          .expect = "could not reach rank 0 at localhost" } }, 1, 2.0, 4.0);
    scenario("rank dies after rendezvous", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .local_rank = 0,
          .after_expect = "rank 1 (testhost) closed the connection" },
        { .rank = 1, .world = 3, .key = K, .local_rank = 1, .after = LEAVE },
        { .rank = 2, .world = 3, .key = K, .local_rank = 2,
          .after_expect = "rank 2 (testhost): test bcast: rank 1 (testhost) closed the "
          "connection (the process ended?), rank 0 (testhost) reports" } }, 3, 3.0, 5.0);
    /* the others talk to rank 0 alone: they named rank 0 ("closed the connection",
     * "did not answer in time") for the rank that rank 0 lost; rank 0 tells them */
    scenario("rank hangs after rendezvous", (struct proc[]){
        { .rank = 0, .world = 4, .key = K, .local_rank = 0,
          .after_expect = "rank 0 (testhost): test gather: rank 2 (testhost) did not answer "
          "in time" },
        { .rank = 1, .world = 4, .key = K, .local_rank = 1,
          .after_expect = "rank 1 (testhost): test bcast: rank 2 (testhost) did not answer "
          "in time, rank 0 (testhost) reports" },
        { .rank = 2, .world = 4, .key = K, .local_rank = 2, .after = HANG },
        { .rank = 3, .world = 4, .key = K, .local_rank = 3,
          .after_expect = "rank 3 (testhost): test bcast: rank 2 (testhost) did not answer "
          "in time, rank 0 (testhost) reports" } }, 4, 1.0, 6.0);
    /* a rank present that leaves before the verdict: rank 0 counted it to
     * the deadline (10 s here; rank 3 never comes) and said "2 of 4 ranks
     * present" of the ranks left; now it fails at once, naming the rank,
     * its host and, for a signal, the signal, and so does every rank
     * present (exit 128 + N for signal N, rank 0 and rank 2 as rank 1: a stop
     * by signal is collective) */
    scenario("rank stopped before verdict", (struct proc[]){
        { .rank = 0, .world = 4, .key = K, .code = INGOT_E_INTERRUPTED,
          .expect = "rendezvous: rank 1 (testhost) was stopped by a signal (SIGTERM) before the "
          "rendezvous completed (2 of 4 ranks present without it); the ranks present stop with "
          "it" },
        { .rank = 1, .world = 4, .key = K, .stop_s = 0.5, .code = INGOT_E_INTERRUPTED,
          .expect = "rank 1 stopped by a signal (SIGTERM) while waiting for rank 0's verdict" },
        { .rank = 2, .world = 4, .key = K, .code = INGOT_E_INTERRUPTED,
          .expect = "rank 2 (testhost): rendezvous: rank 1 (testhost) was stopped by a signal "
          "(SIGTERM) before the rendezvous completed (2 of 4 ranks present without it); this "
          "rank stops with it" } }, 3, 10.0, 3.0);
    scenario("rank dies before verdict", (struct proc[]){
        { .rank = 0, .world = 4, .key = K, .code = -EPIPE,
          .expect = "rendezvous: rank 1 (testhost) left before the rendezvous completed: its "
          "connection closed (the process ended? read its output); 2 of 4 ranks present "
          "without it" },
        { .rank = 1, .world = 4, .key = K, .die_s = 0.5 },
        { .rank = 2, .world = 4, .key = K, .code = -EPIPE,
          .expect = "rank 2 (testhost): rendezvous: rank 1 (testhost) left before the "
          "rendezvous completed" } }, 3, 10.0, 3.0);
    /* rank 0 stopped: the others name it (each said "rendezvous: stopped by
     * a signal", as if it had been signalled itself) */
    scenario("rank 0 stopped", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .stop_s = 0.5, .code = INGOT_E_INTERRUPTED,
          .expect = "rendezvous: stopped by a signal (SIGTERM) while waiting for the ranks (2 of "
          "3 present); the ranks present stop with it" },
        { .rank = 1, .world = 3, .key = K, .code = INGOT_E_INTERRUPTED,
          .expect = "rank 1 (testhost): rendezvous: rank 0 (testhost) was stopped by a signal "
          "(SIGTERM) while waiting for the ranks (2 of 3 present); this rank stops with it" } },
        2, 10.0, 3.0);
    /* what a peer sends, and MASTER_ADDR, reach messages through
     * term_text(): each went out raw */
    scenario("hostile MASTER_ADDR", (struct proc[]){
        { .rank = 1, .world = 2, .key = K, .addr = HOSTILE,
          .expect = "cannot resolve rank 0's host '" SHOWN_H "' (MASTER_ADDR)" } }, 1, 1.0, 3.0);
    scenario("hostile host in a hello", (struct proc[]){
        { .rank = 0, .world = 2, .key = K, .expect = "rank 1 on host " SHOWN_H SHOWN_H SHOWN_H
          SHOWN_H "x?]0;pw says the world has 3 ranks, rank 0 says 2" },
        { .fake = FAKE_PEER, .world = 3, .key = K, .delay_s = 0.1,
          .expect = "rank 1 on host " SHOWN_H } }, 2, 5.0, 3.0);
    scenario("hostile rank 0's answer", (struct proc[]){
        { .fake = FAKE_RANK0 },
        { .rank = 1, .world = 2, .key = K, .delay_s = 0.2,
          .expect = "rank 1 (testhost): " SHOWN_H SHOWN_H } }, 2, 5.0, 3.0);
    scenario("hostile hosts after rendezvous", (struct proc[]){
        { .rank = 0, .world = 3, .key = K, .local_rank = 0, .host = HOSTILE,
          .after_expect = "rank 0 (" SHOWN_H "): test gather: rank 1 (" SHOWN_H ") closed "
          "the connection" },
        { .rank = 1, .world = 3, .key = K, .local_rank = 1, .after = LEAVE, .host = HOSTILE },
        { .rank = 2, .world = 3, .key = K, .local_rank = 2, .host = HOSTILE,
          .after_expect = "rank 2 (" SHOWN_H "): test bcast: rank 1 (" SHOWN_H ") closed "
          "the connection (the process ended?), rank 0 (" SHOWN_H ") reports" } }, 3, 3.0,
        5.0);
    char msg[128];
    CHECK(!tr_config_diff("a=1 b=2", "a=1 b=2", msg, sizeof(msg)) && !msg[0]);
    CHECK(tr_config_diff("a=1 b=2", "a=1", msg, sizeof(msg)) &&
          !strcmp(msg, "'(nothing)', rank 0 has 'b=2'"));
    /* the words through term_text(), each cut to 128 bytes */
    char word[300];
    memset(word, 'y', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    memcpy(word, "data=", 5);
    char big[512];
    CHECK(tr_config_diff("a=1 data=d", "a=1 data=" HOSTILE " z=1", msg, sizeof(msg)) &&
          !strcmp(msg, "'data=" SHOWN_H "', rank 0 has 'data=d'"));
    CHECK(tr_config_diff("a=1", word, big, sizeof(big)) && strstr(big, "yyy...', rank 0 has "
          "'a=1'") && strlen(big) < 160);
    return 0;
}
