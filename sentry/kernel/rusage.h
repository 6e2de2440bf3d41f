// Resource accounting for getrusage(2), times(2), wait4's rusage, the CPU
// clocks and /proc/<pid>/stat. A task's user time is the time its app code
// ran on the platform (platform::AppUsage, measured by the platform around
// its context switch, never the sentry's own time); its system time is the
// app's host kernel time (page faults the host served, stop handling) plus
// the CPU time of the sentry thread that runs it (syscalls, faults, signal
// delivery), minus the sentry thread's spinning in Task::Block. While the
// task is in app code, readers add the time since its Switch began (by the
// wall clock, shared out when more threads of the process run app code
// than there are CPUs: the platform reports only at the stop), so another
// thread sees a busy loop's clock move. Reads through TaskTimes are
// monotonic.
// A finished thread's usage goes to its process (dead_*); a reaped child's
// whole usage and its own children's go to the parent (child_*), as Linux's
// wait_task_zombie().
#ifndef SENTRY_KERNEL_RUSAGE_H_
#define SENTRY_KERNEL_RUSAGE_H_

#include <cstdint>

#include "platform/platform.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

struct CpuTimes {
  int64_t utime_ns = 0, stime_ns = 0;
  uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  uint64_t maxrss_kb = 0;  // peak RSS (not summed: the largest)
  void Add(const CpuTimes& o);
  int64_t total_ns() const { return utime_ns + stime_ns; }
};

// Now on the monotonic clock, in ns (the run loop's Switch timing).
int64_t MonotonicNs();
// One thread (RUSAGE_THREAD; maxrss is its process's). Any thread.
// `peek`: do not raise the monotonic floor (the CPU-timer ticker's reads,
// which use the in-flight estimate without making it stick).
CpuTimes TaskTimes(Task& t, bool peek = false);
// The whole process: live threads plus finished ones (RUSAGE_SELF). Takes
// tg.signal_mu.
CpuTimes GroupTimes(ThreadGroup& tg, bool peek = false);
// Reaped children (RUSAGE_CHILDREN).
CpuTimes ChildTimes(const ThreadGroup& tg);
// The task's thread is about to finish: its usage goes to its group.
void FoldTaskTimes(Task& t);
// A zombie child is reaped: its usage and its children's go to `parent`.
// Returns what the child used (wait4's rusage).
CpuTimes ReapTimes(ThreadGroup& parent, const ThreadGroup& child, bool fold);
// Run loop hooks (task thread): app code starts; it stopped with `u`.
void BeginApp(Task& t);
void EndApp(Task& t, const platform::AppUsage& u);
// The sandbox's virtual CPUs (1..64): as many as the host CPUs runsc may
// run on (its sched_getaffinity mask, what nproc sees natively). One
// number for sched_getaffinity, /proc/cpuinfo, /proc/stat and sysfs.
int NumCpus();

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_RUSAGE_H_
