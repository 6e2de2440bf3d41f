// ITIMER_REAL (alarm(2), setitimer(2)): one per thread group; on expiry
// SIGALRM goes to the group (kernel/time/itimer.c it_real_fn) through the
// signals API. The expiry engine is Timer (timer.h).
#ifndef SENTRY_KERNEL_ITIMER_H_
#define SENTRY_KERNEL_ITIMER_H_

#include "absl/time/time.h"
#include "sentry/kernel/timer.h"

namespace sentry::kernel {

struct ThreadGroup;

class RealTimer {
 public:
  using Value = Timer::Value;

  explicit RealTimer(ThreadGroup& tg);
  RealTimer(const RealTimer&) = delete;
  RealTimer& operator=(const RealTimer&) = delete;

  // Arms (value > 0) or disarms (value == 0); returns the previous setting.
  // EAGAIN: see Timer::Set.
  base::Result<Value> Set(Value v);
  // An armed timer reads at least 1 us (getitimer's unit), never 0.
  Value Get();

 private:
  Timer timer_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_ITIMER_H_
