// alarm, setitimer, getitimer: ITIMER_REAL (sentry/kernel/itimer.h) and the
// CPU-time timers ITIMER_VIRTUAL and ITIMER_PROF (sentry/kernel/cpu_timers.h).
#include <sys/time.h>

#include "sentry/kernel/task.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::RealTimer;

Result<absl::Duration> FromTimeval(const timeval& tv) {
  if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return Errno::kEINVAL;
  return absl::Seconds(tv.tv_sec) + absl::Microseconds(tv.tv_usec);
}

Result<void> CheckWhich(int which) {
  if (which == ITIMER_REAL || which == ITIMER_VIRTUAL || which == ITIMER_PROF) return base::Ok();
  return Errno::kEINVAL;
}

// One setting of `which`, old value out.
Result<RealTimer::Value> SetWhich(Task& t, int which, RealTimer::Value v) {
  if (which == ITIMER_REAL) return t.thread_group().real_timer.Set(v);
  const auto old = TRY(t.thread_group().cpu_timers.SetItimer(which, {v.value, v.interval}));
  return RealTimer::Value{old.value, old.interval};
}

RealTimer::Value GetWhich(Task& t, int which) {
  if (which == ITIMER_REAL) return t.thread_group().real_timer.Get();
  const auto v = t.thread_group().cpu_timers.GetItimer(which);
  return RealTimer::Value{v.value, v.interval};
}

}  // namespace

Result<uint64_t> Alarm(Task& t, const SyscallArgs& args) {
  const uint32_t secs = static_cast<uint32_t>(args.U64(0));
  const RealTimer::Value old = TRY(t.thread_group().real_timer.Set({absl::Seconds(secs), absl::ZeroDuration()}));
  // kernel/time/itimer.c alarm_setitimer: round to the nearest second, and
  // never report 0 for an armed timer.
  const timeval tv = absl::ToTimeval(old.value);
  uint64_t left = static_cast<uint64_t>(tv.tv_sec);
  if ((tv.tv_sec == 0 && tv.tv_usec != 0) || tv.tv_usec >= 500000) ++left;
  return left;
}

Result<uint64_t> Getitimer(Task& t, const SyscallArgs& args) {
  TRY(CheckWhich(args.I32(0)));
  const RealTimer::Value v = GetWhich(t, args.I32(0));
  const itimerval out{absl::ToTimeval(v.interval), absl::ToTimeval(v.value)};
  TRY(t.mm().CopyOut(args.Ptr<itimerval>(1), out));
  return 0;
}

Result<uint64_t> Setitimer(Task& t, const SyscallArgs& args) {
  TRY(CheckWhich(args.I32(0)));
  RealTimer::Value nv;
  if (!args.Ptr<itimerval>(1).null()) {
    const itimerval in = TRY(t.mm().CopyIn(args.Ptr<itimerval>(1)));
    nv.value = TRY(FromTimeval(in.it_value));
    nv.interval = TRY(FromTimeval(in.it_interval));
  }
  const RealTimer::Value old = TRY(SetWhich(t, args.I32(0), nv));
  if (!args.Ptr<itimerval>(2).null()) {
    const itimerval out{absl::ToTimeval(old.interval), absl::ToTimeval(old.value)};
    TRY(t.mm().CopyOut(args.Ptr<itimerval>(2), out));
  }
  return 0;
}

}  // namespace syscalls
