// Timers on CPU time: ITIMER_VIRTUAL and ITIMER_PROF (kernel/time/itimer.c,
// posix-cpu-timers.c check_cpu_itimer) and timer_create(2) timers on CPU
// clocks. They expire when the process's (or a thread's) CPU time crosses
// a value, which no wall-clock deadline can say in advance; so, like
// Linux's scheduler tick, a ticker samples the clocks every kTick while
// anything is armed (one sentry thread per process, started by the first
// arming, asleep while nothing is armed). Samples include the time of app
// code still running (rusage.h), so a busy loop that never enters the
// sentry is caught within a tick.
// Lock order: CpuTimers::mu_ > ThreadGroup::signal_mu; signals are sent
// with mu_ released.
#ifndef SENTRY_KERNEL_CPU_TIMERS_H_
#define SENTRY_KERNEL_CPU_TIMERS_H_

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"

namespace sentry::kernel {

struct ThreadGroup;

// A CPU-clock timer checked by the ticker (PosixTimer on a CPU clock).
class CpuTimerTarget {
 public:
  virtual ~CpuTimerTarget() = default;
  // Called on the ticker thread with no lock held: check the clock, fire
  // if due. False once the timer is disarmed (the ticker forgets it).
  virtual bool CpuTick() = 0;
};

class CpuTimers {
 public:
  static constexpr absl::Duration kTick = absl::Milliseconds(4);
  struct Value {
    absl::Duration value;     // CPU time left; zero: disarmed
    absl::Duration interval;  // reload
  };

  explicit CpuTimers(ThreadGroup& tg) : tg_(tg) {}
  ~CpuTimers();
  CpuTimers(const CpuTimers&) = delete;
  CpuTimers& operator=(const CpuTimers&) = delete;

  // setitimer/getitimer for ITIMER_VIRTUAL (user time, SIGVTALRM) and
  // ITIMER_PROF (user + system, SIGPROF). Returns the old value; EAGAIN if
  // the ticker thread cannot be started.
  base::Result<Value> SetItimer(int which, Value v);
  Value GetItimer(int which);
  // Keeps checking `t` every tick until its CpuTick returns false.
  base::Result<void> Watch(std::weak_ptr<CpuTimerTarget> t);
  // Process exit: nothing more fires.
  void DisarmAll();

 private:
  struct Itimer {
    int64_t expires_ns = 0;  // on the clock; 0: disarmed
    int64_t incr_ns = 0;
  };
  base::Result<void> StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ArmedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  void Tick();

  ThreadGroup& tg_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  Itimer it_[2] ABSL_GUARDED_BY(mu_);  // ITIMER_VIRTUAL, ITIMER_PROF
  std::vector<std::weak_ptr<CpuTimerTarget>> watched_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_CPU_TIMERS_H_
