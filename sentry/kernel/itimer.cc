#include "sentry/kernel/itimer.h"

#include <signal.h>

#include <algorithm>

#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

// it_real_fn: kill_pid_info(SIGALRM, SEND_SIG_PRIV), i.e. SI_KERNEL, once
// however many periods passed.
RealTimer::RealTimer(ThreadGroup& tg) : timer_([&tg](uint64_t) { SendToGroup(tg, KernelSignalInfo(SIGALRM)); }) {}

base::Result<RealTimer::Value> RealTimer::Set(Value v) {
  if (v.value <= absl::ZeroDuration()) return timer_.Disarm();
  return timer_.Set(absl::Now() + v.value, v.interval);
}


RealTimer::Value RealTimer::Get() {
  Value v = timer_.Get();
  if (v.value > absl::ZeroDuration()) v.value = std::max(v.value, absl::Microseconds(1));
  return v;
}

}  // namespace sentry::kernel
