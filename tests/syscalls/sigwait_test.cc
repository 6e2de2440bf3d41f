// Waiting for signals: rt_sigtimedwait, rt_sigpending, rt_sigsuspend, pause.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

namespace syscall_test {
namespace {

volatile sig_atomic_t g_count = 0;
void CountHandler(int) { g_count = g_count + 1; }

class BlockedSet {
 public:
  explicit BlockedSet(int sig) {
    sigemptyset(&set_);
    sigaddset(&set_, sig);
    sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSet() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_, old_;
};

TEST(Sigtimedwait, ReturnsPendingBlockedSignalWithInfo) {
  BlockedSet b(SIGUSR1);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  siginfo_t info = {};
  const timespec ts = {1, 0};
  EXPECT_EQ(sigtimedwait(&b.set(), &info, &ts), SIGUSR1);
  EXPECT_EQ(info.si_signo, SIGUSR1);
  EXPECT_EQ(info.si_code, SI_USER);
  EXPECT_EQ(info.si_pid, getpid());
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
}

TEST(Sigtimedwait, ZeroTimeoutWithNothingPendingFailsWithEagain) {
  BlockedSet b(SIGUSR2);
  const timespec ts = {0, 0};
  errno = 0;
  EXPECT_EQ(sigtimedwait(&b.set(), nullptr, &ts), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(Sigtimedwait, TimesOutWithEagain) {
  BlockedSet b(SIGUSR2);
  const timespec ts = {0, 20 * 1000 * 1000};
  errno = 0;
  EXPECT_EQ(sigtimedwait(&b.set(), nullptr, &ts), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(Sigtimedwait, WakesForSignalFromAnotherThread) {
  BlockedSet b(SIGUSR1);
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  // Blocked here, so the waiting thread takes the
                  // process-wide signal.
                  sigset_t set;
                  sigemptyset(&set);
                  sigaddset(&set, SIGUSR1);
                  pthread_sigmask(SIG_BLOCK, &set, nullptr);
                  usleep(20000);
                  kill(getpid(), SIGUSR1);
                  return nullptr;
                },
                nullptr),
            0);
  siginfo_t info = {};
  const timespec ts = {10, 0};
  EXPECT_EQ(sigtimedwait(&b.set(), &info, &ts), SIGUSR1);
  EXPECT_EQ(info.si_pid, getpid());
  pthread_join(th, nullptr);
}

TEST(Sigpending, ReportsOnlyBlockedPendingSignals) {
  BlockedSet b(SIGUSR2);
  raise(SIGUSR2);
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_TRUE(sigismember(&pending, SIGUSR2));
  siginfo_t info;
  const timespec ts = {0, 0};
  EXPECT_EQ(sigtimedwait(&b.set(), &info, &ts), SIGUSR2);
}

TEST(Sigsuspend, RunsHandlerThenRestoresMaskAndFailsWithEintr) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = CountHandler;
  sigaction(SIGUSR1, &sa, &old);
  BlockedSet b(SIGUSR1);
  raise(SIGUSR1);  // pending while blocked
  g_count = 0;
  sigset_t wait_mask;
  sigemptyset(&wait_mask);
  errno = 0;
  EXPECT_EQ(sigsuspend(&wait_mask), -1);
  EXPECT_EQ(errno, EINTR);
  EXPECT_EQ(g_count, 1);
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
  sigaction(SIGUSR1, &old, nullptr);
}

TEST(Pause, ReturnsEintrAfterHandler) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = CountHandler;
  sigaction(SIGUSR2, &sa, &old);
  g_count = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  sigset_t set;
                  sigemptyset(&set);
                  sigaddset(&set, SIGUSR2);
                  pthread_sigmask(SIG_BLOCK, &set, nullptr);
                  usleep(20000);
                  kill(getpid(), SIGUSR2);
                  return nullptr;
                },
                nullptr),
            0);
  errno = 0;
  EXPECT_EQ(pause(), -1);
  EXPECT_EQ(errno, EINTR);
  EXPECT_EQ(g_count, 1);
  pthread_join(th, nullptr);
  sigaction(SIGUSR2, &old, nullptr);
}

}  // namespace
}  // namespace syscall_test
