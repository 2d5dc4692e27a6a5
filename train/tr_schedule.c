/* Warmup + cosine learning rate. */
#include <math.h>

#include "tr_schedule.h"

float tr_schedule_lr(const struct tr_schedule *s, int step)
{
    if (step <= s->warmup)
        return s->lr * (float)step / (float)s->warmup;
    if (step >= s->steps)
        return s->min_lr;
    double ratio = (double)(step - s->warmup) / (double)(s->steps - s->warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)(s->min_lr + coeff * (s->lr - s->min_lr));
}
