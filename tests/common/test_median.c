/* common/median: the middle value of an odd count, the mean of the middle
 * two of an even one, 0 for none; one outlier does not move it. */
#include <stdio.h>

#include "median.h"
#include "test_util.h"

int main(void)
{
    CHECK(ingot_median(NULL, 0) == 0.0);
    double one[] = {7.0};
    CHECK(ingot_median(one, 1) == 7.0);
    /* a drained step's rate among steady ones (session 14's 350M run) */
    double odd[] = {224521.0, 12330293.0, 225232.0, 204821.0, 226307.0};
    CHECK(ingot_median(odd, 5) == 225232.0);
    CHECK(odd[0] == 204821.0 && odd[4] == 12330293.0); /* sorted in place */
    double even[] = {4.0, 1.0, 3.0, 2.0};
    CHECK(ingot_median(even, 4) == 2.5);
    double same[] = {5.0, 5.0, 5.0};
    CHECK(ingot_median(same, 3) == 5.0);
    printf("median: ok\n");
    return 0;
}
