/* Per-step timing and host figures of the CUDA back end (--profile). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "mono_clock.h"
#include "tr_cuda_alloc.h"
#include "tr_cuda_nvml.h"
#include "tr_cuda_prof.h"
#include "tr_cuda_sync.h"

/* A slot's events: up0, up1, start, opt_end, then fwd_end[K], bwd_end[K]. */
enum { FIXED = 4 };

struct tr_cuda_prof {
    struct tr_cuda_prof_cfg c;
    int per;                    /* events per slot */
    cudaEvent_t *ev;            /* [nslot * per] */
    tr_nvml *nvml;
    uint64_t sync_mark;
    struct cpu_meter cpu;       /* since the previous collect (or reset) */
    int prev_slot;              /* the previous collected step's slot (-1: none) */
    int64_t n_collected;
    struct tr_step_prof last;
    double host_s[TR_HOST_N];   /* since the previous collect */
    double host_t0[TR_HOST_N];  /* the running phase's start */
    uint64_t alloc_t0[TR_HOST_N];
    uint64_t *slot_allocs;      /* [nslot]: allocations during each slot's submit */
    int print_host;             /* INGOT_PROF_HOST=1 */
    int looped;                 /* tr_cuda_prof_set_looped() */
};

int tr_cuda_prof_create(const struct tr_cuda_prof_cfg *cfg, tr_cuda_prof **out)
{
    *out = NULL;
    tr_cuda_prof *p = calloc(1, sizeof(*p));
    if (!p)
        return ingot_oom("the profiler", sizeof(*p));
    p->c = *cfg;
    p->per = FIXED + 2 * cfg->grad_accum;
    p->prev_slot = -1;
    size_t n = (size_t)p->per * cfg->nslot;
    p->ev = calloc(n, sizeof(cudaEvent_t));
    p->slot_allocs = calloc((size_t)cfg->nslot, sizeof(uint64_t));
    if (!p->ev || !p->slot_allocs) {
        free(p->ev);
        free(p->slot_allocs);
        free(p);
        return ingot_oom("the profiler's events", n * sizeof(cudaEvent_t));
    }
    for (size_t i = 0; i < n; i++) {
        cudaError_t e = cudaEventCreateWithFlags(&p->ev[i], cudaEventDefault);
        if (e != cudaSuccess) {
            p->ev[i] = NULL;
            tr_cuda_prof_free(p);
            return ingot_fail(INGOT_E_CUDA, "cuda: profiling events: %s", cudaGetErrorString(e));
        }
    }
    p->nvml = tr_nvml_open(cfg->dev);
    const char *env = getenv("INGOT_PROF_HOST");
    p->print_host = env && !strcmp(env, "1");
    tr_cuda_prof_reset(p);
    *out = p;
    return 0;
}

void tr_cuda_prof_free(tr_cuda_prof *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->ev && i < (size_t)p->per * p->c.nslot; i++)
        if (p->ev[i])
            cudaEventDestroy(p->ev[i]);
    free(p->ev);
    free(p->slot_allocs);
    tr_nvml_close(p->nvml);
    free(p);
}

static cudaEvent_t ev_of(const tr_cuda_prof *p, int slot, enum tr_prof_mark m, int k)
{
    cudaEvent_t *e = p->ev + (size_t)slot * p->per;
    switch (m) {
    case TR_PROF_UP0: return e[0];
    case TR_PROF_UP1: return e[1];
    case TR_PROF_START: return e[2];
    case TR_PROF_OPT_END: return e[3];
    case TR_PROF_FWD_END: return e[FIXED + k];
    case TR_PROF_BWD_END: return e[FIXED + p->c.grad_accum + k];
    }
    return NULL;
}

int tr_cuda_prof_mark(tr_cuda_prof *p, int slot, enum tr_prof_mark m, int k, cudaStream_t s,
                      int capturing)
{
    if (!p)
        return 0;
    CUDA_CHECK(cudaEventRecordWithFlags(ev_of(p, slot, m, k), s,
                                        capturing ? cudaEventRecordExternal : 0));
    return 0;
}

void tr_cuda_prof_begin(tr_cuda_prof *p, enum tr_prof_host h)
{
    if (!p)
        return;
    p->host_t0[h] = mono_now();
    p->alloc_t0[h] = tr_cuda_alloc_count();
}

void tr_cuda_prof_end(tr_cuda_prof *p, enum tr_prof_host h, int slot)
{
    if (!p)
        return;
    p->host_s[h] += mono_now() - p->host_t0[h];
    if (h == TR_HOST_SUBMIT)
        p->slot_allocs[slot] = tr_cuda_alloc_count() - p->alloc_t0[h];
}

void tr_cuda_prof_reset(tr_cuda_prof *p)
{
    if (!p)
        return;
    p->sync_mark = tr_cuda_sync_count();
    cpu_meter_start(&p->cpu);
}

/* Milliseconds from a to b (both completed), -1 when not measurable. */
static double ms(const tr_cuda_prof *p, int slot_a, enum tr_prof_mark a, int ka, int slot_b,
                 enum tr_prof_mark b, int kb)
{
    float t = -1.0f;
    if (cudaEventElapsedTime(&t, ev_of(p, slot_a, a, ka), ev_of(p, slot_b, b, kb)) !=
        cudaSuccess) {
        (void)cudaGetLastError();
        return -1.0;
    }
    return t;
}

void tr_cuda_prof_set_looped(tr_cuda_prof *p, int looped)
{
    if (p)
        p->looped = looped && p->c.grad_accum >= 2;
}

/* Sum of a phase over the micro-steps; -1 if any part is unmeasurable. With
 * the loop: the last micro-step's phase, and the loop's time (from the step's
 * start) times that phase's share of the last micro-step. */
static double phase_sum(const tr_cuda_prof *p, int slot, int bwd)
{
    const int K = p->c.grad_accum;
    if (p->looped) {
        double loop = ms(p, slot, TR_PROF_START, 0, slot, TR_PROF_BWD_END, K - 2);
        double f = ms(p, slot, TR_PROF_BWD_END, K - 2, slot, TR_PROF_FWD_END, K - 1);
        double b = ms(p, slot, TR_PROF_FWD_END, K - 1, slot, TR_PROF_BWD_END, K - 1);
        if (loop < 0.0 || f < 0.0 || b < 0.0)
            return -1.0;
        double share = f + b > 0.0 ? (bwd ? b : f) / (f + b) : 0.5;
        return (bwd ? b : f) + loop * share;
    }
    double sum = 0.0;
    for (int k = 0; k < p->c.grad_accum; k++) {
        double t = bwd ? ms(p, slot, TR_PROF_FWD_END, k, slot, TR_PROF_BWD_END, k)
                       : (k ? ms(p, slot, TR_PROF_BWD_END, k - 1, slot, TR_PROF_FWD_END, k)
                            : ms(p, slot, TR_PROF_START, 0, slot, TR_PROF_FWD_END, 0));
        if (t < 0.0)
            return -1.0;
        sum += t;
    }
    return sum;
}

void tr_cuda_prof_collect(tr_cuda_prof *p, int slot)
{
    if (!p)
        return;
    uint64_t host_allocs = p->slot_allocs[slot] +
                           (tr_cuda_alloc_count() - p->alloc_t0[TR_HOST_COLLECT]);
    struct tr_step_prof *o = &p->last;
    const int K = p->c.grad_accum;
    double wall;
    const double cpu_pct = cpu_meter_read(&p->cpu, &wall);
    uint64_t syncs = tr_cuda_sync_count();
    *o = (struct tr_step_prof){
        .cpu_pct = cpu_pct,
        .host_wall_s = wall,
        .syncs = (int64_t)(syncs - p->sync_mark),
        .host_allocs = tr_cuda_allocs_counted() ? (int64_t)host_allocs : -1,
        .peak_tflops = p->c.peak_tflops,
        .flops_per_token = p->c.flops_per_token,
        .upload_ms = ms(p, slot, TR_PROF_UP0, 0, slot, TR_PROF_UP1, 0),
        .fwd_ms = phase_sum(p, slot, 0),
        .bwd_ms = phase_sum(p, slot, 1),
        .opt_ms = ms(p, slot, TR_PROF_BWD_END, K - 1, slot, TR_PROF_OPT_END, 0),
        .gpu_idle_ms = -1.0,
        .gpu_busy_pct = -1.0,
    };
    p->sync_mark = syncs;
    struct tr_nvml_sample ns;
    tr_nvml_sample(p->nvml, &ns);
    o->gpu_util_pct = ns.util_pct;
    o->sm_clock_mhz = ns.sm_mhz;
    o->power_w = ns.power_w;
    o->power_capped = ns.capped;
    double busy = ms(p, slot, TR_PROF_START, 0, slot, TR_PROF_OPT_END, 0);
    if (p->prev_slot >= 0) {
        o->gpu_idle_ms = ms(p, p->prev_slot, TR_PROF_OPT_END, 0, slot, TR_PROF_START, 0);
        if (o->gpu_idle_ms >= 0.0 && busy > 0.0)
            o->gpu_busy_pct = 100.0 * busy / (busy + o->gpu_idle_ms);
    }
    p->prev_slot = slot;
    p->n_collected++;
    if (p->print_host)
        fprintf(stderr, "host: step wall %.2f ms, cpu %.1f%%: submit %.2f ms (graph launch %.2f), "
                "waiting (pace and result) %.2f ms\n", 1e3 * wall, o->cpu_pct,
                1e3 * p->host_s[TR_HOST_SUBMIT], 1e3 * p->host_s[TR_HOST_LAUNCH],
                1e3 * p->host_s[TR_HOST_WAIT]);
    memset(p->host_s, 0, sizeof(p->host_s));
}

int tr_cuda_prof_last(const tr_cuda_prof *p, struct tr_step_prof *out)
{
    if (!p)
        return ingot_fail(INGOT_E_USAGE, "cuda: profiling is off (--profile)");
    if (!p->n_collected)
        return ingot_fail(INGOT_E_USAGE, "cuda: no step collected yet");
    *out = p->last;
    return 0;
}

/* ---- Per-operation times from events between launcher calls. ---- */

enum { OPT_MAX_OPS = 64 };

struct op_total {
    const char *name;
    double ms, flops;
    long calls;
};

struct tr_cuda_optime {
    int cap, n;                  /* events per pass, recorded so far */
    int dropped;
    cudaEvent_t *ev;
    const char **name;           /* name[i]: the operation that ended at ev[i] */
    double *flops;
    int nops;
    struct op_total ops[OPT_MAX_OPS];
};

int tr_cuda_optime_create(int max_marks, tr_cuda_optime **out)
{
    *out = NULL;
    tr_cuda_optime *t = calloc(1, sizeof(*t));
    if (!t)
        return ingot_oom("op timer", sizeof(*t));
    t->cap = max_marks;
    t->ev = calloc((size_t)max_marks, sizeof(*t->ev));
    t->name = calloc((size_t)max_marks, sizeof(*t->name));
    t->flops = calloc((size_t)max_marks, sizeof(*t->flops));
    if (!t->ev || !t->name || !t->flops) {
        tr_cuda_optime_free(t);
        return ingot_oom("op timer events", (size_t)max_marks * 24);
    }
    for (int i = 0; i < max_marks; i++) {
        cudaError_t e = cudaEventCreate(&t->ev[i]);
        if (e != cudaSuccess) {
            t->ev[i] = NULL;
            tr_cuda_optime_free(t);
            return ingot_fail(INGOT_E_CUDA, "op timer: cudaEventCreate: %s",
                              cudaGetErrorString(e));
        }
    }
    *out = t;
    return 0;
}

void tr_cuda_optime_free(tr_cuda_optime *t)
{
    if (!t)
        return;
    for (int i = 0; t->ev && i < t->cap; i++)
        if (t->ev[i])
            cudaEventDestroy(t->ev[i]);
    free(t->ev);
    free(t->name);
    free(t->flops);
    free(t);
}

int tr_cuda_optime_mark(tr_cuda_optime *t, const char *name, double flops, cudaStream_t s)
{
    if (!t)
        return 0;
    if (t->n >= t->cap) {
        t->dropped++;
        return 0;
    }
    t->name[t->n] = name;
    t->flops[t->n] = flops;
    CUDA_CHECK(cudaEventRecord(t->ev[t->n], s));
    t->n++;
    return 0;
}

static struct op_total *op_of(tr_cuda_optime *t, const char *name)
{
    for (int i = 0; i < t->nops; i++)
        if (!strcmp(t->ops[i].name, name))
            return &t->ops[i];
    if (t->nops == OPT_MAX_OPS)
        return NULL;
    struct op_total *o = &t->ops[t->nops++];
    o->name = name;
    return o;
}

int tr_cuda_optime_collect(tr_cuda_optime *t)
{
    if (!t || t->n == 0)
        return 0;
    int err = tr_cuda_sync_event(t->ev[t->n - 1], "op timer");
    if (err)
        return err;
    for (int i = 1; i < t->n; i++) {
        if (!t->name[i]) /* a pass start: no operation ended there */
            continue;
        float ms = 0.0f;
        CUDA_CHECK(cudaEventElapsedTime(&ms, t->ev[i - 1], t->ev[i]));
        struct op_total *o = op_of(t, t->name[i]);
        if (o) {
            o->ms += ms;
            o->flops += t->flops[i];
            o->calls++;
        }
    }
    if (t->dropped)
        fprintf(stderr, "op timer: %d marks past the %d per pass were dropped\n", t->dropped,
                t->cap);
    t->n = 0;
    t->dropped = 0;
    return 0;
}

static int by_ms(const void *a, const void *b)
{
    double x = ((const struct op_total *)a)->ms, y = ((const struct op_total *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The kind of an operation, as scripts/torch_kernel_profile.py sums a
 * PyTorch step's kernels, so the two steps compare kind by kind: products
 * (with whatever their epilogues fuse), attention, and the rest (norms,
 * residuals, RoPE, SwiGLU, embeddings, the classifier). */
static int op_kind(const char *name)
{
    if (!strncmp(name, "matmul", 6))
        return 0;
    return !strncmp(name, "attention", 9) ? 1 : 2;
}

void tr_cuda_optime_print(const tr_cuda_optime *t, int passes, FILE *f)
{
    if (!t || passes < 1)
        return;
    struct op_total ops[OPT_MAX_OPS];
    int n = t->nops;
    memcpy(ops, t->ops, (size_t)n * sizeof(ops[0]));
    qsort(ops, (size_t)n, sizeof(ops[0]), by_ms);
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += ops[i].ms;
    fprintf(f, "%-22s %9s %6s %6s %9s\n", "op", "ms/pass", "share", "calls", "TFLOP/s");
    for (int i = 0; i < n; i++) {
        char tf[32] = "";
        if (ops[i].flops > 0 && ops[i].ms > 0)
            snprintf(tf, sizeof tf, "%.0f", ops[i].flops / (ops[i].ms * 1e-3) / 1e12);
        fprintf(f, "%-22s %9.3f %5.1f%% %6ld %9s\n", ops[i].name, ops[i].ms / passes,
                100.0 * ops[i].ms / total, ops[i].calls / passes, tf);
    }
    fprintf(f, "%-22s %9.3f\n", "total", total / passes);
    static const char *const kinds[3] = {"products", "attention", "other"};
    double by_kind[3] = {0.0, 0.0, 0.0};
    for (int i = 0; i < n; i++)
        by_kind[op_kind(ops[i].name)] += ops[i].ms;
    for (int k = 0; k < 3; k++)
        fprintf(f, "kind %-17s %9.3f %5.1f%%\n", kinds[k], by_kind[k] / passes,
                total > 0 ? 100.0 * by_kind[k] / total : 0.0);
}

void tr_cuda_optime_clear(tr_cuda_optime *t)
{
    if (t) {
        t->nops = 0;
        memset(t->ops, 0, sizeof(t->ops));
    }
}
