// Clocks and sleeping. The sentry reads its own host clocks (that is the
// sandbox's time source, not a passthrough of the app's call); sleeping goes
// through Task::Block like every wait (invariant 5).
#include <sched.h>
#include <time.h>

#include <algorithm>

#include "sentry/kernel/cpu_timers.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/timer_clock.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr int64_t kNsPerSec = 1000000000;


}  // namespace

using sentry::kernel::Clock;
using sentry::kernel::DecodeClock;
using sentry::kernel::ReadClock;

Result<uint64_t> ClockGettime(Task& t, const SyscallArgs& args) {
  const Clock c = TRY(DecodeClock(t, args.I32(0)));
  TRY(t.mm().CopyOut(args.Ptr<struct timespec>(1), ReadClock(t, c)));
  return 0;
}

Result<uint64_t> ClockGetres(Task& t, const SyscallArgs& args) {
  const Clock c = TRY(DecodeClock(t, args.I32(0)));
  if (args.U64(1) == 0) return 0;
  TRY(t.mm().CopyOut(args.Ptr<struct timespec>(1), sentry::kernel::ClockResolution(c)));
  return 0;
}

// clock_settime(2) and settimeofday(2): the sandbox's clocks are the
// host's and are never set. Setting CLOCK_REALTIME takes CAP_SYS_TIME in
// the initial user namespace, which no sandbox task has: EPERM after
// Linux's own argument checks (kernel/time/posix-timers.c,
// do_sys_settimeofday64). CPU clocks can never be set (posix_cpu_clock_set:
// EPERM); clocks without a setter are EINVAL.
Result<uint64_t> ClockSettime(Task& t, const SyscallArgs& args) {
  // Only CLOCK_REALTIME and the CPU clocks made from pids (negative ids
  // but fd clocks, CLOCKFD 3) have a setter; CLOCK_PROCESS_CPUTIME_ID and
  // CLOCK_THREAD_CPUTIME_ID do not.
  const int32_t id = args.I32(0);
  const bool cpu = id < 0;
  if (id != CLOCK_REALTIME && !cpu) return Errno::kEINVAL;
  const struct timespec ts = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(1)));
  if (cpu) {
    if ((id & 7) == 3) return Errno::kEINVAL;  // no fd clocks in the sandbox
    TRY(DecodeClock(t, id));                  // a pid that does not exist
  } else if (!ValidTimespec(ts)) {
    return Errno::kEINVAL;
  }
  return Errno::kEPERM;
}

Result<uint64_t> Settimeofday(Task& t, const SyscallArgs& args) {
  if (args.U64(0) != 0) {
    const struct timeval tv = TRY(t.mm().CopyIn(args.Ptr<struct timeval>(0)));
    if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return Errno::kEINVAL;
  }
  if (args.U64(1) != 0) TRY(t.mm().CopyIn(args.Ptr<struct timezone>(1)));
  return Errno::kEPERM;
}

Result<uint64_t> Gettimeofday(Task& t, const SyscallArgs& args) {
  const struct timespec ts = ReadClock(t, TRY(DecodeClock(t, CLOCK_REALTIME)));
  if (args.U64(0) != 0) {
    struct timeval tv {ts.tv_sec, ts.tv_nsec / 1000};
    TRY(t.mm().CopyOut(args.Ptr<struct timeval>(0), tv));
  }
  if (args.U64(1) != 0) {
    struct timezone tz {};
    TRY(t.mm().CopyOut(args.Ptr<struct timezone>(1), tz));
  }
  return 0;
}

Result<uint64_t> Time(Task& t, const SyscallArgs& args) {
  const struct timespec ts = ReadClock(t, TRY(DecodeClock(t, CLOCK_REALTIME)));
  if (args.U64(0) != 0) TRY(t.mm().CopyOut(args.Ptr<int64_t>(0), static_cast<int64_t>(ts.tv_sec)));
  return static_cast<uint64_t>(ts.tv_sec);
}

// getcpu(2): the host CPU the task's sentry thread runs on (the app's
// thread ran there or nearby a moment ago; the vDSO's getcpu reads the
// app's own). One NUMA node. `tcache` is ignored since Linux 2.6.24.
Result<uint64_t> Getcpu(Task& t, const SyscallArgs& args) {
  const int cpu = sched_getcpu();
  if (args.U64(0) != 0) TRY(t.mm().CopyOut(args.Ptr<uint32_t>(0), static_cast<uint32_t>(std::max(cpu, 0))));
  if (args.U64(1) != 0) TRY(t.mm().CopyOut(args.Ptr<uint32_t>(1), uint32_t{0}));
  return 0;
}

namespace {

// Shared by nanosleep and relative clock_nanosleep: on a signal, the time
// left goes to `rem` (kernel/time/hrtimer.c) and the call returns
// ERESTART_RESTARTBLOCK: EINTR if a handler runs, else restart_syscall(2)
// sleeps on until the same deadline (the task's restart block).
Result<uint64_t> SleepUntil(Task& t, absl::Time deadline, UserPtr<struct timespec> rem) {
  auto r = t.Sleep(deadline);
  if (r.ok()) return 0;
  if (!rem.null()) {
    const absl::Duration left = std::max(absl::ZeroDuration(), deadline - absl::Now());
    TRY(t.mm().CopyOut(rem, absl::ToTimespec(left)));
  }
  t.restart_block = [deadline, rem](Task& t2) { return SleepUntil(t2, deadline, rem); };
  return Errno::kERESTART_RESTARTBLOCK;
}

Result<uint64_t> SleepFor(Task& t, const struct timespec& req, UserPtr<struct timespec> rem) {
  return SleepUntil(t, absl::Now() + absl::DurationFromTimespec(req), rem);
}

// posix_cpu_nsleep: until CPU clock `c` (another thread's or a process's)
// reads `target` ns. CPU time has no wall-clock deadline, so the sleep
// re-reads the clock at least every tick (CpuTimers::kTick). On a signal a
// relative sleep reports the CPU time left in `rem` and restarts to the same
// target; an absolute one restarts unless a handler runs.
Result<uint64_t> CpuSleepUntil(Task& t, const Clock& c, int64_t target, bool absolute, UserPtr<struct timespec> rem) {
  for (;;) {
    const int64_t left = target - sentry::kernel::ReadCpuClockNs(t, c);
    if (left <= 0) return 0;
    const absl::Duration step = std::min(absl::Nanoseconds(left), sentry::kernel::CpuTimers::kTick);
    if (!t.Sleep(absl::Now() + step).ok()) break;
  }
  if (absolute) return Errno::kERESTARTNOHAND;
  const int64_t left = std::max<int64_t>(0, target - sentry::kernel::ReadCpuClockNs(t, c));
  if (!rem.null()) TRY(t.mm().CopyOut(rem, absl::ToTimespec(absl::Nanoseconds(left))));
  t.restart_block = [c, target, rem](Task& t2) { return CpuSleepUntil(t2, c, target, false, rem); };
  return Errno::kERESTART_RESTARTBLOCK;
}

}  // namespace

Result<uint64_t> Nanosleep(Task& t, const SyscallArgs& args) {
  const struct timespec req = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(0)));
  if (!ValidTimespec(req)) return Errno::kEINVAL;
  return SleepFor(t, req, args.Ptr<struct timespec>(1));
}

Result<uint64_t> ClockNanosleep(Task& t, const SyscallArgs& args) {
  const int32_t id = args.I32(0);
  const int flags = args.I32(1);
  // kernel/time/posix-timers.c: CLOCK_THREAD_CPUTIME_ID has no nsleep
  // (EOPNOTSUPP, whatever the man page says); posix_cpu_nsleep refuses the
  // caller's own thread clock made from its tid (EINVAL).
  if (id == CLOCK_THREAD_CPUTIME_ID) return Errno::kEOPNOTSUPP;
  const Clock c = TRY(DecodeClock(t, id));
  if (c.kind == Clock::Kind::kCpu && c.thread && (c.pid == 0 || c.pid == t.tid())) return Errno::kEINVAL;
  const struct timespec req = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(2)));
  if (!ValidTimespec(req)) return Errno::kEINVAL;
  if (c.kind == Clock::Kind::kCpu) {
    const int64_t target = absl::ToInt64Nanoseconds(absl::DurationFromTimespec(req)) +
                           ((flags & TIMER_ABSTIME) ? 0 : sentry::kernel::ReadCpuClockNs(t, c));
    return CpuSleepUntil(t, c, target, flags & TIMER_ABSTIME, args.Ptr<struct timespec>(3));
  }
  if (!(flags & TIMER_ABSTIME)) return SleepFor(t, req, args.Ptr<struct timespec>(3));
  // Absolute: the target on the app's clock, as a deadline on absl's.
  const absl::Time deadline = sentry::kernel::ClockToDeadline(t, c, req);
  auto r = t.Sleep(deadline);
  // An absolute sleep restarts as is unless a handler runs (hrtimer.c).
  if (!r.ok()) return Errno::kERESTARTNOHAND;
  return 0;
}

}  // namespace syscalls
