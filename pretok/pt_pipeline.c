/* Batches cycle free -> producer -> work queue -> worker -> writer -> free.
 * The writer takes them strictly by sequence number (by_seq ring), so the
 * output order is the input order whatever the workers' timing. One mutex
 * guards the queues; the work itself runs unlocked. */
#include "pt_pipeline.h"

#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_num.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "pt_encstats.h"
#include "pt_hooks.h"

struct pipe {
    const struct pt_pipeline_cfg *cfg;
    struct pt_producer_cfg prod_cfg;
    struct pt_batch *batches;
    size_t n_batches;
    struct pt_batch sink;           /* handed to the producer after a stop */

    pthread_mutex_t mu;
    pthread_cond_t cv;              /* any state change; few waiters, broadcast */
    struct pt_batch **free_list;
    size_t n_free;
    struct pt_batch **work;         /* FIFO ring of n_batches */
    size_t work_head, work_n;
    struct pt_batch **by_seq;       /* ring of n_batches, indexed seq % n */
    bool *done;                     /* by batch index: worker finished */
    uint64_t next_seq, next_write;
    bool producer_done;

    atomic_int stop;
    int err;                        /* first error */
    char errmsg[1024];

    struct pt_worker *workers;
    struct pt_producer_stats pstats;
    atomic_uint_fast64_t bytes_done, docs, tokens;
    long delay_ms;                  /* test hook: writer sleeps per batch */
    /* the time line (under mu): a worker took its first batch, the last
     * worker finished its batch, the writer consumed its last batch */
    double t_first, t_last_done, t_last_write;
};

/* Record the first error (message from the calling thread) and stop all. */
static void set_error(struct pipe *p, int err, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    if (!p->err) {
        p->err = err;
        snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg ? msg : ingot_errmsg());
    }
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static size_t batch_index(const struct pipe *p, const struct pt_batch *b)
{
    return (size_t)(b - p->batches);
}

static int emit(void *ctx, struct pt_batch **bp)
{
    struct pipe *p = ctx;
    struct pt_batch *b = *bp;
    pthread_mutex_lock(&p->mu);
    b->seq = p->next_seq++;
    p->by_seq[b->seq % p->n_batches] = b;
    p->done[batch_index(p, b)] = false;
    p->work[(p->work_head + p->work_n++) % p->n_batches] = b;
    pthread_cond_broadcast(&p->cv);
    while (!p->n_free && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    if (atomic_load(&p->stop)) {
        pthread_mutex_unlock(&p->mu);
        pt_batch_reset(&p->sink);
        *bp = &p->sink;
        return 1;
    }
    *bp = p->free_list[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    pt_batch_reset(*bp);
    return 0;
}

static void *producer_main(void *arg)
{
    struct pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    struct pt_batch *b = p->free_list[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    pt_batch_reset(b);
    int ret = pt_producer_run(&p->prod_cfg, emit, p, &b, &p->pstats);
    if (ret < 0)
        set_error(p, ret, NULL);
    pthread_mutex_lock(&p->mu);
    if (b != &p->sink)
        p->free_list[p->n_free++] = b;
    p->producer_done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct worker_arg {
    struct pipe *p;
    struct pt_worker *w;
};

static void *worker_loop(void *arg)
{
    struct worker_arg *a = arg;
    struct pipe *p = a->p;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->work_n && !p->producer_done && !atomic_load(&p->stop))
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->work_n || atomic_load(&p->stop)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        struct pt_batch *b = p->work[p->work_head];
        p->work_head = (p->work_head + 1) % p->n_batches;
        p->work_n--;
        if (!p->t_first)
            p->t_first = mono_now();
        pthread_mutex_unlock(&p->mu);

        pt_worker_run(p->cfg->tok, a->w, b);

        pthread_mutex_lock(&p->mu);
        p->t_last_done = mono_now();
        p->done[batch_index(p, b)] = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *writer_main(void *arg)
{
    struct pipe *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct pt_batch *b;
        for (;;) {
            if (atomic_load(&p->stop)) {
                pthread_mutex_unlock(&p->mu);
                return NULL;
            }
            b = p->by_seq[p->next_write % p->n_batches];
            if (b && b->seq == p->next_write && p->done[batch_index(p, b)])
                break;
            if (p->producer_done && p->next_write == p->next_seq) {
                pthread_mutex_unlock(&p->mu);
                return NULL;
            }
            pthread_cond_wait(&p->cv, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);

        if (b->err) {
            set_error(p, b->err, b->errmsg);
            return NULL;
        }
        int ret = pt_writer_consume(p->cfg->writer, b);
        if (ret) {
            set_error(p, ret, NULL);
            return NULL;
        }
        uint64_t docs = 0, toks = 0;
        for (size_t i = 0; i < b->n_out; i++)
            if (b->out[i].kind == PT_ITEM_DOC) {
                docs++;
                toks += b->out[i].len;
            }
        atomic_fetch_add(&p->docs, docs);
        atomic_fetch_add(&p->tokens, toks);
        atomic_store(&p->bytes_done, b->in_bytes_end);
        if (p->delay_ms > 0)
            usleep((useconds_t)p->delay_ms * 1000);

        pthread_mutex_lock(&p->mu);
        p->t_last_write = mono_now();
        p->by_seq[p->next_write % p->n_batches] = NULL;
        p->next_write++;
        p->free_list[p->n_free++] = b;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* The encoder counters of the last run (see pt_encstats.h). */
static struct pt_enc_stats last_enc;

/* The time line of the last run, mono_now() seconds: the process started
 * (before main, so start-up before the pipeline is seen whatever main
 * does), the pipeline started, a worker took the first batch, the last
 * batch was encoded and written, the pipeline ended. */
static double t_proc;
static struct { double start, first, last_done, last_write, end; } last_tl;

__attribute__((constructor)) static void note_process_start(void) { t_proc = mono_now(); }

static void enc_stats_collect(const struct pipe *p)
{
    memset(&last_enc, 0, sizeof(last_enc));
    const spe_model *m = p->cfg->tok->enc;
    if (!m)
        return;
    last_enc.used = true;
    last_enc.kind = spe_model_kind(m);
    last_enc.cut = spe_cut_name(m);
    spe_load_times(m, &last_enc.load_s, &last_enc.shared_s);
    struct spe_stats *t = &last_enc.s;
    for (unsigned i = 0; i < p->cfg->threads; i++) {
        if (!p->workers[i].enc_s)
            continue;
        struct spe_stats w;
        spe_scratch_stats(p->workers[i].enc_s, &w);
        t->docs += w.docs;
        t->bytes_in += w.bytes_in;
        t->bytes_norm += w.bytes_norm;
        t->words += w.words;
        t->cache_hits += w.cache_hits;
        t->cache_resets += w.cache_resets;
        t->path_hits += w.path_hits;
        t->shared_hits += w.shared_hits;
        t->replays += w.replays;
        t->bound_checks += w.bound_checks;
        t->bound_fails += w.bound_fails;
        t->sec_norm += w.sec_norm;
        t->sec_model += w.sec_model;
    }
}

void pt_pipeline_enc_stats(struct pt_enc_stats *out) { *out = last_enc; }

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

/* Seconds between two time-line points (0 when either is missing). */
static double span(double a, double b) { return a > 0 && b >= a ? b - a : 0.0; }

void pt_pipeline_enc_print(FILE *f)
{
    const struct pt_enc_stats *e = &last_enc;
    double now = mono_now();
    fprintf(f, "  time line (s): start-up %.3f (", span(t_proc, last_tl.start));
    if (e->used)
        fprintf(f, "Ingot's model %.3f, its shared table %.3f of that; ", e->load_s, e->shared_s);
    fprintf(f, "libsentencepiece's model, inputs, state), first batch taken %.3f, encoding %.3f "
            "(first batch taken to last encoded), last write %.3f, pipeline end %.3f, then "
            "finish (shards closed, fsync, manifest) %.3f\n", span(last_tl.start, last_tl.first),
            span(last_tl.first, last_tl.last_done), span(last_tl.last_done, last_tl.last_write),
            span(last_tl.last_write, last_tl.end), span(last_tl.end, now));
    if (!e->used)
        return;
    const struct spe_stats *s = &e->s;
    /* both shares of all words: "(59.0% in the shared table)" after the
     * hits read as a share of the hits */
    fprintf(f, "  encoder: Ingot's (%s, cut %s): %" PRIu64 " words, %.1f%% cache hits (%.1f%% "
            "of the words in the shared table)", e->kind, e->cut, s->words,
            pct(s->cache_hits, s->words), pct(s->shared_hits, s->words));
    if (s->path_hits + s->replays)
        fprintf(f, "; %.1f%% of hits by the cached path, %.1f%% replayed",
                pct(s->path_hits, s->cache_hits), pct(s->replays, s->cache_hits));
    fprintf(f, ", %" PRIu64 " cache reset%s\n", s->cache_resets, s->cache_resets == 1 ? "" : "s");
    fprintf(f, "  tokenize (thread-seconds): normalize %.2f, model %.2f", s->sec_norm,
            s->sec_model);
    /* rates only where text was tokenized */
    if (s->bytes_in && s->sec_norm > 0 && s->sec_model > 0)
        fprintf(f, " (%.1f MB/s and %.1f MB/s per thread)", (double)s->bytes_in / 1e6 / s->sec_norm,
                (double)s->bytes_in / 1e6 / s->sec_model);
    fputc('\n', f);
}

json_t *pt_pipeline_enc_json(void)
{
    const struct pt_enc_stats *e = &last_enc;
    if (!e->used)
        return NULL;
    const struct spe_stats *s = &e->s;
    json_t *tl = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "startup_s",
                           span(t_proc, last_tl.start), "model_load_s", e->load_s,
                           "shared_table_s", e->shared_s, "first_batch_s",
                           span(last_tl.start, last_tl.first), "encode_s",
                           span(last_tl.first, last_tl.last_done), "last_write_s",
                           span(last_tl.last_done, last_tl.last_write), "pipeline_end_s",
                           span(last_tl.last_write, last_tl.end), "finish_s",
                           span(last_tl.end, mono_now()));
    if (!tl)
        return NULL;
    return json_pack("{s:o,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}",
                     "timeline", tl, "kind", e->kind, "cut", e->cut,
                     "documents", (json_int_t)s->docs,
                     "bytes", (json_int_t)s->bytes_in, "words", (json_int_t)s->words,
                     "cache_hits", (json_int_t)s->cache_hits,
                     "shared_hits", (json_int_t)s->shared_hits,
                     "path_hits", (json_int_t)s->path_hits, "replays", (json_int_t)s->replays,
                     "cache_resets", (json_int_t)s->cache_resets,
                     "bound_checks", (json_int_t)s->bound_checks,
                     "bound_fails", (json_int_t)s->bound_fails, "normalize_s", s->sec_norm,
                     "model_s", s->sec_model);
}

static void stop_all(struct pipe *p)
{
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Watches *interrupt while the calling thread waits for the others. */
struct stopper {
    struct pipe *p;
    volatile sig_atomic_t *interrupt;
    double t_signal;                /* when the signal was seen; 0 before */
};

/* Wait up to `wait` seconds for thread t; true once it has ended. A signal
 * seen meanwhile stops every thread and starts the grace period. */
static bool join_bounded(pthread_t t, struct stopper *sp, double wait)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(wait * 1e9);
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (pthread_timedjoin_np(t, NULL, &ts) == 0)
        return true;
    if (*sp->interrupt && !sp->t_signal) {
        sp->t_signal = mono_now();
        stop_all(sp->p);
    }
    return false;
}

/* The progress line: redrawn in place on a terminal (\r), or as one plain
 * line for a log (log: under Slurm or nohup nothing else would show for
 * hours). */
static void draw_progress(struct pipe *p, double t0, uint64_t bytes0, bool log)
{
    double el = mono_now() - t0;
    if (el <= 0)
        return;
    uint64_t bytes = atomic_load(&p->bytes_done);
    double done_b = (double)(bytes > bytes0 ? bytes - bytes0 : 0);
    double total = (double)p->cfg->total_bytes;
    double pct = total > 0 ? 100.0 * (double)bytes / total : 100.0;
    double rate = done_b / el;
    char docs[32], toks[32], eta[32] = "--:--";
    cli_human((double)atomic_load(&p->docs) / el, docs, sizeof(docs));
    cli_human((double)atomic_load(&p->tokens) / el, toks, sizeof(toks));
    if (rate > 0 && total > (double)bytes) {
        /* rounded up: 0.5 s left is not 0:00:00 */
        long s = (long)ceil((total - (double)bytes) / rate);
        snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, log ? "pretok: %.1f%% | %.1f MB/s | %s docs/s | %s tok/s | ETA %s | "
                          "%.0f s\n"
                        : "\r%5.1f%% | %7.1f MB/s | %s docs/s | %s tok/s | ETA %s   ",
            pct, rate / 1e6, docs, toks, eta, el);
    fflush(stderr);
}

int pt_pipeline_run(const struct pt_pipeline_cfg *cfg, volatile sig_atomic_t *interrupt,
                    struct pt_pipeline_stats *st)
{
    memset(st, 0, sizeof(*st));
    struct pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return ingot_fail(-ENOMEM, "out of memory");
    p->cfg = cfg;
    p->prod_cfg = cfg->prod;
    p->prod_cfg.stop = &p->stop;
    p->n_batches = 4 * (size_t)cfg->threads + 4;
    atomic_init(&p->stop, 0);
    atomic_init(&p->bytes_done, cfg->prod.bytes_before);
    atomic_init(&p->docs, 0);
    atomic_init(&p->tokens, 0);
    p->delay_ms = pt_hook_pos("INGOT_PRETOK_TEST_BATCH_DELAY_MS");
    p->batches = calloc(p->n_batches, sizeof(*p->batches));
    p->free_list = calloc(p->n_batches, sizeof(*p->free_list));
    p->work = calloc(p->n_batches, sizeof(*p->work));
    p->by_seq = calloc(p->n_batches, sizeof(*p->by_seq));
    p->done = calloc(p->n_batches, sizeof(*p->done));
    p->workers = calloc(cfg->threads, sizeof(*p->workers));
    struct worker_arg *wa = calloc(cfg->threads, sizeof(*wa));
    pthread_t *tid = calloc(cfg->threads + 2, sizeof(*tid));
    int ret = 0;
    if (!p->batches || !p->free_list || !p->work || !p->by_seq || !p->done || !p->workers ||
        !wa || !tid) {
        ret = ingot_fail(-ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->n_batches; i++)
        p->free_list[p->n_free++] = &p->batches[i];
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);

    /* Worker threads inherit a mask that blocks the stop signals, so that
     * only the calling thread sees them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    size_t started = 0;
    double t0 = mono_now();
    memset(&last_tl, 0, sizeof(last_tl));
    last_tl.start = t0;
    int e = pthread_create(&tid[started], NULL, producer_main, p);
    if (!e)
        started++;
    for (unsigned i = 0; i < cfg->threads && !e; i++) {
        wa[i] = (struct worker_arg){ p, &p->workers[i] };
        e = pthread_create(&tid[started], NULL, worker_loop, &wa[i]);
        if (!e)
            started++;
    }
    if (!e) {
        e = pthread_create(&tid[started], NULL, writer_main, p);
        if (!e)
            started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e)
        set_error(p, -e, "cannot start threads");

    /* The writer is the last thread: wait for it while watching signals,
     * then for the others. Once a signal came, every wait ends at a
     * deadline: a thread deep in a slow read or a huge document is left
     * behind (the process exits right after; see pt_pipeline_stats). */
    struct stopper sp = { p, interrupt, 0 };
    double last_draw = 0;
    bool all_joined = true;
    if (started == cfg->threads + 2) {
        while (!join_bounded(tid[started - 1], &sp, 0.1)) {
            if (sp.t_signal && mono_now() - sp.t_signal > PT_STOP_GRACE_S) {
                all_joined = false;
                break;
            }
            double t = mono_now();
            if (cfg->progress && t - last_draw >= 0.5) {
                draw_progress(p, t0, cfg->prod.bytes_before, false);
                last_draw = t;
            } else if (cfg->progress_log_s > 0 && t - last_draw >= cfg->progress_log_s) {
                if (last_draw > 0)   /* not at the start: nothing done yet */
                    draw_progress(p, t0, cfg->prod.bytes_before, true);
                last_draw = t;
            }
        }
        if (all_joined)
            started--;
    }
    /* The writer is done (or never started): release the others. */
    stop_all(p);
    for (size_t i = 0; i < started && all_joined; i++)
        while (!join_bounded(tid[i], &sp, 0.1))
            if (sp.t_signal && mono_now() - sp.t_signal > PT_STOP_GRACE_S) {
                all_joined = false;
                break;
            }
    if (!all_joined) {
        /* Threads still run on p, the writer and the tokenizer: nothing of
         * them may be freed; the caller exits at once. */
        st->abandoned = true;
        st->wall_s = mono_now() - t0;
        return ingot_fail(INGOT_E_INTERRUPTED, "interrupted (work in flight dropped)");
    }
    bool interrupted = sp.t_signal != 0;
    if (cfg->progress) {
        draw_progress(p, t0, cfg->prod.bytes_before, false);
        fputc('\n', stderr);
    }

    st->wall_s = mono_now() - t0;
    last_tl.first = p->t_first;
    last_tl.last_done = p->t_last_done;
    last_tl.last_write = p->t_last_write;
    last_tl.end = t0 + st->wall_s;
    st->prod = p->pstats;
    for (unsigned i = 0; i < cfg->threads; i++) {
        st->parse_s += p->workers[i].parse_s;
        st->tokenize_s += p->workers[i].tokenize_s;
        st->text_bytes += p->workers[i].text_bytes;
    }
    st->write_s = pt_writer_seconds(cfg->writer);
    enc_stats_collect(p);
    st->docs = atomic_load(&p->docs);
    st->tokens = atomic_load(&p->tokens);
    if (p->err)
        ret = ingot_fail(p->err, "%s", p->errmsg);
    else if (interrupted || *interrupt)
        ret = ingot_fail(INGOT_E_INTERRUPTED, "interrupted");
    else if (!p->producer_done || p->next_write != p->next_seq)
        ret = ingot_fail(INGOT_E_INTERRUPTED, "stopped before the end of the input");
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
out:
    if (p->batches)
        for (size_t i = 0; i < p->n_batches; i++)
            pt_batch_free(&p->batches[i]);
    pt_batch_free(&p->sink);
    if (p->workers)
        for (unsigned i = 0; i < cfg->threads; i++)
            pt_worker_free(&p->workers[i]);
    free(p->batches);
    free(p->free_list);
    free(p->work);
    free(p->by_seq);
    free(p->done);
    free(p->workers);
    free(wa);
    free(tid);
    free(p);
    return ret;
}
