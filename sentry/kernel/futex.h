// Futexes (kernel/futex/): wait queues keyed by an app address. Private
// futexes are keyed by (address space, address); shared ones in a MAP_SHARED
// mapping by (memory file, offset), the same in every process mapping it
// (MemoryManager::FutexKey).
#ifndef SENTRY_KERNEL_FUTEX_H_
#define SENTRY_KERNEL_FUTEX_H_

#include <cstdint>
#include <list>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"
#include "sentry/kernel/waiter.h"

namespace sentry::kernel {

class Task;

struct FutexKey {
  const void* space;  // the MemoryManager (private) or the MemoryFile (shared)
  uint64_t addr;      // app address (private) or memory-file offset (shared)
  // The caller's app address of the word, for the value check; not part of
  // the identity.
  uint64_t uaddr = 0;
  bool operator==(const FutexKey& o) const { return space == o.space && addr == o.addr; }
  template <typename H>
  friend H AbslHashValue(H h, const FutexKey& k) {
    return H::combine(std::move(h), k.space, k.addr);
  }
};

class FutexTable {
 public:
  // FUTEX_WAIT / FUTEX_WAIT_BITSET: sleeps while *addr == val. EAGAIN if it
  // differs, ETIMEDOUT, EINTR on a signal, EFAULT for a bad address, EINVAL
  // for a zero bitset or a misaligned address.
  base::Result<void> Wait(Task& t, FutexKey key, uint32_t val, uint32_t bitset,
                          std::optional<absl::Time> deadline);
  // FUTEX_WAKE / FUTEX_WAKE_BITSET: wakes up to n waiters whose bitset
  // intersects; returns how many.
  int Wake(FutexKey key, int n, uint32_t bitset);
  // FUTEX_REQUEUE: wakes up to n_wake, moves up to n_requeue to `to`;
  // returns the number woken plus moved (Linux's return for CMP_REQUEUE).
  int Requeue(FutexKey from, FutexKey to, int n_wake, int n_requeue);
  // FUTEX_WAKE_OP (futex_wake_op): `op` (the atomic update of the second
  // word, returning whether its old value passed the comparison) runs under
  // the table lock, so no futex op on either word interleaves; then up to
  // n1 waiters of k1 and, if op said so, n2 of k2 are woken.
  base::Result<int> WakeOp(FutexKey k1, FutexKey k2, int n1, int n2, absl::FunctionRef<base::Result<bool>()> op);

  // PI futexes (kernel/futex/pi.c) with the word protocol TID |
  // FUTEX_WAITERS | FUTEX_OWNER_DIED. Priority inheritance itself is a
  // no-op: the sandbox has no real priorities to boost. Waiters queue in
  // FIFO order; FUTEX_UNLOCK_PI hands the lock straight to the first one
  // (the word becomes its tid | FUTEX_WAITERS, as wake_futex_pi).
  // LockPi: EDEADLK if the caller owns it, ESRCH if the owner tid is not a
  // live task, ETIMEDOUT, EINTR (the caller restarts), EFAULT.
  base::Result<void> LockPi(Task& t, FutexKey key, std::optional<absl::Time> deadline);
  // EAGAIN (EWOULDBLOCK) if another task owns it.
  base::Result<void> TrylockPi(Task& t, FutexKey key);
  // EPERM unless the caller owns it.
  base::Result<void> UnlockPi(Task& t, FutexKey key);
  // A robust futex's owner died (handle_futex_death): wakes one waiter, a
  // PI waiter to take the now free word (FUTEX_OWNER_DIED) itself.
  void WakeForOwnerDeath(FutexKey key);

 private:
  struct Entry {
    Waiter* waiter;
    uint32_t bitset;
    bool woken = false;
    FutexKey key;
    int32_t tid = 0;  // PI waiters: the tid the lock is handed to
    bool retry = false;  // PI waiters: the owner died, try to take it again
  };
  // The atomic fast path of LockPi/TrylockPi (futex_lock_pi_atomic): true
  // if taken; false with FUTEX_WAITERS set if `set_waiters`.
  base::Result<bool> TryTakePi(Task& t, const FutexKey& key, bool set_waiters) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  absl::flat_hash_map<FutexKey, std::list<Entry*>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FUTEX_H_
