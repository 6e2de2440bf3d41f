/* The sandbox's vDSO: clock_gettime, gettimeofday, time, clock_getres and
 * getcpu without a trap into the sentry (arch/x86/entry/vdso/vclock_gettime.c,
 * vgetcpu.c). Built freestanding (-nostdlib -fPIC, no relocations) by
 * meson.build, embedded in runsc, mapped by sentry/vdso/vdso.cc. Clocks the
 * parameter page does not carry (CPU-time clocks, MONOTONIC_RAW, TAI, clock
 * ids made from pids) make the real syscall, which the sentry serves. */
#include "sentry/vdso/vvar.h"

/* Kernel ABI types and numbers (no libc here). */
struct vdso_timespec {
  long tv_sec;
  long tv_nsec;
};
struct vdso_timeval {
  long tv_sec;
  long tv_usec;
};
struct vdso_timezone {
  int tz_minuteswest;
  int tz_dsttime;
};

enum {
  kSysGettimeofday = 96,
  kSysTime = 201,
  kSysClockGettime = 228,
  kSysClockGetres = 229,
  kSysGetcpu = 309,
};
enum {
  kClockRealtime = 0,
  kClockMonotonic = 1,
  kClockRealtimeCoarse = 5,
  kClockMonotonicCoarse = 6,
  kClockBoottime = 7,
};
/* GDT_ENTRY_CPUNODE * 8 + 3: its limit is (node << 12) | cpu. */
#define CPUNODE_SEG 0x7b

/* Defined by vdso.lds: the page right below the vDSO's first page. */
extern const volatile struct vvar_data vvar_page __attribute__((visibility("hidden")));

static long vdso_syscall3(long nr, long a, long b, long c) {
  long ret;
  __asm__ __volatile__("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

/* The parameter page's clock for `clock`, or -1. */
static int vvar_index(long clock) {
  switch (clock) {
    case kClockRealtime:
    case kClockRealtimeCoarse:
      return VVAR_REALTIME;
    case kClockMonotonic:
    case kClockMonotonicCoarse:
      return VVAR_MONOTONIC;
    case kClockBoottime:
      return VVAR_BOOTTIME;
    default:
      return -1;
  }
}

int __vdso_clock_gettime(long clock, struct vdso_timespec* ts) {
  const int idx = vvar_index(clock);
  int64_t sec, nsec;
  if (idx >= 0 && vvar_read(&vvar_page, idx, &sec, &nsec) == 0) {
    ts->tv_sec = sec;
    ts->tv_nsec = nsec;
    return 0;
  }
  return (int)vdso_syscall3(kSysClockGettime, clock, (long)ts, 0);
}

int __vdso_gettimeofday(struct vdso_timeval* tv, struct vdso_timezone* tz) {
  int64_t sec, nsec;
  if (vvar_read(&vvar_page, VVAR_REALTIME, &sec, &nsec) != 0)
    return (int)vdso_syscall3(kSysGettimeofday, (long)tv, (long)tz, 0);
  if (tv != 0) {
    tv->tv_sec = sec;
    tv->tv_usec = nsec / 1000;
  }
  if (tz != 0) { /* the sandbox's sys_tz is never set: UTC */
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

long __vdso_time(long* t) {
  int64_t sec, nsec;
  if (vvar_read(&vvar_page, VVAR_REALTIME, &sec, &nsec) != 0) return vdso_syscall3(kSysTime, (long)t, 0, 0);
  if (t != 0) *t = sec;
  return sec;
}

int __vdso_clock_getres(long clock, struct vdso_timespec* res) {
  if (vvar_index(clock) < 0 || vvar_page.mode != VVAR_MODE_TSC)
    return (int)vdso_syscall3(kSysClockGetres, clock, (long)res, 0);
  if (res != 0) {
    res->tv_sec = 0;
    res->tv_nsec = (clock == kClockRealtimeCoarse || clock == kClockMonotonicCoarse) ? vvar_page.coarse_res_ns : 1;
  }
  return 0;
}

long __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
  (void)unused;
  unsigned p;
  __asm__ __volatile__("lsl %[seg], %[p]" : [p] "=r"(p) : [seg] "r"(CPUNODE_SEG));
  if (cpu != 0) *cpu = p & 0xfff;
  if (node != 0) *node = p >> 12;
  return 0;
}

/* The unversioned names, as Linux's vDSO exports them. */
int clock_gettime(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval*, struct vdso_timezone*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
