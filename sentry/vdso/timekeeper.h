// Timekeeper: keeps the vDSO's parameter page ([vvar], vvar.h) current and
// reads the clocks exactly as the vDSO does, so that clock_gettime through
// the vDSO and through the syscall agree (gVisor's Timekeeper does the same).
//
// Calibration: the TSC rate is measured against the host's CLOCK_MONOTONIC
// over an ever longer baseline (the first sample is taken at creation). The
// first update (10 ms in) switches the page from syscall mode to TSC mode;
// later updates (50 ms, 200 ms, then every second) re-base the clocks.
// An update never makes MONOTONIC or BOOTTIME go back: the new parameters
// continue the old ones at the instant they take over, with the rate
// adjusted so that the remaining error (against the host clock) is gone by
// the next update, like NTP's slewing. Errors over 10 ms (a stalled
// sentry) are stepped forward. REALTIME follows MONOTONIC plus the host's
// offset between them, which moves only when the host clock is set.
#ifndef SENTRY_VDSO_TIMEKEEPER_H_
#define SENTRY_VDSO_TIMEKEEPER_H_

#include <time.h>

#include <cstdint>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "sentry/vdso/vvar.h"

namespace sentry::vdso {

class Timekeeper {
 public:
  // `page`: the zeroed parameter page (the memory file's); must outlive
  // this. Starts the update thread unless the host's TSC is unusable (not
  // invariant), in which case the page stays in syscall mode.
  explicit Timekeeper(vvar_data* page);
  ~Timekeeper();
  Timekeeper(const Timekeeper&) = delete;
  Timekeeper& operator=(const Timekeeper&) = delete;

  // CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME (a VVAR_* index) as the
  // app sees them. Any thread.
  struct timespec Now(int vvar_clock) const;

 private:
  struct Sample {
    uint64_t tsc = 0;
    int64_t mono = 0;      // host CLOCK_MONOTONIC at tsc, ns
    int64_t real_off = 0;  // host REALTIME - MONOTONIC, ns
    int64_t boot_off = 0;  // host BOOTTIME - MONOTONIC, ns
  };
  static Sample TakeSample();
  // Publishes parameters from `s`, to hold until about `next` ns from now.
  void Update(const Sample& s, int64_t next);
  void Loop();

  volatile vvar_data* page_;
  Sample first_;
  // The parameters last published (update thread only).
  bool published_ = false;
  uint64_t tsc_ref_ = 0, mult_ = 0;
  int64_t mono_base_ = 0, real_off_ = 0, boot_off_ = 0;

  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sentry::vdso

#endif  // SENTRY_VDSO_TIMEKEEPER_H_
