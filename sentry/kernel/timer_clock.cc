#include "sentry/kernel/timer_clock.h"

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/task.h"
#include "sentry/vdso/vvar.h"

namespace sentry::kernel {
namespace {

struct timespec HostNow(clockid_t c) {
  struct timespec ts {};
  clock_gettime(c, &ts);
  return ts;
}


Clock Wall(int id, int vvar, bool coarse = false) {
  Clock c;
  c.kind = Clock::Kind::kWall;
  c.id = id;
  c.vvar = vvar;
  c.coarse = coarse;
  return c;
}

}  // namespace

base::Result<Clock> DecodeClock(Task& t, int32_t id) {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_ALARM:
      return Wall(id, VVAR_REALTIME);
    case CLOCK_REALTIME_COARSE:
      return Wall(id, VVAR_REALTIME, true);
    case CLOCK_MONOTONIC:
      return Wall(id, VVAR_MONOTONIC);
    case CLOCK_MONOTONIC_COARSE:
      return Wall(id, VVAR_MONOTONIC, true);
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return Wall(id, VVAR_BOOTTIME);
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_TAI: {
      Clock c;
      c.kind = Clock::Kind::kHost;
      c.id = id;
      c.host = id;
      return c;
    }
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID: {
      Clock c;
      c.kind = Clock::Kind::kCpu;
      c.id = id;
      c.thread = id == CLOCK_THREAD_CPUTIME_ID;
      return c;
    }
    default:
      break;
  }
  if (id >= 0) return base::Errno::kEINVAL;
  // A clock made from a pid (posix-cpu-timers.c validate_clock_permissions).
  const uint32_t u = static_cast<uint32_t>(id);
  if ((u & 3) >= static_cast<uint32_t>(kCpuClockMax)) return base::Errno::kEINVAL;  // CLOCKFD
  Clock c;
  c.kind = Clock::Kind::kCpu;
  c.id = id;
  c.thread = (u & 4) != 0;
  c.which = static_cast<int>(u & 3);
  c.pid = ~(id >> 3);  // CPUCLOCK_PID: an arithmetic shift of the negative id
  if (c.pid == 0) return c;
  // lookup_task(): a thread must be in the caller's process; a process
  // clock needs a process (leader) pid.
  if (c.thread) {
    ThreadGroup& tg = t.thread_group();
    absl::MutexLock l(&tg.signal_mu);
    for (Task* other : tg.tasks) {
      if (other->tid() == c.pid) return c;
    }
    return base::Errno::kEINVAL;
  }
  if (c.pid == t.pid() || t.kernel().FindProcess(c.pid) != nullptr) return c;
  return base::Errno::kEINVAL;
}

struct timespec ReadClock(Task& t, const Clock& c) {
  switch (c.kind) {
    case Clock::Kind::kWall: {
      vdso::Vdso* v = t.kernel().vdso();
      if (v != nullptr) return v->timekeeper().Now(c.vvar);
      return HostNow(c.vvar == VVAR_REALTIME ? CLOCK_REALTIME : c.vvar == VVAR_BOOTTIME ? CLOCK_BOOTTIME
                                                                                          : CLOCK_MONOTONIC);
    }
    case Clock::Kind::kHost:
      return HostNow(c.host);
    case Clock::Kind::kCpu:
      break;
  }
  const int64_t ns = ReadCpuClockNs(t, c);
  return {ns / 1000000000, ns % 1000000000};
}

int64_t ReadCpuClockNs(Task& t, const Clock& c) {
  CpuTimes x;
  if (c.thread) {
    if (c.pid == 0 || c.pid == t.tid()) {
      x = TaskTimes(t);
    } else {
      ThreadGroup& tg = t.thread_group();
      absl::MutexLock l(&tg.signal_mu);
      for (Task* other : tg.tasks) {
        if (other->tid() == c.pid && !other->times_folded.load()) x = TaskTimes(*other);
      }
    }
  } else {
    std::shared_ptr<ThreadGroup> tg =
        c.pid == 0 || c.pid == t.pid() ? t.thread_group_ptr() : t.kernel().FindProcess(c.pid);
    if (tg != nullptr) x = GroupTimes(*tg);
  }
  return c.which == kCpuClockVirt ? x.utime_ns : x.total_ns();
}

struct timespec ClockResolution(const Clock& c) {
  struct timespec ts {};
  if (c.kind == Clock::Kind::kHost) {
    clock_getres(c.host, &ts);
  } else if (c.coarse) {
    clock_getres(CLOCK_REALTIME_COARSE, &ts);
  } else {
    ts.tv_nsec = 1;  // hrtimer resolution, and the CPU clocks' (ns)
  }
  return ts;
}

absl::Time ClockToDeadline(Task& t, const Clock& c, const struct timespec& when) {
  const struct timespec now = ReadClock(t, c);
  return absl::Now() + (absl::DurationFromTimespec(when) - absl::DurationFromTimespec(now));
}

}  // namespace sentry::kernel
