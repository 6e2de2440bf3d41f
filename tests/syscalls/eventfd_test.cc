// eventfd(2), eventfd2(2): counter semantics, EFD_SEMAPHORE, EFD_NONBLOCK,
// EFD_CLOEXEC, short buffers, overflow, readiness.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <cstdint>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

TEST(Eventfd, ReadReturnsAndClearsTheCounter) {
  Fd e(eventfd(5, EFD_NONBLOCK));
  ASSERT_GE(e.get(), 0);
  uint64_t v = 3;
  ASSERT_THAT(write(e.get(), &v, 8), Eq(8));
  ASSERT_THAT(read(e.get(), &v, 8), Eq(8));
  EXPECT_THAT(v, Eq(8u));
  EXPECT_THAT(Libc(read(e.get(), &v, 8)), FailsWith(EAGAIN));
}

TEST(Eventfd, SemaphoreModeReadsOneAtATime) {
  Fd e(eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK));
  ASSERT_GE(e.get(), 0);
  uint64_t v = 0;
  ASSERT_THAT(read(e.get(), &v, 8), Eq(8));
  EXPECT_THAT(v, Eq(1u));
  ASSERT_THAT(read(e.get(), &v, 8), Eq(8));
  EXPECT_THAT(v, Eq(1u));
  EXPECT_THAT(Libc(read(e.get(), &v, 8)), FailsWith(EAGAIN));
}

TEST(Eventfd, FlagsApply) {
  Fd e(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_GE(e.get(), 0);
  EXPECT_THAT(fcntl(e.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(e.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), Eq(O_RDWR | O_NONBLOCK));
}

TEST(Eventfd, UnknownFlagFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_eventfd2, 0, 0x10), FailsWith(EINVAL));
}

TEST(Eventfd, OldEventfdSyscallWorks) {
  SyscallResult r = Sys(SYS_eventfd, 7);
  ASSERT_THAT(r, Succeeds());
  Fd e(static_cast<int>(r.ret));
  uint64_t v = 0;
  ASSERT_THAT(read(e.get(), &v, 8), Eq(8));
  EXPECT_THAT(v, Eq(7u));
}

TEST(Eventfd, ShortBuffersFailWithEinval) {
  Fd e(eventfd(1, EFD_NONBLOCK));
  char buf[4] = {};
  EXPECT_THAT(Libc(read(e.get(), buf, 4)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(write(e.get(), buf, 4)), FailsWith(EINVAL));
}

TEST(Eventfd, LongerReadTransfersEightBytesButLongerWriteFailsWithEinval) {
  Fd e(eventfd(0, EFD_NONBLOCK));
  uint64_t two[2] = {4, 9};
  EXPECT_THAT(Libc(write(e.get(), two, sizeof(two))), FailsWith(EINVAL));
  EXPECT_THAT(write(e.get(), two, 8), Eq(8));
  uint64_t out[2] = {};
  EXPECT_THAT(read(e.get(), out, sizeof(out)), Eq(8));
  EXPECT_THAT(out[0], Eq(4u));
}

TEST(Eventfd, WritingMaxFailsWithEinval) {
  Fd e(eventfd(0, EFD_NONBLOCK));
  uint64_t v = UINT64_MAX;
  EXPECT_THAT(Libc(write(e.get(), &v, 8)), FailsWith(EINVAL));
}

TEST(Eventfd, CounterStopsBelowMaxAndOverflowFailsWithEagain) {
  Fd e(eventfd(0, EFD_NONBLOCK));
  uint64_t v = 0xfffffffffffffffeull;
  ASSERT_THAT(write(e.get(), &v, 8), Eq(8));
  v = 1;
  EXPECT_THAT(Libc(write(e.get(), &v, 8)), FailsWith(EAGAIN));
  struct pollfd p = {e.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&p, 1, 0), Eq(1));
  EXPECT_THAT(p.revents, Eq(POLLIN));
}

TEST(Eventfd, PollShowsReadableOnlyWithACount) {
  Fd e(eventfd(0, EFD_NONBLOCK));
  struct pollfd p = {e.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&p, 1, 0), Eq(1));
  EXPECT_THAT(p.revents, Eq(POLLOUT));
  uint64_t v = 1;
  ASSERT_THAT(write(e.get(), &v, 8), Eq(8));
  ASSERT_THAT(poll(&p, 1, 0), Eq(1));
  EXPECT_THAT(p.revents, Eq(POLLIN | POLLOUT));
}

TEST(Eventfd, ProcSelfFdNamesTheAnonInode) {
  Fd e(eventfd(0, 0));
  char buf[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(e.get());
  ASSERT_GT(readlink(link.c_str(), buf, sizeof(buf) - 1), 0);
  EXPECT_STREQ(buf, "anon_inode:[eventfd]");
}

}  // namespace
}  // namespace syscall_test
