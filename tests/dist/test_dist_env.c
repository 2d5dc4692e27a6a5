/* Table tests of launcher environment discovery (tr_dist_env_read) and Slurm
 * hostlist expansion: every launcher's variables, as they set them. And what
 * ingot-train decides from the launcher's rank and world before the
 * communicator exists (the default batch, who speaks and saves), from the
 * values main() read once and passed down, not from the environment again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_check.h"
#include "tr_dist_env.h"
#include "tr_dist_run.h"

struct env_case {
    const char *name;
    const char *env[16];
    const char *launcher;
    int rank, world, local_rank, local_world;
    const char *addr;
    int port;          /* rendezvous port */
    const char *job;
    const char *err;   /* expected error substring, NULL: success */
};

static const struct env_case env_cases[] = {
    { "nothing", { NULL }, "none", 0, 1, 0, 1, "", 0, "", NULL },
    { "torchrun", { "RANK=3", "WORLD_SIZE=8", "LOCAL_RANK=3", "LOCAL_WORLD_SIZE=8",
      "GROUP_RANK=0", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=29500",
      "TORCHELASTIC_RUN_ID=none", "TORCHELASTIC_USE_AGENT_STORE=True", NULL },
      "torchrun", 3, 8, 3, 8, "127.0.0.1", 29501, "torchrun-none", NULL },
    { "torchrun 2 nodes", { "RANK=9", "WORLD_SIZE=16", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=8",
      "GROUP_RANK=1", "MASTER_ADDR=node7", "MASTER_PORT=1234", "TORCHELASTIC_RUN_ID=job42",
      "TORCHELASTIC_USE_AGENT_STORE=True", NULL },
      "torchrun", 9, 16, 1, 8, "node7", 1235, "torchrun-job42", NULL },
    { "torchrun without agent store", { "RANK=0", "WORLD_SIZE=2", "LOCAL_RANK=0",
      "LOCAL_WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=4000", "TORCHELASTIC_RUN_ID=x",
      "TORCHELASTIC_USE_AGENT_STORE=False", NULL },
      "torchrun", 0, 2, 0, 2, "h", 4000, "torchrun-x", NULL },
    { "plain env", { "RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=10.0.0.1", "MASTER_PORT=5555", NULL },
      "env", 1, 2, -1, -1, "10.0.0.1", 5555, "", NULL },
    { "plain env local", { "RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=2", NULL },
      "env", 1, 2, 1, 2, "127.0.0.1", TR_DIST_DEFAULT_PORT, "", NULL },
    { "port override", { "RANK=0", "WORLD_SIZE=2", "MASTER_PORT=5555", "INGOT_DIST_PORT=7000",
      NULL }, "env", 0, 2, -1, -1, "", 7000, "", NULL },
    /* a launcher's own run id (env-loop.sh): the job key two jobs on one port
     * are told apart by */
    { "plain env, job id", { "RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=2",
      "INGOT_DIST_JOB_ID=run-7", NULL },
      "env", 1, 2, 1, 2, "127.0.0.1", TR_DIST_DEFAULT_PORT, "ingot-run-7", NULL },
    { "open mpi", { "OMPI_COMM_WORLD_RANK=5", "OMPI_COMM_WORLD_SIZE=16",
      "OMPI_COMM_WORLD_LOCAL_RANK=1", "OMPI_COMM_WORLD_LOCAL_SIZE=4", "MASTER_ADDR=n0", NULL },
      "openmpi", 5, 16, 1, 4, "n0", TR_DIST_DEFAULT_PORT, "", NULL },
    { "mpich", { "PMI_RANK=2", "PMI_SIZE=3", "MPI_LOCALRANKID=2", "MPI_LOCALNRANKS=3", NULL },
      "mpich", 2, 3, 2, 3, "127.0.0.1", TR_DIST_DEFAULT_PORT, "", NULL },
    { "slurm srun", { "SLURM_PROCID=6", "SLURM_NTASKS=8", "SLURM_STEP_NUM_TASKS=8",
      "SLURM_LOCALID=2", "SLURM_STEP_NODELIST=gpu[01-02]", "SLURM_JOB_ID=123456",
      "SLURM_STEP_ID=0", NULL },
      "slurm", 6, 8, 2, -1, "gpu01", 20000 + 123456 % 12000, "slurm-123456.0", NULL },
    /* a job id that is not a number: hashed (FNV-1a of "job-a" mod 12000), not
     * 20000 for every such job */
    { "slurm, job id text", { "SLURM_PROCID=1", "SLURM_STEP_NUM_TASKS=2", "SLURM_LOCALID=1",
      "SLURM_STEP_NODELIST=a,b", "SLURM_JOB_ID=job-a", NULL },
      "slurm", 1, 2, 1, -1, "a", 27814, "slurm-job-a.0", NULL },
    { "slurm with MASTER_*", { "SLURM_PROCID=0", "SLURM_STEP_NUM_TASKS=2", "SLURM_LOCALID=0",
      "SLURM_STEP_NODELIST=a,b", "SLURM_JOB_ID=7", "MASTER_ADDR=b", "MASTER_PORT=6000", NULL },
      "slurm", 0, 2, 0, -1, "b", 6000, "slurm-7.0", NULL },
    /* an sbatch script running one process: no step task count */
    { "sbatch script", { "SLURM_PROCID=0", "SLURM_NTASKS=8", "SLURM_JOB_ID=9",
      "SLURM_JOB_NODELIST=gpu[1-2]", NULL }, "none", 0, 1, 0, 1, "", 0, "", NULL },
    /* torchrun's variables win over an outer launcher's */
    { "torchrun inside slurm", { "SLURM_PROCID=0", "SLURM_STEP_NUM_TASKS=2", "RANK=1",
      "WORLD_SIZE=4", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=4", "TORCHELASTIC_RUN_ID=r",
      "MASTER_PORT=100", NULL }, "torchrun", 1, 4, 1, 4, "127.0.0.1", 101, "torchrun-r", NULL },
    { "rank >= world", { "RANK=2", "WORLD_SIZE=2", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK=2 is not below WORLD_SIZE=2: ranks count from 0" },
    { "not a number", { "RANK=x", "WORLD_SIZE=2", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK='x'" },
    { "local rank out of range", { "OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=4",
      "OMPI_COMM_WORLD_LOCAL_RANK=2", "OMPI_COMM_WORLD_LOCAL_SIZE=2", NULL }, NULL, 0, 0, 0, 0,
      NULL, 0, NULL, "OMPI_COMM_WORLD_LOCAL_RANK=2 is not below OMPI_COMM_WORLD_LOCAL_SIZE=2" },
    { "local world above the world", { "RANK=0", "WORLD_SIZE=2", "LOCAL_WORLD_SIZE=3", NULL },
      NULL, 0, 0, 0, 0, NULL, 0, NULL, "LOCAL_WORLD_SIZE=3 is more than WORLD_SIZE=2" },
    /* every launcher's pair: one alone ran one process as if no launcher (audit, session 33) */
    { "OMPI rank alone", { "OMPI_COMM_WORLD_RANK=1", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not" },
    { "PMI_SIZE alone", { "PMI_SIZE=4", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "PMI_SIZE is set but PMI_RANK is not" },
    { "INGOT_DIST_RDZV unknown", { "OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2",
      "INGOT_DIST_RDZV=TCP", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "INGOT_DIST_RDZV='TCP': the one value is tcp" },
    { "INGOT_DIST_RDZV=tcp", { "RANK=0", "WORLD_SIZE=1", "INGOT_DIST_RDZV=tcp", NULL }, "env",
      0, 1, 0, -1, "", 0, "", NULL },
    { "SLURM_STEP_NUM_TASKS alone", { "SLURM_STEP_NUM_TASKS=4", NULL }, NULL, 0, 0, 0, 0, NULL,
      0, NULL, "SLURM_STEP_NUM_TASKS is set but SLURM_PROCID is not" },
    { "bad port", { "RANK=0", "WORLD_SIZE=2", "MASTER_PORT=70000", NULL }, NULL, 0, 0, 0, 0,
      NULL, 0, NULL, "MASTER_PORT='70000'" },
    { "zero world", { "RANK=0", "WORLD_SIZE=0", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "WORLD_SIZE='0'" },
    /* one of the pair alone: N independent processes into one output (audit 2) */
    { "WORLD_SIZE alone", { "WORLD_SIZE=2", "MASTER_ADDR=h", NULL }, NULL, 0, 0, 0, 0, NULL, 0,
      NULL, "WORLD_SIZE is set but RANK is not" },
    { "RANK alone", { "RANK=1", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK is set but WORLD_SIZE is not" },
    { "WORLD_SIZE=1 alone", { "WORLD_SIZE=1", NULL }, "none", 0, 1, 0, 1, "", 0, "", NULL },
    /* a stray one-process world over a launcher's larger one: each task
     * would train alone into the same outputs */
    { "stray RANK/WORLD_SIZE under srun", { "RANK=0", "WORLD_SIZE=1", "SLURM_PROCID=1",
      "SLURM_STEP_NUM_TASKS=2", "SLURM_LOCALID=1", "SLURM_STEP_NODELIST=localhost",
      "SLURM_JOB_ID=77", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK=0 WORLD_SIZE=1 say one process, but SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 (slurm) "
      "say 2" },
    { "stray RANK/WORLD_SIZE under mpirun", { "RANK=0", "WORLD_SIZE=1",
      "OMPI_COMM_WORLD_RANK=3", "OMPI_COMM_WORLD_SIZE=4", NULL }, NULL, 0, 0, 0, 0, NULL, 0,
      NULL, "OMPI_COMM_WORLD_SIZE=4 (openmpi) say 4: each of those processes would train alone" },
    /* the same worlds agreeing, or torchrun's larger one in a one-task step */
    { "one process in a one-task srun step", { "RANK=0", "WORLD_SIZE=1", "SLURM_PROCID=0",
      "SLURM_STEP_NUM_TASKS=1", NULL }, "env", 0, 1, 0, -1, "", 0, "", NULL },
    { "torchrun in a one-task srun step", { "SLURM_PROCID=0", "SLURM_STEP_NUM_TASKS=1",
      "RANK=3", "WORLD_SIZE=8", "LOCAL_RANK=3", "LOCAL_WORLD_SIZE=8", "TORCHELASTIC_RUN_ID=r",
      NULL }, "torchrun", 3, 8, 3, 8, "127.0.0.1", TR_DIST_DEFAULT_PORT, "torchrun-r", NULL },
    /* blanks on either side are refused alike (strtol skips leading ones) */
    { "leading blank", { "RANK= 1", "WORLD_SIZE=2", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK=' 1' is not an integer" },
    { "trailing blank", { "RANK=1 ", "WORLD_SIZE=2", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "RANK='1 ' is not an integer" },
    /* only rank 0's host is wanted from a huge node list */
    { "slurm huge node list", { "SLURM_PROCID=1", "SLURM_STEP_NUM_TASKS=2",
      "SLURM_STEP_NODELIST=n[0-999999]x[0-999999]", "SLURM_JOB_ID=77", NULL },
      "slurm", 1, 2, -1, -1, "n0x0", 20077, "slurm-77.0", NULL },
    { "slurm bad job node list", { "SLURM_PROCID=1", "SLURM_STEP_NUM_TASKS=2",
      "SLURM_JOB_NODELIST=gpu[1-", NULL }, NULL, 0, 0, 0, 0, NULL, 0, NULL,
      "SLURM_JOB_NODELIST: hostlist: 'gpu[1-' has an unclosed" },
};

static void check_env(const struct env_case *c)
{
    struct tr_dist_env e;
    ingot_clear_err();
    int err = tr_dist_env_read(c->env, &e);
    if (c->err) {
        if (err != INGOT_E_USAGE || !strstr(ingot_errmsg(), c->err)) {
            fprintf(stderr, "%s: expected an error with \"%s\", got %d: %s\n", c->name, c->err,
                    err, ingot_errmsg());
            exit(1);
        }
        return;
    }
    if (err || strcmp(e.launcher, c->launcher) || e.rank != c->rank || e.world != c->world ||
        e.local_rank != c->local_rank || e.local_world != c->local_world ||
        strcmp(e.master_addr, c->addr) || (c->world > 1 && e.rdzv_port != c->port) ||
        strcmp(e.job_id, c->job)) {
        fprintf(stderr, "%s: got err %d launcher %s rank %d/%d local %d/%d addr '%s' port %d "
                "job '%s'\n", c->name, err, e.launcher, e.rank, e.world, e.local_rank,
                e.local_world, e.master_addr, e.rdzv_port, e.job_id);
        exit(1);
    }
}

struct host_case {
    const char *list;
    size_t count;
    const char *nth[6];   /* first hosts, then the last one */
    const char *err;
};

static const struct host_case host_cases[] = {
    { "gpu[01-04,07]", 5, { "gpu01", "gpu02", "gpu03", "gpu04", "gpu07" }, NULL },
    { "login1", 1, { "login1" }, NULL },
    { "a,b[8-10],c", 5, { "a", "b8", "b9", "b10", "c" }, NULL },
    { "n[1-2]-ib[0-1]", 4, { "n1-ib0", "n1-ib1", "n2-ib0", "n2-ib1" }, NULL },
    { "x[009-011]", 3, { "x009", "x010", "x011" }, NULL },
    { "gpu[01-04", 0, { NULL }, "unclosed" },
    { "gpu[4-1]", 0, { NULL }, "bad range" },
    { "gpu[a]", 0, { NULL }, "expected a number" },
    /* digits only: strtoul's sign and blanks made "n[-1]" host n18446744073709551615 */
    { "n[-1]", 0, { NULL }, "expected a number" },
    { "n[ 1]", 0, { NULL }, "expected a number" },
    { "n[+1-3]", 0, { NULL }, "expected a number" },
    { "n[1- 3]", 0, { NULL }, "bad range" },
    { "a,,b", 0, { NULL }, "empty host name" },
    { "", 0, { NULL }, "empty" },
    /* counted, not expanded, past the wanted host */
    { "n[0-999999]x[0-999999]", (size_t)1000000 * 1000000, { "n0x0", "n0x1", "n0x2" }, NULL },
    { "a[0-999999],b[0-999999]", 2000000, { "a0", "a1" }, NULL },
};

static void check_hosts(const struct host_case *c)
{
    char out[64];
    size_t n = 0;
    if (c->err) {
        CHECK_FAIL(tr_hostlist_nth(c->list, 0, out, sizeof(out), &n), INGOT_E_USAGE, c->err);
        return;
    }
    for (size_t i = 0; i < c->count && c->nth[i]; i++) {
        CHECK_OK(tr_hostlist_nth(c->list, i, out, sizeof(out), &n));
        if (n != c->count || strcmp(out, c->nth[i])) {
            fprintf(stderr, "hostlist %s [%zu]: got '%s' of %zu, want '%s' of %zu\n", c->list,
                    i, out, n, c->nth[i], c->count);
            exit(1);
        }
    }
    CHECK(tr_hostlist_nth(c->list, c->count, out, sizeof(out), &n) == -ERANGE);
    CHECK(n == c->count);
}

/* The message holds none of the bytes that act on a terminal: ESC, BEL,
 * U+202E (a right-to-left override). */
static void shown_safe(const char *what)
{
    const char *m = ingot_errmsg();
    if (strchr(m, '\x1b') || strchr(m, '\a') || strstr(m, "\xe2\x80\xae")) {
        fprintf(stderr, "%s: a raw byte reached the message: %s\n", what, m);
        exit(1);
    }
}

/* A launcher's variables hold what a script or a broken launcher put there:
 * the hostlist's messages quoted SLURM_STEP_NODELIST (and a host name of
 * it) raw, an escape sequence included, and whole: a long list pushed the
 * hint off the end of the message. Through term_text() now, each value cut
 * to 128 bytes. */
static void hostile_env(void)
{
/* ESC c (a terminal's reset), BEL, U+202E; no bracket, which a hostlist reads */
#define HOSTILE "\x1b" "cpwned\a\xe2\x80\xae"
#define SHOWN_H "?cpwned??"
    const char *nodes[] = { "SLURM_PROCID=1", "SLURM_STEP_NUM_TASKS=2",
                            "SLURM_STEP_NODELIST=gpu" HOSTILE "[1-", NULL };
    struct tr_dist_env e;
    CHECK_FAIL(tr_dist_env_read(nodes, &e), INGOT_E_USAGE, "environment: SLURM_STEP_NODELIST: "
               "hostlist: 'gpu" SHOWN_H "[1-' has an unclosed or empty '['");
    shown_safe("a hostile SLURM_STEP_NODELIST");
    struct { const char *list, *says; } lists[] = {
        { "a" HOSTILE ",b]", "hostlist: 'a" SHOWN_H ",b]': unbalanced brackets" },
        { "a,," HOSTILE, "hostlist: 'a,," SHOWN_H "': empty host name" },
        { "n" HOSTILE "[x]", "hostlist: 'n" SHOWN_H "[x]': expected a number after 'n"
          SHOWN_H "['" },
        { "n" HOSTILE "[2-1]", "hostlist: 'n" SHOWN_H "[2-1]': bad range" },
        { "n" HOSTILE "[1\x1b]", "hostlist: 'n" SHOWN_H "[1?]': unexpected '?'" },
    };
    char out[64];
    size_t n;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        CHECK_FAIL(tr_hostlist_nth(lists[i].list, 0, out, sizeof(out), &n), INGOT_E_USAGE,
                   lists[i].says);
        shown_safe(lists[i].list);
    }
    char small[8];
    CHECK_FAIL(tr_hostlist_nth("ab" HOSTILE "cdefgh", 0, small, sizeof(small), &n),
               INGOT_E_USAGE, "host name 'ab" SHOWN_H "cdefgh' longer than 7 bytes");
    shown_safe("a long hostile host name");
    /* a list of 4000 bytes: shown cut, the hint after it still there */
    static char big[4100] = "SLURM_STEP_NODELIST=";
    memset(big + 20, 'x', 4000);
    strcpy(big + 4020, HOSTILE "[1-");
    const char *bigenv[] = { "SLURM_PROCID=1", "SLURM_STEP_NUM_TASKS=2", big, NULL };
    CHECK_FAIL(tr_dist_env_read(bigenv, &e), INGOT_E_USAGE, "xxx...' has an unclosed or "
               "empty '['; set MASTER_ADDR to rank 0's host to bypass it");
    CHECK(strlen(ingot_errmsg()) < 400);
    shown_safe("a long SLURM_STEP_NODELIST");
    /* the integers a launcher sets, likewise */
    static char rank[4100] = "RANK=";
    memset(rank + 5, '1', 4000);
    strcpy(rank + 4005, HOSTILE);
    const char *rankenv[] = { rank, "WORLD_SIZE=2", NULL };
    CHECK_FAIL(tr_dist_env_read(rankenv, &e), INGOT_E_USAGE, "111...' is not an integer in "
               "[0, 1048576]; the launcher (or your script) set it wrong");
    shown_safe("a long RANK");
    const char *stray[] = { "RANK=0", "WORLD_SIZE=1", "OMPI_COMM_WORLD_RANK=1" HOSTILE,
                            "OMPI_COMM_WORLD_SIZE=4", NULL };
    CHECK_FAIL(tr_dist_env_read(stray, &e), INGOT_E_USAGE, "OMPI_COMM_WORLD_RANK=1" SHOWN_H
               " OMPI_COMM_WORLD_SIZE=4 (openmpi) say 4");
    shown_safe("a hostile stray rank");
#undef HOSTILE
#undef SHOWN_H
}

/* The launcher's world and rank as passed down: the process environment
 * (here another launcher's, WORLD_SIZE=2 RANK=1) is not read again. */
static void passed_down(void)
{
    CHECK(setenv("RANK", "1", 1) == 0 && setenv("WORLD_SIZE", "2", 1) == 0);
    struct tr_opts o = { .dist = "auto", .derived = TR_DERIVED_BATCH_TOKENS, .batch = 2,
                         .seq_len = 16, .batch_tokens = 32, .grad_accum = 1 };
    tr_dist_run_default_batch(&o, 3);   /* one micro-step per rank: 3 */
    CHECK(o.grad_accum == 3 && o.batch_tokens == 96);
    tr_dist_run_default_batch(&o, 1);   /* one process: as it was */
    CHECK(o.grad_accum == 3 && o.batch_tokens == 96);
    struct tr_opts given = o;   /* a --batch-tokens given (or a checkpoint's) stays */
    given.derived = 0;
    tr_dist_run_default_batch(&given, 4);
    CHECK(given.grad_accum == 3 && given.batch_tokens == 96);
    struct tr_opts none = o;    /* --dist none: every process is a run of its own */
    none.dist = "none";
    tr_dist_run_default_batch(&none, 4);
    CHECK(none.grad_accum == 3);
    CHECK(tr_dist_run_first(&o, 0) && !tr_dist_run_first(&o, 1));
    CHECK(tr_dist_run_first(&none, 1));
    CHECK(unsetenv("RANK") == 0 && unsetenv("WORLD_SIZE") == 0);
}

/* Another launcher's variables saying another rank of a world as large: used
 * not, but noted (a leftover RANK=1 WORLD_SIZE=2 under a 2-task srun step made
 * two processes rank 1); torchrun's larger world inside srun, or the same
 * rank and world, give no note. */
static void other_launcher_noted(void)
{
    struct tr_dist_env e;
    const char *leftover[] = { "RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
                               "SLURM_PROCID=0", "SLURM_STEP_NUM_TASKS=2", NULL };
    CHECK_OK(tr_dist_env_read(leftover, &e));
    CHECK(e.rank == 1 && e.world == 2 && !strcmp(e.launcher, "env"));
    CHECK(strstr(e.note, "also set, not used: SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=2 (slurm); "
                         "this process is rank 1 of 2 from RANK and WORLD_SIZE (env)") != NULL);
    const char *nested[] = { "SLURM_PROCID=0", "SLURM_STEP_NUM_TASKS=2", "RANK=1",
                             "WORLD_SIZE=4", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=4",
                             "TORCHELASTIC_RUN_ID=r", NULL };
    CHECK_OK(tr_dist_env_read(nested, &e));
    CHECK(e.note[0] == '\0');
    const char *same[] = { "RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=h", "SLURM_PROCID=1",
                           "SLURM_STEP_NUM_TASKS=2", NULL };
    CHECK_OK(tr_dist_env_read(same, &e));
    CHECK(e.note[0] == '\0');
}

int main(void)
{
    other_launcher_noted();
    for (size_t i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++)
        check_env(&env_cases[i]);
    passed_down();
    hostile_env();
    for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
        check_hosts(&host_cases[i]);
    char small[4];
    size_t n;
    CHECK_FAIL(tr_hostlist_nth("longname", 0, small, sizeof(small), &n), INGOT_E_USAGE,
               "longer than 3 bytes");
    /* the first host of 10^12 at once, a later one by expanding up to it */
    char out[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(tr_hostlist_nth("n[0-999999]x[0-999999]", 0, out, sizeof(out), &n));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(!strcmp(out, "n0x0"));
    CHECK((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) < 1.0);
    CHECK_OK(tr_hostlist_nth("n[0-999999]x[0-999999]", 1000001, out, sizeof(out), &n));
    CHECK(!strcmp(out, "n1x1") && n == (size_t)1000000 * 1000000);
    /* no more than TR_HOSTLIST_MAX_EXPAND names are expanded */
    CHECK_FAIL(tr_hostlist_nth("a[0-999999],b[0-999999]", TR_HOSTLIST_MAX_EXPAND, out,
                               sizeof(out), &n), INGOT_E_USAGE, "only the first 1048576 names");
    /* a name too long is refused whichever host is wanted */
    static char longlist[1200] = "a,b[1-2]";
    memset(longlist + 8, 'x', sizeof(longlist) - 9);
    CHECK_FAIL(tr_hostlist_nth(longlist, 0, out, sizeof(out), &n), INGOT_E_USAGE,
               "longer than 1023 bytes");
    CHECK(tr_dist_hash("a") != tr_dist_hash("b"));
    printf("dist_env: %zu environments, %zu hostlists ok\n",
           sizeof(env_cases) / sizeof(env_cases[0]), sizeof(host_cases) / sizeof(host_cases[0]));
    return 0;
}
