// CPU time accounting for getrusage(2), times(2) and wait4's rusage.
// A task's user time is the time its app code ran (between entering and
// leaving Context::Switch, so host scheduling delays of the app count
// too); its system time is the host CPU time of the sentry thread that
// runs it (syscalls, faults, signal delivery). A finished thread's times
// go to its process (dead_*); a reaped child's whole times and its own
// children's go to the parent (child_*), as Linux's wait_task_zombie().
#ifndef SENTRY_KERNEL_RUSAGE_H_
#define SENTRY_KERNEL_RUSAGE_H_

#include <cstdint>

#include "sentry/kernel/task.h"

namespace sentry::kernel {

struct CpuTimes {
  int64_t utime_ns = 0, stime_ns = 0;
};

// Now on the monotonic clock, in ns (the run loop's Switch timing).
int64_t MonotonicNs();
// One thread (RUSAGE_THREAD). Any thread.
CpuTimes TaskTimes(Task& t);
// The whole process: live threads plus finished ones (RUSAGE_SELF). Takes
// tg.signal_mu.
CpuTimes GroupTimes(ThreadGroup& tg);
// Reaped children (RUSAGE_CHILDREN).
CpuTimes ChildTimes(const ThreadGroup& tg);
// The task's thread is about to finish: its times go to its group.
void FoldTaskTimes(Task& t);
// The sandbox's virtual CPUs (1..64): as many as the host CPUs runsc may
// run on (its sched_getaffinity mask, what nproc sees natively). One
// number for sched_getaffinity, /proc/cpuinfo, /proc/stat and sysfs.
int NumCpus();

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_RUSAGE_H_
