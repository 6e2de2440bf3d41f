#include "sentry/kernel/timer_posix.h"

#include <algorithm>
#include <climits>
#include <vector>

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

PosixTimer::PosixTimer(ThreadGroup& tg, int id, Clock clock, SigEvent ev)
    : tg_(tg), id_(id), clock_(clock), ev_(ev), timer_([this](uint64_t n) { Fire(n); }) {}

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

base::Result<int> PosixTimers::Create(ThreadGroup& tg, const Clock& clock, SigEvent ev, bool value_is_id) {
  absl::MutexLock l(&mu_);
  if (timers_.size() >= kMaxTimers) return base::Errno::kEAGAIN;
  // Ids count up from 0 and skip ones in use (posix_timer_add).
  while (timers_.contains(next_id_)) next_id_ = next_id_ == INT_MAX ? 0 : next_id_ + 1;
  const int id = next_id_;
  next_id_ = next_id_ == INT_MAX ? 0 : next_id_ + 1;
  if (value_is_id) ev.value.sival_int = id;
  timers_.emplace(id, std::make_shared<PosixTimer>(tg, id, clock, ev));
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
  return true;
}

void PosixTimers::DeleteAll() {
  absl::flat_hash_map<int, std::shared_ptr<PosixTimer>> all;
  {
    absl::MutexLock l(&mu_);
    all.swap(timers_);
    next_id_ = 0;
  }
  for (auto& [id, timer] : all) timer->timer().Disarm();
}

}  // namespace sentry::kernel
