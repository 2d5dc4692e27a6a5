/* Learning-rate schedules (train/tr_schedule.c): cosine is the formula
 * every earlier run used, bit for bit; linear, constant and wsd reach their
 * defining points (end of warmup, the start and middle of the decay, the
 * last step) and never rise after the warmup; names round-trip; the wsd
 * cooldown rounds to whole steps, at least one. */
#include <math.h>
#include <stdio.h>

#include "tr_schedule.h"
#include "tt_util.h"

static int failures;

static void expect_f(const char *what, float got, float want)
{
    bool ok = got == want || fabsf(got - want) <= 1e-7f * fabsf(want);
    printf("%-44s %.9g (want %.9g) %s\n", what, (double)got, (double)want, ok ? "ok" : "FAIL");
    failures += !ok;
}

/* The schedule before --lr-schedule existed (warmup + cosine). */
static float old_cosine(const struct tr_schedule *s, int step)
{
    if (step <= s->warmup)
        return s->lr * (float)step / (float)s->warmup;
    if (step >= s->steps)
        return s->min_lr;
    double ratio = (double)(step - s->warmup) / (double)(s->steps - s->warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)(s->min_lr + coeff * (s->lr - s->min_lr));
}

/* No step after the warmup raises the rate. */
static void expect_monotone(const char *what, const struct tr_schedule *s)
{
    bool ok = true;
    for (int t = s->warmup + 1; t <= s->steps + 5; t++)
        ok &= tr_schedule_lr(s, t + 1) <= tr_schedule_lr(s, t);
    printf("%-44s %s\n", what, ok ? "ok" : "FAIL");
    failures += !ok;
}

int main(void)
{
    const float lr = 3e-3f, mn = 3e-4f;
    struct tr_schedule s = { .lr = lr, .min_lr = mn, .warmup = 10, .steps = 110 };

    bool same = true;
    for (int t = 1; t <= 120; t++)
        same &= tr_schedule_lr(&s, t) == old_cosine(&s, t);
    printf("%-44s %s\n", "cosine: the earlier formula, bit for bit", same ? "ok" : "FAIL");
    failures += !same;
    expect_f("cosine: warmup step 5", tr_schedule_lr(&s, 5), lr / 2);
    expect_f("cosine: halfway", tr_schedule_lr(&s, 60), (lr + mn) / 2);
    expect_monotone("cosine: never rises after the warmup", &s);

    s.kind = TR_SCHED_LINEAR;
    expect_f("linear: end of warmup", tr_schedule_lr(&s, 10), lr);
    expect_f("linear: a quarter of the decay", tr_schedule_lr(&s, 35),
             (float)(mn + 0.75 * (double)(lr - mn)));
    expect_f("linear: last step", tr_schedule_lr(&s, 110), mn);
    expect_f("linear: past the end", tr_schedule_lr(&s, 200), mn);
    expect_monotone("linear: never rises after the warmup", &s);

    s.kind = TR_SCHED_CONSTANT;
    expect_f("constant: warmup step 5", tr_schedule_lr(&s, 5), lr / 2);
    expect_f("constant: step 60", tr_schedule_lr(&s, 60), lr);
    expect_f("constant: last step and past it", tr_schedule_lr(&s, 500), lr);

    s.kind = TR_SCHED_WSD;
    s.cooldown = tr_schedule_cooldown_steps(0.2, s.steps);   /* 22 steps: 88 .. 110 */
    expect_f("wsd: cooldown 0.2 of 110 steps", (float)s.cooldown, 22.0f);
    expect_f("wsd: end of warmup", tr_schedule_lr(&s, 10), lr);
    expect_f("wsd: stable, step 50", tr_schedule_lr(&s, 50), lr);
    expect_f("wsd: start of the cooldown (88)", tr_schedule_lr(&s, 88), lr);
    bool dec = tr_schedule_lr(&s, 89) < lr;
    printf("%-44s %s\n", "wsd: step 89 decays", dec ? "ok" : "FAIL");
    failures += !dec;
    expect_f("wsd: halfway down (99)", tr_schedule_lr(&s, 99), (lr + mn) / 2);
    expect_f("wsd: last step", tr_schedule_lr(&s, 110), mn);
    expect_monotone("wsd: never rises after the warmup", &s);

    expect_f("cooldown: 0.001 of 10 steps is 1", (float)tr_schedule_cooldown_steps(0.001, 10), 1);
    expect_f("cooldown: all of 10 steps", (float)tr_schedule_cooldown_steps(1.0, 10), 10);
    expect_f("cooldown: 0.25 of 10 rounds to 3", (float)tr_schedule_cooldown_steps(0.25, 10), 3);

    bool names = tr_schedule_parse("unknown") == -1 && tr_schedule_name(TR_SCHED_N) == NULL;
    for (int k = 0; k < TR_SCHED_N; k++)
        names &= tr_schedule_parse(tr_schedule_name((enum tr_schedule_kind)k)) == k;
    printf("%-44s %s\n", "names round-trip, unknown refused", names ? "ok" : "FAIL");
    failures += !names;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
