/* Launcher environments -> world description (tr_dist_env.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "term_text.h"
#include "tr_dist_env.h"

uint64_t tr_dist_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* The launcher's values (and a hostlist's names) in messages: through
 * term_text(), each cut to SHOWN bytes, so that a variable of any length
 * leaves room for the rest of the message and its hint. */
enum { SHOWN = 128 };
#define SHOW(s) TERM_SHOW_N(s, SHOWN)
#define SHOW_N(s, len) term_text_n((s), (len), (char[SHOWN]){ 0 }, SHOWN)

/* Value of NAME in envp, or NULL. */
static const char *get(const char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* A whole decimal integer: no blanks before (strtol would skip them) or
 * after, nothing else after. */
static bool parse_long(const char *s, long *x)
{
    char *end;
    if (isspace((unsigned char)*s))
        return false;
    errno = 0;
    *x = strtol(s, &end, 10);
    return !errno && end != s && !*end;
}

/* Parse NAME as an integer in [lo, hi] into *v; absent leaves *v. */
static int get_int(const char *const *envp, const char *name, long lo, long hi, int *v)
{
    const char *s = get(envp, name);
    if (!s)
        return 0;
    long x;
    if (!parse_long(s, &x) || x < lo || x > hi)
        return ingot_fail(INGOT_E_USAGE, "environment: %s='%s' is not an integer in [%ld, %ld]; "
                          "the launcher (or your script) set it wrong", name, SHOW(s), lo,
                          hi);
    *v = (int)x;
    return 0;
}

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* One launcher's variable names. */
struct scheme {
    const char *launcher;
    const char *rank, *world, *local_rank, *local_world;
};

static const struct scheme schemes[] = {
    { "env", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE" },
    { "openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
      "OMPI_COMM_WORLD_LOCAL_SIZE" },
    { "mpich", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS" },
    /* srun sets SLURM_STEP_NUM_TASKS for the step it launches; the batch
     * script's environment has SLURM_NTASKS but no step task count */
    { "slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", NULL },
};

/* NAME (an integer, checked by get_int) must be below LIMIT's value: a message
 * naming both ("RANK='2' is not an integer in [0, 1]" never said WORLD_SIZE). */
static int below(const char *name, int v, const char *limit, int lv, const char *what)
{
    if (v < lv)
        return 0;
    return ingot_fail(INGOT_E_USAGE, "environment: %s=%d is not below %s=%d: %s count from 0 "
                      "to %s - 1; the launcher (or your script) set one of them wrong", name, v,
                      limit, lv, what, limit);
}

static int read_scheme(const char *const *envp, const struct scheme *s, struct tr_dist_env *e)
{
    int err;
    e->launcher = s->launcher;
    if ((err = get_int(envp, s->world, 1, 1 << 20, &e->world)) ||
        (err = get_int(envp, s->rank, 0, 1 << 20, &e->rank)) ||
        (err = below(s->rank, e->rank, s->world, e->world, "ranks")))
        return err;
    if (s->local_world && (err = get_int(envp, s->local_world, 1, 1 << 20, &e->local_world)))
        return err;
    if (e->local_world > e->world)
        return ingot_fail(INGOT_E_USAGE, "environment: %s=%d is more than %s=%d: a host cannot "
                          "hold more ranks than the job", s->local_world, e->local_world,
                          s->world, e->world);
    if ((err = get_int(envp, s->local_rank, 0, 1 << 20, &e->local_rank)))
        return err;
    if (e->local_world > 0)
        err = below(s->local_rank, e->local_rank, s->local_world, e->local_world,
                    "local ranks");
    else
        err = below(s->local_rank, e->local_rank, s->world, e->world, "ranks");
    return err;
}

/* Another launcher's variables, also set and read without error, that say
 * another rank or a world at least as large as the chosen scheme's: not used
 * (the first scheme wins, which lets torchrun run inside an srun step, whose
 * world is then the larger), but said at start: a leftover export under srun
 * made two processes rank 1, and the rendezvous then blamed the network. */
static void note_others(const char *const *envp, const struct scheme *s,
                        struct tr_dist_env *e)
{
    char list[300];
    size_t at = 0;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        const struct scheme *t = &schemes[i];
        const char *tr = get(envp, t->rank), *tw = get(envp, t->world);
        long r, w;
        /* torchrun inside an srun step: its world is the larger, one agent a
         * task; the same world and rank is the same start */
        if (t == s || !tr || !tw || !parse_long(tr, &r) || !parse_long(tw, &w) ||
            w < e->world || (r == e->rank && w == e->world))
            continue;
        int n = snprintf(list + at, sizeof(list) - at, "%s%s=%ld %s=%ld (%s)", at ? ", " : "",
                         t->rank, r, t->world, w, t->launcher);
        if (n < 0 || (size_t)n >= sizeof(list) - at)
            break;
        at += (size_t)n;
    }
    if (at)
        snprintf(e->note, sizeof(e->note), "also set, not used: %.300s; this process is rank "
                 "%d of %d from %.40s and %.40s (%.16s), the first launcher found: unset the "
                 "others' variables if a script left them over", list, e->rank, e->world,
                 s->rank, s->world, s->launcher);
}

/* A launcher sets its rank and its world together: one alone is a script's
 * mistake that would run N independent processes into one --ckpt-dir (a world
 * of 1 alone means one process, as it says). Slurm's batch script has
 * SLURM_PROCID without a step's task count: one process. */
static int check_pairs(const char *const *envp)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        const struct scheme *t = &schemes[i];
        const char *r = get(envp, t->rank), *w = get(envp, t->world);
        const bool slurm = !strcmp(t->launcher, "slurm");
        if (!r == !w || (w && !strcmp(w, "1")) || (slurm && r))
            continue;
        return ingot_fail(INGOT_E_USAGE, "environment: %s is set but %s is not; a launcher "
                          "(%s) sets both: set both, or neither for one process",
                          r ? t->rank : t->world, r ? t->world : t->rank,
                          i == 0 ? "torchrun, scripts/launch" : t->launcher);
    }
    return 0;
}

/* The chosen scheme s says one process but another launcher's variables,
 * also present, say more: a RANK=0 WORLD_SIZE=1 left in a script would make
 * every srun/mpirun task train alone into the same outputs. Both saying
 * more than one (torchrun inside an srun step) is a nesting the first
 * scheme describes, and a malformed other world is not this scheme's. */
static int check_stray_world(const char *const *envp, const struct scheme *s,
                             const struct tr_dist_env *e)
{
    if (e->world != 1)
        return 0;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        const struct scheme *t = &schemes[i];
        const char *tr = get(envp, t->rank), *tw = get(envp, t->world);
        long w;
        if (t == s || !tr || !tw || !parse_long(tw, &w) || w <= 1)
            continue;
        return ingot_fail(INGOT_E_USAGE, "environment: %s=%s %s=%s say one process, but "
                          "%s=%s %s=%s (%s) say %ld: each of those processes would train alone "
                          "into the same --ckpt-dir and --metrics; unset %s and %s if a script "
                          "left them over, or start ingot-train with one launcher", s->rank,
                          SHOW(get(envp, s->rank)), s->world, SHOW(get(envp, s->world)),
                          t->rank, SHOW(tr), t->world, SHOW(tw), t->launcher, w, s->rank, s->world);
    }
    return 0;
}

/* A job id as a number for the default port: Slurm's are decimal; any
 * other text is hashed (FNV-1a), so that jobs of non-numeric ids do not all
 * meet at port 20000 (strtoul read them as 0). The same on every rank. */
static unsigned long job_number(const char *job)
{
    if (job[0] && strspn(job, "0123456789") == strlen(job))
        return strtoul(job, NULL, 10);
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)job; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

/* Slurm: rank 0's host is the first of the step's node list, the job key
 * is job.step, and the port derives from the job id so that two jobs
 * sharing a node do not collide. */
static int slurm_extras(const char *const *envp, struct tr_dist_env *e)
{
    const char *nodes = get(envp, "SLURM_STEP_NODELIST");
    if (!nodes)
        nodes = get(envp, "SLURM_JOB_NODELIST");
    const char *var = get(envp, "SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST"
                                                       : "SLURM_JOB_NODELIST";
    size_t n;
    if (!e->master_addr[0] && nodes) {
        int err = tr_hostlist_nth(nodes, 0, e->master_addr, sizeof(e->master_addr), &n);
        if (err)
            return ingot_fail(err, "environment: %s: %s; set MASTER_ADDR to rank 0's host to "
                              "bypass it", var, ingot_errmsg());
    }
    const char *job = get(envp, "SLURM_JOB_ID"), *step = get(envp, "SLURM_STEP_ID");
    if (job)
        snprintf(e->job_id, sizeof(e->job_id), "slurm-%s.%s", job, step ? step : "0");
    /* 20000-31999: below Linux's ephemeral ports (32768-60999), which the
     * node's outgoing connections take (mod 20000 reached 39999: about a
     * third of job ids could meet "port in use") */
    if (!e->master_port && job)
        e->rdzv_port = 20000 + (int)(job_number(job) % 12000);
    return 0;
}

int tr_dist_env_read(const char *const *envp, struct tr_dist_env *e)
{
    int err;
    *e = (struct tr_dist_env){ .launcher = "none", .rank = 0, .world = 1, .local_rank = -1,
                               .local_world = -1 };
    if ((err = check_pairs(envp)))
        return err;
    /* the one value it takes (docs/multi-gpu.md): another (TCP, 1) was
     * ignored, and MPI carried the rendezvous the user had meant to avoid */
    const char *rdzv = get(envp, "INGOT_DIST_RDZV");
    if (rdzv && *rdzv && strcmp(rdzv, "tcp"))
        return ingot_fail(INGOT_E_USAGE, "environment: INGOT_DIST_RDZV='%s': the one value is "
                          "tcp (ingot's TCP rendezvous under mpirun); unset it for MPI's",
                          SHOW(rdzv));
    const struct scheme *s = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && !s; i++)
        if (get(envp, schemes[i].rank) && get(envp, schemes[i].world))
            s = &schemes[i];
    if (!s) {
        e->local_rank = 0;
        e->local_world = 1;
        return 0;
    }
    if ((err = read_scheme(envp, s, e)) || (err = check_stray_world(envp, s, e)))
        return err;
    note_others(envp, s, e);
    copy(e->master_addr, sizeof(e->master_addr), get(envp, "MASTER_ADDR"));
    if ((err = get_int(envp, "MASTER_PORT", 1, 65535, &e->master_port)))
        return err;
    e->rdzv_port = e->master_port ? e->master_port : TR_DIST_DEFAULT_PORT;
    if (s == &schemes[0]) {
        const char *run = get(envp, "TORCHELASTIC_RUN_ID");
        if (run || get(envp, "GROUP_RANK") || get(envp, "TORCHELASTIC_RESTART_COUNT")) {
            e->launcher = "torchrun";
            const char *as = get(envp, "TORCHELASTIC_USE_AGENT_STORE");
            /* torchrun sets it to "True" when its agent's TCPStore serves
             * MASTER_PORT; older versions do not set it but still hold it */
            e->agent_store = !as || !strcmp(as, "True") || !strcmp(as, "true") ||
                             !strcmp(as, "1");
            if (run)
                snprintf(e->job_id, sizeof(e->job_id), "torchrun-%s", run);
            if (e->agent_store && e->master_port)
                e->rdzv_port = e->master_port < 65535 ? e->master_port + 1 : e->master_port - 1;
        }
    } else if (!strcmp(s->launcher, "slurm")) {
        if ((err = slurm_extras(envp, e)))
            return err;
    } else if (!strcmp(s->launcher, "openmpi")) {
        const char *j = get(envp, "OMPI_MCA_orte_ess_jobid");
        if (j)
            snprintf(e->job_id, sizeof(e->job_id), "ompi-%s", j);
    }
    /* A launcher's own id for the run (scripts/launch/env-loop.sh sets one
     * per invocation): plain RANK/WORLD_SIZE environments name no job, so
     * two such jobs given one port met as "two processes are rank 0" */
    const char *own = get(envp, "INGOT_DIST_JOB_ID");
    if (own && *own)
        snprintf(e->job_id, sizeof(e->job_id), "ingot-%s", own);
    /* Everything on one host: rank 0 is here. */
    if (!e->master_addr[0] && e->local_world == e->world)
        copy(e->master_addr, sizeof(e->master_addr), "127.0.0.1");
    if ((err = get_int(envp, "INGOT_DIST_PORT", 1, 65535, &e->rdzv_port)))
        return err;
    if (e->world == 1 && e->local_rank < 0)
        e->local_rank = 0;
    return 0;
}

/* ---- Slurm hostlists ---------------------------------------------------- */

/* The names are expanded one by one only up to the wanted one; the rest of
 * the list is counted bracket by bracket (a bracket of k values before a
 * suffix of m names holds k * m), so "n[0-999999]x[0-999999]" costs as much
 * as its text, not as its 10^12 names. */
struct nth {
    size_t want, seen;   /* seen: names expanded so far */
    bool done;           /* the wanted name is out (or past the cap): only count */
    char *out;
    size_t out_len;
    int err;
};

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t mul_sat(size_t a, size_t b)
{
    return a && b > SIZE_MAX / a ? SIZE_MAX : a * b;
}

static void emit(struct nth *st, const char *name, size_t len)
{
    if (st->seen++ != st->want)
        return;
    st->done = true;
    if (len + 1 > st->out_len) {
        st->err = ingot_fail(INGOT_E_USAGE, "hostlist: host name '%s' longer than %zu bytes",
                             SHOW_N(name, len), st->out_len - 1);
        return;
    }
    memcpy(st->out, name, len);
    st->out[len] = '\0';
}

/* A number of decimal digits only at s (strtoul alone takes blanks and a
 * sign: "n[-1]" was host n18446744073709551615, "n[ 1]" n01); *end = s
 * where s starts with no digit. */
static unsigned long digits(const char *s, char **end)
{
    if (!isdigit((unsigned char)*s)) {
        *end = (char *)s;
        return 0;
    }
    return strtoul(s, end, 10);
}

/* One "lo" or "lo-hi" group of the bracket [lb, rb) of term t (length n),
 * starting at *p; *p moves past it and its comma. width: lo's digits, the
 * zero padding. */
static int bracket_group(const char *t, size_t n, const char *rb, const char **p,
                         unsigned long *lo, unsigned long *hi, int *width)
{
    char *end;
    *lo = *hi = digits(*p, &end);
    *width = (int)(end - *p);
    if (end == *p || *width > 18)
        return ingot_fail(INGOT_E_USAGE, "hostlist: '%s': expected a number after '%s'",
                          SHOW_N(t, n), SHOW_N(t, (size_t)(*p - t)));
    if (*end == '-') {
        const char *q = end + 1;
        *hi = digits(q, &end);
        if (end == q || *hi < *lo || *hi - *lo > 1000000 || end - q > 18)
            return ingot_fail(INGOT_E_USAGE, "hostlist: '%s': bad range", SHOW_N(t, n));
    }
    if (end != rb && *end != ',')
        return ingot_fail(INGOT_E_USAGE, "hostlist: '%s': unexpected '%s'", SHOW_N(t, n),
                          SHOW_N(end, 1));
    *p = end + (end != rb);
    return 0;
}

static int name_too_long(size_t cap)
{
    return ingot_fail(INGOT_E_USAGE, "hostlist: a host name is longer than %zu bytes", cap - 1);
}

/* Expand one term (no top-level commas) of length n whose first len bytes
 * are already expanded into buf, into *names names; emits them while
 * st->done is false. Brackets hold comma-separated numbers or lo-hi ranges,
 * zero-padded to the width of lo. */
static int expand(struct nth *st, char *buf, size_t len, size_t cap, const char *t, size_t n,
                  size_t *names);

/* One range value (or the longest, for counting): k's bytes after buf's
 * first at, then the rest of the term expanded behind them. */
static int append_expand(struct nth *st, char *buf, size_t at, size_t cap, const char *k,
                         size_t k_len, const char *rest, size_t rest_n, size_t *per)
{
    if (at + k_len >= cap)
        return name_too_long(cap);
    memcpy(buf + at, k, k_len);
    return expand(st, buf, at + k_len, cap, rest, rest_n, per);
}

static int expand(struct nth *st, char *buf, size_t len, size_t cap, const char *t, size_t n,
                  size_t *names)
{
    const char *lb = memchr(t, '[', n);
    if (!lb) {
        if (len + n >= cap)
            return name_too_long(cap);
        memcpy(buf + len, t, n);
        *names = 1;
        if (!st->done)
            emit(st, buf, len + n);
        return st->err;
    }
    const char *rb = memchr(lb, ']', n - (size_t)(lb - t));
    if (!rb || rb == lb + 1)
        return ingot_fail(INGOT_E_USAGE, "hostlist: '%s' has an unclosed or empty '['",
                          SHOW_N(t, n));
    size_t pre = (size_t)(lb - t), at = len + pre;
    const char *rest = rb + 1;
    size_t rest_n = n - (size_t)(rest - t);
    if (at >= cap)
        return name_too_long(cap);
    memcpy(buf + len, t, pre);

    /* check the whole bracket and count its values (k) before expanding */
    unsigned long lo, hi;
    int width, k_len, longest_len = 0;
    char num[32], longest[32];
    size_t k = 0;
    for (const char *p = lb + 1; p < rb;) {
        int err = bracket_group(t, n, rb, &p, &lo, &hi, &width);
        if (err)
            return err;
        k = add_sat(k, hi - lo + 1);
        k_len = snprintf(num, sizeof(num), "%0*lu", width, hi);
        if (k_len > longest_len)
            memcpy(longest, num, (size_t)(longest_len = k_len) + 1);
    }

    size_t used = 0, per = 0;   /* per: names of the rest, the same after every value */
    for (const char *p = lb + 1; p < rb && !st->done;) {
        (void)bracket_group(t, n, rb, &p, &lo, &hi, &width);   /* checked above */
        for (unsigned long v = lo; v <= hi && !st->done; v++, used++) {
            k_len = snprintf(num, sizeof(num), "%0*lu", width, v);
            int err = append_expand(st, buf, at, cap, num, (size_t)k_len, rest, rest_n, &per);
            if (err)
                return err;
        }
    }
    if (used < k) {
        /* done: count the rest once, after the longest number, so that a
         * name too long is refused whichever host was wanted */
        int err = append_expand(st, buf, at, cap, longest, (size_t)longest_len, rest, rest_n,
                                &per);
        if (err)
            return err;
    }
    *names = mul_sat(k, per);
    return 0;
}

int tr_hostlist_nth(const char *list, size_t idx, char *out, size_t out_len, size_t *count)
{
    /* past the cap nothing is expanded: the list is only checked and counted */
    struct nth st = { .want = idx, .out = out, .out_len = out_len,
                      .done = idx >= TR_HOSTLIST_MAX_EXPAND };
    char buf[1024];
    const char *t = list;
    size_t total = 0;
    *count = 0;
    if (!*list)
        return ingot_fail(INGOT_E_USAGE, "hostlist: empty");
    while (*t) {
        /* a term ends at a comma outside brackets */
        size_t n = 0, names;
        int depth = 0;
        while (t[n] && (depth || t[n] != ',')) {
            depth += t[n] == '[' ? 1 : t[n] == ']' ? -1 : 0;
            if (depth < 0 || depth > 1)
                return ingot_fail(INGOT_E_USAGE, "hostlist: '%s': unbalanced brackets",
                                  SHOW(list));
            n++;
        }
        if (!n)
            return ingot_fail(INGOT_E_USAGE, "hostlist: '%s': empty host name", SHOW(list));
        int err = expand(&st, buf, 0, sizeof(buf), t, n, &names);
        if (err)
            return err;
        total = add_sat(total, names);
        t += n + (t[n] == ',');
    }
    *count = total;
    if (idx >= total)
        return -ERANGE;
    if (idx >= TR_HOSTLIST_MAX_EXPAND)
        return ingot_fail(INGOT_E_USAGE, "hostlist: host %zu of %zu asked for, but only the "
                          "first %d names of a list are expanded; a node list that long is a "
                          "mistake: check the list", idx, total, TR_HOSTLIST_MAX_EXPAND);
    return 0;
}
