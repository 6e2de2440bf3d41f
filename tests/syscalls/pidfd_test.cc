// pidfd_open, pidfd_send_signal, pidfd_getfd, pidfd readiness, waitid
// (P_PIDFD), clone(CLONE_PIDFD), and rt_sigqueueinfo to another process.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_util.h"
#include "util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace syscall_test {
namespace {

int PidfdOpen(pid_t pid, unsigned flags = 0) { return static_cast<int>(syscall(SYS_pidfd_open, pid, flags)); }

// A child that waits for a byte on a pipe, then exits with `code`.
struct Sleeper {
  Pipe p = MakePipe();
  pid_t pid = -1;
  explicit Sleeper(int code = 0) {
    pid = ForkChild([this, code] {
      p.write_end.Reset();
      char c;
      (void)!read(p.read_end.get(), &c, 1);
      return code;
    });
    p.read_end.Reset();
  }
  void Release() { p.write_end.Reset(); }
};

bool Readable(int fd, int timeout_ms) {
  struct pollfd pfd = {fd, POLLIN, 0};
  return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

TEST(PidfdOpen, ArgumentsAndErrors) {
  EXPECT_THAT(Sys(SYS_pidfd_open, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_open, -1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_open, getpid(), 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_open, 0x3fffffff, 0), FailsWith(ESRCH));
  Fd fd(PidfdOpen(getpid()));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
  // Not exited: not readable.
  EXPECT_FALSE(Readable(fd.get(), 0));
}

TEST(PidfdOpen, BecomesReadableWhenTheProcessExits) {
  Sleeper s(3);
  Fd fd(PidfdOpen(s.pid));
  ASSERT_GE(fd.get(), 0);
  EXPECT_FALSE(Readable(fd.get(), 0));
  s.Release();
  EXPECT_TRUE(Readable(fd.get(), 10000));
  // Still a zombie: waitid(P_PIDFD) reaps it.
  siginfo_t si{};
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), fd.get(), &si, WEXITED), 0);
  EXPECT_EQ(si.si_pid, s.pid);
  EXPECT_EQ(si.si_code, CLD_EXITED);
  EXPECT_EQ(si.si_status, 3);
  // Reaped: pidfd_open of the pid now fails.
  EXPECT_THAT(Sys(SYS_pidfd_open, s.pid, 0), FailsWith(ESRCH));
}

TEST(PidfdOpen, EpollReportsTheExit) {
  Sleeper s;
  Fd fd(PidfdOpen(s.pid));
  ASSERT_GE(fd.get(), 0);
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = fd.get();
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), 0);
  EXPECT_EQ(epoll_wait(ep.get(), &ev, 1, 0), 0);
  s.Release();
  ASSERT_EQ(epoll_wait(ep.get(), &ev, 1, 10000), 1);
  EXPECT_TRUE(ev.events & EPOLLIN);
  EXPECT_EQ(WaitStatus(s.pid), 0);
}

TEST(PidfdWaitid, NonblockingPidfdGivesEagainWhileRunning) {
  Sleeper s;
  Fd fd(PidfdOpen(s.pid, O_NONBLOCK));
  ASSERT_GE(fd.get(), 0);
  siginfo_t si{};
  EXPECT_THAT(Sys(SYS_waitid, P_PIDFD, fd.get(), &si, WEXITED, nullptr), FailsWith(EAGAIN));
  // WNOHANG on a blocking pidfd: 0 and nothing.
  Fd fd2(PidfdOpen(s.pid));
  si.si_pid = 77;
  EXPECT_THAT(Sys(SYS_waitid, P_PIDFD, fd2.get(), &si, WEXITED | WNOHANG, nullptr), Succeeds());
  EXPECT_EQ(si.si_pid, 0);
  s.Release();
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), fd2.get(), &si, WEXITED), 0);
  EXPECT_EQ(si.si_pid, s.pid);
  // Not a pidfd: EBADF; the caller itself is not a child: ECHILD.
  EXPECT_THAT(Sys(SYS_waitid, P_PIDFD, 0x7fff, &si, WEXITED, nullptr), FailsWith(EBADF));
  Fd self(PidfdOpen(getpid()));
  EXPECT_THAT(Sys(SYS_waitid, P_PIDFD, self.get(), &si, WEXITED | WNOHANG, nullptr), FailsWith(ECHILD));
}

TEST(PidfdSendSignal, KillsTheProcessAndChecksArguments) {
  Sleeper s;
  Fd fd(PidfdOpen(s.pid));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 8), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 3), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), 100, nullptr, 0), FailsWith(EINVAL));
  Pipe not_pidfd = MakePipe();
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, not_pidfd.read_end.get(), SIGKILL, nullptr, 0), FailsWith(EBADF));
  // A forged kill() si_code to another process is refused.
  siginfo_t info{};
  info.si_signo = SIGTERM;
  info.si_code = SI_USER;
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGTERM, &info, 0), FailsWith(EPERM));
  info.si_signo = SIGUSR1;  // mismatch
  info.si_code = SI_QUEUE;
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGTERM, &info, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), 0, nullptr, 0), Succeeds());
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0), Succeeds());
  const int st = WaitStatus(s.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  // Reaped: ESRCH.
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0), FailsWith(ESRCH));
}

TEST(PidfdSendSignal, QueuedSiginfoArrives) {
  Pipe result = MakePipe();
  Pipe ready = MakePipe();
  const int rfd = result.write_end.get(), readyfd = ready.write_end.get();
  const pid_t child = ForkChild([rfd, readyfd] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    char c = 'r';
    if (write(readyfd, &c, 1) != 1) return 1;
    siginfo_t si{};
    if (sigwaitinfo(&set, &si) != SIGUSR1) return 2;
    const int v = si.si_value.sival_int;
    if (write(rfd, &v, sizeof(v)) != sizeof(v)) return 3;
    if (si.si_code != SI_QUEUE) return 4;
    return 0;
  });
  ASSERT_GT(child, 0);
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  Fd fd(PidfdOpen(child));
  siginfo_t info{};
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = 4242;
  EXPECT_THAT(Sys(SYS_pidfd_send_signal, fd.get(), SIGUSR1, &info, 0), Succeeds());
  int v = 0;
  ASSERT_EQ(read(result.read_end.get(), &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
  EXPECT_EQ(v, 4242);
  const int st = WaitStatus(child);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(RtSigqueueinfo, ReachesAnotherProcessWithItsValue) {
  Pipe result = MakePipe();
  Pipe ready = MakePipe();
  const int rfd = result.write_end.get(), readyfd = ready.write_end.get();
  const pid_t child = ForkChild([rfd, readyfd] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    char c = 'r';
    if (write(readyfd, &c, 1) != 1) return 1;
    siginfo_t si{};
    if (sigwaitinfo(&set, &si) != SIGRTMIN) return 2;
    const int v = si.si_value.sival_int;
    if (write(rfd, &v, sizeof(v)) != sizeof(v)) return 3;
    return 0;
  });
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  siginfo_t info{};
  info.si_code = SI_USER;  // not allowed towards another process
  EXPECT_THAT(Sys(SYS_rt_sigqueueinfo, child, SIGRTMIN, &info), FailsWith(EPERM));
  info.si_code = SI_TKILL;
  EXPECT_THAT(Sys(SYS_rt_sigqueueinfo, child, SIGRTMIN, &info), FailsWith(EPERM));
  info.si_code = SI_QUEUE;
  info.si_value.sival_int = 99;
  EXPECT_THAT(Sys(SYS_rt_sigqueueinfo, child, SIGRTMIN, &info), Succeeds());
  int v = 0;
  ASSERT_EQ(read(result.read_end.get(), &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
  EXPECT_EQ(v, 99);
  EXPECT_EQ(WaitStatus(child), 0);
  EXPECT_THAT(Sys(SYS_rt_sigqueueinfo, child, SIGRTMIN, &info), FailsWith(ESRCH));
  EXPECT_THAT(Sys(SYS_rt_tgsigqueueinfo, child, child, SIGRTMIN, &info), FailsWith(ESRCH));
}

TEST(PidfdGetfd, DuplicatesAnotherProcessesFd) {
  Pipe data = MakePipe();
  Sleeper s;
  Fd fd(PidfdOpen(s.pid));
  ASSERT_GE(fd.get(), 0);
  // The child inherited data.write_end at the same number.
  Fd got(static_cast<int>(syscall(SYS_pidfd_getfd, fd.get(), data.write_end.get(), 0)));
  ASSERT_GE(got.get(), 0) << strerror(errno);
  EXPECT_EQ(fcntl(got.get(), F_GETFD), FD_CLOEXEC);
  ASSERT_EQ(write(got.get(), "z", 1), 1);
  char c = 0;
  ASSERT_EQ(read(data.read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
  EXPECT_THAT(Sys(SYS_pidfd_getfd, fd.get(), 0x7fff, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_pidfd_getfd, fd.get(), data.write_end.get(), 1), FailsWith(EINVAL));
  s.Release();
  EXPECT_EQ(WaitStatus(s.pid), 0);
  EXPECT_THAT(Sys(SYS_pidfd_getfd, fd.get(), data.write_end.get(), 0), FailsWith(ESRCH));
}

TEST(PidfdGetfd, AnotherUsersProcessIsEperm) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  Sleeper s;
  EXPECT_EQ(RunInChild([pid = s.pid] {
              const int fd = PidfdOpen(pid);
              if (fd < 0) return 1;
              if (setresuid(1000, 1000, 1000) != 0) return 2;
              if (syscall(SYS_pidfd_getfd, fd, 0, 0) != -1 || errno != EPERM) return 3;
              // Signals need kill()'s permission too.
              if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) != -1 || errno != EPERM) return 4;
              return 0;
            }),
            0);
  s.Release();
  EXPECT_EQ(WaitStatus(s.pid), 0);
}

TEST(ClonePidfd, CloneReturnsAPidfdForTheChild) {
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  const long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) _exit(5);
  ASSERT_GT(pid, 0) << strerror(errno);
  ASSERT_GE(pidfd, 0);
  Fd fd(pidfd);
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_TRUE(Readable(fd.get(), 10000));
  siginfo_t si{};
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), fd.get(), &si, WEXITED), 0);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_status, 5);
  // CLONE_PIDFD with CLONE_THREAD is invalid.
  args.flags = CLONE_PIDFD | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  EXPECT_THAT(Sys(SYS_clone3, &args, sizeof(args)), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
