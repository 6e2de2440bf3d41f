// POSIX timers: timer_create, timer_settime, timer_gettime,
// timer_getoverrun, timer_delete.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "util.h"

namespace syscall_test {
namespace {

int CreateTimer(clockid_t clock, struct sigevent* sev, timer_t* id) {
  int kid = -1;
  const long r = syscall(SYS_timer_create, clock, sev, &kid);
  *id = reinterpret_cast<timer_t>(static_cast<intptr_t>(kid));
  return static_cast<int>(r);
}
int Kid(timer_t t) { return static_cast<int>(reinterpret_cast<intptr_t>(t)); }

struct itimerspec Spec(long value_ns, long interval_ns) {
  struct itimerspec s {};
  s.it_value.tv_sec = value_ns / 1000000000;
  s.it_value.tv_nsec = value_ns % 1000000000;
  s.it_interval.tv_sec = interval_ns / 1000000000;
  s.it_interval.tv_nsec = interval_ns % 1000000000;
  return s;
}

// Blocks `sig` for the test and waits for it with sigtimedwait.
class BlockedSignal {
 public:
  explicit BlockedSignal(int sig) : sig_(sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_BLOCK, &s, &old_);
  }
  ~BlockedSignal() {
    struct timespec zero {};
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig_);
    while (sigtimedwait(&s, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int Wait(siginfo_t* info, int timeout_s = 5) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig_);
    struct timespec ts {timeout_s, 0};
    return sigtimedwait(&s, info, &ts);
  }

 private:
  int sig_;
  sigset_t old_;
};

TEST(TimerCreate, SigevSignalDeliversSiTimerWithValueAndId) {
  BlockedSignal b(SIGRTMIN);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGRTMIN;
  sev.sigev_value.sival_int = 4242;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(1000000, 0);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  siginfo_t info{};
  ASSERT_EQ(b.Wait(&info), SIGRTMIN);
  EXPECT_EQ(info.si_code, SI_TIMER);
  EXPECT_EQ(info.si_value.sival_int, 4242);
  EXPECT_EQ(info.si_timerid, Kid(t));
  // One-shot: now disarmed.
  struct itimerspec cur {};
  ASSERT_THAT(Sys(SYS_timer_gettime, Kid(t), &cur), Succeeds());
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerCreate, NullSigeventMeansSigalrmWithTheIdAsValue) {
  BlockedSignal b(SIGALRM);
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_REALTIME, nullptr, &t), 0);
  struct itimerspec s = Spec(1000000, 0);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  siginfo_t info{};
  ASSERT_EQ(b.Wait(&info), SIGALRM);
  EXPECT_EQ(info.si_code, SI_TIMER);
  EXPECT_EQ(info.si_value.sival_int, Kid(t));
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerCreate, IdsAreDistinct) {
  timer_t a, b;
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &a), 0);
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &b), 0);
  EXPECT_NE(Kid(a), Kid(b));
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(a)), Succeeds());
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(b)), Succeeds());
}

TEST(TimerCreate, BadArgumentsFail) {
  timer_t t;
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = 0;
  EXPECT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), -1);
  EXPECT_EQ(errno, EINVAL);
  sev.sigev_signo = 65;
  EXPECT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), -1);
  EXPECT_EQ(errno, EINVAL);
  sev.sigev_signo = SIGUSR1;
  sev.sigev_notify = 99;
  EXPECT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), -1);
  EXPECT_EQ(errno, EINVAL);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev._sigev_un._tid = 0x7ffffff0;  // no such thread
  EXPECT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(CreateTimer(12345, nullptr, &t), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(Sys(SYS_timer_create, CLOCK_MONOTONIC, nullptr, UnmappedAddress()), FailsWith(EFAULT));
  // Coarse and raw clocks have no timers.
  EXPECT_THAT(Sys(SYS_timer_create, CLOCK_MONOTONIC_COARSE, nullptr, &t), FailsWith(EOPNOTSUPP));
}

TEST(TimerSettime, UnknownTimerAndBadValuesFailWithEinval) {
  struct itimerspec s = Spec(1000000, 0);
  EXPECT_THAT(Sys(SYS_timer_settime, 0x7fff0000, 0, &s, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timer_gettime, 0x7fff0000, &s), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timer_getoverrun, 0x7fff0000), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timer_delete, 0x7fff0000), FailsWith(EINVAL));
  timer_t t;
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  s.it_value.tv_nsec = 1000000000;
  EXPECT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), FailsWith(EINVAL));
  s = Spec(1000000, 0);
  s.it_interval.tv_sec = -1;
  EXPECT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_timer_settime, Kid(t), 0, UnmappedAddress(), nullptr), FailsWith(EFAULT));
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
  EXPECT_THAT(Sys(SYS_timer_delete, Kid(t)), FailsWith(EINVAL));
}

TEST(TimerSettime, SigevNoneTimerCountsDownAndReportsTheOldValue) {
  timer_t t;
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(50000000000L, 2000000000L);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  struct itimerspec cur {};
  ASSERT_THAT(Sys(SYS_timer_gettime, Kid(t), &cur), Succeeds());
  EXPECT_LE(cur.it_value.tv_sec, 50);
  EXPECT_GE(cur.it_value.tv_sec, 40);
  EXPECT_EQ(cur.it_interval.tv_sec, 2);
  struct itimerspec zero {}, old {};
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &zero, &old), Succeeds());
  EXPECT_GE(old.it_value.tv_sec, 40);
  EXPECT_EQ(old.it_interval.tv_sec, 2);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerSettime, ZeroValueDisarms) {
  // (A SIGEV_SIGNAL one-shot: Linux reports stale values for disarmed
  // SIGEV_NONE and periodic timers.)
  BlockedSignal b(SIGUSR1);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(50000000000L, 0);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  struct itimerspec zero {}, cur {};
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &zero, nullptr), Succeeds());
  ASSERT_THAT(Sys(SYS_timer_gettime, Kid(t), &cur), Succeeds());
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerSettime, AbsoluteTimeInThePastFiresAtOnce) {
  BlockedSignal b(SIGUSR1);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s {};
  s.it_value.tv_sec = 1;  // long ago on CLOCK_MONOTONIC
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), TIMER_ABSTIME, &s, nullptr), Succeeds());
  siginfo_t info{};
  EXPECT_EQ(b.Wait(&info), SIGUSR1);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerSettime, AbsoluteTimeInTheFutureWaitsForIt) {
  BlockedSignal b(SIGUSR1);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_REALTIME, &sev, &t), 0);
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec s {};
  s.it_value.tv_sec = now.tv_sec + 100;
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), TIMER_ABSTIME, &s, nullptr), Succeeds());
  struct itimerspec cur {};
  ASSERT_THAT(Sys(SYS_timer_gettime, Kid(t), &cur), Succeeds());
  EXPECT_GE(cur.it_value.tv_sec, 98);
  EXPECT_LE(cur.it_value.tv_sec, 100);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerGetoverrun, ExpirationsWhileTheSignalIsPendingAreOverruns) {
  BlockedSignal b(SIGUSR2);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR2;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(5000000, 5000000);  // every 5 ms
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  usleep(200000);  // the first signal stays pending (blocked): the rest overrun
  // The pending signal carries the expirations that came while it waited,
  // and timer_getoverrun reports them (until the next one is delivered).
  siginfo_t info{};
  ASSERT_EQ(b.Wait(&info), SIGUSR2);
  EXPECT_GT(info.si_overrun, 5);
  EXPECT_EQ(syscall(SYS_timer_getoverrun, Kid(t)), info.si_overrun);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerCreate, SigevThreadIdTargetsThatThread) {
  BlockedSignal b(SIGUSR1);  // inherited by the thread
  std::atomic<pid_t> tid{0};
  std::atomic<int> got{0};
  std::atomic<int> code{0};
  std::thread th([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    siginfo_t info{};
    struct timespec ts {5, 0};
    got = sigtimedwait(&s, &info, &ts);
    code = info.si_code;
  });
  while (tid == 0) usleep(1000);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGUSR1;
  sev._sigev_un._tid = tid;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(1000000, 0);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  th.join();
  EXPECT_EQ(got, SIGUSR1);
  EXPECT_EQ(code, SI_TIMER);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerDelete, DeletedTimerNoLongerFires) {
  BlockedSignal b(SIGUSR1);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  struct itimerspec s = Spec(50000000, 0);
  ASSERT_THAT(Sys(SYS_timer_settime, Kid(t), 0, &s, nullptr), Succeeds());
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
  siginfo_t info{};
  EXPECT_EQ(b.Wait(&info, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(TimerCreate, TimersAreNotInheritedByForkAndGoAtExec) {
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_MONOTONIC, &sev, &t), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct itimerspec cur {};
    _exit(syscall(SYS_timer_gettime, Kid(t), &cur) == -1 && errno == EINVAL ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

TEST(TimerCreate, CpuClockTimersCanBeCreated) {
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  timer_t t;
  ASSERT_EQ(CreateTimer(CLOCK_PROCESS_CPUTIME_ID, &sev, &t), 0);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
  ASSERT_EQ(CreateTimer(CLOCK_THREAD_CPUTIME_ID, &sev, &t), 0);
  ASSERT_THAT(Sys(SYS_timer_delete, Kid(t)), Succeeds());
}

// Clock ids made from pids (include/linux/posix-timers.h).
constexpr clockid_t ProcessCpuClock(pid_t pid, int which) { return (~static_cast<clockid_t>(pid) << 3) | which; }
constexpr clockid_t ThreadCpuClock(pid_t tid, int which) { return ProcessCpuClock(tid, which | 4); }
constexpr int kCpuClockProf = 0, kCpuClockVirt = 1, kCpuClockSched = 2, kClockFd = 3;

TEST(CpuClockIds, ProcessAndThreadClocksOfTheCallerRead) {
  clockid_t c;
  ASSERT_EQ(clock_getcpuclockid(getpid(), &c), 0);
  struct timespec ts = {-1, -1};
  EXPECT_THAT(Sys(SYS_clock_gettime, c, &ts), Succeeds());
  EXPECT_GE(ts.tv_sec, 0);
  EXPECT_THAT(Sys(SYS_clock_getres, c, &ts), Succeeds());
  ASSERT_EQ(pthread_getcpuclockid(pthread_self(), &c), 0);
  EXPECT_THAT(Sys(SYS_clock_gettime, c, &ts), Succeeds());
  for (int which : {kCpuClockProf, kCpuClockVirt, kCpuClockSched}) {
    EXPECT_THAT(Sys(SYS_clock_gettime, ProcessCpuClock(0, which), &ts), Succeeds()) << which;
    EXPECT_THAT(Sys(SYS_clock_gettime, ThreadCpuClock(0, which), &ts), Succeeds()) << which;
  }
}

TEST(CpuClockIds, ClocksOfOtherThreadsOfTheProcessRead) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread th([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!done) usleep(1000);
  });
  while (tid == 0) usleep(1000);
  struct timespec ts {};
  EXPECT_THAT(Sys(SYS_clock_gettime, ThreadCpuClock(tid, kCpuClockSched), &ts), Succeeds());
  done = true;
  th.join();
}

TEST(CpuClockIds, BadPidsAndClockFdFailWithEinval) {
  struct timespec ts {};
  EXPECT_THAT(Sys(SYS_clock_gettime, ProcessCpuClock(0x3ffffff0, kCpuClockSched), &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_gettime, ProcessCpuClock(getpid(), kClockFd), &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_getres, ThreadCpuClock(0x3ffffff0, kCpuClockSched), &ts), FailsWith(EINVAL));
  // A thread clock names a thread of the caller's own process only.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  EXPECT_THAT(Sys(SYS_clock_gettime, ThreadCpuClock(pid, kCpuClockSched), &ts), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_gettime, ProcessCpuClock(pid, kCpuClockSched), &ts), Succeeds());
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(CpuClockIds, NanosleepOnTheCallersThreadClockFails) {
  struct timespec ts {0, 1000};
  EXPECT_THAT(Sys(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &ts, nullptr), FailsWith(EOPNOTSUPP));
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  EXPECT_THAT(Sys(SYS_clock_nanosleep, ThreadCpuClock(tid, kCpuClockSched), 0, &ts, nullptr), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_clock_nanosleep, ThreadCpuClock(0, kCpuClockSched), 0, &ts, nullptr), FailsWith(EINVAL));
}

TEST(Getcpu, ReportsACpuAndNode) {
  unsigned cpu = ~0u, node = ~0u;
  ASSERT_THAT(Sys(SYS_getcpu, &cpu, &node, nullptr), Succeeds());
  EXPECT_LT(cpu, 4096u);
  EXPECT_LT(node, 1024u);
  EXPECT_THAT(Sys(SYS_getcpu, UnmappedAddress(), nullptr, nullptr), FailsWith(EFAULT));
}

}  // namespace
}  // namespace syscall_test
