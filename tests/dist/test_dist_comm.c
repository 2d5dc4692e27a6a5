/* The communicator table (tr_dist.h) with real processes: the tcp transport
 * on forked ranks (means, vote, check naming the rank, the watchdog ending a
 * rank that stops making progress), the none transport, and -- run as
 * `test_dist_comm --launched` under mpirun -- whatever --dist auto picks
 * from the launcher's environment (mpi). */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mono_clock.h"
#include "dist_test.h"
#include "test_check.h"
#include "tr_dist.h"

extern char **environ;

/* The collectives every transport must get right, from any rank. */
static int exercise(tr_dist *d)
{
    int r = tr_dist_rank(d), w = tr_dist_world(d);
    float f[5];
    double g[2] = { r, 1.0 / (r + 1) };
    for (int i = 0; i < 5; i++)
        f[i] = (float)(r * 10 + i);
    CHECK_OK(tr_dist_mean_f32(d, f, 5));
    CHECK_OK(tr_dist_mean_f64(d, g, 2));
    double h = 0.0;
    for (int i = 0; i < w; i++)
        h += 1.0 / (i + 1);
    for (int i = 0; i < 5; i++)
        CHECK(fabsf(f[i] - (float)(5 * (w - 1) + i)) < 1e-5f);
    CHECK(fabs(g[0] - (w - 1) / 2.0) < 1e-12 && fabs(g[1] - h / w) < 1e-12);
    /* --zero 1's collectives: reduce-scatter (mean of this rank's shard),
     * all-gather (every shard everywhere), sums and a broadcast */
    enum { SHARD = 3, MAXW = 8 };
    float z[SHARD * MAXW];
    CHECK(w <= MAXW);
    for (int i = 0; i < SHARD * w; i++)
        z[i] = (float)(r * 100 + i);
    CHECK_OK(tr_dist_reduce_scatter_f32(d, z, SHARD));
    for (int j = 0; j < SHARD; j++)
        CHECK(fabsf(z[r * SHARD + j] - (50.0f * (w - 1) + (float)(r * SHARD + j))) < 1e-4f);
    for (int i = 0; i < SHARD * w; i++)
        z[i] = i / SHARD == r ? (float)(r * 10 + i % SHARD) : -1.0f;
    CHECK_OK(tr_dist_all_gather_f32(d, z, SHARD));
    for (int i = 0; i < SHARD * w; i++)
        CHECK(z[i] == (float)(i / SHARD * 10 + i % SHARD));
    double sum = r + 1.0;
    CHECK_OK(tr_dist_sum_f64(d, &sum, 1));
    CHECK(sum == w * (w + 1) / 2.0);
    int word = r == 0 ? 4242 : r;
    CHECK_OK(tr_dist_bcast(d, &word, sizeof(word), "test"));
    CHECK(word == 4242);
    /* the stop vote: none asks; then the last rank's signal, named to all */
    struct tr_dist_stop v = { 0 };
    CHECK_OK(tr_dist_stop_vote(d, &v, &v, "vote"));
    CHECK(!v.asked && v.who == -1 && !v.time_up);
    v = (struct tr_dist_stop){ .cause = r == w - 1 ? 15 : 0, .time_up = r == 0 };
    CHECK_OK(tr_dist_stop_vote(d, &v, &v, "vote"));
    CHECK(v.asked == 1 && v.who == w - 1 && v.cause == 15 && v.time_up);
    CHECK_OK(tr_dist_check(d, "step=4 data=x", "resume point"));
    if (w > 1)
        CHECK_FAIL(tr_dist_check(d, r == w - 1 ? "step=0 data=x" : "step=4 data=x",
                                 "resume point"), INGOT_E_MISMATCH, "differs in its resume "
                   "point: it has 'step=0', rank 0 has 'step=4'");
    return 0;
}

enum role { WORK, STALL };

static int tcp_rank(int rank, int world, int port, enum role role, double timeout)
{
    char e_rank[32], e_world[32], e_port[32];
    snprintf(e_rank, sizeof(e_rank), "RANK=%d", rank);
    snprintf(e_world, sizeof(e_world), "WORLD_SIZE=%d", world);
    snprintf(e_port, sizeof(e_port), "MASTER_PORT=%d", port);
    const char *env[] = { e_rank, e_world, e_port, "MASTER_ADDR=127.0.0.1", NULL };
    struct tr_dist_opts o = { .mode = "auto", .config = "model=x batch=2", .timeout_s = timeout,
                              .envp = env };
    tr_dist *d;
    CHECK_OK(tr_dist_open(&o, &d));
    CHECK(!strcmp(tr_dist_name(d), "tcp") && tr_dist_rank(d) == rank &&
          tr_dist_world(d) == world && tr_dist_local_rank(d) == rank);
    if (role == STALL) {
        /* no progress: the watchdog must end this process (status 3) */
        sleep(20);
        return 1;
    }
    tr_dist_progress(d, 1, "exercise");
    exercise(d);
    tr_dist_free(d);
    return 0;
}

static void run_tcp(const char *name, int world, int stall_rank, double timeout, int want_stall)
{
    int port = dist_free_port();
    pid_t pid[4];
    double t0 = mono_now();
    for (int i = 0; i < world; i++) {
        if (!(pid[i] = fork())) {
            alarm(30);
            _exit(tcp_rank(i, world, port, i == stall_rank ? STALL : WORK, timeout));
        }
    }
    for (int i = 0; i < world; i++) {
        int st;
        CHECK(waitpid(pid[i], &st, 0) == pid[i]);
        /* with a stalled rank the others must fail too (their exchange
         * times out, or their own watchdog fires first) */
        int want = i == stall_rank ? want_stall : 0;
        bool ok = WIFEXITED(st) && (stall_rank >= 0 && i != stall_rank ? WEXITSTATUS(st) != 0 :
                                    WEXITSTATUS(st) == want);
        if (!ok) {
            fprintf(stderr, "%s: rank %d ended with status %#x, want exit %s%d\n", name, i, st,
                    stall_rank >= 0 && i != stall_rank ? "not " : "", want);
            exit(1);
        }
    }
    printf("%-24s ok (%.2f s)\n", name, mono_now() - t0);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && !strcmp(argv[1], "--launched")) {
        struct tr_dist_opts o = { .mode = "auto", .config = "same everywhere", .timeout_s = 30,
                                  .envp = (const char *const *)environ };
        tr_dist *d;
        CHECK_OK(tr_dist_open(&o, &d));
        exercise(d);
        printf("rank %d of %d over %s (launcher %s): ok\n", tr_dist_rank(d), tr_dist_world(d),
               tr_dist_name(d), tr_dist_launcher(d));
        tr_dist_free(d);
        return 0;
    }
    /* one process: the identity, and no rendezvous */
    const char *none_env[] = { NULL };
    struct tr_dist_opts o = { .mode = "auto", .timeout_s = 1, .envp = none_env };
    tr_dist *d;
    CHECK_OK(tr_dist_open(&o, &d));
    CHECK(!strcmp(tr_dist_name(d), "none") && tr_dist_world(d) == 1);
    exercise(d);
    tr_dist_free(d);
    o.mode = "bogus";
    CHECK_FAIL(tr_dist_open(&o, &d), INGOT_E_USAGE, "--dist bogus: unknown");
    run_tcp("tcp 2 ranks", 2, -1, 10.0, 0);
    run_tcp("tcp 3 ranks", 3, -1, 10.0, 0);
    /* rank 1 stalls: its watchdog ends it with status 3 after ~1 s, and
     * rank 0 fails as well rather than wait forever */
    double t0 = mono_now();
    run_tcp("watchdog", 2, 1, 1.0, 3);
    CHECK(mono_now() - t0 < 5.0);
    return 0;
}
