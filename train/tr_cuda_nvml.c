/* Just the few NVML entry points --profile needs, declared here with the
 * ABI of nvml.h (stable since NVML 5). */
#include <dlfcn.h>
#include <stdlib.h>

#include <cuda_runtime_api.h>

#include "tr_cuda_nvml.h"

typedef struct nvml_device_st *nvml_device;
typedef struct { unsigned int gpu, memory; } nvml_utilization;
enum { NVML_OK = 0, NVML_CLOCK_SM = 1 };
/* nvmlClocksEventReasonSwPowerCap (nvml.h: "clocks have been optimized to
 * not exceed currently set power limits") */
static const unsigned long long NVML_REASON_SW_POWER_CAP = 0x4ULL;

struct tr_nvml {
    void *lib;
    nvml_device dev;
    int (*shutdown)(void);
    int (*util)(nvml_device, nvml_utilization *);
    int (*clock)(nvml_device, int, unsigned int *);
    /* optional: NULL where the driver's NVML lacks them */
    int (*power)(nvml_device, unsigned int *);             /* milliwatts */
    int (*reasons)(nvml_device, unsigned long long *);     /* clock event reasons */
};

tr_nvml *tr_nvml_open(int dev)
{
    char bus[32];
    if (cudaDeviceGetPCIBusId(bus, (int)sizeof(bus), dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return NULL;
    tr_nvml *n = calloc(1, sizeof(*n));
    int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
    int (*by_bus)(const char *, nvml_device *) =
        (int (*)(const char *, nvml_device *))dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    if (n) {
        n->lib = lib;
        n->shutdown = (int (*)(void))dlsym(lib, "nvmlShutdown");
        n->util = (int (*)(nvml_device, nvml_utilization *))dlsym(lib,
                                                                 "nvmlDeviceGetUtilizationRates");
        n->clock = (int (*)(nvml_device, int, unsigned int *))dlsym(lib, "nvmlDeviceGetClockInfo");
        n->power = (int (*)(nvml_device, unsigned int *))dlsym(lib, "nvmlDeviceGetPowerUsage");
        /* renamed in newer drivers; the old name stays exported */
        void *r = dlsym(lib, "nvmlDeviceGetCurrentClocksEventReasons");
        if (!r)
            r = dlsym(lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
        n->reasons = (int (*)(nvml_device, unsigned long long *))r;
    }
    if (!n || !init || !by_bus || !n->shutdown || !n->util || !n->clock || init() != NVML_OK) {
        free(n);
        dlclose(lib);
        return NULL;
    }
    if (by_bus(bus, &n->dev) != NVML_OK) {
        n->shutdown();
        free(n);
        dlclose(lib);
        return NULL;
    }
    return n;
}

void tr_nvml_close(tr_nvml *n)
{
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}

void tr_nvml_sample(tr_nvml *n, struct tr_nvml_sample *out)
{
    nvml_utilization u;
    unsigned int mhz, mw;
    unsigned long long why;
    *out = (struct tr_nvml_sample){-1.0, -1.0, -1.0, -1.0};
    if (!n)
        return;
    if (n->util(n->dev, &u) == NVML_OK)
        out->util_pct = u.gpu;
    if (n->clock(n->dev, NVML_CLOCK_SM, &mhz) == NVML_OK)
        out->sm_mhz = mhz;
    if (n->power && n->power(n->dev, &mw) == NVML_OK)
        out->power_w = mw / 1000.0;
    if (n->reasons && n->reasons(n->dev, &why) == NVML_OK)
        out->capped = (why & NVML_REASON_SW_POWER_CAP) ? 1.0 : 0.0;
}
