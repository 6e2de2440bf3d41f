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

// Raises `seen` to at least v and returns the result.
int64_t Floor(std::atomic<int64_t>& seen, int64_t v, bool peek) {
  int64_t prev = seen.load();
  if (peek) return std::max(prev, v);
  while (prev < v && !seen.compare_exchange_weak(prev, v)) {
  }
  return std::max(prev, v);
}

void AtomicMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t prev = a.load(std::memory_order_relaxed);
  while (prev < v && !a.compare_exchange_weak(prev, v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void CpuTimes::Add(const CpuTimes& o) {
  utime_ns += o.utime_ns;
  stime_ns += o.stime_ns;
  minflt += o.minflt;
  majflt += o.majflt;
  nvcsw += o.nvcsw;
  nivcsw += o.nivcsw;
  maxrss_kb = std::max(maxrss_kb, o.maxrss_kb);
}

int64_t MonotonicNs() { return ClockNs(CLOCK_MONOTONIC); }

void BeginApp(Task& t) {
  Task::Usage& u = t.usage;
  u.seq.fetch_add(1);
  u.switch_start_ns.store(MonotonicNs());
  u.seq.fetch_add(1);
  t.thread_group().in_app.fetch_add(1, std::memory_order_relaxed);
}

void EndApp(Task& t, const platform::AppUsage& a) {
  t.thread_group().in_app.fetch_sub(1, std::memory_order_relaxed);
  Task::Usage& u = t.usage;
  u.seq.fetch_add(1);
  u.app_user_ns.fetch_add(a.user_ns);
  u.app_sys_ns.fetch_add(a.sys_ns);
  u.switch_start_ns.store(0);
  u.seq.fetch_add(1);
  if (a.tracer_spin_ns != 0) u.spin_ns.fetch_add(a.tracer_spin_ns, std::memory_order_relaxed);
  if (a.minflt != 0) u.minflt.fetch_add(a.minflt, std::memory_order_relaxed);
  if (a.majflt != 0) u.majflt.fetch_add(a.majflt, std::memory_order_relaxed);
  if (a.nivcsw != 0) u.nivcsw.fetch_add(a.nivcsw, std::memory_order_relaxed);
  if (a.maxrss_kb != 0) AtomicMax(t.thread_group().maxrss_kb, a.maxrss_kb);
}

CpuTimes TaskTimes(Task& t, bool peek) {
  Task::Usage& u = t.usage;
  int64_t user = 0, app_sys = 0, start = 0;
  for (;;) {
    const uint32_t s1 = u.seq.load();
    if (s1 & 1) {
      sched_yield();
      continue;
    }
    user = u.app_user_ns.load();
    app_sys = u.app_sys_ns.load();
    start = u.switch_start_ns.load();
    if (u.seq.load() == s1) break;
  }
  if (start != 0) {
    // The run so far, by the wall clock: with more threads of the process
    // in app code than CPUs, each gets its share of them (the platform
    // reports the exact time at the stop).
    int64_t run = std::max<int64_t>(0, MonotonicNs() - start);
    const int running = t.thread_group().in_app.load(std::memory_order_relaxed);
    if (running > NumCpus()) run = run * NumCpus() / running;
    user += run;
  }
  int64_t sentry = 0;
  if (Task::Current() == &t) {
    sentry = ClockNs(CLOCK_THREAD_CPUTIME_ID);
  } else if (t.cpu_clock() != 0) {
    sentry = ClockNs(t.cpu_clock());
  }
  CpuTimes c;
  c.utime_ns = Floor(u.seen_user_ns, user, peek);
  c.stime_ns = Floor(u.seen_sys_ns, app_sys + std::max<int64_t>(0, sentry - u.spin_ns.load()), peek);
  c.minflt = u.minflt.load(std::memory_order_relaxed);
  c.majflt = u.majflt.load(std::memory_order_relaxed);
  c.nvcsw = u.nvcsw.load(std::memory_order_relaxed);
  c.nivcsw = u.nivcsw.load(std::memory_order_relaxed);
  c.maxrss_kb = t.thread_group().maxrss_kb.load(std::memory_order_relaxed);
  return c;
}

CpuTimes GroupTimes(ThreadGroup& tg, bool peek) {
  CpuTimes c;
  {
    absl::MutexLock l(&tg.signal_mu);
    for (Task* t : tg.tasks) {
      if (t->times_folded.load()) continue;
      c.Add(TaskTimes(*t, peek));
    }
  }
  c.utime_ns += tg.dead_utime_ns.load();
  c.stime_ns += tg.dead_stime_ns.load();
  c.minflt += tg.dead_counts.minflt.load();
  c.majflt += tg.dead_counts.majflt.load();
  c.nvcsw += tg.dead_counts.nvcsw.load();
  c.nivcsw += tg.dead_counts.nivcsw.load();
  c.maxrss_kb = tg.maxrss_kb.load();
  return c;
}

CpuTimes ChildTimes(const ThreadGroup& tg) {
  CpuTimes c;
  c.utime_ns = tg.child_utime_ns.load();
  c.stime_ns = tg.child_stime_ns.load();
  c.minflt = tg.child_counts.minflt.load();
  c.majflt = tg.child_counts.majflt.load();
  c.nvcsw = tg.child_counts.nvcsw.load();
  c.nivcsw = tg.child_counts.nivcsw.load();
  c.maxrss_kb = tg.child_maxrss_kb.load();
  return c;
}

CpuTimes ReapTimes(ThreadGroup& parent, const ThreadGroup& child, bool fold) {
  // getrusage(p, RUSAGE_BOTH) of the zombie: its own and its children's.
  CpuTimes r = ChildTimes(child);
  CpuTimes self;
  self.utime_ns = child.dead_utime_ns.load();
  self.stime_ns = child.dead_stime_ns.load();
  self.minflt = child.dead_counts.minflt.load();
  self.majflt = child.dead_counts.majflt.load();
  self.nvcsw = child.dead_counts.nvcsw.load();
  self.nivcsw = child.dead_counts.nivcsw.load();
  self.maxrss_kb = child.maxrss_kb.load();
  r.Add(self);
  if (fold) {
    parent.child_utime_ns += r.utime_ns;
    parent.child_stime_ns += r.stime_ns;
    parent.child_counts.minflt += r.minflt;
    parent.child_counts.majflt += r.majflt;
    parent.child_counts.nvcsw += r.nvcsw;
    parent.child_counts.nivcsw += r.nivcsw;
    AtomicMax(parent.child_maxrss_kb, r.maxrss_kb);
  }
  return r;
}

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
  tg.dead_counts.minflt += x.minflt;
  tg.dead_counts.majflt += x.majflt;
  tg.dead_counts.nvcsw += x.nvcsw;
  tg.dead_counts.nivcsw += x.nivcsw;
  t.times_folded = true;
}

}  // namespace sentry::kernel
