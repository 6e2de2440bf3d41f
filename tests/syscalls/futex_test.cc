// futex(2) basics against Linux's exact rules (kernel/futex/syscalls.c,
// waitwake.c, core.c) and futex_waitv(2): wake counts, private vs shared
// keys, clock flags, timed-wait restart, robust-list pending ops, PI owner
// death without a robust list, and waitv's wake-by-index, timeouts and
// errors.
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
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_futex_wake
#define SYS_futex_wake 454
#define SYS_futex_wait 455
#define SYS_futex_requeue 456
#endif

// include/uapi/linux/futex.h (6.7+ names).
constexpr uint32_t kSizeU8 = 0x00, kSizeU32 = 0x02, kSizeU64 = 0x03, kPrivate = 128, kNuma = 0x04;

struct Waitv {  // struct futex_waitv
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

SyscallResult Futex(void* word, int op, uint32_t val = 0, const void* timeout = nullptr, void* uaddr2 = nullptr,
                    uint32_t val3 = 0) {
  return Sys(SYS_futex, word, op, val, timeout, uaddr2, val3);
}

SyscallResult FutexWaitv(Waitv* ws, unsigned n, unsigned flags = 0, const struct timespec* ts = nullptr,
                    int clock = CLOCK_MONOTONIC) {
  return Sys(SYS_futex_waitv, ws, n, flags, ts, clock);
}

Waitv Entry(std::atomic<uint32_t>* w, uint32_t val, uint32_t flags = kSizeU32 | kPrivate) {
  return Waitv{val, reinterpret_cast<uint64_t>(w), flags, 0};
}

struct timespec In(clockid_t clock, long ms) {
  struct timespec ts {};
  clock_gettime(clock, &ts);
  ts.tv_nsec += ms * 1000000;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

// Repeats `wake` (a wake returning how many it woke) until it wakes someone:
// the waiter may not be queued yet. Fails after about 10 s.
long WakeUntilWoken(const std::function<SyscallResult()>& wake) {
  for (int i = 0; i < 10000; ++i) {
    const SyscallResult r = wake();
    if (r.ret != 0) return r.ret == -1 ? -r.err : r.ret;
    usleep(1000);
  }
  return 0;
}

TEST(Futex, WakeCountsOfZeroAndMinusOneWakeOneWaiter) {
  for (uint32_t n : {0u, 0xffffffffu}) {
    std::atomic<uint32_t> w{0};
    std::atomic<long> ret{1};
    std::thread waiter([&] { ret = Futex(&w, FUTEX_WAIT_PRIVATE, 0).ret; });
    EXPECT_EQ(WakeUntilWoken([&] { return Futex(&w, FUTEX_WAKE_PRIVATE, n); }), 1) << n;
    waiter.join();
    EXPECT_EQ(ret.load(), 0);
  }
}

// A shared wake on private memory has a key of its own (FUT_OFF_MMSHARED):
// it does not wake a private waiter of the same word, and vice versa.
TEST(Futex, SharedAndPrivateKeysOfOneWordDoNotMeet) {
  std::atomic<uint32_t> w{0};
  std::thread waiter([&] { Futex(&w, FUTEX_WAIT_PRIVATE, 0); });
  long woken = 0;
  for (int i = 0; i < 10000 && woken == 0; ++i) {
    ASSERT_THAT(Futex(&w, FUTEX_WAKE, 1), Succeeds());
    EXPECT_EQ(Futex(&w, FUTEX_WAKE, 1).ret, 0);
    woken = Futex(&w, FUTEX_WAKE_PRIVATE, 1).ret;
    if (woken == 0) usleep(1000);
  }
  EXPECT_EQ(woken, 1);
  waiter.join();

  std::thread shared_waiter([&] { Futex(&w, FUTEX_WAIT, 0); });
  woken = 0;
  for (int i = 0; i < 10000 && woken == 0; ++i) {
    EXPECT_EQ(Futex(&w, FUTEX_WAKE_PRIVATE, 1).ret, 0);
    woken = Futex(&w, FUTEX_WAKE, 1).ret;
    if (woken == 0) usleep(1000);
  }
  EXPECT_EQ(woken, 1);
  shared_waiter.join();
}

TEST(Futex, ClockRealtimeOnlyWithAbsoluteWaits) {
  std::atomic<uint32_t> w{0};
  const struct timespec ts {0, 1000};
  EXPECT_THAT(Futex(&w, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts), FailsWith(ENOSYS));
  EXPECT_THAT(Futex(&w, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1), FailsWith(ENOSYS));
  EXPECT_THAT(Futex(&w, FUTEX_LOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts), FailsWith(ENOSYS));
  // The timeout is read before the op is checked.
  EXPECT_THAT(Futex(&w, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 0, UnmappedAddress()), FailsWith(EFAULT));
  const struct timespec rt = In(CLOCK_REALTIME, 20);
  EXPECT_THAT(Futex(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rt, nullptr, FUTEX_BITSET_MATCH_ANY),
              FailsWith(ETIMEDOUT));
  const struct timespec mono = In(CLOCK_MONOTONIC, 20);
  EXPECT_THAT(Futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &mono, nullptr, FUTEX_BITSET_MATCH_ANY),
              FailsWith(ETIMEDOUT));
}

TEST(Futex, ArgumentErrors) {
  alignas(8) std::atomic<uint32_t> w[2] = {0, 0};
  char* odd = reinterpret_cast<char*>(&w[0]) + 1;
  const struct timespec bad {0, 1000000000};
  EXPECT_THAT(Futex(&w[0], FUTEX_WAIT_PRIVATE, 0, &bad), FailsWith(EINVAL));
  const struct timespec negative {-1, 0};
  EXPECT_THAT(Futex(&w[0], FUTEX_WAIT_BITSET_PRIVATE, 0, &negative, nullptr, ~0u), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&w[0], FUTEX_WAIT_BITSET_PRIVATE, 0, nullptr, nullptr, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&w[0], FUTEX_WAKE_BITSET_PRIVATE, 1, nullptr, nullptr, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(odd, FUTEX_WAKE_PRIVATE, 1), FailsWith(EINVAL));
  EXPECT_THAT(Futex(odd, FUTEX_WAIT_PRIVATE, 0), FailsWith(EINVAL));
  EXPECT_THAT(Futex(&w[0], FUTEX_WAIT_PRIVATE, 1), FailsWith(EAGAIN));
  EXPECT_THAT(Futex(UnmappedAddress(), FUTEX_WAIT_PRIVATE, 0), FailsWith(EFAULT));
  // A private wake never looks at the memory; a shared one needs a mapping.
  EXPECT_THAT(Futex(UnmappedAddress(), FUTEX_WAKE_PRIVATE, 1), Succeeds());
  EXPECT_THAT(Futex(UnmappedAddress(), FUTEX_WAKE, 1), FailsWith(EFAULT));
  EXPECT_THAT(Futex(&w[0], FUTEX_CMP_REQUEUE_PRIVATE, 0xffffffffu, reinterpret_cast<void*>(1), &w[1], 0),
              FailsWith(EINVAL));
  EXPECT_THAT(Futex(&w[0], FUTEX_CMP_REQUEUE_PRIVATE, 1, reinterpret_cast<void*>(1), &w[1], 5), FailsWith(EAGAIN));
  EXPECT_THAT(Futex(UnmappedAddress(), FUTEX_CMP_REQUEUE_PRIVATE, 1, reinterpret_cast<void*>(1), &w[1], 0),
              FailsWith(EFAULT));
  EXPECT_THAT(Futex(&w[0], 14 | FUTEX_PRIVATE_FLAG), FailsWith(ENOSYS));
  // UNLOCK_PI checks ownership before the alignment.
  EXPECT_THAT(Futex(odd, FUTEX_UNLOCK_PI_PRIVATE), FailsWith(EPERM));
}

// A plain wake on a PI futex with a PI waiter is refused (futex_wake()
// meets a waiter with pi_state).
TEST(Futex, PlainWakeOfAPiWaiterIsEinval) {
  std::atomic<uint32_t> w{static_cast<uint32_t>(Tid())};
  std::thread waiter([&] {
    SyscallResult r;
    do {
      r = Futex(&w, FUTEX_LOCK_PI_PRIVATE);
    } while (r.ret == -1 && r.err == EINTR);
    EXPECT_THAT(r, Succeeds());
    EXPECT_THAT(Futex(&w, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
  });
  while ((w.load() & FUTEX_WAITERS) == 0) usleep(1000);
  // The waiter sets FUTEX_WAITERS before it queues: retry until refused.
  EXPECT_EQ(WakeUntilWoken([&] { return Futex(&w, FUTEX_WAKE_PRIVATE, 1); }), -EINVAL);
  ASSERT_THAT(Futex(&w, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
  waiter.join();
  EXPECT_EQ(w.load(), 0u);
}

// A timed wait stopped and continued (no handler runs) goes on waiting
// through restart_syscall(2) and ends with ETIMEDOUT, not EINTR.
TEST(Futex, TimedWaitSurvivesStopAndContinue) {
  Pipe p = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    uint32_t word = 0;
    const struct timespec ts {0, 400 * 1000 * 1000};
    (void)!write(p.write_end.get(), "r", 1);
    const long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
    _exit(r == -1 && errno == ETIMEDOUT ? 0 : 10 + (r == -1 ? errno : 0));
  }
  char c;
  ASSERT_EQ(read(p.read_end.get(), &c, 1), 1);
  usleep(50000);
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(kill(child, SIGCONT), 0);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// handle_futex_death() for the list_op_pending entry of a non-PI lock whose
// word is free: the next waiter is woken (with a shared key).
TEST(RobustList, PendingOpOnAFreeWordWakesAWaiter) {
  struct Lock {
    uint64_t next;  // struct robust_list
    std::atomic<uint32_t> word;
  };
  struct Head {
    uint64_t next;
    int64_t futex_offset;
    uint64_t pending;
  };
  static Lock lock;
  static Head head;
  lock.word = 0;
  std::atomic<long> woke{-1};
  std::thread waiter([&] { woke = Futex(&lock.word, FUTEX_WAIT, 0).ret; });
  usleep(50000);  // let it queue
  std::thread dying([&] {
    head.next = reinterpret_cast<uint64_t>(&head);  // empty list
    head.futex_offset = static_cast<int64_t>(offsetof(Lock, word));
    head.pending = reinterpret_cast<uint64_t>(&lock);
    ASSERT_EQ(syscall(SYS_set_robust_list, &head, sizeof(head)), 0);
  });
  dying.join();
  for (int i = 0; i < 5000 && woke == -1; ++i) usleep(1000);
  if (woke == -1) {
    ADD_FAILURE() << "the thread's exit did not wake the waiter";
    Futex(&lock.word, FUTEX_WAKE, 1);
  }
  waiter.join();
  EXPECT_EQ(woke.load(), 0);
  EXPECT_EQ(lock.word.load(), 0u);  // not marked FUTEX_OWNER_DIED
}

// A PI futex whose owner exits holding it, without a robust list: the
// kernel hands it to the waiter with FUTEX_OWNER_DIED (exit_pi_state_list).
TEST(FutexPiExit, OwnerExitHandsTheLockToTheWaiterWithOwnerDied) {
  std::atomic<uint32_t> w{0};
  std::atomic<bool> locked{false};
  std::atomic<bool> release{false};
  std::thread owner([&] {
    syscall(SYS_set_robust_list, nullptr, 24);  // glibc's list is empty anyway
    ASSERT_THAT(Futex(&w, FUTEX_LOCK_PI_PRIVATE), Succeeds());
    locked = true;
    while (!release) usleep(1000);
  });
  while (!locked) usleep(1000);
  std::atomic<uint32_t> seen{0};
  std::thread waiter([&] {
    SyscallResult r;
    do {
      r = Futex(&w, FUTEX_LOCK_PI_PRIVATE);
    } while (r.ret == -1 && r.err == EINTR);
    EXPECT_THAT(r, Succeeds());
    seen = w.load();
    EXPECT_THAT(Futex(&w, FUTEX_UNLOCK_PI_PRIVATE), Succeeds());
  });
  while ((w.load() & FUTEX_WAITERS) == 0) usleep(1000);
  usleep(50000);  // let the waiter queue behind the FUTEX_WAITERS bit
  release = true;
  owner.join();
  waiter.join();
  EXPECT_NE(seen.load() & FUTEX_OWNER_DIED, 0u);
  EXPECT_NE(seen.load() & FUTEX_TID_MASK, 0u);
  EXPECT_EQ(w.load(), 0u);
}

// --- futex_waitv ---

TEST(FutexWaitv, ReturnsTheIndexOfTheWokenWord) {
  for (int target = 0; target < 4; ++target) {
    std::atomic<uint32_t> w[4] = {0, 0, 0, 0};
    std::atomic<long> ret{-100};
    std::thread waiter([&] {
      Waitv ws[4] = {Entry(&w[0], 0), Entry(&w[1], 0), Entry(&w[2], 0), Entry(&w[3], 0)};
      ret = FutexWaitv(ws, 4).ret;
    });
    EXPECT_EQ(WakeUntilWoken([&] { return Futex(&w[target], FUTEX_WAKE_PRIVATE, 1); }), 1);
    waiter.join();
    EXPECT_EQ(ret.load(), target);
  }
}

// Several threads wait on their own word and a common one; waking the
// common word wakes each at its index, waking their own at theirs.
TEST(FutexWaitv, ManyThreadsWokenByIndex) {
  constexpr int kThreads = 4;
  std::atomic<uint32_t> common{0};
  std::atomic<uint32_t> own[kThreads] = {};
  std::atomic<long> rets[kThreads];
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) {
    rets[i] = -100;
    ts.emplace_back([&, i] {
      // Even threads list the common word first, odd ones second.
      Waitv ws[2] = {Entry(&own[i], 0), Entry(&common, 0)};
      if (i % 2 == 0) std::swap(ws[0], ws[1]);
      rets[i] = FutexWaitv(ws, 2).ret;
    });
  }
  // Threads 0 and 1 by their own word; then 2 and 3 by the common one.
  EXPECT_EQ(WakeUntilWoken([&] { return Futex(&own[0], FUTEX_WAKE_PRIVATE, 1); }), 1);
  EXPECT_EQ(WakeUntilWoken([&] { return Futex(&own[1], FUTEX_WAKE_PRIVATE, 1); }), 1);
  // Until they have left, their common entries are still queued (and a
  // wake of it would make theirs the last woken index).
  ts[0].join();
  ts[1].join();
  long woken = 0;
  for (int i = 0; i < 10000 && woken < 2; ++i) {
    const SyscallResult r = Futex(&common, FUTEX_WAKE_PRIVATE, INT_MAX);
    ASSERT_THAT(r, Succeeds());
    woken += r.ret;
    if (woken < 2) usleep(1000);
  }
  EXPECT_EQ(woken, 2);
  ts[2].join();
  ts[3].join();
  EXPECT_EQ(rets[0].load(), 1);  // own word, listed second
  EXPECT_EQ(rets[1].load(), 0);  // own word, listed first
  EXPECT_EQ(rets[2].load(), 0);  // common word, listed first
  EXPECT_EQ(rets[3].load(), 1);  // common word, listed second
}

TEST(FutexWaitv, ValueMismatchIsEagainWhateverItsPosition) {
  std::atomic<uint32_t> a{0}, b{7};
  Waitv ws[2] = {Entry(&a, 0), Entry(&b, 0)};
  EXPECT_THAT(FutexWaitv(ws, 2), FailsWith(EAGAIN));
  // Nothing stays queued on `a`.
  EXPECT_EQ(Futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX).ret, 0);
}

TEST(FutexWaitv, AbsoluteTimeoutsOnBothClocks) {
  std::atomic<uint32_t> a{0};
  for (clockid_t c : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    Waitv ws[1] = {Entry(&a, 0)};
    const struct timespec ts = In(c, 20);
    EXPECT_THAT(FutexWaitv(ws, 1, 0, &ts, c), FailsWith(ETIMEDOUT)) << c;
    const struct timespec past {0, 0};
    EXPECT_THAT(FutexWaitv(ws, 1, 0, &past, c), FailsWith(ETIMEDOUT)) << c;
  }
}

TEST(FutexWaitv, InvalidArgumentsAreEinval) {
  std::atomic<uint32_t> a{0};
  Waitv ws[129];
  for (auto& w : ws) w = Entry(&a, 1);  // EAGAIN if it got as far as waiting
  const struct timespec ts = In(CLOCK_MONOTONIC, 1000);
  EXPECT_THAT(FutexWaitv(ws, 1, 1), FailsWith(EINVAL));
  EXPECT_THAT(FutexWaitv(ws, 0), FailsWith(EINVAL));
  EXPECT_THAT(FutexWaitv(ws, 129), FailsWith(EINVAL));
  EXPECT_THAT(FutexWaitv(ws, 128), FailsWith(EAGAIN));
  EXPECT_THAT(FutexWaitv(nullptr, 1), FailsWith(EINVAL));
  EXPECT_THAT(FutexWaitv(ws, 1, 0, &ts, CLOCK_BOOTTIME), FailsWith(EINVAL));
  EXPECT_THAT(FutexWaitv(ws, 1, 0, nullptr, CLOCK_BOOTTIME), FailsWith(EAGAIN));  // no timeout, no clock
  const struct timespec bad {0, -1};
  EXPECT_THAT(FutexWaitv(ws, 1, 0, &bad), FailsWith(EINVAL));
  const struct timespec negative {-1, 0};
  EXPECT_THAT(FutexWaitv(ws, 1, 0, &negative), FailsWith(EINVAL));
  for (uint32_t flags : {kSizeU8, kSizeU64, kSizeU32 | kNuma, kSizeU32 | 0x100u, kSizeU32 | FUTEX_CLOCK_REALTIME}) {
    Waitv w1[1] = {Entry(&a, 1, flags)};
    EXPECT_THAT(FutexWaitv(w1, 1), FailsWith(EINVAL)) << flags;
  }
  Waitv reserved[1] = {Entry(&a, 1)};
  reserved[0].reserved = 1;
  EXPECT_THAT(FutexWaitv(reserved, 1), FailsWith(EINVAL));
  Waitv wide[1] = {Entry(&a, 1)};
  wide[0].val = 1ull << 32;
  EXPECT_THAT(FutexWaitv(wide, 1), FailsWith(EINVAL));
  Waitv odd[1] = {Entry(&a, 1)};
  odd[0].uaddr += 1;
  EXPECT_THAT(FutexWaitv(odd, 1), FailsWith(EINVAL));
  // An invalid later entry fails the call before any wait.
  Waitv mixed[2] = {Entry(&a, 0), Entry(&a, 0, kSizeU8)};
  EXPECT_THAT(FutexWaitv(mixed, 2), FailsWith(EINVAL));
}

TEST(FutexWaitv, BadPointersAreEfault) {
  std::atomic<uint32_t> a{0};
  EXPECT_THAT(FutexWaitv(static_cast<Waitv*>(UnmappedAddress()), 1), FailsWith(EFAULT));
  Waitv ws[1] = {Entry(&a, 0)};
  EXPECT_THAT(FutexWaitv(ws, 1, 0, static_cast<const struct timespec*>(UnmappedAddress())), FailsWith(EFAULT));
  Waitv unmapped[1] = {Waitv{0, reinterpret_cast<uint64_t>(UnmappedAddress()), kSizeU32 | kPrivate, 0}};
  EXPECT_THAT(FutexWaitv(unmapped, 1), FailsWith(EFAULT));
  unmapped[0].flags = kSizeU32;  // shared: the key lookup faults
  EXPECT_THAT(FutexWaitv(unmapped, 1), FailsWith(EFAULT));
  // The array straddling into unmapped memory.
  void* page = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  ASSERT_EQ(munmap(static_cast<char*>(page) + 4096, 4096), 0);
  Waitv* last = reinterpret_cast<Waitv*>(static_cast<char*>(page) + 4096 - sizeof(Waitv));
  *last = Entry(&a, 0);
  EXPECT_THAT(FutexWaitv(last, 2), FailsWith(EFAULT));
  munmap(page, 4096);
}

// Shared entries meet shared wakes of the same word across processes.
TEST(FutexWaitv, SharedEntryIsWokenFromAnotherProcess) {
  auto* w = static_cast<std::atomic<uint32_t>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(static_cast<void*>(w), MAP_FAILED);
  w[0] = 0;
  w[1] = 0;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Waitv ws[2] = {Entry(&w[0], 0, kSizeU32), Entry(&w[1], 0, kSizeU32)};
    const long r = syscall(SYS_futex_waitv, ws, 2, 0, nullptr, 0);
    _exit(r == 1 ? 0 : 1);
  }
  long woken = 0;
  for (int i = 0; i < 10000 && woken == 0; ++i) {
    woken = syscall(SYS_futex, &w[1], FUTEX_WAKE, 1, nullptr, nullptr, 0);
    if (woken == 0) usleep(1000);
  }
  EXPECT_EQ(woken, 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  munmap(w, 4096);
}

// FUTEX_CMP_REQUEUE moves a waitv waiter's entry: a wake of the target word
// reports the entry's original index.
TEST(FutexWaitv, RequeuedEntryKeepsItsIndex) {
  std::atomic<uint32_t> a{0}, b{0}, target{0};
  std::atomic<long> ret{-100};
  std::thread waiter([&] {
    Waitv ws[2] = {Entry(&a, 0), Entry(&b, 0)};
    ret = FutexWaitv(ws, 2).ret;
  });
  EXPECT_EQ(WakeUntilWoken([&] {
              return Futex(&b, FUTEX_CMP_REQUEUE_PRIVATE, 0, reinterpret_cast<void*>(1), &target, 0);
            }),
            1);
  EXPECT_THAT(Futex(&target, FUTEX_WAKE_PRIVATE, 1), Succeeds());
  waiter.join();
  EXPECT_EQ(ret.load(), 1);
}

std::atomic<int> g_signals{0};
void CountSignal(int) { g_signals.fetch_add(1); }

// A signal with a handler ends the wait with EINTR (ERESTARTSYS, no
// SA_RESTART).
TEST(FutexWaitv, SignalWithHandlerIsEintr) {
  struct sigaction sa {}, old {};
  sa.sa_handler = CountSignal;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::atomic<uint32_t> a{0};
  std::atomic<pid_t> tid{0};
  std::atomic<int> err{0};
  std::thread waiter([&] {
    tid = Tid();
    Waitv ws[1] = {Entry(&a, 0)};
    const SyscallResult r = FutexWaitv(ws, 1);
    err = r.ret == -1 ? r.err : 0;
  });
  while (tid == 0) usleep(1000);
  for (int i = 0; i < 10000 && err == 0; ++i) {
    syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR2);
    usleep(5000);
  }
  waiter.join();
  EXPECT_EQ(err.load(), EINTR);
  sigaction(SIGUSR2, &old, nullptr);
}

// --- futex_wake, futex_wait, futex_requeue (futex2, Linux 6.7) ---

constexpr uint32_t kMpol = 0x08;

SyscallResult Wake2(void* w, uint64_t mask, int nr, uint32_t flags = kSizeU32 | kPrivate) {
  return Sys(SYS_futex_wake, w, mask, nr, flags);
}
SyscallResult Wait2(void* w, uint64_t val, uint64_t mask = 0xffffffff, uint32_t flags = kSizeU32 | kPrivate,
                    const struct timespec* ts = nullptr, int clock = CLOCK_MONOTONIC) {
  return Sys(SYS_futex_wait, w, val, mask, flags, ts, clock);
}

TEST(Futex2, WakeMeetsAWaitOfAMatchingMask) {
  std::atomic<uint32_t> w{0};
  std::atomic<long> ret{-100};
  std::thread waiter([&] { ret = Wait2(&w, 0, 0x1).ret; });
  EXPECT_EQ(Wake2(&w, 0x2, 1).ret, 0);  // no mask bit in common (queued or not)
  EXPECT_EQ(WakeUntilWoken([&] { return Wake2(&w, 0x3, 1); }), 1);
  waiter.join();
  EXPECT_EQ(ret.load(), 0);
}

// A futex2 wait meets a futex(2) wake of the same word and kind.
TEST(Futex2, WaitIsWokenByFutexWake) {
  std::atomic<uint32_t> w{0};
  std::atomic<long> ret{-100};
  std::thread waiter([&] { ret = Wait2(&w, 0).ret; });
  EXPECT_EQ(WakeUntilWoken([&] { return Futex(&w, FUTEX_WAKE_PRIVATE, 1); }), 1);
  waiter.join();
  EXPECT_EQ(ret.load(), 0);
}

TEST(Futex2, ArgumentErrors) {
  std::atomic<uint32_t> w{0};
  EXPECT_EQ(Wake2(&w, 1, 0).ret, 0);
  EXPECT_THAT(Wake2(&w, 0, 1), FailsWith(EINVAL));
  EXPECT_THAT(Wake2(&w, 1ull << 32, 1), FailsWith(EINVAL));
  for (uint32_t flags : {kSizeU8 | kPrivate, 0x01u | kPrivate, kSizeU64 | kPrivate, kSizeU32 | kPrivate | 0x100u,
                         kMpol, kPrivate}) {
    EXPECT_THAT(Wake2(&w, 1, 1, flags), FailsWith(EINVAL)) << flags;
    EXPECT_THAT(Wait2(&w, 0, 1, flags), FailsWith(EINVAL)) << flags;
  }
  EXPECT_EQ(Wake2(&w, 1, 1, kSizeU32 | kPrivate | kMpol).ret, 0);
  EXPECT_THAT(Wake2(reinterpret_cast<char*>(&w) + 1, 1, 1), FailsWith(EINVAL));
  // A private key needs no mapping; a shared one does.
  EXPECT_EQ(Wake2(reinterpret_cast<void*>(0x1000), 1, 1).ret, 0);
  EXPECT_THAT(Wake2(reinterpret_cast<void*>(0x1000), 1, 1, kSizeU32), FailsWith(EFAULT));
  EXPECT_THAT(Wait2(&w, 1), FailsWith(EAGAIN));
  EXPECT_THAT(Wait2(&w, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Wait2(&w, 1ull << 32), FailsWith(EINVAL));
  EXPECT_THAT(Wait2(&w, 0, 1ull << 32), FailsWith(EINVAL));
  const struct timespec past {0, 0};
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, &past, CLOCK_MONOTONIC), FailsWith(ETIMEDOUT));
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, &past, CLOCK_REALTIME), FailsWith(ETIMEDOUT));
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, &past, CLOCK_BOOTTIME), FailsWith(EINVAL));
  const struct timespec soon = In(CLOCK_MONOTONIC, 20);
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, &soon, CLOCK_MONOTONIC), FailsWith(ETIMEDOUT));
  const struct timespec bad {0, -1};
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, &bad), FailsWith(EINVAL));
  auto* fault = reinterpret_cast<const struct timespec*>(8);
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, fault, CLOCK_MONOTONIC), FailsWith(EFAULT));
  EXPECT_THAT(Wait2(&w, 0, 1, kSizeU32 | kPrivate, fault, CLOCK_BOOTTIME), FailsWith(EINVAL));  // clock first
  EXPECT_THAT(Wait2(&w, 0, 0, kSizeU32 | kPrivate, &past), FailsWith(EINVAL));
  EXPECT_THAT(Wait2(reinterpret_cast<void*>(0x1000), 0, 1, kSizeU32 | kPrivate, &past), FailsWith(EFAULT));
}

// FUTEX2_NUMA: the word is followed by a node id; FUTEX_NO_NODE (-1) is
// replaced by the caller's node, an impossible node is EINVAL.
TEST(Futex2, NumaNodeWord) {
  alignas(8) static uint32_t w[4] = {0, 0xffffffff, 0, 12345};
  EXPECT_EQ(Wake2(w, 1, 1, kSizeU32 | kPrivate | kNuma).ret, 0);
  EXPECT_NE(w[1], 0xffffffffu);
  EXPECT_LT(w[1], 1024u);
  EXPECT_THAT(Wait2(w, 1, 1, kSizeU32 | kPrivate | kNuma), FailsWith(EAGAIN));
  EXPECT_THAT(Wake2(&w[2], 1, 1, kSizeU32 | kPrivate | kNuma), FailsWith(EINVAL));
  w[3] = 0xffffffff;
  EXPECT_THAT(Wake2(&w[1], 1, 1, kSizeU32 | kPrivate | kNuma), FailsWith(EINVAL));  // 4-byte aligned only
}

TEST(Futex2, RequeueMovesAWaiterToTheSecondWord) {
  std::atomic<uint32_t> a{0}, b{0};
  std::atomic<long> ret{-100};
  std::thread waiter([&] { ret = Wait2(&a, 0).ret; });
  Waitv ws[2] = {Entry(&a, 0), Entry(&b, 0)};
  EXPECT_EQ(WakeUntilWoken([&] { return Sys(SYS_futex_requeue, ws, 0, 0, 1); }), 1);
  EXPECT_EQ(Wake2(&a, 1, 1).ret, 0);
  EXPECT_EQ(Wake2(&b, 1, 1).ret, 1);
  waiter.join();
  EXPECT_EQ(ret.load(), 0);
}

TEST(Futex2, RequeueArgumentErrors) {
  std::atomic<uint32_t> a{0}, b{0};
  Waitv ws[2] = {Entry(&a, 0), Entry(&b, 0)};
  EXPECT_EQ(Sys(SYS_futex_requeue, ws, 0, 1, 1).ret, 0);
  EXPECT_THAT(Sys(SYS_futex_requeue, ws, 1, 1, 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_futex_requeue, nullptr, 0, 1, 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_futex_requeue, reinterpret_cast<void*>(8), 0, 1, 1), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_futex_requeue, ws, 0, -1, 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_futex_requeue, ws, 0, 1, -1), FailsWith(EINVAL));
  Waitv cmp[2] = {Entry(&a, 7), Entry(&b, 0)};
  EXPECT_THAT(Sys(SYS_futex_requeue, cmp, 0, 1, 1), FailsWith(EAGAIN));
  Waitv mixed[2] = {Entry(&a, 0), Entry(&b, 0, kSizeU32)};
  EXPECT_THAT(Sys(SYS_futex_requeue, mixed, 0, 1, 1), FailsWith(EINVAL));
  Waitv u8[2] = {Entry(&a, 0, kSizeU8 | kPrivate), Entry(&b, 0, kSizeU8 | kPrivate)};
  EXPECT_THAT(Sys(SYS_futex_requeue, u8, 0, 1, 1), FailsWith(EINVAL));
  Waitv reserved[2] = {Entry(&a, 0), Entry(&b, 0)};
  reserved[1].reserved = 1;
  EXPECT_THAT(Sys(SYS_futex_requeue, reserved, 0, 1, 1), FailsWith(EINVAL));
  Waitv wide[2] = {Entry(&a, 0), Entry(&b, 0)};
  wide[1].val = 1ull << 32;
  EXPECT_THAT(Sys(SYS_futex_requeue, wide, 0, 1, 1), FailsWith(EINVAL));
  Waitv odd[2] = {Entry(&a, 0), Entry(&b, 0)};
  odd[1].uaddr += 2;
  EXPECT_THAT(Sys(SYS_futex_requeue, odd, 0, 1, 1), FailsWith(EINVAL));
}

// --- get_robust_list ---

TEST(RobustList, GetReturnsWhatSetStored) {
  void* old_head = nullptr;
  size_t old_len = 0;
  ASSERT_THAT(Sys(SYS_get_robust_list, 0, &old_head, &old_len), Succeeds());
  alignas(8) static uint64_t head[3];
  head[0] = reinterpret_cast<uint64_t>(head);  // an empty list
  head[1] = 0;
  head[2] = 0;
  ASSERT_THAT(Sys(SYS_set_robust_list, head, 24), Succeeds());
  void* got = nullptr;
  size_t len = 0;
  EXPECT_THAT(Sys(SYS_get_robust_list, 0, &got, &len), Succeeds());
  EXPECT_EQ(got, static_cast<void*>(head));
  EXPECT_EQ(len, 24u);
  got = nullptr;
  EXPECT_THAT(Sys(SYS_get_robust_list, Tid(), &got, &len), Succeeds());
  EXPECT_EQ(got, static_cast<void*>(head));
  // Another thread of the process: its own list.
  std::thread other([&] {
    void* h = nullptr;
    size_t l = 0;
    EXPECT_THAT(Sys(SYS_get_robust_list, 0, &h, &l), Succeeds());
    EXPECT_NE(h, static_cast<void*>(head));
  });
  other.join();
  EXPECT_THAT(Sys(SYS_get_robust_list, 0, &got, reinterpret_cast<void*>(8)), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_get_robust_list, 0, reinterpret_cast<void*>(8), &len), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_get_robust_list, -1, &got, &len), FailsWith(ESRCH));
  ASSERT_THAT(Sys(SYS_set_robust_list, old_head, old_len), Succeeds());
}

// Another process of the same user: readable; a reaped one: ESRCH; a
// process of another user without CAP_SYS_PTRACE: EPERM.
TEST(RobustList, GetOfOtherProcesses) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  alignas(8) static uint64_t head[3];
  head[0] = reinterpret_cast<uint64_t>(head);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(p[0]);
    syscall(SYS_set_robust_list, head, 24);
    (void)!write(p[1], "x", 1);
    pause();
    _exit(0);
  }
  close(p[1]);
  char c;
  ASSERT_EQ(read(p[0], &c, 1), 1);
  void* got = nullptr;
  size_t len = 0;
  EXPECT_THAT(Sys(SYS_get_robust_list, child, &got, &len), Succeeds());
  EXPECT_EQ(got, static_cast<void*>(head));
  EXPECT_EQ(len, 24u);
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_THAT(Sys(SYS_get_robust_list, child, &got, &len), FailsWith(ESRCH));
  close(p[0]);

  if (getuid() != 0) GTEST_SKIP() << "EPERM case needs root to change uid";
  const pid_t parent = getpid();
  const pid_t reader = fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    void* h = nullptr;
    size_t l = 0;
    const long r = syscall(SYS_get_robust_list, parent, &h, &l);
    _exit(r == -1 && errno == EPERM ? 0 : 1);
  }
  ASSERT_EQ(waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// An exited process not yet reaped is still found, but its list is gone
// (exit_robust_list cleared it): success with a null head. Likewise the
// zombie leader of a process whose other thread lives on.
TEST(RobustList, GetOfAZombieGivesANullHead) {
  alignas(8) static uint64_t head[3];
  head[0] = reinterpret_cast<uint64_t>(head);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    syscall(SYS_set_robust_list, head, 24);
    _exit(0);
  }
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, child, &si, WEXITED | WNOWAIT), 0);
  void* got = reinterpret_cast<void*>(1);
  size_t len = 0;
  EXPECT_THAT(Sys(SYS_get_robust_list, child, &got, &len), Succeeds());
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ(len, 24u);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);

  EXPECT_EQ(RunInChild([] {
              syscall(SYS_set_robust_list, head, 24);
              const pid_t leader = getpid();
              std::thread other([leader] {
                // Until the leader is a zombie ("Z" in its stat).
                for (int i = 0; i < 500; ++i) {
                  std::ifstream f("/proc/self/task/" + std::to_string(leader) + "/stat");
                  std::string line;
                  std::getline(f, line);
                  const size_t paren = line.rfind(')');
                  if (paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z') break;
                  usleep(2000);
                }
                void* h = reinterpret_cast<void*>(1);
                size_t l = 0;
                const long r = syscall(SYS_get_robust_list, leader, &h, &l);
                _exit(r == 0 && h == nullptr && l == 24 ? 0 : 1);
              });
              other.detach();
              syscall(SYS_exit, 0);  // the leader thread only
              return 2;
            }),
            0);
}

}  // namespace
}  // namespace syscall_test
