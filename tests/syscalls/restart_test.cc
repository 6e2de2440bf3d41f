// Syscall restart after a signal handler: SA_RESTART restarts a futex wait
// transparently, without it the wait fails with EINTR. The signal comes
// from another thread while this one is blocked: a process-wide kill() that
// the sending thread blocks, so the waiting thread is the one to take it.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "util.h"

namespace syscall_test {
namespace {

std::atomic<int> g_handled{0};
void Handler(int) { g_handled.fetch_add(1); }

uint32_t g_word = 0;
std::atomic<pid_t> g_waiter{0};

long FutexWait(uint32_t* addr, uint32_t val) {
  return syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, nullptr, nullptr, 0);
}

// Signals the waiter once it is (very likely) blocked; with `wake`, also
// changes the word and wakes it after the handler ran.
void* Signaller(void* arg) {
  const bool wake = arg != nullptr;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  while (g_waiter == 0) usleep(1000);
  usleep(50000);
  kill(getpid(), SIGUSR1);
  if (wake) {
    while (g_handled == 0) usleep(1000);
    usleep(50000);
    __atomic_store_n(&g_word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &g_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  return nullptr;
}

class Action {
 public:
  explicit Action(int flags) {
    struct sigaction sa = {};
    sa.sa_handler = Handler;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, &old_);
    g_handled = 0;
    g_word = 0;
    g_waiter = 0;
  }
  ~Action() { sigaction(SIGUSR1, &old_, nullptr); }

 private:
  struct sigaction old_ = {};
};

TEST(Restart, FutexWaitWithoutSaRestartFailsWithEintr) {
  Action a(0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, Signaller, nullptr), 0);
  g_waiter = static_cast<pid_t>(syscall(SYS_gettid));
  errno = 0;
  const long r = FutexWait(&g_word, 0);
  const int err = errno;
  pthread_join(th, nullptr);
  EXPECT_EQ(r, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_EQ(g_handled, 1);
}

TEST(Restart, FutexWaitWithSaRestartIsRestartedAfterTheHandler) {
  Action a(SA_RESTART);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, Signaller, reinterpret_cast<void*>(1)), 0);
  g_waiter = static_cast<pid_t>(syscall(SYS_gettid));
  errno = 0;
  const long r = FutexWait(&g_word, 0);
  const int err = errno;
  pthread_join(th, nullptr);
  EXPECT_EQ(g_handled, 1);
  // Woken by the FUTEX_WAKE (0), or the restarted wait saw the new value
  // (EAGAIN); never EINTR.
  if (r != 0) {
    EXPECT_EQ(err, EAGAIN);
  }
}

TEST(Restart, NanosleepInterruptedByHandlerReportsRemainingTime) {
  Action a(SA_RESTART);  // nanosleep is never restarted after a handler
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, Signaller, nullptr), 0);
  g_waiter = static_cast<pid_t>(syscall(SYS_gettid));
  timespec req = {5, 0}, rem = {0, 0};
  errno = 0;
  const int r = nanosleep(&req, &rem);
  const int err = errno;
  pthread_join(th, nullptr);
  EXPECT_EQ(r, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_GT(rem.tv_sec, 2);
}

}  // namespace
}  // namespace syscall_test
