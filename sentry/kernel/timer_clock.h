// Clock ids as the app names them (kernel/time/posix-timers.c
// clockid_to_kclock, posix-cpu-timers.c): the wall clocks, which the app
// reads through the vDSO too (sentry/vdso/timekeeper.h, so both agree), the
// host-served ones (MONOTONIC_RAW, TAI), and CPU-time clocks, including
// those made from pids by clock_getcpuclockid(3)/pthread_getcpuclockid(3).
#ifndef SENTRY_KERNEL_TIMER_CLOCK_H_
#define SENTRY_KERNEL_TIMER_CLOCK_H_

#include <time.h>

#include <cstdint>

#include "absl/time/time.h"
#include "base/result.h"

namespace sentry::kernel {

class Task;

// include/linux/posix-timers.h: a CPU clock id is ~pid << 3 | perthread << 2 | which.
inline constexpr int kCpuClockProf = 0, kCpuClockVirt = 1, kCpuClockSched = 2, kCpuClockMax = 3;
constexpr clockid_t MakeProcessCpuClock(int32_t pid, int which) {
  return static_cast<clockid_t>((~static_cast<uint32_t>(pid) << 3) | static_cast<uint32_t>(which));
}
constexpr clockid_t MakeThreadCpuClock(int32_t tid, int which) { return MakeProcessCpuClock(tid, which | 4); }

struct Clock {
  enum class Kind { kWall, kHost, kCpu };
  Kind kind = Kind::kWall;
  int id = 0;         // as given
  int vvar = 0;       // kWall: VVAR_REALTIME, VVAR_MONOTONIC or VVAR_BOOTTIME
  bool coarse = false;
  clockid_t host = 0;  // kHost
  // kCpu: the caller's (pid 0) or pid's thread/process clock.
  bool thread = false;
  int32_t pid = 0;
  int which = kCpuClockSched;  // VIRT: user time only; PROF, SCHED: user + system
};

// EINVAL for an unknown id, a pid clock naming no process (or a thread
// outside the caller's process), or a CLOCKFD (dynamic) clock.
base::Result<Clock> DecodeClock(Task& t, int32_t id);
// The clock's value now. CPU clocks: the tasks' CPU times (rusage.h); a
// process's clock sums its live and finished threads.
struct timespec ReadClock(Task& t, const Clock& c);
// A CPU clock in ns (0 for a thread or process that is gone).
int64_t ReadCpuClockNs(Task& t, const Clock& c);
// clock_getres(2).
struct timespec ClockResolution(const Clock& c);
// The host time (absl's clock, what Task::Block waits on) at which wall or
// host clock `c` reads `when`.
absl::Time ClockToDeadline(Task& t, const Clock& c, const struct timespec& when);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TIMER_CLOCK_H_
