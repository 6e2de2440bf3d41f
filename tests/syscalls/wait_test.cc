// wait4(2), waitid(2): zombies, statuses, WNOHANG/WNOWAIT, ECHILD, SIGCHLD
// ignored, orphans; kill(2) to other processes.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

TEST(Wait4, ReturnsTheChildsExitStatus) {
  const pid_t pid = ForkChild([] { return 42; });
  int st = 0;
  ASSERT_EQ(wait4(pid, &st, 0, nullptr), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 42);
}

TEST(Wait4, ChildKilledBySignalReportsTheSignal) {
  const pid_t pid = ForkChild([] {
    kill(getpid(), SIGKILL);
    return 0;
  });
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST(Wait4, NoChildrenFailsWithEchild) {
  EXPECT_THAT(Sys(SYS_wait4, -1, nullptr, 0, nullptr), FailsWith(ECHILD));
  EXPECT_THAT(Sys(SYS_wait4, -1, nullptr, WNOHANG, nullptr), FailsWith(ECHILD));
}

TEST(Wait4, SomeoneElsesPidFailsWithEchild) {
  EXPECT_THAT(Sys(SYS_wait4, getpid(), nullptr, 0, nullptr), FailsWith(ECHILD));
}

TEST(Wait4, UnknownOptionFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_wait4, -1, nullptr, 0x100000, nullptr), FailsWith(EINVAL));
}

TEST(Wait4, WnohangReturnsZeroWhileTheChildRuns) {
  auto* go = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] { return SpinUntil([&] { return go->load() == 1; }) ? 0 : 1; });
  int st = 0;
  EXPECT_EQ(wait4(pid, &st, WNOHANG, nullptr), 0);
  go->store(1);
  EXPECT_EQ(wait4(pid, &st, 0, nullptr), pid);
  EXPECT_TRUE(WIFEXITED(st));
}

TEST(Wait4, ZeroWaitsForTheCallersProcessGroup) {
  const pid_t pid = ForkChild([] { return 3; });
  int st = 0;
  EXPECT_EQ(wait4(0, &st, 0, nullptr), pid);
  EXPECT_EQ(WEXITSTATUS(st), 3);
}

TEST(Waitid, FillsSiginfoForAnExitedChild) {
  const pid_t pid = ForkChild([] { return 7; });
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED), 0);
  EXPECT_EQ(si.si_signo, SIGCHLD);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_code, CLD_EXITED);
  EXPECT_EQ(si.si_status, 7);
}

TEST(Waitid, KilledChildReportsCldKilled) {
  const pid_t pid = ForkChild([] {
    kill(getpid(), SIGTERM);
    return 0;
  });
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED), 0);
  EXPECT_EQ(si.si_code, CLD_KILLED);
  EXPECT_EQ(si.si_status, SIGTERM);
}

TEST(Waitid, WnowaitLeavesTheZombie) {
  const pid_t pid = ForkChild([] { return 1; });
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(si.si_pid, pid);
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_EQ(WEXITSTATUS(st), 1);
}

TEST(Waitid, NoStateOptionFailsWithEinval) {
  siginfo_t si{};
  EXPECT_THAT(Sys(SYS_waitid, P_ALL, 0, &si, WNOHANG, nullptr), FailsWith(EINVAL));
}

TEST(Waitid, BadIdTypeFailsWithEinval) {
  siginfo_t si{};
  EXPECT_THAT(Sys(SYS_waitid, 42, 0, &si, WEXITED, nullptr), FailsWith(EINVAL));
}

TEST(Waitid, WnohangWithNothingReadyZeroesSiPid) {
  auto* go = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] { return SpinUntil([&] { return go->load() == 1; }) ? 0 : 1; });
  siginfo_t si{};
  si.si_pid = 12345;
  EXPECT_EQ(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), 0);
  EXPECT_EQ(si.si_pid, 0);
  go->store(1);
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(Wait, IgnoredSigchldReapsChildrenAutomatically) {
  struct sigaction old {};
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGCHLD, &ign, &old), 0);
  const pid_t pid = ForkChild([] { return 0; });
  ASSERT_GT(pid, 0);
  // Blocks until the child is gone, then finds no children.
  EXPECT_THAT(Sys(SYS_wait4, pid, nullptr, 0, nullptr), FailsWith(ECHILD));
  sigaction(SIGCHLD, &old, nullptr);
}

TEST(Wait, OrphanIsReparented) {
  auto* info = SharedPage<std::atomic<int>>();
  auto* grandchild = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] {
    const pid_t middle = getpid();
    const pid_t g = fork();
    if (g == 0) {
      // The grandchild: wait until its parent is gone.
      SpinUntil([&] { return getppid() != middle; });
      info->store(getppid() != middle ? 1 : 2);
      _exit(0);
    }
    grandchild->store(g);
    return 0;
  });
  EXPECT_EQ(WaitStatus(pid), 0);
  ASSERT_TRUE(SpinUntil([&] { return info->load() != 0; }));
  EXPECT_EQ(info->load(), 1);
  // In the sandbox this test is pid 1, the orphan's new parent: reap it so
  // later tests see no stray child (natively this is ECHILD).
  waitpid(grandchild->load(), nullptr, 0);
}

TEST(Kill, SignalsAnotherProcess) {
  auto* go = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] {
    SpinUntil([&] { return go->load() == 1; });
    return 0;
  });
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGTERM);
}

TEST(Kill, ZeroSignalChecksExistence) {
  EXPECT_THAT(Sys(SYS_kill, getpid(), 0), Succeeds());
  EXPECT_THAT(Sys(SYS_kill, 0, 0), Succeeds());
  // kill(-1) means "everyone else", not group 1 (the sandbox's pid 1 leads it).
  if (getpgrp() != 1) {
    EXPECT_THAT(Sys(SYS_kill, -getpgrp(), 0), Succeeds());
  }
  EXPECT_THAT(Sys(SYS_kill, 0x3ffffff0, 0), FailsWith(ESRCH));
}

TEST(Kill, ReapedChildNoLongerExists) {
  const pid_t pid = ForkChild([] { return 0; });
  EXPECT_EQ(WaitStatus(pid), 0);
  EXPECT_THAT(Sys(SYS_kill, pid, 0), FailsWith(ESRCH));
}

TEST(Kill, ZombieStillExists) {
  const pid_t pid = ForkChild([] { return 0; });
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT), 0);
  EXPECT_THAT(Sys(SYS_kill, pid, 0), Succeeds());
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(Kill, InvalidSignalFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_kill, getpid(), 65), FailsWith(EINVAL));
}

TEST(Tgkill, WrongThreadGroupFailsWithEsrch) {
  const pid_t pid = ForkChild([] { return 0; });
  EXPECT_EQ(WaitStatus(pid), 0);
  EXPECT_THAT(Sys(SYS_tgkill, getpid(), pid, 0), FailsWith(ESRCH));
  EXPECT_THAT(Sys(SYS_tgkill, getpid(), gettid(), 0), Succeeds());
}

}  // namespace
}  // namespace syscall_test
