// Threads (clone(CLONE_THREAD) as pthread_create uses it): shared memory,
// thread-local storage, distinct tids, join through CLONE_CHILD_CLEARTID,
// a thread's exit leaving the process running, signals between threads.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
long g_counter = 0;
thread_local long t_local = 0;

void* AddMany(void* arg) {
  const long n = reinterpret_cast<long>(arg);
  for (long i = 0; i < n; ++i) {
    pthread_mutex_lock(&g_mu);
    ++g_counter;
    pthread_mutex_unlock(&g_mu);
    ++t_local;
  }
  return reinterpret_cast<void*>(t_local);
}

TEST(Threads, FourThreadsShareACounterUnderAMutex) {
  g_counter = 0;
  constexpr long kPerThread = 20000;
  pthread_t th[4];
  for (auto& t : th) ASSERT_EQ(pthread_create(&t, nullptr, AddMany, reinterpret_cast<void*>(kPerThread)), 0);
  for (auto& t : th) {
    void* ret = nullptr;
    ASSERT_EQ(pthread_join(t, &ret), 0);
    EXPECT_EQ(reinterpret_cast<long>(ret), kPerThread);  // TLS is per thread
  }
  EXPECT_EQ(g_counter, 4 * kPerThread);
  EXPECT_EQ(t_local, 0);
}

TEST(Threads, GettidDiffersGetpidIsShared) {
  static pid_t child_tid, child_pid;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  child_tid = static_cast<pid_t>(syscall(SYS_gettid));
                  child_pid = getpid();
                  return nullptr;
                },
                nullptr),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_NE(child_tid, static_cast<pid_t>(syscall(SYS_gettid)));
  EXPECT_EQ(child_pid, getpid());
  EXPECT_EQ(getpid(), static_cast<pid_t>(syscall(SYS_gettid)));
}

TEST(Threads, ExitOfOneThreadDoesNotEndTheProcess) {
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  syscall(SYS_exit, 0);  // the raw thread exit
                  return nullptr;
                },
                nullptr),
            0);
  // glibc's join waits on the CLONE_CHILD_CLEARTID futex.
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  SUCCEED();
}

volatile sig_atomic_t g_handled_on = 0;
void RecordTid(int) { g_handled_on = static_cast<sig_atomic_t>(syscall(SYS_gettid)); }

TEST(Threads, TgkillTargetsTheNamedThread) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = RecordTid;
  sigaction(SIGUSR1, &sa, &old);
  static std::atomic<pid_t> tid{0};
  static std::atomic<bool> done{false};
  tid = 0;
  done = false;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  tid = static_cast<pid_t>(syscall(SYS_gettid));
                  while (!done) usleep(1000);
                  return nullptr;
                },
                nullptr),
            0);
  while (tid == 0) usleep(1000);
  g_handled_on = 0;
  const long r = syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1);
  EXPECT_EQ(r, 0);
  for (int i = 0; r == 0 && i < 5000 && g_handled_on == 0; ++i) usleep(1000);
  EXPECT_EQ(g_handled_on, r == 0 ? tid.load() : 0);
  done = true;
  pthread_join(th, nullptr);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST(Threads, ProcessSignalGoesToAThreadThatDoesNotBlockIt) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = RecordTid;
  sigaction(SIGUSR2, &sa, &old);
  sigset_t set, oldset;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  static std::atomic<pid_t> tid{0};
  static std::atomic<bool> done{false};
  tid = 0;
  done = false;
  g_handled_on = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  tid = static_cast<pid_t>(syscall(SYS_gettid));
                  while (!done) usleep(1000);
                  return nullptr;
                },
                nullptr),
            0);
  while (tid == 0) usleep(1000);
  // Block it here only after the thread exists (it inherits our mask).
  pthread_sigmask(SIG_BLOCK, &set, &oldset);
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  for (int i = 0; i < 5000 && g_handled_on == 0; ++i) usleep(1000);
  EXPECT_EQ(g_handled_on, tid.load());
  done = true;
  pthread_join(th, nullptr);
  pthread_sigmask(SIG_SETMASK, &oldset, nullptr);
  sigaction(SIGUSR2, &old, nullptr);
}

TEST(Threads, ManyShortLivedThreads) {
  for (int round = 0; round < 10; ++round) {
    std::vector<pthread_t> ths(4);
    for (auto& t : ths) ASSERT_EQ(pthread_create(&t, nullptr, AddMany, reinterpret_cast<void*>(10)), 0);
    for (auto& t : ths) ASSERT_EQ(pthread_join(t, nullptr), 0);
  }
}

}  // namespace
}  // namespace syscall_test
