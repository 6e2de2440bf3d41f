#include "sentry/kernel/timer.h"

#include <algorithm>
#include <system_error>

namespace sentry::kernel {

Timer::~Timer() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

Timer::Value Timer::GetLocked() {
  if (!deadline_.has_value()) return {absl::ZeroDuration(), interval_};
  // An armed timer never reads as 0 (it would mean "disarmed").
  return {std::max(*deadline_ - absl::Now(), absl::Nanoseconds(1)), interval_};
}

Timer::Value Timer::Get() {
  absl::MutexLock l(&mu_);
  return GetLocked();
}

base::Result<Timer::Value> Timer::Set(std::optional<absl::Time> deadline, absl::Duration interval) {
  absl::MutexLock l(&mu_);
  if (deadline.has_value() && !thread_.joinable()) {
    // std::thread reports the host's EAGAIN by throwing; an app arming many
    // timers must get an error, not bring the sentry down.
    try {
      thread_ = std::thread([this] { Loop(); });
    } catch (const std::system_error&) {
      return base::Errno::kEAGAIN;
    }
  }
  Value old = GetLocked();
  expirations_.store(0, std::memory_order_release);
  deadline_ = deadline;
  interval_ = deadline.has_value() ? std::max(interval, absl::ZeroDuration()) : absl::ZeroDuration();
  cv_.Signal();
  return old;
}

Timer::Value Timer::Disarm() { return std::move(Set(std::nullopt, absl::ZeroDuration())).value(); }

void Timer::Loop() {
  absl::MutexLock l(&mu_);
  while (!stop_) {
    if (!deadline_.has_value()) {
      cv_.Wait(&mu_);
      continue;
    }
    const absl::Time now = absl::Now();
    if (now < *deadline_) {
      cv_.WaitWithDeadline(&mu_, *deadline_);
      continue;
    }
    uint64_t n = 1;
    if (interval_ > absl::ZeroDuration()) {
      // Periods missed while the thread was late count as expirations
      // (hrtimer_forward), so the timer keeps its phase.
      absl::Duration rem;
      n += static_cast<uint64_t>(absl::IDivDuration(now - *deadline_, interval_, &rem));
      deadline_ = *deadline_ + interval_ * static_cast<double>(n);
    } else {
      deadline_.reset();
    }
    expirations_.fetch_add(n, std::memory_order_acq_rel);
    fire_(n);
  }
}

}  // namespace sentry::kernel
