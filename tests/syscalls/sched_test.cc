// Scheduling calls: affinity, policies and parameters, sched_attr, nice
// values and I/O priorities, with Linux's argument and permission checks.
#include <linux/ioprio.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

int Cpus() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); }

TEST(SchedYield, Succeeds) { EXPECT_THAT(Sys(SYS_sched_yield), Succeeds()); }

TEST(SchedAffinity, GetShowsOnlineCpusAndSetNarrowsIt) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_GE(CPU_COUNT(&set), 1);
  EXPECT_LE(CPU_COUNT(&set), Cpus());
  EXPECT_EQ(RunInChild([] {
              cpu_set_t one;
              CPU_ZERO(&one);
              CPU_SET(0, &one);
              if (sched_setaffinity(0, sizeof(one), &one) != 0) return 1;
              cpu_set_t got;
              CPU_ZERO(&got);
              if (sched_getaffinity(0, sizeof(got), &got) != 0) return 2;
              if (CPU_COUNT(&got) != 1 || !CPU_ISSET(0, &got)) return 3;
              // A child inherits the mask.
              return RunInChild([] {
                cpu_set_t c;
                CPU_ZERO(&c);
                sched_getaffinity(0, sizeof(c), &c);
                return CPU_COUNT(&c) == 1 && CPU_ISSET(0, &c) ? 0 : 4;
              });
            }),
            0);
}

TEST(SchedAffinity, EmptyOrOutOfRangeMaskIsEinval) {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_THAT(Sys(SYS_sched_setaffinity, 0, sizeof(set), &set), FailsWith(EINVAL));
  CPU_SET(1000, &set);  // no such CPU
  EXPECT_THAT(Sys(SYS_sched_setaffinity, 0, sizeof(set), &set), FailsWith(EINVAL));
}

TEST(SchedAffinity, BadLengthsAndPids) {
  uint64_t mask = 0;
  EXPECT_THAT(Sys(SYS_sched_getaffinity, 0, 4, &mask), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sched_getaffinity, 0, 12, &mask), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sched_getaffinity, 0, 8, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_sched_getaffinity, 0x3fffffff, 8, &mask), FailsWith(ESRCH));
  // Returns the kernel's mask size in bytes.
  cpu_set_t set;
  const long n = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
  EXPECT_GE(n, 8);
  EXPECT_EQ(n % 8, 0);
}

TEST(SchedPolicy, DefaultsAndPriorityRanges) {
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
  struct sched_param p {};
  p.sched_priority = 7;
  ASSERT_EQ(sched_getparam(0, &p), 0);
  EXPECT_EQ(p.sched_priority, 0);
  EXPECT_EQ(sched_get_priority_max(SCHED_FIFO), 99);
  EXPECT_EQ(sched_get_priority_min(SCHED_RR), 1);
  EXPECT_EQ(sched_get_priority_max(SCHED_OTHER), 0);
  EXPECT_THAT(Sys(SYS_sched_get_priority_max, 42), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sched_getscheduler, -1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sched_getscheduler, 0x3fffffff), FailsWith(ESRCH));
  EXPECT_THAT(Sys(SYS_sched_setscheduler, 0, SCHED_OTHER, nullptr), FailsWith(EINVAL));
  p.sched_priority = 5;  // SCHED_OTHER takes priority 0 only
  EXPECT_THAT(Sys(SYS_sched_setscheduler, 0, SCHED_OTHER, &p), FailsWith(EINVAL));
  p.sched_priority = 0;
  EXPECT_THAT(Sys(SYS_sched_setscheduler, 0, 42, &p), FailsWith(EINVAL));
}

TEST(SchedPolicy, RootSetsRoundRobinAndNonRootIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              struct sched_param p {};
              p.sched_priority = 10;
              if (sched_setscheduler(0, SCHED_RR, &p) != 0) return 1;
              if (sched_getscheduler(0) != SCHED_RR) return 2;
              struct sched_param q {};
              if (sched_getparam(0, &q) != 0 || q.sched_priority != 10) return 3;
              struct timespec ts {};
              if (sched_rr_get_interval(0, &ts) != 0 || (ts.tv_sec == 0 && ts.tv_nsec == 0)) return 4;
              p.sched_priority = 0;
              if (sched_setscheduler(0, SCHED_OTHER, &p) != 0) return 5;
              if (setuid(1000) != 0) return 6;
              p.sched_priority = 10;
              if (sched_setscheduler(0, SCHED_FIFO, &p) != -1 || errno != EPERM) return 7;
              // Non-RT changes stay allowed.
              p.sched_priority = 0;
              if (sched_setscheduler(0, SCHED_BATCH, &p) != 0) return 8;
              if (sched_getscheduler(0) != SCHED_BATCH) return 9;
              return 0;
            }),
            0);
}

struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};

TEST(SchedAttr, GetReportsNiceAndSetChangesIt) {
  EXPECT_EQ(RunInChild([] {
              SchedAttr a{};
              if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0) return 1;
              if (a.sched_policy != SCHED_OTHER || a.size != sizeof(a)) return 2;
              SchedAttr s{};
              s.size = 48;
              s.sched_policy = SCHED_OTHER;
              s.sched_nice = 5;
              if (syscall(SYS_sched_setattr, 0, &s, 0) != 0) return 3;
              if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0 || a.sched_nice != 5) return 4;
              if (getpriority(PRIO_PROCESS, 0) != 5) return 5;
              if (syscall(SYS_sched_getattr, 0, &a, 8, 0) != -1 || errno != EINVAL) return 6;
              if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 1) != -1 || errno != EINVAL) return 7;
              s.size = 20;  // too small: E2BIG and the kernel's size back
              if (syscall(SYS_sched_setattr, 0, &s, 0) != -1 || errno != E2BIG) return 8;
              if (s.size < 48) return 9;
              return 0;
            }),
            0);
}

TEST(Priority, NiceRaisesFreelyAndLoweringNeedsCapSysNice) {
  EXPECT_EQ(RunInChild([] {
              if (getpriority(PRIO_PROCESS, 0) != 0) return 1;
              if (setpriority(PRIO_PROCESS, 0, 10) != 0) return 2;
              errno = 0;
              if (getpriority(PRIO_PROCESS, 0) != 10 || errno != 0) return 3;
              // Out-of-range values are clamped.
              if (setpriority(PRIO_PROCESS, 0, 100) != 0 || getpriority(PRIO_PROCESS, 0) != 19) return 4;
              // The raw syscall reports 20 - nice.
              if (syscall(SYS_getpriority, PRIO_PROCESS, 0) != 1) return 5;
              // The nice value is inherited.
              if (RunInChild([] { return getpriority(PRIO_PROCESS, 0) == 19 ? 0 : 1; }) != 0) return 6;
              if (geteuid() == 0) {
                if (setuid(1000) != 0) return 7;
                if (setpriority(PRIO_PROCESS, 0, 5) != -1 || errno != EACCES) return 8;
                if (setpriority(PRIO_PROCESS, 0, 19) != 0) return 9;
              }
              return 0;
            }),
            0);
}

TEST(Priority, ProcessGroupAndUserTargets) {
  EXPECT_EQ(RunInChild([] {
              if (setpgid(0, 0) != 0) return 1;
              if (setpriority(PRIO_PGRP, 0, 7) != 0) return 2;
              if (getpriority(PRIO_PGRP, 0) != 7) return 3;
              if (getpriority(PRIO_PROCESS, 0) != 7) return 4;
              errno = 0;
              if (getpriority(PRIO_USER, getuid()) == -1 && errno != 0) return 5;
              return 0;
            }),
            0);
  EXPECT_THAT(Sys(SYS_getpriority, 42, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_getpriority, PRIO_PROCESS, 0x3fffffff), FailsWith(ESRCH));
  EXPECT_THAT(Sys(SYS_setpriority, PRIO_PGRP, 0x3fffffff, 0), FailsWith(ESRCH));
}

TEST(Priority, AnotherUsersProcessIsEperm) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const pid_t child = ForkChild([] {
    pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(RunInChild([child] {
              if (setuid(1000) != 0) return 1;
              if (setpriority(PRIO_PROCESS, child, 10) != -1 || errno != EPERM) return 2;
              struct sched_param p {};
              cpu_set_t set;
              CPU_ZERO(&set);
              CPU_SET(0, &set);
              if (sched_setaffinity(child, sizeof(set), &set) != -1 || errno != EPERM) return 3;
              if (sched_setscheduler(child, SCHED_BATCH, &p) != -1 || errno != EPERM) return 4;
              return 0;
            }),
            0);
  kill(child, SIGKILL);
  WaitStatus(child);
}

TEST(Ioprio, SetThenGetAndChecks) {
  EXPECT_EQ(RunInChild([] {
              const int be3 = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3);
              if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, be3) != 0) return 1;
              if (syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) != be3) return 2;
              if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_NONE, 1)) != -1 ||
                  errno != EINVAL) {
                return 3;
              }
              if (syscall(SYS_ioprio_set, 9, 0, be3) != -1 || errno != EINVAL) return 4;
              if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, 5 << 13) != -1 || errno != EINVAL) return 7;
              if (geteuid() == 0) {
                if (setuid(1000) != 0) return 5;
                if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_RT, 1)) != -1 ||
                    errno != EPERM) {
                  return 6;
                }
              }
              return 0;
            }),
            0);
}

}  // namespace
}  // namespace syscall_test
