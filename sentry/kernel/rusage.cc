#include "sentry/kernel/rusage.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>

namespace sentry::kernel {
namespace {

int64_t ClockNs(clockid_t c) {
  struct timespec ts {};
  if (clock_gettime(c, &ts) != 0) return 0;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int64_t MonotonicNs() { return ClockNs(CLOCK_MONOTONIC); }


CpuTimes TaskTimes(Task& t) {
  CpuTimes c;
  c.utime_ns = t.utime_ns.load();
  if (t.cpu_clock() != 0) c.stime_ns = ClockNs(t.cpu_clock());
  return c;
}

CpuTimes GroupTimes(ThreadGroup& tg) {
  CpuTimes c;
  {
    absl::MutexLock l(&tg.signal_mu);
    for (Task* t : tg.tasks) {
      if (t->times_folded.load()) continue;
      const CpuTimes x = TaskTimes(*t);
      c.utime_ns += x.utime_ns;
      c.stime_ns += x.stime_ns;
    }
  }
  c.utime_ns += tg.dead_utime_ns.load();
  c.stime_ns += tg.dead_stime_ns.load();
  return c;
}

CpuTimes ChildTimes(const ThreadGroup& tg) { return {tg.child_utime_ns.load(), tg.child_stime_ns.load()}; }

int NumCpus() {
  static const int n = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
    return std::clamp(CPU_COUNT(&set), 1, 64);
  }();
  return n;
}

void FoldTaskTimes(Task& t) {
  if (t.times_folded.load()) return;
  const CpuTimes x = TaskTimes(t);
  ThreadGroup& tg = t.thread_group();
  tg.dead_utime_ns += x.utime_ns;
  tg.dead_stime_ns += x.stime_ns;
  t.times_folded = true;
}

}  // namespace sentry::kernel
