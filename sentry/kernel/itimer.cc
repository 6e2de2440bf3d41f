#include "sentry/kernel/itimer.h"

#include <signal.h>

#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

RealTimer::~RealTimer() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

RealTimer::Value RealTimer::GetLocked() {
  if (!deadline_.has_value()) return {absl::ZeroDuration(), interval_};
  // An armed timer never reads as 0 (it would mean "disarmed").
  return {std::max(*deadline_ - absl::Now(), absl::Microseconds(1)), interval_};
}

RealTimer::Value RealTimer::Get() {
  absl::MutexLock l(&mu_);
  return GetLocked();
}

RealTimer::Value RealTimer::Set(Value v) {
  absl::MutexLock l(&mu_);
  Value old = GetLocked();
  if (v.value <= absl::ZeroDuration()) {
    deadline_.reset();
    interval_ = absl::ZeroDuration();
  } else {
    deadline_ = absl::Now() + v.value;
    interval_ = v.interval;
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }
  cv_.Signal();
  return old;
}

void RealTimer::Loop() {
  absl::MutexLock l(&mu_);
  while (!stop_) {
    if (!deadline_.has_value()) {
      cv_.Wait(&mu_);
      continue;
    }
    if (absl::Now() < *deadline_) {
      cv_.WaitWithDeadline(&mu_, *deadline_);
      continue;
    }
    if (interval_ > absl::ZeroDuration()) {
      deadline_ = *deadline_ + interval_;
    } else {
      deadline_.reset();
    }
    // it_real_fn: kill_pid_info(SIGALRM, SEND_SIG_PRIV), i.e. SI_KERNEL.
    // SendToGroup takes the group's signal_mu; mu_ is a leaf otherwise.
    SendToGroup(tg_, KernelSignalInfo(SIGALRM));
  }
}

}  // namespace sentry::kernel
