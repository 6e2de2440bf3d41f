#include "sentry/kernel/cpu_timers.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <system_error>

#include "sentry/kernel/rusage.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

int Index(int which) { return which == ITIMER_VIRTUAL ? 0 : 1; }

int64_t ClockOf(const CpuTimes& c, int idx) { return idx == 0 ? c.utime_ns : c.total_ns(); }

}  // namespace

CpuTimers::~CpuTimers() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

base::Result<void> CpuTimers::StartLocked() {
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { Loop(); });
    } catch (const std::system_error&) {
      return base::Errno::kEAGAIN;
    }
  }
  cv_.Signal();
  return {};
}

bool CpuTimers::ArmedLocked() const { return it_[0].expires_ns != 0 || it_[1].expires_ns != 0 || !watched_.empty(); }

base::Result<CpuTimers::Value> CpuTimers::SetItimer(int which, Value v) {
  const int i = Index(which);
  absl::MutexLock l(&mu_);
  const bool arm = v.value > absl::ZeroDuration();
  if (arm) TRY(StartLocked());
  const int64_t now = ClockOf(GroupTimes(tg_, /*peek=*/true), i);
  Value old{absl::ZeroDuration(), absl::Nanoseconds(it_[i].incr_ns)};
  if (it_[i].expires_ns != 0) {
    // get_cpu_itimer: about to fire reads as one tick.
    old.value = it_[i].expires_ns > now ? absl::Nanoseconds(it_[i].expires_ns - now) : absl::Nanoseconds(4000000);
  }
  if (arm) {
    it_[i].expires_ns = now + absl::ToInt64Nanoseconds(v.value);
    it_[i].incr_ns = absl::ToInt64Nanoseconds(std::max(v.interval, absl::ZeroDuration()));
  } else {
    it_[i] = Itimer{};
  }
  return old;
}

CpuTimers::Value CpuTimers::GetItimer(int which) {
  const int i = Index(which);
  absl::MutexLock l(&mu_);
  Value v{absl::ZeroDuration(), absl::Nanoseconds(it_[i].incr_ns)};
  if (it_[i].expires_ns != 0) {
    const int64_t now = ClockOf(GroupTimes(tg_, /*peek=*/true), i);
    v.value = it_[i].expires_ns > now ? absl::Nanoseconds(it_[i].expires_ns - now) : absl::Nanoseconds(4000000);
    v.value = std::max(v.value, absl::Microseconds(1));  // getitimer's unit: never 0 while armed
  }
  return v;
}

base::Result<void> CpuTimers::Watch(std::weak_ptr<CpuTimerTarget> t) {
  absl::MutexLock l(&mu_);
  TRY(StartLocked());
  for (const auto& w : watched_) {
    if (!w.owner_before(t) && !t.owner_before(w)) return {};  // already watched
  }
  watched_.push_back(std::move(t));
  return {};
}

void CpuTimers::DisarmAll() {
  absl::MutexLock l(&mu_);
  it_[0] = it_[1] = Itimer{};
  watched_.clear();
}

void CpuTimers::Loop() {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      while (!stop_ && !ArmedLocked()) cv_.Wait(&mu_);
      if (stop_) return;
      cv_.WaitWithTimeout(&mu_, kTick);
      if (stop_) return;
    }
    Tick();
  }
}

void CpuTimers::Tick() {
  int fire[2] = {0, 0};
  std::vector<std::weak_ptr<CpuTimerTarget>> watched;
  {
    absl::MutexLock l(&mu_);
    if (it_[0].expires_ns != 0 || it_[1].expires_ns != 0) {
      const CpuTimes now = GroupTimes(tg_, /*peek=*/true);
      for (int i = 0; i < 2; ++i) {
        Itimer& it = it_[i];
        // check_cpu_itimer: one signal per check, the expiry moved by one
        // interval.
        if (it.expires_ns == 0 || ClockOf(now, i) < it.expires_ns) continue;
        fire[i] = i == 0 ? SIGVTALRM : SIGPROF;
        if (it.incr_ns > 0) {
          it.expires_ns += it.incr_ns;
        } else {
          it = Itimer{};
        }
      }
    }
    watched = watched_;
  }
  for (int sig : fire) {
    if (sig != 0) SendToGroup(tg_, KernelSignalInfo(sig));
  }
  if (watched.empty()) return;
  std::vector<CpuTimerTarget*> done;
  for (auto& w : watched) {
    std::shared_ptr<CpuTimerTarget> t = w.lock();
    if (t == nullptr || !t->CpuTick()) done.push_back(t.get());
  }
  if (done.empty()) return;
  absl::MutexLock l(&mu_);
  std::erase_if(watched_, [&](const std::weak_ptr<CpuTimerTarget>& w) {
    std::shared_ptr<CpuTimerTarget> t = w.lock();
    return t == nullptr || std::find(done.begin(), done.end(), t.get()) != done.end();
  });
}

}  // namespace sentry::kernel
