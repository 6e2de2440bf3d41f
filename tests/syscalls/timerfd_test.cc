// timerfd_create, timerfd_settime, timerfd_gettime: expiration counts,
// blocking and non-blocking reads, poll/epoll readiness, flags.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

struct itimerspec Spec(long value_ns, long interval_ns) {
  struct itimerspec s {};
  s.it_value.tv_sec = value_ns / 1000000000;
  s.it_value.tv_nsec = value_ns % 1000000000;
  s.it_interval.tv_sec = interval_ns / 1000000000;
  s.it_interval.tv_nsec = interval_ns % 1000000000;
  return s;
}

TEST(Timerfd, BlockingReadWaitsForTheExpiry) {
  Fd t(timerfd_create(CLOCK_MONOTONIC, 0));
  ASSERT_GE(t.get(), 0);
  struct itimerspec s = Spec(20000000, 0);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  uint64_t ticks = 0;
  ASSERT_THAT(read(t.get(), &ticks, 8), Eq(8));
  EXPECT_EQ(ticks, 1u);
  struct itimerspec cur {};
  ASSERT_EQ(timerfd_gettime(t.get(), &cur), 0);
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
}

TEST(Timerfd, NonblockingReadFailsWithEagainUntilExpiry) {
  Fd t(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
  ASSERT_GE(t.get(), 0);
  uint64_t ticks = 0;
  EXPECT_THAT(Libc(read(t.get(), &ticks, 8)), FailsWith(EAGAIN));
  struct itimerspec s = Spec(10000000, 0);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  struct pollfd p {t.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  ASSERT_THAT(read(t.get(), &ticks, 8), Eq(8));
  EXPECT_EQ(ticks, 1u);
  EXPECT_THAT(Libc(read(t.get(), &ticks, 8)), FailsWith(EAGAIN));
}

TEST(Timerfd, PeriodicTimerCountsExpirations) {
  Fd t(timerfd_create(CLOCK_MONOTONIC, 0));
  ASSERT_GE(t.get(), 0);
  struct itimerspec s = Spec(1000000, 1000000);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  usleep(50000);
  uint64_t ticks = 0;
  ASSERT_THAT(read(t.get(), &ticks, 8), Eq(8));
  EXPECT_GT(ticks, 5u);
  struct itimerspec cur {};
  ASSERT_EQ(timerfd_gettime(t.get(), &cur), 0);
  EXPECT_EQ(cur.it_interval.tv_nsec, 1000000);
}

TEST(Timerfd, AbsoluteTimeAndOldValue) {
  Fd t(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  ASSERT_GE(t.get(), 0);
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  struct itimerspec s {};
  s.it_value.tv_sec = now.tv_sec + 100;
  s.it_value.tv_nsec = now.tv_nsec;
  ASSERT_EQ(timerfd_settime(t.get(), TFD_TIMER_ABSTIME, &s, nullptr), 0);
  struct itimerspec zero {}, old {};
  ASSERT_EQ(timerfd_settime(t.get(), 0, &zero, &old), 0);
  EXPECT_GE(old.it_value.tv_sec, 98);
  EXPECT_LE(old.it_value.tv_sec, 100);
  // A time in the past expires at once.
  s.it_value.tv_sec = 1;
  s.it_value.tv_nsec = 0;
  ASSERT_EQ(timerfd_settime(t.get(), TFD_TIMER_ABSTIME, &s, nullptr), 0);
  struct pollfd p {t.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
}

TEST(Timerfd, SettimeResetsTheCount) {
  Fd t(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  ASSERT_GE(t.get(), 0);
  struct itimerspec s = Spec(1000000, 0);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  struct pollfd p {t.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  s = Spec(100000000000L, 0);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  uint64_t ticks = 0;
  EXPECT_THAT(Libc(read(t.get(), &ticks, 8)), FailsWith(EAGAIN));
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

TEST(Timerfd, EpollSeesTheExpiry) {
  Fd t(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  Fd ep(epoll_create1(0));
  ASSERT_GE(t.get(), 0);
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.u64 = 77;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, t.get(), &ev), 0);
  struct itimerspec s = Spec(5000000, 0);
  ASSERT_EQ(timerfd_settime(t.get(), 0, &s, nullptr), 0);
  struct epoll_event out {};
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 5000), 1);
  EXPECT_EQ(out.data.u64, 77u);
  EXPECT_TRUE(out.events & EPOLLIN);
}

TEST(Timerfd, FlagsAndErrors) {
  Fd t(timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK));
  ASSERT_GE(t.get(), 0);
  EXPECT_THAT(fcntl(t.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(t.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), Eq(O_RDWR | O_NONBLOCK));
  EXPECT_THAT(Sys(SYS_timerfd_create, CLOCK_MONOTONIC, 0x4), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timerfd_create, CLOCK_PROCESS_CPUTIME_ID, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timerfd_create, CLOCK_MONOTONIC_RAW, 0), FailsWith(EINVAL));
  struct itimerspec s = Spec(1000000, 0);
  EXPECT_THAT(Sys(SYS_timerfd_settime, t.get(), 0x10, &s, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timerfd_settime, -1, 0, &s, nullptr), FailsWith(EBADF));
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_timerfd_settime, p.read_end.get(), 0, &s, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timerfd_gettime, p.read_end.get(), &s), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timerfd_settime, t.get(), 0, UnmappedAddress(), nullptr), FailsWith(EFAULT));
  s.it_value.tv_nsec = 1000000000;
  EXPECT_THAT(Sys(SYS_timerfd_settime, t.get(), 0, &s, nullptr), FailsWith(EINVAL));
  uint64_t small = 0;
  EXPECT_THAT(Libc(read(t.get(), &small, 4)), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
