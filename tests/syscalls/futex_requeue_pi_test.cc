// FUTEX_WAIT_REQUEUE_PI / FUTEX_CMP_REQUEUE_PI (kernel/futex/requeue.c): a
// condition variable over a PI mutex whose waiters are moved from the
// non-PI cond word onto the PI mutex and return owning it, as librtpi and
// older glibc condvars do; and pthread_cond with a PTHREAD_PRIO_INHERIT
// mutex.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

SyscallResult Futex(void* word, int op, uint32_t val = 0, const void* timeout = nullptr, void* uaddr2 = nullptr,
                    uint32_t val3 = 0) {
  return Sys(SYS_futex, word, op, val, timeout, uaddr2, val3);
}

void* Val2(long n) { return reinterpret_cast<void*>(n); }

// The app side of a PI mutex: 0 -> tid in user space, else the kernel.
void Lock(std::atomic<uint32_t>* m) {
  uint32_t expected = 0;
  if (m->compare_exchange_strong(expected, static_cast<uint32_t>(Tid()))) return;
  SyscallResult r;
  do {
    r = Futex(m, FUTEX_LOCK_PI_PRIVATE);
  } while (r.ret == -1 && r.err == EINTR);
  ASSERT_THAT(r, Succeeds());
}

void Unlock(std::atomic<uint32_t>* m) {
  uint32_t expected = static_cast<uint32_t>(Tid());
  if (m->compare_exchange_strong(expected, 0)) return;
  ASSERT_THAT(Futex(m, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
}

// A condvar in the style of librtpi: waiters sleep on `seq` and come back
// owning the PI mutex.
struct PiCond {
  std::atomic<uint32_t> seq{0};

  void Wait(std::atomic<uint32_t>* m) {
    const uint32_t s = seq.load();
    Unlock(m);
    const SyscallResult r = Futex(&seq, FUTEX_WAIT_REQUEUE_PI_PRIVATE, s, nullptr, m);
    if (r.ret == 0) {
      EXPECT_EQ(m->load() & FUTEX_TID_MASK, static_cast<uint32_t>(Tid()));
      return;
    }
    EXPECT_EQ(r.err, EAGAIN);  // seq moved on before we slept
    Lock(m);
  }
  // Called with the mutex held.
  void Wake(std::atomic<uint32_t>* m, int n) {
    const uint32_t s = seq.fetch_add(1) + 1;
    SyscallResult r;
    do {
      r = Futex(&seq, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(n), m, s);
    } while (r.ret == -1 && r.err == EAGAIN && seq.load() == s);
    if (r.ret == -1) {
      EXPECT_EQ(r.err, EAGAIN);
    }
  }
};

// Retries a requeue until it has handled `n` waiters in total (waiters may
// not all be queued yet). Returns the total.
long RequeueAll(std::atomic<uint32_t>* cond, std::atomic<uint32_t>* m, int n, long nr_requeue) {
  long total = 0;
  for (int i = 0; i < 10000 && total < n; ++i) {
    const SyscallResult r = Futex(cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(nr_requeue), m, cond->load());
    if (r.ret < 0) return -r.err;
    total += r.ret;
    if (total < n) usleep(1000);
  }
  return total;
}

TEST(FutexRequeuePi, ArgumentErrors) {
  alignas(8) std::atomic<uint32_t> cond{0}, m{0};
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), &cond, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, Val2(0), &m, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 0, Val2(0), &m, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(-1), &m, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), &m, 5), FailsWith(EAGAIN));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), &m, 0), Succeeds());  // nobody waits
  // The PI word is read even without waiters.
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), UnmappedAddress(), 0), FailsWith(EFAULT));
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &cond), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 1, nullptr, &m), FailsWith(EAGAIN));
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, reinterpret_cast<char*>(&m) + 1),
              FailsWith(EINVAL));
  EXPECT_THAT(Futex(UnmappedAddress(), FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m), FailsWith(EFAULT));
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, UnmappedAddress(), &m), FailsWith(EFAULT));
  // Absolute timeouts, CLOCK_MONOTONIC or with the flag CLOCK_REALTIME.
  struct timespec past {0, 0};
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &past, &m), FailsWith(ETIMEDOUT));
  struct timespec rt {};
  clock_gettime(CLOCK_REALTIME, &rt);
  rt.tv_sec -= 1;
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rt, &m), FailsWith(ETIMEDOUT));
  struct timespec mono {};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  mono.tv_nsec += 20 * 1000 * 1000;
  if (mono.tv_nsec >= 1000000000) {
    mono.tv_nsec -= 1000000000;
    mono.tv_sec++;
  }
  EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &mono, &m), FailsWith(ETIMEDOUT));
  EXPECT_EQ(m.load(), 0u);
}

// The PI futex is free: the requeue takes it for the waiter and wakes it.
TEST(FutexRequeuePi, RequeueToAFreeLockWakesTheWaiterAsOwner) {
  std::atomic<uint32_t> cond{0}, m{0};
  std::atomic<pid_t> waiter_tid{0};
  std::atomic<uint32_t> seen{0};
  std::thread waiter([&] {
    waiter_tid = Tid();
    EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m), Succeeds());
    seen = m.load();
    Unlock(&m);
  });
  EXPECT_EQ(RequeueAll(&cond, &m, 1, 0), 1);
  waiter.join();
  // No more waiters to follow: no FUTEX_WAITERS.
  EXPECT_EQ(seen.load(), static_cast<uint32_t>(waiter_tid.load()));
  EXPECT_EQ(m.load(), 0u);
}

// The PI futex is held: the waiter is moved onto it and gets it at unlock.
TEST(FutexRequeuePi, RequeueToAHeldLockHandsItOverAtUnlock) {
  std::atomic<uint32_t> cond{0}, m{0};
  Lock(&m);
  std::atomic<pid_t> waiter_tid{0};
  std::atomic<uint32_t> seen{0};
  std::thread waiter([&] {
    waiter_tid = Tid();
    EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m), Succeeds());
    seen = m.load();
    Unlock(&m);
  });
  EXPECT_EQ(RequeueAll(&cond, &m, 1, 1), 1);
  EXPECT_NE(m.load() & FUTEX_WAITERS, 0u);
  // A plain wake of the cond word finds nobody now.
  EXPECT_THAT(Futex(&cond, FUTEX_WAKE_PRIVATE, 1), Succeeds());
  ASSERT_THAT(Futex(&m, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
  waiter.join();
  EXPECT_EQ(seen.load() & FUTEX_TID_MASK, static_cast<uint32_t>(waiter_tid.load()));
  EXPECT_EQ(m.load(), 0u);
}

// Broadcast: one waiter gets the free lock, the others queue on it and get
// it in turn; the lock keeps a shared counter exact.
TEST(FutexRequeuePi, BroadcastRequeuesEveryWaiter) {
  constexpr int kWaiters = 4;
  std::atomic<uint32_t> cond{0}, m{0};
  int counter = 0;  // guarded by m
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; ++i) {
    ts.emplace_back([&] {
      EXPECT_THAT(Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m), Succeeds());
      const int c = counter;
      usleep(1000);
      counter = c + 1;
      Unlock(&m);
    });
  }
  EXPECT_EQ(RequeueAll(&cond, &m, kWaiters, INT_MAX), kWaiters);
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, kWaiters);
  EXPECT_EQ(m.load(), 0u);
}

// Waiters and wakers must agree on the PI futex; a plain wake or requeue of
// a requeue-PI waiter is refused.
TEST(FutexRequeuePi, MismatchedOpsAreEinval) {
  std::atomic<uint32_t> cond{0}, m{0}, other{0}, plain{0};
  std::thread waiter([&] {
    const SyscallResult r = Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m);
    EXPECT_THAT(r, Succeeds());
    if (r.ret == 0) Unlock(&m);
  });
  long r = 0;
  for (int i = 0; i < 10000 && r == 0; ++i) {
    const SyscallResult w = Futex(&cond, FUTEX_WAKE_PRIVATE, 1);
    r = w.ret == -1 ? -w.err : w.ret;
    if (r == 0) usleep(1000);
  }
  EXPECT_EQ(r, -EINVAL);
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PRIVATE, 1, Val2(1), &plain, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), &other, 0), FailsWith(EINVAL));
  EXPECT_EQ(other.load(), 0u);
  EXPECT_THAT(Futex(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, Val2(0), &m, 0), Succeeds());
  waiter.join();
  EXPECT_EQ(m.load(), 0u);
}

// A timeout after the requeue, while waiting for the PI lock: ETIMEDOUT,
// and the lock's owner unlocks with no waiter left.
TEST(FutexRequeuePi, TimeoutWhileWaitingForTheLock) {
  std::atomic<uint32_t> cond{0}, m{0};
  Lock(&m);
  std::atomic<int> err{0};
  std::thread waiter([&] {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 1;
    const SyscallResult r = Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &ts, &m);
    err = r.ret == -1 ? r.err : 0;
  });
  EXPECT_EQ(RequeueAll(&cond, &m, 1, 1), 1);
  waiter.join();
  EXPECT_EQ(err.load(), ETIMEDOUT);
  ASSERT_THAT(Futex(&m, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
  EXPECT_EQ(m.load(), 0u);
}

// Shared (non-private) requeue-PI between processes, the waiter using its
// own mapping of the memfd page at another address: the keys are the
// file's, and the waiter ends owning the mutex word it sees.
TEST(FutexRequeuePi, SharedAcrossProcessesAndMappings) {
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "futex_requeue_pi_test", 0));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto* words = static_cast<std::atomic<uint32_t>*>(p);
  std::atomic<uint32_t>* cond = &words[0];
  std::atomic<uint32_t>* m = &words[1];
  Lock(m);  // through user space: m holds our tid
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    void* q = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (q == MAP_FAILED || q == p) _exit(2);
    auto* mine = static_cast<std::atomic<uint32_t>*>(q);
    const long r = syscall(SYS_futex, &mine[0], FUTEX_WAIT_REQUEUE_PI, 0, nullptr, &mine[1], 0);
    if (r != 0) _exit(3);
    if ((mine[1].load() & FUTEX_TID_MASK) != static_cast<uint32_t>(getpid())) _exit(4);
    if (syscall(SYS_futex, &mine[1], FUTEX_UNLOCK_PI, 0, nullptr, nullptr, 0) != 0) _exit(5);
    _exit(0);
  }
  long total = 0;
  for (int i = 0; i < 10000 && total == 0; ++i) {
    total = syscall(SYS_futex, cond, FUTEX_CMP_REQUEUE_PI, 1, Val2(1), m, 0);
    if (total == 0) usleep(1000);
  }
  EXPECT_EQ(total, 1);
  EXPECT_NE(m->load() & FUTEX_WAITERS, 0u);
  ASSERT_EQ(syscall(SYS_futex, m, FUTEX_UNLOCK_PI, 0, nullptr, nullptr, 0), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(m->load(), 0u);
  munmap(p, 4096);
  close(fd);
}

std::atomic<int> g_signals{0};
void CountSignal(int) { g_signals.fetch_add(1); }

// A signal before the requeue restarts the wait (ERESTARTNOINTR), even
// with a handler and no SA_RESTART: the requeue still finds the waiter.
TEST(FutexRequeuePi, SignalBeforeTheRequeueRestartsTheWait) {
  struct sigaction sa {}, old {};
  sa.sa_handler = CountSignal;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  g_signals = 0;
  std::atomic<uint32_t> cond{0}, m{0};
  std::atomic<pid_t> tid{0};
  std::atomic<long> ret{-100};
  std::thread waiter([&] {
    tid = Tid();
    const SyscallResult r = Futex(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, nullptr, &m);
    ret = r.ret == -1 ? -r.err : r.ret;
    if (r.ret == 0) Unlock(&m);
  });
  while (tid == 0) usleep(1000);
  usleep(50000);
  for (int i = 0; i < 3; ++i) {
    syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR2);
    usleep(20000);
  }
  EXPECT_EQ(ret.load(), -100);  // still waiting
  EXPECT_EQ(RequeueAll(&cond, &m, 1, 0), 1);
  waiter.join();
  EXPECT_EQ(ret.load(), 0);
  EXPECT_GE(g_signals.load(), 1);
  sigaction(SIGUSR2, &old, nullptr);
}

// Producer/consumer over the librtpi-style condvar: every item is consumed
// exactly once.
TEST(FutexRequeuePi, CondvarProducerConsumer) {
  std::atomic<uint32_t> m{0};
  PiCond not_empty;
  std::deque<int> q;  // guarded by m
  constexpr int kItems = 300, kConsumers = 3;
  std::atomic<long> sum{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      while (true) {
        Lock(&m);
        while (q.empty()) not_empty.Wait(&m);
        const int v = q.front();
        q.pop_front();
        Unlock(&m);
        if (v < 0) return;
        sum += v;
      }
    });
  }
  for (int i = 1; i <= kItems + kConsumers; ++i) {
    Lock(&m);
    q.push_back(i <= kItems ? i : -1);
    not_empty.Wake(&m, i % 7 == 0 ? INT_MAX : 0);
    Unlock(&m);
    if (i % 16 == 0) usleep(500);
  }
  for (auto& t : consumers) t.join();
  EXPECT_EQ(sum.load(), static_cast<long>(kItems) * (kItems + 1) / 2);
  EXPECT_EQ(m.load(), 0u);
}

// pthread_cond over a PTHREAD_PRIO_INHERIT mutex (LOCK_PI/UNLOCK_PI for
// the mutex; glibc's condvar waits on its own words).
TEST(PthreadCondPi, ProducerConsumerWithPriorityInheritanceMutex) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  ASSERT_EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT), 0);
  pthread_mutex_t mu;
  ASSERT_EQ(pthread_mutex_init(&mu, &a), 0);
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  std::deque<int> q;
  constexpr int kItems = 500, kConsumers = 3;
  long sum = 0;  // guarded by mu
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      ASSERT_EQ(pthread_mutex_lock(&mu), 0);
      while (true) {
        while (q.empty()) ASSERT_EQ(pthread_cond_wait(&cv, &mu), 0);
        const int v = q.front();
        q.pop_front();
        if (v < 0) break;
        sum += v;
      }
      ASSERT_EQ(pthread_mutex_unlock(&mu), 0);
    });
  }
  for (int i = 1; i <= kItems + kConsumers; ++i) {
    ASSERT_EQ(pthread_mutex_lock(&mu), 0);
    q.push_back(i <= kItems ? i : -1);
    if (i % 5 == 0) {
      pthread_cond_broadcast(&cv);
    } else {
      pthread_cond_signal(&cv);
    }
    ASSERT_EQ(pthread_mutex_unlock(&mu), 0);
  }
  for (auto& t : consumers) t.join();
  EXPECT_EQ(sum, static_cast<long>(kItems) * (kItems + 1) / 2);
  // A timed wait on the PI mutex's condvar times out holding the mutex.
  ASSERT_EQ(pthread_mutex_lock(&mu), 0);
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 10 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_nsec -= 1000000000;
    ts.tv_sec++;
  }
  EXPECT_EQ(pthread_cond_timedwait(&cv, &mu, &ts), ETIMEDOUT);
  EXPECT_EQ(pthread_mutex_unlock(&mu), 0);
  pthread_cond_destroy(&cv);
  pthread_mutex_destroy(&mu);
}

}  // namespace
}  // namespace syscall_test
