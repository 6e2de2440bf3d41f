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

class PosixTimer {
 public:
  PosixTimer(ThreadGroup& tg, int id, Clock clock, SigEvent ev);
  Timer& timer() { return timer_; }
  const Clock& clock() const { return clock_; }
  // Overruns of the timer's last signal (DELAYTIMER_MAX at most).
  int overrun() const { return last_overrun_.load(std::memory_order_relaxed); }

 private:
  void Fire(uint64_t expirations);  // on the timer's thread, Timer's lock held
  ThreadGroup& tg_;
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
  base::Result<int> Create(ThreadGroup& tg, const Clock& clock, SigEvent ev, bool value_is_id);
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
