// Clocks and sleeping. The sentry reads its own host clocks (that is the
// sandbox's time source, not a passthrough of the app's call); sleeping goes
// through Task::Block like every wait (invariant 5).
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

bool ValidTimespec(const struct timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec;
}

// Maps an app clock id to the host clock the sentry reads for it.
Result<clockid_t> HostClock(int32_t id) {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return static_cast<clockid_t>(id);
    case CLOCK_REALTIME_ALARM:
      return CLOCK_REALTIME;
    case CLOCK_BOOTTIME_ALARM:
      return CLOCK_BOOTTIME;
    // TODO(#5): the app's own CPU time. Until tasks account it, the sentry
    // thread's CPU time (which includes the work done for the app) stands in.
    case CLOCK_PROCESS_CPUTIME_ID:
      return CLOCK_PROCESS_CPUTIME_ID;
    case CLOCK_THREAD_CPUTIME_ID:
      return CLOCK_THREAD_CPUTIME_ID;
    default:
      return Errno::kEINVAL;  // TODO(#5): clock ids made from pids.
  }
}

}  // namespace

Result<uint64_t> ClockGettime(Task& t, const SyscallArgs& args) {
  const clockid_t c = TRY(HostClock(args.I32(0)));
  struct timespec ts {};
  clock_gettime(c, &ts);
  TRY(t.mm().CopyOut(args.Ptr<struct timespec>(1), ts));
  return 0;
}

Result<uint64_t> ClockGetres(Task& t, const SyscallArgs& args) {
  const clockid_t c = TRY(HostClock(args.I32(0)));
  if (args.U64(1) == 0) return 0;
  struct timespec ts {};
  clock_getres(c, &ts);
  TRY(t.mm().CopyOut(args.Ptr<struct timespec>(1), ts));
  return 0;
}

Result<uint64_t> Gettimeofday(Task& t, const SyscallArgs& args) {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
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
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (args.U64(0) != 0) TRY(t.mm().CopyOut(args.Ptr<int64_t>(0), static_cast<int64_t>(ts.tv_sec)));
  return static_cast<uint64_t>(ts.tv_sec);
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

}  // namespace

Result<uint64_t> Nanosleep(Task& t, const SyscallArgs& args) {
  const struct timespec req = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(0)));
  if (!ValidTimespec(req)) return Errno::kEINVAL;
  return SleepFor(t, req, args.Ptr<struct timespec>(1));
}

Result<uint64_t> ClockNanosleep(Task& t, const SyscallArgs& args) {
  const int32_t clock = args.I32(0);
  const int flags = args.I32(1);
  // The man page says EINVAL; kernel/time/posix-cpu-timers.c says
  // EOPNOTSUPP for the calling thread's CPU clock, and Linux wins.
  if (clock == CLOCK_THREAD_CPUTIME_ID) return Errno::kEOPNOTSUPP;
  const clockid_t host = TRY(HostClock(clock));
  const struct timespec req = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(2)));
  if (!ValidTimespec(req)) return Errno::kEINVAL;
  if (!(flags & TIMER_ABSTIME)) return SleepFor(t, req, args.Ptr<struct timespec>(3));
  // Absolute: convert the target on `host` to a deadline on absl's clock.
  struct timespec now {};
  clock_gettime(host, &now);
  const absl::Duration left = absl::DurationFromTimespec(req) - absl::DurationFromTimespec(now);
  auto r = t.Sleep(absl::Now() + std::max(left, absl::ZeroDuration()));
  // An absolute sleep restarts as is unless a handler runs (hrtimer.c).
  if (!r.ok()) return Errno::kERESTARTNOHAND;
  return 0;
}

}  // namespace syscalls
