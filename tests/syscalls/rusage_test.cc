// getrusage/times/wait4 rusage: CPU time is accounted and a reaped
// child's time moves to its parent (RUSAGE_CHILDREN, tms_cutime).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

double Secs(const struct timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

double Secs(const struct timespec& ts) { return ts.tv_sec + ts.tv_nsec / 1e9; }

// Burns `seconds` of this thread's CPU time (not wall time: on a loaded
// machine the thread may get a fraction of a CPU), giving up after 30 s of
// wall time so that a CPU clock that never moves fails the assertions on
// the times instead of hanging.
void Burn(double seconds) {
  struct timespec start, now, cpu;
  clock_gettime(CLOCK_MONOTONIC, &start);
  volatile uint64_t x = 0;
  do {
    for (int i = 0; i < 100000; ++i) x = x + i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (Secs(cpu) < seconds && Secs(now) - Secs(start) < 30);
}

TEST(Getrusage, BadWhoIsEinvalAndBadPointerEfault) {
  struct rusage ru {};
  EXPECT_THAT(Sys(SYS_getrusage, 42, &ru), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_getrusage, RUSAGE_SELF, UnmappedAddress()), FailsWith(EFAULT));
}

TEST(Getrusage, ReapedChildTimeGoesToTheParent) {
  struct rusage before {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &before), 0);
  const pid_t pid = ForkChild([] {
    Burn(0.3);
    struct rusage self {};
    getrusage(RUSAGE_SELF, &self);
    struct rusage thread {};
    getrusage(RUSAGE_THREAD, &thread);
    // Burning the CPU in app code shows up as time.
    return Secs(self.ru_utime) + Secs(self.ru_stime) > 0.05 && Secs(thread.ru_utime) + Secs(thread.ru_stime) > 0.05
               ? 0
               : 1;
  });
  int status = 0;
  struct rusage child {};
  ASSERT_EQ(wait4(pid, &status, 0, &child), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(Secs(child.ru_utime) + Secs(child.ru_stime), 0.05);
  struct rusage after {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &after), 0);
  EXPECT_GT(Secs(after.ru_utime) + Secs(after.ru_stime), Secs(before.ru_utime) + Secs(before.ru_stime) + 0.05);
  struct tms tm {};
  ASSERT_NE(times(&tm), static_cast<clock_t>(-1));
  EXPECT_GT(tm.tms_cutime + tm.tms_cstime, 0);
}

}  // namespace
}  // namespace syscall_test
