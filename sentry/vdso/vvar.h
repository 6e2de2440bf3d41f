/* The vDSO's parameter page ("[vvar]"), shared by the vDSO (C, built
 * freestanding) and the sentry (C++), which keeps it current
 * (sentry/vdso/timekeeper.h). One page in the memory file, mapped read-only
 * into every address space right below the vDSO's text.
 *
 * The clocks are TSC-based like Linux's (lib/vdso/gettimeofday.c): at
 * `tsc_ref` the clock `c` read base[c]; since then it advanced by
 * ((tsc - tsc_ref) * mult) >> shift nanoseconds. A seqlock (`seq` odd while
 * the sentry writes) makes the reads consistent. In mode VVAR_MODE_SYSCALL
 * (before the TSC is calibrated, or on a host without a usable TSC) the vDSO
 * makes the real syscall instead. */
#ifndef SENTRY_VDSO_VVAR_H_
#define SENTRY_VDSO_VVAR_H_

#include <stdint.h>

#define VVAR_MODE_SYSCALL 0u
#define VVAR_MODE_TSC 1u

#define VVAR_REALTIME 0
#define VVAR_MONOTONIC 1
#define VVAR_BOOTTIME 2
#define VVAR_NCLOCKS 3

#define VVAR_NSEC_PER_SEC 1000000000LL

struct vvar_clock {
  int64_t sec;
  int64_t nsec; /* < VVAR_NSEC_PER_SEC */
};

struct vvar_data {
  uint32_t seq;
  uint32_t mode;
  uint64_t tsc_ref;
  uint64_t mult;
  uint32_t shift;
  uint32_t coarse_res_ns; /* clock_getres of the *_COARSE clocks */
  struct vvar_clock base[VVAR_NCLOCKS];
};

/* rdtsc after every earlier load (Linux's rdtsc_ordered with lfence). */
static inline uint64_t vvar_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds since tsc_ref at `tsc`. A TSC read slightly behind tsc_ref
 * (another CPU's) counts as tsc_ref, as Linux clamps to cycle_last. */
static inline uint64_t vvar_delta_ns(uint64_t tsc, uint64_t tsc_ref, uint64_t mult, uint32_t shift) {
  const uint64_t d = tsc > tsc_ref ? tsc - tsc_ref : 0;
  return (uint64_t)(((unsigned __int128)d * mult) >> shift);
}

/* Reads clock `idx` into sec and nsec. Returns 0, or -1 in syscall mode. */
static inline int vvar_read(const volatile struct vvar_data* v, int idx, int64_t* sec, int64_t* nsec) {
  uint32_t seq;
  int64_t s, ns;
  for (;;) {
    seq = v->seq;
    __asm__ __volatile__("" ::: "memory");
    if (seq & 1) {
      __asm__ __volatile__("pause");
      continue;
    }
    if (v->mode != VVAR_MODE_TSC) return -1;
    const uint64_t d = vvar_delta_ns(vvar_rdtsc(), v->tsc_ref, v->mult, v->shift);
    s = v->base[idx].sec;
    ns = v->base[idx].nsec;
    __asm__ __volatile__("" ::: "memory");
    if (v->seq != seq) continue;
    if (d < 4 * (uint64_t)VVAR_NSEC_PER_SEC) {
      ns += (int64_t)d;
      while (ns >= VVAR_NSEC_PER_SEC) {
        ns -= VVAR_NSEC_PER_SEC;
        s++;
      }
    } else { /* the sentry's updates stalled: rare, so divide */
      s += (int64_t)(d / VVAR_NSEC_PER_SEC);
      ns += (int64_t)(d % VVAR_NSEC_PER_SEC);
      if (ns >= VVAR_NSEC_PER_SEC) {
        ns -= VVAR_NSEC_PER_SEC;
        s++;
      }
    }
    *sec = s;
    *nsec = ns;
    return 0;
  }
}

#endif /* SENTRY_VDSO_VVAR_H_ */
