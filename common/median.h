/* The median of a set of measurements (per-step rates, timings): robust to
 * the one odd value that swamps a mean. */
#ifndef INGOT_MEDIAN_H
#define INGOT_MEDIAN_H

#include <stddef.h>

/* The median of x[0 .. n - 1], the mean of the middle two for an even n;
 * 0 for n 0. Sorts x in place. */
double ingot_median(double *x, size_t n);

#endif
