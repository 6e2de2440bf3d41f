// ITIMER_REAL (alarm(2), setitimer(2)): one per thread group; on expiry
// SIGALRM goes to the group (kernel/time/itimer.c it_real_fn) through the
// signals API. A timer sentry thread waits for the deadline; it is started
// on first use and joined when the group is destroyed.
#ifndef SENTRY_KERNEL_ITIMER_H_
#define SENTRY_KERNEL_ITIMER_H_

#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sentry::kernel {

struct ThreadGroup;

class RealTimer {
 public:
  struct Value {
    absl::Duration value;     // time to the next expiry; zero: disarmed
    absl::Duration interval;  // reload; zero: one-shot
  };

  explicit RealTimer(ThreadGroup& tg) : tg_(tg) {}
  ~RealTimer();
  RealTimer(const RealTimer&) = delete;
  RealTimer& operator=(const RealTimer&) = delete;

  // Arms (value > 0) or disarms (value == 0); returns the previous setting.
  Value Set(Value v);
  Value Get();

 private:
  void Loop();
  Value GetLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ThreadGroup& tg_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::optional<absl::Time> deadline_ ABSL_GUARDED_BY(mu_);
  absl::Duration interval_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started by the first Set that arms
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_ITIMER_H_
