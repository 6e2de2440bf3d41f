// epoll_create/create1/ctl/wait/pwait/pwait2: level- and edge-triggered
// readiness, EPOLLONESHOT, nesting, errno cases, data round trip.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <climits>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

Fd NewEpoll() {
  Fd e(epoll_create1(0));
  EXPECT_GE(e.get(), 0);
  return e;
}

int Add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

TEST(EpollCreate, FlagsAndSizeAreChecked) {
  EXPECT_THAT(Libc(epoll_create(0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(epoll_create1(0x1)), FailsWith(EINVAL));
  Fd a(epoll_create(1));
  ASSERT_GE(a.get(), 0);
  EXPECT_THAT(fcntl(a.get(), F_GETFD), Eq(0));
  Fd b(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_GE(b.get(), 0);
  EXPECT_THAT(fcntl(b.get(), F_GETFD), Eq(FD_CLOEXEC));
}

TEST(EpollWait, LevelTriggeredReportsUntilDrainedWithData) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN, 0x1234567890abcdefull), Eq(0));
  struct epoll_event ev[4];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(0));
  ASSERT_THAT(write(p.write_end.get(), "ab", 2), Eq(2));
  ASSERT_THAT(epoll_wait(ep.get(), ev, 4, 1000), Eq(1));
  EXPECT_THAT(ev[0].events, Eq(static_cast<uint32_t>(EPOLLIN)));
  EXPECT_THAT(ev[0].data.u64, Eq(0x1234567890abcdefull));
  ASSERT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));  // still ready
  char buf[2];
  ASSERT_THAT(read(p.read_end.get(), buf, 2), Eq(2));
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(0));
}

TEST(EpollWait, EdgeTriggeredReportsOncePerNewEvent) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN | EPOLLET, 1), Eq(0));
  ASSERT_THAT(write(p.write_end.get(), "a", 1), Eq(1));
  struct epoll_event ev[4];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(0));  // no new edge
  ASSERT_THAT(write(p.write_end.get(), "b", 1), Eq(1));
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));
}

TEST(EpollWait, OneshotDisablesUntilModified) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN | EPOLLONESHOT, 7), Eq(0));
  ASSERT_THAT(write(p.write_end.get(), "a", 1), Eq(1));
  struct epoll_event ev[4];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));
  ASSERT_THAT(write(p.write_end.get(), "b", 1), Eq(1));
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(0));
  struct epoll_event mod = {};
  mod.events = EPOLLIN | EPOLLONESHOT;
  mod.data.u64 = 8;
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.read_end.get(), &mod), Eq(0));
  ASSERT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));
  EXPECT_THAT(ev[0].data.u64, Eq(8u));
}

TEST(EpollWait, ReportsHupAndErrWithoutAsking) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), 0, 1), Eq(0));
  ASSERT_THAT(Add(ep.get(), p.write_end.get(), 0, 2), Eq(0));
  struct epoll_event ev[4];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(0));
  const int w2 = dup(p.write_end.get());
  p.write_end.Reset();  // the item for the write end stays: w2 keeps it open
  close(w2);            // last writer gone: read end HUP; the item goes away
  ASSERT_THAT(epoll_wait(ep.get(), ev, 4, 0), Eq(1));
  EXPECT_THAT(ev[0].events, Eq(static_cast<uint32_t>(EPOLLHUP)));
  EXPECT_THAT(ev[0].data.u64, Eq(1u));
}

TEST(EpollWait, MaxeventsLimitsTheBatch) {
  Fd ep = NewEpoll();
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(Add(ep.get(), a.write_end.get(), EPOLLOUT, 1), Eq(0));
  ASSERT_THAT(Add(ep.get(), b.write_end.get(), EPOLLOUT, 2), Eq(0));
  struct epoll_event ev[2];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 1, 0), Eq(1));
  EXPECT_THAT(epoll_wait(ep.get(), ev, 2, 0), Eq(2));
}

TEST(EpollWait, TimesOut) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN, 0), Eq(0));
  struct epoll_event ev;
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 20), Eq(0));
}

TEST(EpollWait, BadArgumentsFail) {
  Fd ep = NewEpoll();
  struct epoll_event ev;
  EXPECT_THAT(Sys(SYS_epoll_wait, ep.get(), &ev, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_wait, ep.get(), &ev, -1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_wait, ep.get(), &ev, INT_MAX, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_wait, -1, &ev, 1, 0), FailsWith(EBADF));
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_epoll_wait, p.read_end.get(), &ev, 1, 0), FailsWith(EINVAL));
}

TEST(EpollCtl, ErrnoCases) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_MOD, p.read_end.get(), &ev), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_DEL, p.read_end.get(), nullptr), FailsWith(ENOENT));
  ASSERT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, p.read_end.get(), &ev), Succeeds());
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, p.read_end.get(), &ev), FailsWith(EEXIST));
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_DEL, p.read_end.get(), nullptr), Succeeds());
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), 99, p.read_end.get(), &ev), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, ep.get(), &ev), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_ctl, p.write_end.get(), EPOLL_CTL_ADD, p.read_end.get(), &ev), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, -1, &ev), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, p.read_end.get(), UnmappedAddress()),
              FailsWith(EFAULT));
}

TEST(EpollCtl, RegularFileFailsWithEperm) {
  Fd ep = NewEpoll();
  Fd f(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(f.get(), 0);
  EXPECT_THAT(Libc(Add(ep.get(), f.get(), EPOLLIN, 0)), FailsWith(EPERM));
}

TEST(EpollCtl, ExclusiveRules) {
  Fd ep = NewEpoll(), inner = NewEpoll();
  Pipe p = MakePipe();
  EXPECT_THAT(Libc(Add(ep.get(), p.read_end.get(), EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(Add(ep.get(), inner.get(), EPOLLIN | EPOLLEXCLUSIVE, 0)), FailsWith(EINVAL));
  ASSERT_THAT(Libc(Add(ep.get(), p.read_end.get(), EPOLLIN | EPOLLEXCLUSIVE, 0)), Succeeds());
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  EXPECT_THAT(Libc(epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.read_end.get(), &ev)), FailsWith(EINVAL));
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  EXPECT_THAT(Libc(epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.read_end.get(), &ev)), FailsWith(EINVAL));
}

TEST(EpollCtl, NestedEpollIsPollableAndLoopsFailWithEloop) {
  Fd outer = NewEpoll(), inner = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(inner.get(), p.read_end.get(), EPOLLIN, 1), Eq(0));
  ASSERT_THAT(Add(outer.get(), inner.get(), EPOLLIN, 2), Eq(0));
  EXPECT_THAT(Libc(Add(inner.get(), outer.get(), EPOLLIN, 3)), FailsWith(ELOOP));
  struct epoll_event ev[2];
  EXPECT_THAT(epoll_wait(outer.get(), ev, 2, 0), Eq(0));
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  ASSERT_THAT(epoll_wait(outer.get(), ev, 2, 1000), Eq(1));
  EXPECT_THAT(ev[0].data.u64, Eq(2u));
  struct pollfd pfd = {outer.get(), POLLIN, 0};
  EXPECT_THAT(poll(&pfd, 1, 0), Eq(1));
}

TEST(EpollCtl, ClosingTheFileRemovesTheItem) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN, 1), Eq(0));
  const int fd = p.read_end.get();
  p.read_end.Reset();
  struct epoll_event ev;
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 0), Eq(0));
  // The write end now has no reader: writing fails (the epoll item did not
  // keep the read end open).
  signal(SIGPIPE, SIG_IGN);
  EXPECT_THAT(Libc(write(p.write_end.get(), "y", 1)), FailsWith(EPIPE));
  signal(SIGPIPE, SIG_DFL);
  // The same number can be added again once reused.
  Pipe q = MakePipe();
  ASSERT_THAT(dup2(q.read_end.get(), fd), Eq(fd));
  EXPECT_THAT(Add(ep.get(), fd, EPOLLIN, 2), Eq(0));
  close(fd);
}

TEST(EpollPwait, SigsetSizeIsChecked) {
  Fd ep = NewEpoll();
  struct epoll_event ev;
  uint64_t mask = 0;
  EXPECT_THAT(Sys(SYS_epoll_pwait, ep.get(), &ev, 1, 0, &mask, 4), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_epoll_pwait, ep.get(), &ev, 1, 0, &mask, 8).ret, Eq(0));
}

TEST(EpollPwait2, TimespecTimeout) {
  Fd ep = NewEpoll();
  Fd e(eventfd(1, 0));
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 5), Eq(0));
  struct epoll_event ev;
  struct timespec ts = {0, 0};
  ASSERT_THAT(Sys(SYS_epoll_pwait2, ep.get(), &ev, 1, &ts, nullptr, 8).ret, Eq(1));
  EXPECT_THAT(ev.data.u64, Eq(5u));
  ts = {0, 1000000000};
  EXPECT_THAT(Sys(SYS_epoll_pwait2, ep.get(), &ev, 1, &ts, nullptr, 8), FailsWith(EINVAL));
}

TEST(EpollWait, WakesWhenAnotherProcessWrites) {
  Fd ep = NewEpoll();
  Pipe p = MakePipe();
  ASSERT_THAT(Add(ep.get(), p.read_end.get(), EPOLLIN, 9), Eq(0));
  const pid_t pid = fork();
  if (pid < 0 && errno == ENOSYS && IsSandboxed()) GTEST_SKIP() << "no fork in the sandbox yet";
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    usleep(50000);
    (void)!write(p.write_end.get(), "x", 1);
    _exit(0);
  }
  struct epoll_event ev;
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, -1), Eq(1));
  EXPECT_THAT(ev.data.u64, Eq(9u));
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
}

}  // namespace
}  // namespace syscall_test
