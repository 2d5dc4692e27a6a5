/* Learning-rate schedules (tr_schedule.h). */
#include <math.h>
#include <string.h>

#include "tr_schedule.h"

static const char *const names[TR_SCHED_N] = {
    [TR_SCHED_COSINE] = "cosine", [TR_SCHED_LINEAR] = "linear",
    [TR_SCHED_CONSTANT] = "constant", [TR_SCHED_WSD] = "wsd",
};

const char *tr_schedule_name(enum tr_schedule_kind k)
{
    return (unsigned)k < TR_SCHED_N ? names[k] : NULL;
}

int tr_schedule_parse(const char *name)
{
    for (int k = 0; k < TR_SCHED_N; k++)
        if (!strcmp(name, names[k]))
            return k;
    return -1;
}

int tr_schedule_cooldown_steps(double frac, int steps)
{
    double n = floor(frac * (double)steps + 0.5);
    return n < 1.0 ? 1 : n > (double)steps ? steps : (int)n;
}

float tr_schedule_lr(const struct tr_schedule *s, int step)
{
    if (step <= s->warmup)
        return s->lr * (float)step / (float)s->warmup;
    if (s->kind == TR_SCHED_CONSTANT)
        return s->lr;
    if (step >= s->steps)
        return s->min_lr;
    /* the decay: over [warmup, steps], or WSD's [steps - cooldown, steps]
     * with lr held before it */
    int from = s->warmup;
    if (s->kind == TR_SCHED_WSD) {
        from = s->steps - s->cooldown;
        if (from < s->warmup)
            from = s->warmup;
        if (step <= from)
            return s->lr;
    }
    double ratio = (double)(step - from) / (double)(s->steps - from);
    double coeff = s->kind == TR_SCHED_COSINE ? 0.5 * (1.0 + cos(M_PI * ratio)) : 1.0 - ratio;
    return (float)(s->min_lr + coeff * (s->lr - s->min_lr));
}
