// POSIX timers (timer_create & co, kernel/time/posix-timers.c) and timerfds
// (fs/timerfd.c): both arm a sentry::kernel::Timer on one of the app's
// clocks (sentry/kernel/timer_clock.h).
#include <signal.h>
#include <sys/timerfd.h>
#include <time.h>

#include "fs/timerfd.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/timer_clock.h"
#include "sentry/kernel/timer_posix.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::Clock;
using sentry::kernel::Timer;

constexpr int kSigevThreadId = 4;  // SIGEV_THREAD_ID
constexpr int kTfdTimerCancelOnSet = 1 << 1;


struct itimerspec ToItimerspec(const Timer::Value& v) {
  return {absl::ToTimespec(v.interval), absl::ToTimespec(v.value)};
}

// Arms `timer` from an app itimerspec on `clock` (common_timer_set,
// timerfd_setup): a zero it_value disarms; TIMER_ABSTIME makes it_value a
// time on the clock. Returns the old value.
Result<Timer::Value> Arm(Task& t, Timer& timer, const Clock& clock, UserPtr<struct itimerspec> in, bool absolute) {
  const struct itimerspec v = TRY(t.mm().CopyIn(in));
  if (!ValidTimespec(v.it_value) || !ValidTimespec(v.it_interval)) return Errno::kEINVAL;
  const absl::Duration interval = absl::DurationFromTimespec(v.it_interval);
  if (v.it_value.tv_sec == 0 && v.it_value.tv_nsec == 0) return timer.Disarm();
  const absl::Time deadline = absolute ? sentry::kernel::ClockToDeadline(t, clock, v.it_value)
                                       : absl::Now() + absl::DurationFromTimespec(v.it_value);
  return timer.Set(deadline, interval);
}

// good_sigevent(): what the timer notifies.
Result<sentry::kernel::SigEvent> CopyInSigevent(Task& t, UserPtr<struct sigevent> p) {
  sentry::kernel::SigEvent ev;
  if (p.null()) return ev;  // SIGEV_SIGNAL, SIGALRM (and the id as the value)
  const struct sigevent se = TRY(t.mm().CopyIn(p));
  ev.notify = se.sigev_notify;
  ev.signo = se.sigev_signo;
  ev.value = se.sigev_value;
  switch (ev.notify) {
    case kSigevThreadId: {
      ev.tid = se._sigev_un._tid;
      auto& tg = t.thread_group();
      bool found = false;
      {
        absl::MutexLock l(&tg.signal_mu);
        for (sentry::kernel::Task* other : tg.tasks) found |= other->tid() == ev.tid;
      }
      if (!found) return Errno::kEINVAL;
      [[fallthrough]];
    }
    case SIGEV_SIGNAL:
    case SIGEV_THREAD:
      if (ev.signo <= 0 || ev.signo > sentry::kernel::kNumSignals) return Errno::kEINVAL;
      if (ev.notify == SIGEV_THREAD) ev.notify = SIGEV_SIGNAL;
      return ev;
    case SIGEV_NONE:
      return ev;
    default:
      return Errno::kEINVAL;
  }
}

Result<std::shared_ptr<sentry::kernel::PosixTimer>> FindTimer(Task& t, int id) {
  auto timer = t.thread_group().posix_timers.Get(id);
  if (timer == nullptr) return Errno::kEINVAL;
  return timer;
}

Result<fs::TimerFd*> FindTimerfd(Task& t, int fd, std::shared_ptr<fs::FileDescription>& hold) {
  hold = TRY(t.fds().Get(fd));
  fs::TimerFd* tfd = fs::AsTimerfd(*hold);
  if (tfd == nullptr) return Errno::kEINVAL;
  return tfd;
}

}  // namespace

Result<uint64_t> TimerCreate(Task& t, const SyscallArgs& args) {
  const Clock clock = TRY(sentry::kernel::DecodeClock(t, args.I32(0)));
  // Clocks without timers in Linux (no k_clock timer_create): EOPNOTSUPP.
  if (clock.coarse || clock.id == CLOCK_MONOTONIC_RAW) return Errno::kEOPNOTSUPP;
  const UserPtr<struct sigevent> sevp = args.Ptr<struct sigevent>(1);
  const sentry::kernel::SigEvent ev = TRY(CopyInSigevent(t, sevp));
  auto& timers = t.thread_group().posix_timers;
  // A CPU clock: the thread or process it reads (posix_cpu_timer_create);
  // the caller's own when made from pid 0.
  Clock c = clock;
  std::weak_ptr<sentry::kernel::ThreadGroup> target;
  if (c.kind == Clock::Kind::kCpu) {
    if (c.pid == 0) c.pid = c.thread ? t.tid() : t.pid();
    target = c.thread || c.pid == t.pid() ? t.thread_group_ptr() : t.kernel().FindProcess(c.pid);
  }
  const int id = TRY(timers.Create(t.thread_group(), c, ev, sevp.null(), std::move(target)));
  if (auto r = t.mm().CopyOut(args.Ptr<int32_t>(2), int32_t{id}); !r.ok()) {
    timers.Delete(id);
    return r.error();
  }
  return 0;
}

Result<uint64_t> TimerSettime(Task& t, const SyscallArgs& args) {
  auto timer = TRY(FindTimer(t, args.I32(0)));
  const int flags = args.I32(1);
  if (args.Ptr<struct itimerspec>(2).null()) return Errno::kEINVAL;
  Timer::Value old;
  if (timer->is_cpu()) {
    // Expires by CPU time: CpuTimers' ticker checks it while armed.
    const struct itimerspec v = TRY(t.mm().CopyIn(args.Ptr<struct itimerspec>(2)));
    if (!ValidTimespec(v.it_value) || !ValidTimespec(v.it_interval)) return Errno::kEINVAL;
    const absl::Duration value = absl::DurationFromTimespec(v.it_value);
    old = timer->SetCpu(value, absl::DurationFromTimespec(v.it_interval), flags & TIMER_ABSTIME);
    if (value > absl::ZeroDuration()) TRY(t.thread_group().cpu_timers.Watch(timer));
  } else {
    old = TRY(Arm(t, timer->timer(), timer->clock(), args.Ptr<struct itimerspec>(2), flags & TIMER_ABSTIME));
  }
  if (!args.Ptr<struct itimerspec>(3).null()) TRY(t.mm().CopyOut(args.Ptr<struct itimerspec>(3), ToItimerspec(old)));
  return 0;
}

Result<uint64_t> TimerGettime(Task& t, const SyscallArgs& args) {
  auto timer = TRY(FindTimer(t, args.I32(0)));
  const Timer::Value v = timer->is_cpu() ? timer->GetCpu() : timer->timer().Get();
  TRY(t.mm().CopyOut(args.Ptr<struct itimerspec>(1), ToItimerspec(v)));
  return 0;
}

Result<uint64_t> TimerGetoverrun(Task& t, const SyscallArgs& args) {
  auto timer = TRY(FindTimer(t, args.I32(0)));
  return static_cast<uint64_t>(timer->overrun());
}

Result<uint64_t> TimerDelete(Task& t, const SyscallArgs& args) {
  if (!t.thread_group().posix_timers.Delete(args.I32(0))) return Errno::kEINVAL;
  return 0;
}

Result<uint64_t> TimerfdCreate(Task& t, const SyscallArgs& args) {
  const int32_t id = args.I32(0);
  const int flags = args.I32(1);
  if (id != CLOCK_REALTIME && id != CLOCK_MONOTONIC && id != CLOCK_BOOTTIME && id != CLOCK_REALTIME_ALARM &&
      id != CLOCK_BOOTTIME_ALARM) {
    return Errno::kEINVAL;
  }
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Errno::kEINVAL;
  const Clock clock = TRY(sentry::kernel::DecodeClock(t, id));
  auto f = std::make_shared<fs::TimerFd>(clock, flags & TFD_NONBLOCK);
  const int fd = TRY(t.fds().Install(std::move(f), flags & TFD_CLOEXEC));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> TimerfdSettime(Task& t, const SyscallArgs& args) {
  const int flags = args.I32(1);
  if (flags & ~(TFD_TIMER_ABSTIME | kTfdTimerCancelOnSet)) return Errno::kEINVAL;
  std::shared_ptr<fs::FileDescription> hold;
  fs::TimerFd* tfd = TRY(FindTimerfd(t, args.Fd(0), hold));
  // TFD_TIMER_CANCEL_ON_SET: the sandbox's clocks are never set, so it
  // never cancels.
  const Timer::Value old =
      TRY(Arm(t, tfd->timer(), tfd->clock(), args.Ptr<struct itimerspec>(2), flags & TFD_TIMER_ABSTIME));
  if (!args.Ptr<struct itimerspec>(3).null()) TRY(t.mm().CopyOut(args.Ptr<struct itimerspec>(3), ToItimerspec(old)));
  return 0;
}

Result<uint64_t> TimerfdGettime(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> hold;
  fs::TimerFd* tfd = TRY(FindTimerfd(t, args.Fd(0), hold));
  TRY(t.mm().CopyOut(args.Ptr<struct itimerspec>(1), ToItimerspec(tfd->timer().Get())));
  return 0;
}

}  // namespace syscalls
