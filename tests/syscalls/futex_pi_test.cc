// PI futexes (FUTEX_LOCK_PI / TRYLOCK_PI / UNLOCK_PI, kernel/futex/pi.c)
// with the TID | FUTEX_WAITERS | FUTEX_OWNER_DIED word protocol, robust
// lists with PI mutexes, and FUTEX_WAKE_OP's atomic update of the second
// word.
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

SyscallResult Futex(std::atomic<uint32_t>* word, int op, uint32_t val = 0, const void* timeout = nullptr,
                    void* uaddr2 = nullptr, uint32_t val3 = 0) {
  return Sys(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, uaddr2, val3);
}

// The app side of a PI lock, as glibc's pthread_mutex with PTHREAD_PRIO_INHERIT:
// 0 -> tid in user space, else the kernel.
void Lock(std::atomic<uint32_t>* w) {
  uint32_t expected = 0;
  if (w->compare_exchange_strong(expected, static_cast<uint32_t>(Tid()))) return;
  SyscallResult r;
  do {
    r = Futex(w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG);
  } while (r.ret == -1 && r.err == EINTR);
  ASSERT_EQ(r.ret, 0) << r.err;
}

void Unlock(std::atomic<uint32_t>* w) {
  uint32_t expected = static_cast<uint32_t>(Tid());
  if (w->compare_exchange_strong(expected, 0)) return;
  ASSERT_THAT(Futex(w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
}

TEST(FutexPi, LockOfAFreeWordStoresTheCallersTid) {
  std::atomic<uint32_t> w{0};
  ASSERT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  EXPECT_EQ(w.load() & FUTEX_TID_MASK, static_cast<uint32_t>(Tid()));
  EXPECT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(EDEADLK));
  EXPECT_THAT(Futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(EDEADLK));
  ASSERT_THAT(Futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  EXPECT_EQ(w.load(), 0u);
}

TEST(FutexPi, UnlockByANonOwnerIsEperm) {
  std::atomic<uint32_t> w{0};
  EXPECT_THAT(Futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(EPERM));
  std::thread([&] { ASSERT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds()); }).join();
  // The owner thread is gone; still not ours.
  EXPECT_THAT(Futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(EPERM));
}

TEST(FutexPi, TrylockOfAWordOwnedByALiveThreadIsEagain) {
  std::atomic<uint32_t> w{0};
  std::atomic<bool> locked{false}, release{false};
  std::thread owner([&] {
    Lock(&w);
    locked = true;
    while (!release) usleep(1000);
    Unlock(&w);
  });
  while (!locked) usleep(1000);
  EXPECT_THAT(Futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(EAGAIN));
  release = true;
  owner.join();
  EXPECT_EQ(w.load(), 0u);
  ASSERT_THAT(Futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  EXPECT_EQ(w.load(), static_cast<uint32_t>(Tid()));
}

TEST(FutexPi, LockOfAWordNamingNoTaskIsEsrch) {
  // A tid far above anything alive (pid_max is at most 4M).
  std::atomic<uint32_t> w{0x3ffffff0};
  EXPECT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(ESRCH));
}

// A word left with FUTEX_OWNER_DIED and no owner (a robust owner died and
// nobody took it): LOCK_PI and TRYLOCK_PI take it and keep the bit for the
// app (glibc's EOWNERDEAD). A word naming a thread that exited without
// that: ESRCH (the kernel marked FUTEX_WAITERS on the way).
TEST(FutexPi, OwnerDiedWordIsTakenAndADeadOwnerIsEsrch) {
  const uint32_t me = static_cast<uint32_t>(Tid());
  std::atomic<uint32_t> w{FUTEX_OWNER_DIED};
  ASSERT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  EXPECT_EQ(w.load(), FUTEX_OWNER_DIED | me);
  std::atomic<uint32_t> w2{FUTEX_OWNER_DIED};
  ASSERT_THAT(Futex(&w2, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  EXPECT_EQ(w2.load(), FUTEX_OWNER_DIED | me);
  std::atomic<uint32_t> w3{0};
  uint32_t gone = 0;
  std::thread([&] {
    gone = static_cast<uint32_t>(Tid());
    w3 = gone;  // locked in user space, never unlocked
  }).join();
  EXPECT_THAT(Futex(&w3, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG), FailsWith(ESRCH));
  EXPECT_EQ(w3.load() & FUTEX_TID_MASK, gone);
}

TEST(FutexPi, UnlockHandsTheLockToAWaiter) {
  std::atomic<uint32_t> w{0};
  Lock(&w);
  std::atomic<pid_t> waiter_tid{0};
  std::atomic<uint32_t> seen{0};
  std::thread waiter([&] {
    waiter_tid = Tid();
    Lock(&w);  // blocks in FUTEX_LOCK_PI
    seen = w.load();
    Unlock(&w);
  });
  // Wait until the waiter has marked the word (FUTEX_WAITERS).
  while ((w.load() & FUTEX_WAITERS) == 0) usleep(1000);
  ASSERT_THAT(Futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG), Succeeds());
  waiter.join();
  EXPECT_EQ(seen.load() & FUTEX_TID_MASK, static_cast<uint32_t>(waiter_tid.load()));
  EXPECT_EQ(w.load(), 0u);
}

TEST(FutexPi, ContendedCounterStaysExact) {
  std::atomic<uint32_t> w{0};
  constexpr int kThreads = 4, kIters = 2000;
  int counter = 0;  // guarded by w
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&] {
      for (int j = 0; j < kIters; ++j) {
        Lock(&w);
        const int c = counter;
        if (j % 64 == 0) sched_yield();
        counter = c + 1;
        Unlock(&w);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, kThreads * kIters);
  EXPECT_EQ(w.load(), 0u);
}

TEST(FutexPi, TimedLockTimesOut) {
  std::atomic<uint32_t> w{0};
  std::atomic<bool> locked{false}, release{false};
  std::thread owner([&] {
    Lock(&w);
    locked = true;
    while (!release) usleep(1000);
    Unlock(&w);
  });
  while (!locked) usleep(1000);
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 20 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_nsec -= 1000000000;
    ts.tv_sec++;
  }
  EXPECT_THAT(Futex(&w, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, &ts), FailsWith(ETIMEDOUT));
  release = true;
  owner.join();
}

// A robust PI mutex whose owner thread exits: the kernel marks the word
// FUTEX_OWNER_DIED and the waiter gets the lock (glibc: EOWNERDEAD).
TEST(FutexPi, RobustOwnerDeathGivesTheLockToAWaiter) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
  pthread_mutex_t m;
  ASSERT_EQ(pthread_mutex_init(&m, &a), 0);
  std::atomic<bool> locked{false};
  std::thread owner([&] {
    ASSERT_EQ(pthread_mutex_lock(&m), 0);
    locked = true;
    usleep(20000);  // let the main thread block on it
    // exits holding the lock
  });
  while (!locked) usleep(1000);
  EXPECT_EQ(pthread_mutex_lock(&m), EOWNERDEAD);
  EXPECT_EQ(pthread_mutex_consistent(&m), 0);
  EXPECT_EQ(pthread_mutex_unlock(&m), 0);
  owner.join();
  EXPECT_EQ(pthread_mutex_lock(&m), 0);
  EXPECT_EQ(pthread_mutex_unlock(&m), 0);
  pthread_mutex_destroy(&m);
}

// FUTEX_WAKE_OP's update of the second word is atomic against app threads
// doing atomic increments on it at the same time: no update is lost.
TEST(FutexWakeOp, AddIsAtomicAgainstAppThreads) {
  std::atomic<uint32_t> w1{0}, w2{0};
  constexpr int kIters = 3000;
  std::atomic<bool> go{false};
  std::thread app([&] {
    while (!go) {
    }
    for (int i = 0; i < kIters; ++i) w2.fetch_add(1);
  });
  const uint32_t add_one = FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0);
  go = true;
  for (int i = 0; i < kIters; ++i) {
    ASSERT_THAT(Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, add_one),
                Succeeds());
  }
  app.join();
  EXPECT_EQ(w2.load(), 2u * kIters);
}

TEST(FutexWakeOp, OldValueDecidesTheSecondWakeAndArgsAreSignExtended) {
  std::atomic<uint32_t> w1{0}, w2{5};
  // ADD -1 (a 12-bit sign-extended oparg); the old value 5 > 4 holds.
  const uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 0xfff, FUTEX_OP_CMP_GT, 4);
  EXPECT_THAT(Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, op), Succeeds());
  EXPECT_EQ(w2.load(), 4u);
  // Compare with -1 (sign-extended cmparg): 4 < -1 is false, 4 > -1 true.
  const uint32_t set7 = FUTEX_OP(FUTEX_OP_SET, 7, FUTEX_OP_CMP_GT, 0xfff);
  EXPECT_THAT(Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, set7),
              Succeeds());
  EXPECT_EQ(w2.load(), 7u);
  // An unknown op is ENOSYS before the update; an unknown comparison is
  // ENOSYS after it (here SET 0 happened).
  EXPECT_THAT(Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, 7u << 28),
              FailsWith(ENOSYS));
  EXPECT_EQ(w2.load(), 7u);
  EXPECT_THAT(Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, 9u << 24),
              FailsWith(ENOSYS));
  EXPECT_EQ(w2.load(), 0u);
}

TEST(FutexWakeOp, WakesAWaiterOnTheSecondWordWhenTheComparisonHolds) {
  std::atomic<uint32_t> w1{0}, w2{0};
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    // Sleeps while w2 == 0; the wake op sets it to 1 and wakes it.
    SyscallResult r;
    do {
      r = Futex(&w2, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0);
    } while (r.ret == -1 && r.err == EINTR);
    woke = true;
  });
  const uint32_t set1 = FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0);
  long woken = 0;
  for (int i = 0; i < 2000 && woken == 0 && !woke; ++i) {
    usleep(1000);
    w2 = 0;
    const SyscallResult r =
        Futex(&w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, reinterpret_cast<void*>(1), &w2, set1);
    ASSERT_THAT(r, Succeeds());
    woken = r.ret;
  }
  waiter.join();
  EXPECT_TRUE(woke.load());
}

}  // namespace
}  // namespace syscall_test
