// poll(2), ppoll(2): readiness of pipes, POLLNVAL, negative fds, timeouts,
// argument errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

TEST(Poll, EmptyPipeIsWritableNotReadable) {
  Pipe p = MakePipe();
  struct pollfd fds[2] = {{p.read_end.get(), POLLIN, 0}, {p.write_end.get(), POLLOUT, 0}};
  ASSERT_THAT(poll(fds, 2, 0), Eq(1));
  EXPECT_THAT(fds[0].revents, Eq(0));
  EXPECT_THAT(fds[1].revents, Eq(POLLOUT));
}

TEST(Poll, PipeWithDataIsReadable) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  struct pollfd fd = {p.read_end.get(), POLLIN | POLLRDNORM, 0};
  ASSERT_THAT(poll(&fd, 1, 1000), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLIN | POLLRDNORM));
}

TEST(Poll, ClosedWriterGivesPollhupEvenIfNotAsked) {
  Pipe p = MakePipe();
  p.write_end.Reset();
  struct pollfd fd = {p.read_end.get(), 0, 0};
  ASSERT_THAT(poll(&fd, 1, 0), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLHUP));
}

TEST(Poll, ClosedReaderGivesPollerr) {
  Pipe p = MakePipe();
  p.read_end.Reset();
  struct pollfd fd = {p.write_end.get(), POLLOUT, 0};
  ASSERT_THAT(poll(&fd, 1, 0), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLOUT | POLLERR));
}

TEST(Poll, BadFdGivesPollnval) {
  struct pollfd fd = {1000000 - 1, POLLIN, 0};
  ASSERT_THAT(poll(&fd, 1, 0), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLNVAL));
}

TEST(Poll, NegativeFdIsIgnoredAndRevetsCleared) {
  struct pollfd fd = {-1, POLLIN, 0x7};
  ASSERT_THAT(poll(&fd, 1, 0), Eq(0));
  EXPECT_THAT(fd.revents, Eq(0));
}

TEST(Poll, TimesOutWithNothingReady) {
  Pipe p = MakePipe();
  struct pollfd fd = {p.read_end.get(), POLLIN, 0};
  EXPECT_THAT(poll(&fd, 1, 20), Eq(0));
  EXPECT_THAT(fd.revents, Eq(0));
}

TEST(Poll, NoFdsSleepsForTheTimeout) { EXPECT_THAT(poll(nullptr, 0, 10), Eq(0)); }

TEST(Poll, RegularFileIsAlwaysReadyForReadAndWrite) {
  Fd f(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(f.get(), 0);
  struct pollfd fd = {f.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&fd, 1, 0), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLIN | POLLOUT));
}

TEST(Poll, MoreFdsThanRlimitFailsWithEinval) {
  struct rlimit rl;
  ASSERT_THAT(Libc(getrlimit(RLIMIT_NOFILE, &rl)), Succeeds());
  EXPECT_THAT(Sys(SYS_poll, nullptr, rl.rlim_cur + 1, 0), FailsWith(EINVAL));
}

TEST(Poll, BadArrayFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_poll, UnmappedAddress(), 1, 0), FailsWith(EFAULT));
}

TEST(Ppoll, ZeroTimeoutPollsOnce) {
  Pipe p = MakePipe();
  struct pollfd fd = {p.read_end.get(), POLLIN, 0};
  struct timespec ts = {0, 0};
  EXPECT_THAT(ppoll(&fd, 1, &ts, nullptr), Eq(0));
}

TEST(Ppoll, WritesRemainingTimeBack) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  struct pollfd fd = {p.read_end.get(), POLLIN, 0};
  struct timespec ts = {100, 0};
  ASSERT_THAT(Sys(SYS_ppoll, &fd, 1, &ts, nullptr, 8).ret, Eq(1));
  EXPECT_LE(ts.tv_sec, 100);
  EXPECT_GE(ts.tv_sec, 90);
}

TEST(Ppoll, InvalidTimeoutFailsWithEinval) {
  struct timespec ts = {0, 1000000000};
  EXPECT_THAT(Sys(SYS_ppoll, nullptr, 0, &ts, nullptr, 8), FailsWith(EINVAL));
  ts = {-1, 0};
  EXPECT_THAT(Sys(SYS_ppoll, nullptr, 0, &ts, nullptr, 8), FailsWith(EINVAL));
}

TEST(Ppoll, BadSigsetSizeFailsWithEinval) {
  uint64_t mask = 0;
  struct timespec ts = {0, 0};
  EXPECT_THAT(Sys(SYS_ppoll, nullptr, 0, &ts, &mask, 4), FailsWith(EINVAL));
}

TEST(Ppoll, SigmaskIsRestoredAfterTheCall) {
  sigset_t during, after;
  sigemptyset(&during);
  sigaddset(&during, SIGUSR1);
  struct timespec ts = {0, 0};
  ASSERT_THAT(Libc(ppoll(nullptr, 0, &ts, &during)), Succeeds());
  ASSERT_THAT(Libc(sigprocmask(SIG_BLOCK, nullptr, &after)), Succeeds());
  EXPECT_FALSE(sigismember(&after, SIGUSR1));
}

TEST(Poll, WakesWhenAnotherProcessWrites) {
  Pipe p = MakePipe();
  const pid_t pid = fork();
  if (pid < 0 && errno == ENOSYS && IsSandboxed()) GTEST_SKIP() << "no fork in the sandbox yet";
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    usleep(50000);
    (void)!write(p.write_end.get(), "x", 1);
    _exit(0);
  }
  struct pollfd fd = {p.read_end.get(), POLLIN, 0};
  EXPECT_THAT(poll(&fd, 1, -1), Eq(1));
  EXPECT_THAT(fd.revents, Eq(POLLIN));
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
}

}  // namespace
}  // namespace syscall_test
