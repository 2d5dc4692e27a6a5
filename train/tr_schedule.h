/* Learning-rate schedules (--lr-schedule): a linear warmup to lr, then
 * cosine (default) or linear decay to min_lr at the last step, a constant
 * lr, or warmup-stable-decay (WSD: lr held until the cooldown, the last
 * --cooldown share of the steps, then a linear decay to min_lr). Steps are
 * 1-based: step s is the s-th optimizer update. */
#ifndef INGOT_TR_SCHEDULE_H
#define INGOT_TR_SCHEDULE_H

enum tr_schedule_kind {
    TR_SCHED_COSINE = 0,
    TR_SCHED_LINEAR,
    TR_SCHED_CONSTANT,
    TR_SCHED_WSD,
    TR_SCHED_N
};

struct tr_schedule {
    float lr, min_lr;
    int warmup;     /* steps of linear warmup (lr * s / warmup for s <= warmup) */
    int steps;      /* the run's length (--steps) */
    enum tr_schedule_kind kind;
    int cooldown;   /* WSD: steps of the final decay (tr_schedule_cooldown_steps) */
};

/* Learning rate of step s (1 <= s). Past steps, stays at min_lr (constant:
 * at lr). */
float tr_schedule_lr(const struct tr_schedule *s, int step);

/* "cosine", "linear", "constant", "wsd"; NULL for another value. */
const char *tr_schedule_name(enum tr_schedule_kind k);
/* The kind named name; -1 when none is. */
int tr_schedule_parse(const char *name);
/* WSD's cooldown in steps: the share frac of steps, rounded, at least 1. */
int tr_schedule_cooldown_steps(double frac, int steps);

#endif
