/* Learning-rate schedule: linear warmup to lr, then cosine decay to min_lr
 * at the last step. Steps are 1-based: step s is the s-th optimizer update. */
#ifndef INGOT_TR_SCHEDULE_H
#define INGOT_TR_SCHEDULE_H

struct tr_schedule {
    float lr, min_lr;
    int warmup;     /* steps of linear warmup (lr * s / warmup for s <= warmup) */
    int steps;      /* the run's length (--steps) */
};

/* Learning rate of step s (1 <= s). Past steps, stays at min_lr. */
float tr_schedule_lr(const struct tr_schedule *s, int step);

#endif
