// clock_gettime(2), clock_getres(2), gettimeofday(2), time(2). Raw syscalls
// where the vDSO would otherwise answer (and crash on bad pointers).
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

namespace syscall_test {
namespace {

const clockid_t kClocks[] = {CLOCK_REALTIME,         CLOCK_MONOTONIC,
                             CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                             CLOCK_MONOTONIC_RAW,    CLOCK_REALTIME_COARSE,
                             CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};

TEST(ClockGettime, EveryStandardClockAnswersWithNormalizedTime) {
  for (clockid_t c : kClocks) {
    struct timespec ts = {-1, -1};
    EXPECT_THAT(Sys(SYS_clock_gettime, c, &ts), Succeeds()) << "clock " << c;
    EXPECT_GE(ts.tv_sec, 0) << "clock " << c;
    EXPECT_GE(ts.tv_nsec, 0) << "clock " << c;
    EXPECT_LT(ts.tv_nsec, 1000000000) << "clock " << c;
  }
}

TEST(ClockGettime, MonotonicNeverGoesBackwards) {
  struct timespec prev, cur;
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &prev), 0);
  for (int i = 0; i < 1000; i++) {
    ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &cur), 0);
    ASSERT_TRUE(cur.tv_sec > prev.tv_sec ||
                (cur.tv_sec == prev.tv_sec && cur.tv_nsec >= prev.tv_nsec));
    prev = cur;
  }
}

TEST(ClockGettime, BoottimeIsAtLeastMonotonic) {
  struct timespec mono, boot;
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &mono), 0);
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &boot), 0);
  EXPECT_GE(boot.tv_sec, mono.tv_sec);
}

TEST(ClockGettime, RealtimeIsAfter2020) {
  struct timespec ts;
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts), 0);
  EXPECT_GT(ts.tv_sec, 1577836800);  // 2020-01-01.
}

TEST(ClockGettime, UnknownClockFailsWithEinval) {
  struct timespec ts;
  EXPECT_THAT(Sys(SYS_clock_gettime, 100, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_gettime, -1, &ts), FailsWith(EINVAL));
}

TEST(ClockGettime, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_clock_gettime, CLOCK_MONOTONIC, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_clock_gettime, CLOCK_REALTIME, UnmappedAddress()), FailsWith(EFAULT));
}

TEST(ClockGetres, ResolutionIsPositiveAndAtMostOneSecond) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    struct timespec res = {-1, -1};
    EXPECT_THAT(Sys(SYS_clock_getres, c, &res), Succeeds());
    EXPECT_EQ(res.tv_sec, 0);
    EXPECT_GT(res.tv_nsec, 0);
  }
}

TEST(ClockGetres, NullPointerIsAllowed) {
  EXPECT_THAT(Sys(SYS_clock_getres, CLOCK_MONOTONIC, nullptr), Succeeds());
}

TEST(ClockGetres, UnknownClockFailsWithEinval) {
  struct timespec res;
  EXPECT_THAT(Sys(SYS_clock_getres, 100, &res), FailsWith(EINVAL));
}

TEST(Gettimeofday, AgreesWithRealtimeClock) {
  struct timeval tv;
  struct timespec ts;
  ASSERT_EQ(syscall(SYS_gettimeofday, &tv, nullptr), 0);
  ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts), 0);
  EXPECT_GE(tv.tv_usec, 0);
  EXPECT_LT(tv.tv_usec, 1000000);
  // Same clock read twice in a row; 5 seconds of slack is not a timing test.
  EXPECT_LE(tv.tv_sec, ts.tv_sec);
  EXPECT_GE(tv.tv_sec + 5, ts.tv_sec);
}

TEST(Gettimeofday, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_gettimeofday, UnmappedAddress(), nullptr), FailsWith(EFAULT));
}

TEST(Time, ReturnsSecondsAndStoresThem) {
  time_t stored = 0;
  long t = syscall(SYS_time, &stored);
  EXPECT_GT(t, 1577836800);
  EXPECT_EQ(t, stored);
}

TEST(Time, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_time, UnmappedAddress()), FailsWith(EFAULT));
}

// Setting clocks. Only calls that fail before anything is set run natively
// (the tests may run as root on the host): a CPU clock made from a pid can
// never be set (EPERM even for root), clocks without a setter (also
// CLOCK_PROCESS_CPUTIME_ID) and bad times are EINVAL,
// bad pointers EFAULT. In the sandbox no task may set the time: EPERM.
TEST(ClockSettime, ArgumentErrorsAndCpuClocks) {
  struct timespec ts {1, 0};
  clockid_t own = 0;
  ASSERT_EQ(clock_getcpuclockid(getpid(), &own), 0);
  EXPECT_THAT(Sys(SYS_clock_settime, own, &ts), FailsWith(EPERM));
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_PROCESS_CPUTIME_ID, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_THREAD_CPUTIME_ID, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_MONOTONIC, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_BOOTTIME, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_settime, 12345, &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_REALTIME, UnmappedAddress()), FailsWith(EFAULT));
  struct timespec bad {1, 1000000000};
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_REALTIME, &bad), FailsWith(EINVAL));
  struct timeval badtv {1, 1000000};
  EXPECT_THAT(Sys(SYS_settimeofday, &badtv, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_settimeofday, UnmappedAddress(), nullptr), FailsWith(EFAULT));
  if (!IsSandboxed()) GTEST_SKIP() << "setting the host's clock natively is not for a test";
  struct timespec now {};
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &now), 0);
  EXPECT_THAT(Sys(SYS_clock_settime, CLOCK_REALTIME, &now), FailsWith(EPERM));
  EXPECT_THAT(Sys(SYS_settimeofday, nullptr, nullptr), FailsWith(EPERM));
}

}  // namespace
}  // namespace syscall_test
