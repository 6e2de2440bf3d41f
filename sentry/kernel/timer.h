// Timer: the expiry engine of every timer the app can set (ITIMER_REAL,
// POSIX timers, timerfds): a deadline on absl's clock (the host's, which
// Task::Block waits on too), an optional period, and an expiration count.
// A sentry thread per timer waits for the deadline; it is started by the
// first Set that arms and joined by the destructor (kernel/time/hrtimer.c
// does this with one queue per CPU; a thread each keeps this simple).
//
// Lock order: Timer::mu_ is taken before whatever `fire` takes
// (ThreadGroup::signal_mu for signals, a file's WaiterQueue for timerfds),
// so `fire` must never call back into its own Timer, and no one may call
// Set/Get while holding a lock that `fire` takes.
#ifndef SENTRY_KERNEL_TIMER_H_
#define SENTRY_KERNEL_TIMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"

namespace sentry::kernel {

class Timer {
 public:
  struct Value {
    absl::Duration value;     // time to the next expiry; zero: disarmed
    absl::Duration interval;  // reload; zero: one-shot
  };
  // Called on the timer's thread at each expiry, with `expirations` >= 1
  // (more when periods were missed), with the Timer's lock held.
  using Fire = std::function<void(uint64_t expirations)>;

  explicit Timer(Fire fire) : fire_(std::move(fire)) {}
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Arms at `deadline` (past deadlines expire at once) with `interval`, or
  // disarms (nullopt). Resets the expiration count. Returns the old value;
  // EAGAIN if the timer's thread cannot be started (the host's thread
  // limit), leaving the timer as it was.
  base::Result<Value> Set(std::optional<absl::Time> deadline, absl::Duration interval);
  // Set(nullopt): never fails.
  Value Disarm();
  Value Get();
  // Expirations since the last Set or Take (timerfd's ticks). Lock-free,
  // so a file's Readiness may call them under its own locks.
  uint64_t Expirations() const { return expirations_.load(std::memory_order_acquire); }
  uint64_t TakeExpirations() { return expirations_.exchange(0, std::memory_order_acq_rel); }

 private:
  void Loop();
  Value GetLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Fire fire_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::optional<absl::Time> deadline_ ABSL_GUARDED_BY(mu_);
  absl::Duration interval_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> expirations_{0};  // written under mu_ (but Take)
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started by the first Set that arms
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TIMER_H_
