// POSIX per-process timers (timer_create(2) & co, kernel/time/posix-timers.c):
// a Timer (timer.h) whose expiry queues a signal (SIGEV_SIGNAL to the
// process, SIGEV_THREAD_ID to one of its threads) or nothing (SIGEV_NONE).
// While its signal is still pending, further expirations count as overruns
// of that signal (si_overrun, timer_getoverrun) instead of queueing again. A process's
// timers go at exec and exit (DeleteAll).
#ifndef SENTRY_KERNEL_TIMER_POSIX_H_
#define SENTRY_KERNEL_TIMER_POSIX_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/kernel/cpu_timers.h"
#include "sentry/kernel/timer.h"
#include "sentry/kernel/timer_clock.h"

namespace sentry::kernel {

struct ThreadGroup;

// struct sigevent as the kernel reads it (notify, signo, value, tid).
struct SigEvent {
  int notify = SIGEV_SIGNAL;  // SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID (| SIGEV_SIGNAL)
  int signo = SIGALRM;
  sigval_t value{};
  int32_t tid = 0;  // SIGEV_THREAD_ID
};

// A timer on a CPU clock expires by CPU time (CpuTimers' ticker calls
// CpuTick while it is armed); any other by a wall-clock Timer.
class PosixTimer final : public CpuTimerTarget {
 public:
  // `cpu_target`: for a CPU clock, the process whose clock (or whose
  // thread's, clock.pid being the tid) it reads.
  PosixTimer(ThreadGroup& tg, int id, Clock clock, SigEvent ev, std::weak_ptr<ThreadGroup> cpu_target = {});
  Timer& timer() { return timer_; }
  bool is_cpu() const { return clock_.kind == Clock::Kind::kCpu; }
  // CPU clocks: arm at `value` from now (or at the clock's `value` when
  // `absolute`; zero disarms) with `interval`; the old setting.
  Timer::Value SetCpu(absl::Duration value, absl::Duration interval, bool absolute);
  Timer::Value GetCpu();
  bool CpuTick() override;
  const Clock& clock() const { return clock_; }
  // Overruns of the timer's last signal (DELAYTIMER_MAX at most).
  int overrun() const { return last_overrun_.load(std::memory_order_relaxed); }

 private:
  void Fire(uint64_t expirations);  // on the timer's thread, Timer's lock held
  int64_t CpuNow();                  // the CPU clock, ns
  ThreadGroup& tg_;
  const std::weak_ptr<ThreadGroup> cpu_target_;
  absl::Mutex cpu_mu_;  // a leaf but for CpuNow's signal_mu
  int64_t cpu_expires_ns_ ABSL_GUARDED_BY(cpu_mu_) = 0;  // 0: disarmed
  int64_t cpu_interval_ns_ ABSL_GUARDED_BY(cpu_mu_) = 0;
  const int id_;
  const Clock clock_;
  const SigEvent ev_;
  std::atomic<int> last_overrun_{0};
  Timer timer_;  // last: joined before the fields Fire uses go
};

class PosixTimers {
 public:
  // The new timer's id. EAGAIN when the process has too many. With
  // `value_is_id` (a null sigevent), the signal's si_value is the id.
  base::Result<int> Create(ThreadGroup& tg, const Clock& clock, SigEvent ev, bool value_is_id,
                           std::weak_ptr<ThreadGroup> cpu_target = {});
  std::shared_ptr<PosixTimer> Get(int id);
  // False if there is no such timer.
  bool Delete(int id);
  // exec and exit (exit_itimers). Call without locks a timer's Fire takes.
  void DeleteAll();

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<int, std::shared_ptr<PosixTimer>> timers_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TIMER_POSIX_H_
