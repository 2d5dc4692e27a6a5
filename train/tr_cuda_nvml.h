/* GPU utilisation, SM clock, board power and the power cap from NVML, loaded at run time with
 * dlopen("libnvidia-ml.so.1") so that the build needs no NVML headers or
 * library and a machine without the driver's NVML still trains (the
 * figures are then reported as unavailable). */
#ifndef INGOT_TR_CUDA_NVML_H
#define INGOT_TR_CUDA_NVML_H

typedef struct tr_nvml tr_nvml;

/* Open NVML for the CUDA device dev. Returns NULL when NVML or the device
 * cannot be found (not an error: profiling shows "n/a"). */
tr_nvml *tr_nvml_open(int dev);
void tr_nvml_close(tr_nvml *n);   /* accepts NULL */

/* One sample; each figure -1 when unavailable. */
struct tr_nvml_sample {
    double util_pct;  /* utilisation in percent over the driver's last sample period */
    double sm_mhz;    /* current SM clock */
    double power_w;   /* board power draw (the driver's own averaging) */
    double capped;    /* 1: the software power cap is holding the clocks down now, else 0 */
};

void tr_nvml_sample(tr_nvml *n, struct tr_nvml_sample *out);

#endif
