// select(2), pselect6(2): fd sets, EBADF, timeout validation and write-back.
#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

TEST(Select, ReportsReadableAndWritableSets) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  fd_set r, w;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(p.read_end.get(), &r);
  FD_SET(p.write_end.get(), &w);
  FD_SET(p.read_end.get(), &w);  // a read end is never writable
  const int nfds = std::max(p.read_end.get(), p.write_end.get()) + 1;
  struct timeval tv = {0, 0};
  ASSERT_THAT(select(nfds, &r, &w, nullptr, &tv), Eq(2));
  EXPECT_TRUE(FD_ISSET(p.read_end.get(), &r));
  EXPECT_TRUE(FD_ISSET(p.write_end.get(), &w));
  EXPECT_FALSE(FD_ISSET(p.read_end.get(), &w));
}

TEST(Select, NothingReadyTimesOutAndClearsSets) {
  Pipe p = MakePipe();
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.read_end.get(), &r);
  struct timeval tv = {0, 20000};
  ASSERT_THAT(select(p.read_end.get() + 1, &r, nullptr, nullptr, &tv), Eq(0));
  EXPECT_FALSE(FD_ISSET(p.read_end.get(), &r));
  // Linux writes the time left back: all of it is used up.
  EXPECT_THAT(tv.tv_sec, Eq(0));
  EXPECT_THAT(tv.tv_usec, Eq(0));
}

TEST(Select, WritesRemainingTimeBack) {
  Pipe p = MakePipe();
  fd_set w;
  FD_ZERO(&w);
  FD_SET(p.write_end.get(), &w);
  struct timeval tv = {100, 0};
  ASSERT_THAT(select(p.write_end.get() + 1, nullptr, &w, nullptr, &tv), Eq(1));
  EXPECT_LE(tv.tv_sec, 100);
  EXPECT_GE(tv.tv_sec, 90);
}

TEST(Select, ClosedFdInASetFailsWithEbadf) {
  Pipe p = MakePipe();
  const int closed = dup(p.read_end.get());
  close(closed);
  fd_set r;
  FD_ZERO(&r);
  FD_SET(closed, &r);
  struct timeval tv = {0, 0};
  EXPECT_THAT(Libc(select(closed + 1, &r, nullptr, nullptr, &tv)), FailsWith(EBADF));
}

TEST(Select, NegativeNfdsFailsWithEinval) {
  struct timeval tv = {0, 0};
  EXPECT_THAT(Sys(SYS_select, -1, nullptr, nullptr, nullptr, &tv), FailsWith(EINVAL));
}

TEST(Select, NegativeTimeoutFailsWithEinval) {
  struct timeval tv = {-1, 0};
  EXPECT_THAT(Sys(SYS_select, 0, nullptr, nullptr, nullptr, &tv), FailsWith(EINVAL));
  tv = {0, -1};
  EXPECT_THAT(Sys(SYS_select, 0, nullptr, nullptr, nullptr, &tv), FailsWith(EINVAL));
}

TEST(Select, MicrosecondsOverASecondAreAccepted) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.read_end.get(), &r);
  struct timeval tv = {0, 1500000};  // folded into 1.5 s, not EINVAL
  EXPECT_THAT(Sys(SYS_select, p.read_end.get() + 1, &r, nullptr, nullptr, &tv).ret, Eq(1));
}

TEST(Select, HugeNfdsIsClampedToTheTableSize) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.read_end.get(), &r);
  struct timeval tv = {0, 0};
  EXPECT_THAT(Sys(SYS_select, 1 << 30, &r, nullptr, nullptr, &tv).ret, Eq(1));
}

TEST(Select, BadSetPointerFailsWithEfault) {
  struct timeval tv = {0, 0};
  EXPECT_THAT(Sys(SYS_select, 1, UnmappedAddress(), nullptr, nullptr, &tv), FailsWith(EFAULT));
}

TEST(Pselect6, ValidatesTimespecAndSigsetSize) {
  struct timespec ts = {0, 1000000000};
  EXPECT_THAT(Sys(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, nullptr), FailsWith(EINVAL));
  ts = {0, 0};
  uint64_t mask = 0;
  struct {
    const void* ss;
    size_t len;
  } pack = {&mask, 4};
  EXPECT_THAT(Sys(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &pack), FailsWith(EINVAL));
  pack.len = 8;
  EXPECT_THAT(Sys(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &pack).ret, Eq(0));
}

TEST(Pselect6, ReportsReadableFd) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.read_end.get(), &r);
  struct timespec ts = {1, 0};
  sigset_t mask;
  sigemptyset(&mask);
  ASSERT_THAT(pselect(p.read_end.get() + 1, &r, nullptr, nullptr, &ts, &mask), Eq(1));
  EXPECT_TRUE(FD_ISSET(p.read_end.get(), &r));
}

}  // namespace
}  // namespace syscall_test
