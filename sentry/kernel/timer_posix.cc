#include "sentry/kernel/timer_posix.h"

#include <algorithm>
#include <climits>
#include <vector>

#include "sentry/kernel/rusage.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// Per process. Linux bounds them by memory only; each armed timer here has
// a sentry thread, so fewer (TODO(#5): one timer thread for all).
constexpr size_t kMaxTimers = 4096;

// SIGEV_THREAD_ID alone, as <signal.h> spells it.
constexpr int kSigevThreadId = 4;

}  // namespace

PosixTimer::PosixTimer(ThreadGroup& tg, int id, Clock clock, SigEvent ev, std::weak_ptr<ThreadGroup> cpu_target)
    : tg_(tg),
      cpu_target_(std::move(cpu_target)),
      id_(id),
      clock_(clock),
      ev_(ev),
      timer_([this](uint64_t n) { Fire(n); }) {}

int64_t PosixTimer::CpuNow() {
  std::shared_ptr<ThreadGroup> tg = cpu_target_.lock();
  if (tg == nullptr) return 0;
  CpuTimes x;
  if (clock_.thread) {
    absl::MutexLock l(&tg->signal_mu);
    for (Task* t : tg->tasks) {
      if (t->tid() == clock_.pid && !t->times_folded.load()) x = TaskTimes(*t, /*peek=*/true);
    }
  } else {
    x = GroupTimes(*tg, /*peek=*/true);
  }
  return clock_.which == kCpuClockVirt ? x.utime_ns : x.total_ns();
}

Timer::Value PosixTimer::SetCpu(absl::Duration value, absl::Duration interval, bool absolute) {
  const Timer::Value old = GetCpu();
  const int64_t now = CpuNow();
  absl::MutexLock l(&cpu_mu_);
  if (value <= absl::ZeroDuration()) {
    cpu_expires_ns_ = 0;
    cpu_interval_ns_ = 0;
    return old;
  }
  // An expiry already passed fires at the next tick.
  cpu_expires_ns_ = std::max<int64_t>(1, absolute ? absl::ToInt64Nanoseconds(value)
                                                  : now + absl::ToInt64Nanoseconds(value));
  cpu_interval_ns_ = absl::ToInt64Nanoseconds(std::max(interval, absl::ZeroDuration()));
  return old;
}

Timer::Value PosixTimer::GetCpu() {
  const int64_t now = CpuNow();
  absl::MutexLock l(&cpu_mu_);
  Timer::Value v{absl::ZeroDuration(), absl::Nanoseconds(cpu_interval_ns_)};
  if (cpu_expires_ns_ != 0) v.value = absl::Nanoseconds(std::max<int64_t>(cpu_expires_ns_ - now, 1));
  return v;
}

bool PosixTimer::CpuTick() {
  const int64_t now = CpuNow();
  uint64_t n = 0;
  bool armed;
  {
    absl::MutexLock l(&cpu_mu_);
    if (cpu_expires_ns_ == 0) return false;
    if (now >= cpu_expires_ns_) {
      n = 1;
      if (cpu_interval_ns_ > 0) {
        n += static_cast<uint64_t>((now - cpu_expires_ns_) / cpu_interval_ns_);
        cpu_expires_ns_ += static_cast<int64_t>(n) * cpu_interval_ns_;
      } else {
        cpu_expires_ns_ = 0;
      }
    }
    armed = cpu_expires_ns_ != 0;
  }
  if (n != 0) Fire(n);
  return armed;
}

void PosixTimer::Fire(uint64_t expirations) {
  if (ev_.notify == SIGEV_NONE) return;
  siginfo_t info{};
  info.si_signo = ev_.signo;
  info.si_code = SI_TIMER;
  info.si_timerid = id_;
  info.si_overrun = static_cast<int>(std::min<uint64_t>(expirations - 1, INT_MAX));
  info.si_value = ev_.value;
  const int32_t tid = (ev_.notify & kSigevThreadId) ? ev_.tid : 0;
  // timer_getoverrun reports the overruns of the signal last delivered;
  // without a hook at dequeue, those of the last signal that gathered any
  // stand in (the same once it is dequeued, as Linux's it_overrun_last).
  const int merged = SendTimerSignal(tg_, tid, info, expirations);
  if (merged >= 0) last_overrun_.store(merged, std::memory_order_relaxed);
}

base::Result<int> PosixTimers::Create(ThreadGroup& tg, const Clock& clock, SigEvent ev, bool value_is_id,
                                      std::weak_ptr<ThreadGroup> cpu_target) {
  absl::MutexLock l(&mu_);
  if (timers_.size() >= kMaxTimers) return base::Errno::kEAGAIN;
  // Ids count up from 0 and skip ones in use (posix_timer_add).
  while (timers_.contains(next_id_)) next_id_ = next_id_ == INT_MAX ? 0 : next_id_ + 1;
  const int id = next_id_;
  next_id_ = next_id_ == INT_MAX ? 0 : next_id_ + 1;
  if (value_is_id) ev.value.sival_int = id;
  timers_.emplace(id, std::make_shared<PosixTimer>(tg, id, clock, ev, std::move(cpu_target)));
  return id;
}

std::shared_ptr<PosixTimer> PosixTimers::Get(int id) {
  absl::MutexLock l(&mu_);
  auto it = timers_.find(id);
  return it == timers_.end() ? nullptr : it->second;
}

bool PosixTimers::Delete(int id) {
  std::shared_ptr<PosixTimer> victim;
  {
    absl::MutexLock l(&mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    victim = std::move(it->second);
    timers_.erase(it);
  }
  // Disarm now even if a concurrent timer_settime still holds a reference.
  victim->timer().Disarm();
  if (victim->is_cpu()) victim->SetCpu(absl::ZeroDuration(), absl::ZeroDuration(), false);
  return true;
}

void PosixTimers::DeleteAll() {
  absl::flat_hash_map<int, std::shared_ptr<PosixTimer>> all;
  {
    absl::MutexLock l(&mu_);
    all.swap(timers_);
    next_id_ = 0;
  }
  for (auto& [id, timer] : all) {
    timer->timer().Disarm();
    if (timer->is_cpu()) timer->SetCpu(absl::ZeroDuration(), absl::ZeroDuration(), false);
  }
}

}  // namespace sentry::kernel
