/* When the reference ops go parallel. An OpenMP region costs microseconds,
 * and far more when the machine is oversubscribed (spinning threads wait on
 * descheduled ones), so ops on small tensors run on one thread. Work is
 * counted in inner-loop iterations. Results never depend on this choice:
 * every op sums in an order fixed by the data, not by the threads. */
#ifndef INGOT_REF_PAR_H
#define INGOT_REF_PAR_H

#define REF_PAR_MIN ((size_t)1 << 17)
#define REF_PAR(work) if ((size_t)(work) >= REF_PAR_MIN)

#endif
