// Job control: SIGSTOP/SIGTSTP stop a whole process, SIGCONT continues it;
// wait4(WUNTRACED) and waitid(WSTOPPED/WCONTINUED/WNOWAIT) report each change
// once; the parent's SIGCHLD carries CLD_STOPPED/CLD_CONTINUED unless
// SA_NOCLDSTOP; death by a core-dumping signal with RLIMIT_CORE 0 reports
// CLD_KILLED and no core bit.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

// A child that sleeps until killed.
pid_t SleepingChild() {
  return ForkChild([] {
    for (;;) pause();
    return 0;
  });
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  WaitStatus(pid);
}

TEST(StopCont, Wait4WuntracedReportsTheStopSignalOnce) {
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(wait4(pid, &st, WUNTRACED, nullptr), pid);
  EXPECT_TRUE(WIFSTOPPED(st));
  EXPECT_EQ(WSTOPSIG(st), SIGSTOP);
  // Reported once: a second WUNTRACED|WNOHANG finds nothing new.
  EXPECT_EQ(wait4(pid, &st, WUNTRACED | WNOHANG, nullptr), 0);
  KillAndReap(pid);
}

TEST(StopCont, SigtstpStopsWithItsOwnNumber) {
  // In its own process group, whose parent (us) is in another group of the
  // same session: not orphaned, so SIGTSTP stops it. (In an orphaned group
  // Linux discards it; the harness runs us as a session leader.)
  const pid_t pid = ForkChild([] {
    setpgid(0, 0);
    for (;;) pause();
    return 0;
  });
  setpgid(pid, pid);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGTSTP), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
  EXPECT_TRUE(WIFSTOPPED(st));
  EXPECT_EQ(WSTOPSIG(st), SIGTSTP);
  KillAndReap(pid);
}

TEST(StopCont, WaitWithoutWuntracedIgnoresTheStop) {
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT), 0);
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, WNOHANG), 0);
  KillAndReap(pid);
}

TEST(StopCont, WaitidReportsStoppedThenContinued) {
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  siginfo_t si{};
  // WNOWAIT leaves the report for the next wait.
  ASSERT_EQ(waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT), 0);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_signo, SIGCHLD);
  EXPECT_EQ(si.si_code, CLD_STOPPED);
  EXPECT_EQ(si.si_status, SIGSTOP);
  si = {};
  ASSERT_EQ(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG), 0);
  EXPECT_EQ(si.si_code, CLD_STOPPED);
  si = {};
  ASSERT_EQ(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG), 0);
  EXPECT_EQ(si.si_pid, 0);  // consumed

  ASSERT_EQ(kill(pid, SIGCONT), 0);
  si = {};
  ASSERT_EQ(waitid(P_PID, pid, &si, WCONTINUED), 0);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_code, CLD_CONTINUED);
  EXPECT_EQ(si.si_status, SIGCONT);
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, WCONTINUED | WNOHANG), 0);
  KillAndReap(pid);
}

TEST(StopCont, Wait4WcontinuedGivesTheContinuedStatus) {
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ASSERT_EQ(waitpid(pid, &st, WCONTINUED), pid);
  EXPECT_TRUE(WIFCONTINUED(st));
  EXPECT_EQ(st, 0xffff);
  KillAndReap(pid);
}

// The parent's SIGCHLD siginfo, collected with sigtimedwait.
siginfo_t NextSigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  siginfo_t si{};
  struct timespec ts = {10, 0};
  if (sigtimedwait(&set, &si, &ts) != SIGCHLD) si.si_signo = -1;
  return si;
}

class BlockSigchld {
 public:
  BlockSigchld() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSigchld() {
    // Drop what is left pending for the next test.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGCHLD) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

TEST(StopCont, SigchldCarriesStoppedContinuedAndKilledCodes) {
  BlockSigchld block;
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  siginfo_t si = NextSigchld();
  EXPECT_EQ(si.si_signo, SIGCHLD);
  EXPECT_EQ(si.si_code, CLD_STOPPED);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_status, SIGSTOP);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  si = NextSigchld();
  EXPECT_EQ(si.si_code, CLD_CONTINUED);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_status, SIGCONT);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  si = NextSigchld();
  EXPECT_EQ(si.si_code, CLD_KILLED);
  EXPECT_EQ(si.si_pid, pid);
  EXPECT_EQ(si.si_status, SIGTERM);
  EXPECT_EQ(WaitStatus(pid), SIGTERM);
}

TEST(StopCont, SaNocldstopSuppressesStopAndContinueSigchld) {
  struct sigaction sa {}, old{};
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_NOCLDSTOP;
  ASSERT_EQ(sigaction(SIGCHLD, &sa, &old), 0);
  {
    BlockSigchld block;
    const pid_t pid = SleepingChild();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
    ASSERT_EQ(kill(pid, SIGCONT), 0);
    ASSERT_EQ(waitpid(pid, &st, WCONTINUED), pid);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    // The only SIGCHLD is the one for the death.
    siginfo_t si = NextSigchld();
    EXPECT_EQ(si.si_code, CLD_KILLED);
    EXPECT_EQ(si.si_status, SIGKILL);
    WaitStatus(pid);
  }
  sigaction(SIGCHLD, &old, nullptr);
}

TEST(StopCont, StopHaltsEveryThreadOfTheChild) {
  auto* counter = SharedPage<std::atomic<long>>();
  ASSERT_NE(counter, nullptr);
  const pid_t pid = ForkChild([counter] {
    pthread_t th;
    pthread_create(
        &th, nullptr,
        +[](void* p) -> void* {
          for (;;) static_cast<std::atomic<long>*>(p)->fetch_add(1);
          return nullptr;
        },
        counter);
    for (;;) pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(SpinUntil([&] { return counter->load() > 1000; }));
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(st));
  // Once stopped, the spinning thread stops too (it may finish the
  // increment it was in): the counter settles.
  long before = counter->load();
  bool settled = SpinUntil([&] {
    usleep(20000);
    const long now = counter->load();
    const bool same = now == before;
    before = now;
    return same;
  });
  EXPECT_TRUE(settled);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  const long at_cont = counter->load();
  EXPECT_TRUE(SpinUntil([&] { return counter->load() > at_cont + 1000; }));
  KillAndReap(pid);
}

TEST(StopCont, SigkillEndsAStoppedChild) {
  const pid_t pid = SleepingChild();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST(StopCont, CoreSignalWithZeroCoreLimitReportsKilledWithoutCoreBit) {
  const pid_t pid = ForkChild([] {
    struct rlimit r = {0, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &r);
    signal(SIGQUIT, SIG_DFL);
    raise(SIGQUIT);
    return 1;
  });
  ASSERT_GT(pid, 0);
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(si.si_code, CLD_KILLED);
  EXPECT_EQ(si.si_status, SIGQUIT);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGQUIT);
  EXPECT_FALSE(WCOREDUMP(st));
}

}  // namespace
}  // namespace syscall_test
