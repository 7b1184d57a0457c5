/* A fake libnvidia-ml.so.1 for tests: exports the NVML entry points prov-agent dlsyms, with data
 * from the text file named by $FAKE_NVML_FIXTURE (read at nvmlInit_v2). Without the variable,
 * nvmlInit_v2 fails like a machine without a driver (NVML_ERROR_DRIVER_NOT_LOADED).
 *
 * Fixture format, one "key value" per line; "device <pci bus id>" starts a device:
 *   device 0000:3b:00.0
 *   uuid GPU-0f6a...          serial 1650...     part 692-2G520-0200-000
 *   name NVIDIA H100 80GB HBM3   (rest of line)
 *   memory <total> <used>     util <gpu %>       power <mW>       energy <mJ>     minor <n>
 *   process <pid> <used bytes>
 * Signatures follow NVIDIA's public NVML API reference (see agent/nvml/nvml_dl.cc for the notice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVICES 16
#define MAX_PROCS 32

typedef struct {
  unsigned int pid;
  unsigned long long mem;
} Proc;

typedef struct {
  char pci[64], uuid[96], serial[64], part[64], name[96];
  unsigned long long mem_total, mem_used, energy;
  unsigned int util, power, minor;
  int nprocs;
  Proc procs[MAX_PROCS];
} Device;

typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} ProcessInfo;

typedef struct {
  unsigned long long total, free, used;
} Memory;

typedef struct {
  unsigned int gpu, memory;
} Utilization;

static Device g_devices[MAX_DEVICES];
static int g_count = 0;

static void copy_rest(char* dst, size_t n, const char* src) {
  while (*src == ' ') ++src;
  snprintf(dst, n, "%s", src);
  size_t len = strlen(dst);
  while (len > 0 && (dst[len - 1] == '\n' || dst[len - 1] == '\r')) dst[--len] = 0;
}

int nvmlInit_v2(void) {
  const char* path = getenv("FAKE_NVML_FIXTURE");
  if (path == NULL) return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
  FILE* f = fopen(path, "r");
  if (f == NULL) return 999; /* NVML_ERROR_UNKNOWN */
  g_count = 0;
  char line[512];
  Device* d = NULL;
  while (fgets(line, sizeof(line), f)) {
    char key[32] = {0};
    int off = 0;
    if (sscanf(line, "%31s %n", key, &off) < 1) continue;
    const char* rest = line + off;
    if (strcmp(key, "device") == 0 && g_count < MAX_DEVICES) {
      d = &g_devices[g_count++];
      memset(d, 0, sizeof(*d));
      copy_rest(d->pci, sizeof(d->pci), rest);
    } else if (d == NULL) {
      continue;
    } else if (strcmp(key, "uuid") == 0) {
      copy_rest(d->uuid, sizeof(d->uuid), rest);
    } else if (strcmp(key, "serial") == 0) {
      copy_rest(d->serial, sizeof(d->serial), rest);
    } else if (strcmp(key, "part") == 0) {
      copy_rest(d->part, sizeof(d->part), rest);
    } else if (strcmp(key, "name") == 0) {
      copy_rest(d->name, sizeof(d->name), rest);
    } else if (strcmp(key, "memory") == 0) {
      sscanf(rest, "%llu %llu", &d->mem_total, &d->mem_used);
    } else if (strcmp(key, "util") == 0) {
      sscanf(rest, "%u", &d->util);
    } else if (strcmp(key, "power") == 0) {
      sscanf(rest, "%u", &d->power);
    } else if (strcmp(key, "energy") == 0) {
      sscanf(rest, "%llu", &d->energy);
    } else if (strcmp(key, "minor") == 0) {
      sscanf(rest, "%u", &d->minor);
    } else if (strcmp(key, "process") == 0 && d->nprocs < MAX_PROCS) {
      Proc* p = &d->procs[d->nprocs++];
      sscanf(rest, "%u %llu", &p->pid, &p->mem);
    }
  }
  fclose(f);
  return 0;
}

int nvmlShutdown(void) { return 0; }

const char* nvmlErrorString(int r) { return r == 9 ? "Driver Not Loaded" : "Unknown Error"; }

int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = (unsigned int)g_count;
  return 0;
}

int nvmlDeviceGetHandleByPciBusId_v2(const char* pci, Device** out) {
  for (int i = 0; i < g_count; ++i) {
    if (strcasecmp(g_devices[i].pci, pci) == 0) {
      *out = &g_devices[i];
      return 0;
    }
  }
  return 6; /* NVML_ERROR_NOT_FOUND */
}

static int str(const char* src, char* buf, unsigned int n) {
  if (src[0] == 0) return 3; /* NVML_ERROR_NOT_SUPPORTED */
  if (strlen(src) + 1 > n) return 7;
  strcpy(buf, src);
  return 0;
}

int nvmlDeviceGetUUID(Device* d, char* b, unsigned int n) { return str(d->uuid, b, n); }
int nvmlDeviceGetSerial(Device* d, char* b, unsigned int n) { return str(d->serial, b, n); }
int nvmlDeviceGetBoardPartNumber(Device* d, char* b, unsigned int n) { return str(d->part, b, n); }
int nvmlDeviceGetName(Device* d, char* b, unsigned int n) { return str(d->name, b, n); }

int nvmlDeviceGetMemoryInfo(Device* d, Memory* m) {
  m->total = d->mem_total;
  m->used = d->mem_used;
  m->free = d->mem_total - d->mem_used;
  return 0;
}

int nvmlDeviceGetUtilizationRates(Device* d, Utilization* u) {
  u->gpu = d->util;
  u->memory = 0;
  return 0;
}

int nvmlDeviceGetPowerUsage(Device* d, unsigned int* mw) {
  *mw = d->power;
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(Device* d, unsigned long long* mj) {
  if (d->energy == 0) return 3;
  *mj = d->energy;
  return 0;
}

int nvmlDeviceGetMinorNumber(Device* d, unsigned int* minor) {
  *minor = d->minor;
  return 0;
}

int nvmlDeviceGetComputeRunningProcesses_v3(Device* d, unsigned int* count, ProcessInfo* infos) {
  if (*count < (unsigned int)d->nprocs) {
    *count = (unsigned int)d->nprocs;
    return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  }
  for (int i = 0; i < d->nprocs; ++i) {
    infos[i].pid = d->procs[i].pid;
    infos[i].usedGpuMemory = d->procs[i].mem;
    infos[i].gpuInstanceId = 0xFFFFFFFFu;
    infos[i].computeInstanceId = 0xFFFFFFFFu;
  }
  *count = (unsigned int)d->nprocs;
  return 0;
}
