// nanosleep(2) and clock_nanosleep(2). Durations are tiny; the only time
// check is that a sleep is not shorter than asked (a Linux guarantee).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

namespace syscall_test {
namespace {

int64_t NowNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

TEST(Nanosleep, SleepsAtLeastTheRequestedTime) {
  struct timespec req = {0, 2000000};  // 2 ms.
  int64_t start = NowNs(CLOCK_MONOTONIC);
  EXPECT_THAT(Sys(SYS_nanosleep, &req, nullptr), Succeeds());
  EXPECT_GE(NowNs(CLOCK_MONOTONIC) - start, 2000000);
}

TEST(Nanosleep, ZeroDurationReturnsZero) {
  struct timespec req = {0, 0};
  EXPECT_THAT(Sys(SYS_nanosleep, &req, nullptr), Succeeds());
}

TEST(Nanosleep, NanosecondsOfOneSecondOrMoreFailWithEinval) {
  struct timespec req = {0, 1000000000};
  EXPECT_THAT(Sys(SYS_nanosleep, &req, nullptr), FailsWith(EINVAL));
}

TEST(Nanosleep, NegativeNanosecondsFailWithEinval) {
  struct timespec req = {0, -1};
  EXPECT_THAT(Sys(SYS_nanosleep, &req, nullptr), FailsWith(EINVAL));
}

TEST(Nanosleep, NegativeSecondsFailWithEinval) {
  struct timespec req = {-1, 0};
  EXPECT_THAT(Sys(SYS_nanosleep, &req, nullptr), FailsWith(EINVAL));
}

TEST(Nanosleep, BadRequestPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_nanosleep, UnmappedAddress(), nullptr), FailsWith(EFAULT));
}

// A sleep stopped and continued (no handler runs) goes on through
// restart_syscall(2): relative sleeps with the time left
// (ERESTART_RESTARTBLOCK), absolute ones to the same deadline, and they
// return 0 no earlier than asked.
TEST(ClockNanosleep, SleepSurvivesStopAndContinue) {
  for (const bool absolute : {false, true}) {
    Pipe p = MakePipe();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const int64_t start = NowNs(CLOCK_MONOTONIC);
      const int64_t want = 300 * 1000 * 1000;
      struct timespec ts {0, want};
      if (absolute) {
        ts.tv_sec = static_cast<time_t>((start + want) / 1000000000);
        ts.tv_nsec = static_cast<long>((start + want) % 1000000000);
      }
      (void)!write(p.write_end.get(), "r", 1);
      const int r = absolute ? clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr)
                             : static_cast<int>(syscall(SYS_nanosleep, &ts, nullptr));
      if (r != 0) _exit(10);
      _exit(NowNs(CLOCK_MONOTONIC) - start >= want ? 0 : 11);
    }
    char c;
    ASSERT_EQ(read(p.read_end.get(), &c, 1), 1);
    usleep(50000);
    ASSERT_EQ(kill(child, SIGSTOP), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
    ASSERT_TRUE(WIFSTOPPED(status));
    ASSERT_EQ(kill(child, SIGCONT), 0);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << (absolute ? "absolute" : "relative");
  }
}

TEST(ClockNanosleep, AbsoluteTimeInThePastReturnsAtOnce) {
  struct timespec past = {0, 1};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, nullptr),
              Succeeds());
}

TEST(ClockNanosleep, AbsoluteDeadlineIsReached) {
  struct timespec deadline;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &deadline), 0);
  deadline.tv_nsec += 2000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  ASSERT_THAT(Sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr),
              Succeeds());
  EXPECT_GE(NowNs(CLOCK_MONOTONIC), deadline.tv_sec * 1000000000LL + deadline.tv_nsec);
}

TEST(ClockNanosleep, RelativeSleepOnRealtimeSucceeds) {
  struct timespec req = {0, 1000000};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &req, nullptr), Succeeds());
}

TEST(ClockNanosleep, UnknownClockFailsWithEinval) {
  struct timespec req = {0, 1};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, 100, 0, &req, nullptr), FailsWith(EINVAL));
}

TEST(ClockNanosleep, ThreadCpuClockFailsWithEopnotsupp) {
  // The man page says EINVAL, but Linux (kernel/time/posix-timers.c: the
  // thread CPU clock has no nsleep) returns EOPNOTSUPP. Linux wins.
  struct timespec req = {0, 1};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, nullptr),
              FailsWith(EOPNOTSUPP));
}

TEST(ClockNanosleep, InvalidTimespecFailsWithEinval) {
  struct timespec req = {0, 1000000000};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, nullptr), FailsWith(EINVAL));
}

TEST(ClockNanosleep, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, UnmappedAddress(), nullptr),
              FailsWith(EFAULT));
}

}  // namespace
}  // namespace syscall_test
