/* GPU utilisation and SM clock from NVML, loaded at run time with
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

/* Utilisation in percent over the driver's last sample period (-1 when
 * unavailable) and the current SM clock in MHz (-1 when unavailable). */
void tr_nvml_sample(tr_nvml *n, double *util_pct, double *sm_mhz);

#endif
