// signalfd, signalfd4: reading signalfd_siginfo records, mask updates,
// readiness, dequeueing from the thread's and the process's pending sets.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

class BlockSignals {
 public:
  explicit BlockSignals(std::initializer_list<int> sigs) {
    sigemptyset(&set_);
    for (int s : sigs) sigaddset(&set_, s);
    sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockSignals() {
    struct timespec zero {};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_, old_;
};

sigset_t SetOf(std::initializer_list<int> sigs) {
  sigset_t s;
  sigemptyset(&s);
  for (int x : sigs) sigaddset(&s, x);
  return s;
}

TEST(Signalfd, ReadReturnsThePendingSignal) {
  BlockSignals b({SIGUSR1});
  Fd fd(signalfd(-1, &b.set(), SFD_NONBLOCK));
  ASSERT_GE(fd.get(), 0);
  struct signalfd_siginfo si {};
  EXPECT_THAT(Libc(read(fd.get(), &si, sizeof(si))), FailsWith(EAGAIN));
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), Eq(static_cast<ssize_t>(sizeof(si))));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(si.ssi_code, SI_USER);
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(si.ssi_uid, getuid());
  // Dequeued: no longer pending.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
  EXPECT_THAT(Libc(read(fd.get(), &si, sizeof(si))), FailsWith(EAGAIN));
}

TEST(Signalfd, QueuedSignalCarriesItsValue) {
  BlockSignals b({SIGRTMIN});
  Fd fd(signalfd(-1, &b.set(), SFD_NONBLOCK));
  ASSERT_GE(fd.get(), 0);
  union sigval v;
  v.sival_int = 99;
  ASSERT_EQ(sigqueue(getpid(), SIGRTMIN, v), 0);
  ASSERT_EQ(sigqueue(getpid(), SIGRTMIN, v), 0);
  struct signalfd_siginfo si[4] {};
  // Both queued instances in one read.
  ASSERT_THAT(read(fd.get(), si, sizeof(si)), Eq(static_cast<ssize_t>(2 * sizeof(si[0]))));
  EXPECT_EQ(si[0].ssi_code, SI_QUEUE);
  EXPECT_EQ(si[0].ssi_int, 99);
  EXPECT_EQ(si[1].ssi_int, 99);
}

TEST(Signalfd, OnlySignalsInTheMaskAreRead) {
  BlockSignals b({SIGUSR1, SIGUSR2});
  sigset_t only2 = SetOf({SIGUSR2});
  Fd fd(signalfd(-1, &only2, SFD_NONBLOCK));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  struct signalfd_siginfo si {};
  EXPECT_THAT(Libc(read(fd.get(), &si, sizeof(si))), FailsWith(EAGAIN));
  struct pollfd p {fd.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  // A second call updates the mask of the same fd.
  sigset_t both = SetOf({SIGUSR1, SIGUSR2});
  ASSERT_EQ(signalfd(fd.get(), &both, 0), fd.get());
  EXPECT_EQ(poll(&p, 1, 0), 1);
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), Eq(static_cast<ssize_t>(sizeof(si))));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
}

TEST(Signalfd, BlockingReadWakesOnASignalFromAnotherThread) {
  BlockSignals b({SIGUSR1});
  Fd fd(signalfd(-1, &b.set(), 0));
  ASSERT_GE(fd.get(), 0);
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  std::thread sender([&] {
    usleep(20000);
    syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
  });
  struct signalfd_siginfo si {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), Eq(static_cast<ssize_t>(sizeof(si))));
  sender.join();
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(si.ssi_code, SI_TKILL);
}

TEST(Signalfd, PollAndEpollWakeWhenASignalArrives) {
  BlockSignals b({SIGUSR2});
  Fd fd(signalfd(-1, &b.set(), SFD_NONBLOCK));
  Fd ep(epoll_create1(0));
  ASSERT_GE(fd.get(), 0);
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.u64 = 5;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), 0);
  std::thread sender([] {
    usleep(20000);
    kill(getpid(), SIGUSR2);
  });
  struct pollfd p {fd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  sender.join();
  EXPECT_TRUE(p.revents & POLLIN);
  struct epoll_event out {};
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 5000), 1);
  EXPECT_EQ(out.data.u64, 5u);
}

TEST(Signalfd, FlagsAndErrors) {
  sigset_t s = SetOf({SIGUSR1});
  Fd fd(static_cast<int>(syscall(SYS_signalfd4, -1, &s, 8, SFD_CLOEXEC | SFD_NONBLOCK)));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(fcntl(fd.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_TRUE(fcntl(fd.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_THAT(Sys(SYS_signalfd4, -1, &s, 8, 0x1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_signalfd4, -1, &s, 4, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_signalfd4, -1, UnmappedAddress(), 8, 0), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_signalfd4, 12345, &s, 8, 0), FailsWith(EBADF));
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_signalfd4, p.read_end.get(), &s, 8, 0), FailsWith(EINVAL));
  SyscallResult old = Sys(SYS_signalfd, -1, &s, 8);
  ASSERT_THAT(old, Succeeds());
  close(static_cast<int>(old.ret));
  char small[16];
  EXPECT_THAT(Libc(read(fd.get(), small, sizeof(small))), FailsWith(EINVAL));
}

TEST(Signalfd, ChildReadsItsOwnSignalsThroughAnInheritedFd) {
  BlockSignals b({SIGUSR1});
  Fd fd(signalfd(-1, &b.set(), 0));
  ASSERT_GE(fd.get(), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    kill(getpid(), SIGUSR1);
    struct signalfd_siginfo si {};
    if (read(fd.get(), &si, sizeof(si)) != sizeof(si)) _exit(1);
    _exit(si.ssi_pid == static_cast<uint32_t>(getpid()) ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The parent's own pending set was not touched.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
}

}  // namespace
}  // namespace syscall_test
