// alarm, setitimer, getitimer: ITIMER_REAL (sentry/kernel/itimer.h). The
// CPU-time timers (ITIMER_VIRTUAL, ITIMER_PROF) are not emulated: EINVAL.
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
  if (which == ITIMER_REAL) return base::Ok();
  // TODO: ITIMER_VIRTUAL / ITIMER_PROF need per-task CPU time accounting.
  return Errno::kEINVAL;
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
  const RealTimer::Value v = t.thread_group().real_timer.Get();
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
  const RealTimer::Value old = TRY(t.thread_group().real_timer.Set(nv));
  if (!args.Ptr<itimerval>(2).null()) {
    const itimerval out{absl::ToTimeval(old.interval), absl::ToTimeval(old.value)};
    TRY(t.mm().CopyOut(args.Ptr<itimerval>(2), out));
  }
  return 0;
}

}  // namespace syscalls
