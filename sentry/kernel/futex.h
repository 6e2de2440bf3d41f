// Futexes (kernel/futex/): wait queues keyed by an app address. Private
// futexes are keyed by (address space, address); shared ones in a MAP_SHARED
// mapping by (memory file, offset), the same in every process mapping it
// (MemoryManager::FutexKey). As in Linux, a shared operation on private
// memory is keyed by (address space, address) too but does not meet the
// private key of the same word (FUT_OFF_MMSHARED): glibc relies on it for
// robust mutexes.
//
// Waiters: plain (FUTEX_WAIT, WAIT_BITSET, futex_waitv), PI (LOCK_PI and
// LOCK_PI2, kernel/futex/pi.c) and requeue-PI (FUTEX_WAIT_REQUEUE_PI waiting
// on its non-PI futex until FUTEX_CMP_REQUEUE_PI moves it to the PI futex,
// kernel/futex/requeue.c). Like Linux, the plain wake and requeue
// operations fail with EINVAL when they meet a PI or requeue-PI waiter
// (the two kinds must not be mixed on one word).
#ifndef SENTRY_KERNEL_FUTEX_H_
#define SENTRY_KERNEL_FUTEX_H_

#include <cstdint>
#include <list>
#include <optional>
#include <span>

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
  // A shared (non-FUTEX_PRIVATE_FLAG) operation's key; on private memory it
  // names the same (space, addr) as a private key but differs from it.
  bool shared = false;
  bool operator==(const FutexKey& o) const { return space == o.space && addr == o.addr && shared == o.shared; }
  template <typename H>
  friend H AbslHashValue(H h, const FutexKey& k) {
    return H::combine(std::move(h), k.space, k.addr, k.shared);
  }
};

// get_futex_key(): the key of the 32-bit word at `addr` in t's memory.
// EINVAL if misaligned; EFAULT for a shared key of an unmapped address.
base::Result<FutexKey> MakeFutexKey(Task& t, uint64_t addr, bool is_private);

class FutexTable {
 public:
  // FUTEX_WAIT / FUTEX_WAIT_BITSET: sleeps while *addr == val. EAGAIN if it
  // differs, ETIMEDOUT, EINTR on a signal, EFAULT for a bad address, EINVAL
  // for a zero bitset.
  base::Result<void> Wait(Task& t, FutexKey key, uint32_t val, uint32_t bitset,
                          std::optional<absl::Time> deadline);
  // futex_waitv(2) (futex_wait_multiple): queues on every word while each
  // holds its value, all under the table lock; returns the index of the
  // woken one (the highest if several were). EAGAIN if a value differs,
  // EFAULT, ETIMEDOUT, EINTR.
  struct WaitvItem {
    FutexKey key;
    uint32_t val;
  };
  base::Result<int> WaitMultiple(Task& t, std::span<const WaitvItem> items, std::optional<absl::Time> deadline);
  // FUTEX_WAKE / FUTEX_WAKE_BITSET: wakes up to n waiters (at least one if
  // any: Linux's loop wakes before it compares, so 0 and negative counts
  // wake one) whose bitset intersects; returns how many. EINVAL if a PI or
  // requeue-PI waiter is met first.
  base::Result<int> Wake(FutexKey key, int n, uint32_t bitset);
  // FUTEX_REQUEUE / CMP_REQUEUE (futex_requeue without requeue_pi): wakes up
  // to n_wake, moves up to n_requeue to `to`; returns the number woken plus
  // moved. `cmp` (CMP_REQUEUE's val3 check of the word at from.uaddr, read
  // through t) runs under the table lock: EAGAIN if it differs.
  base::Result<int> Requeue(Task& t, FutexKey from, FutexKey to, int n_wake, int n_requeue,
                            std::optional<uint32_t> cmp);
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
  // EPERM unless the caller owns it; EINVAL if the first waiter is not a PI
  // waiter.
  base::Result<void> UnlockPi(Task& t, FutexKey key);

  // FUTEX_WAIT_REQUEUE_PI (futex_wait_requeue_pi): waits on the non-PI `key`
  // while it holds `val` until FUTEX_CMP_REQUEUE_PI moves the caller to the
  // PI futex `pi_key`; returns once the caller owns that. Errors: EAGAIN if
  // the value differs, EINVAL if both keys are one, ETIMEDOUT; a signal
  // before the requeue is ERESTARTNOINTR (the call restarts), after it
  // EAGAIN (EWOULDBLOCK; Linux does not restart a half-done wait).
  base::Result<void> WaitRequeuePi(Task& t, FutexKey key, uint32_t val, FutexKey pi_key,
                                   std::optional<absl::Time> deadline);
  // FUTEX_CMP_REQUEUE_PI (futex_requeue with requeue_pi): if the word at
  // from.uaddr is `cmp`, takes the PI futex `to` for the first waiter when
  // it is free (waking it) and moves up to n_requeue more (or n_requeue + 1
  // if it was not free) onto the PI futex as lock waiters. Returns the
  // number woken plus moved. EAGAIN if the word differs, EINVAL for a waiter
  // that is not a WAIT_REQUEUE_PI waiter for `to`, EDEADLK if the first
  // waiter owns `to`, ESRCH if `to`'s owner is gone, EFAULT.
  base::Result<int> CmpRequeuePi(Task& t, FutexKey from, FutexKey to, int n_requeue, uint32_t cmp);

  // Thread exit and exec (futex_cleanup): every PI futex that task `tid`
  // still owns with waiters goes to its first waiter, which takes the word
  // with FUTEX_OWNER_DIED (exit_pi_state_list, then fixup_pi_state_owner).
  void ExitPiState(int32_t tid);

 private:
  enum class Kind { kPlain, kPi, kRequeuePi };
  struct Entry {
    Waiter* waiter;
    FutexKey key;
    int32_t tid;  // the waiting task's
    Kind kind = Kind::kPlain;
    uint32_t bitset = 0xffffffff;  // plain waiters
    bool woken = false;
    // PI waiters: the owner died (ExitPiState); take the word over.
    bool retry = false;
    int32_t dead_owner = 0;
    // kRequeuePi: the PI futex a requeue must move it to.
    FutexKey requeue_to{};
  };
  using Queue = std::list<Entry*>;

  // futex_lock_pi_atomic() for task `tid`, on the word at key.uaddr read
  // through t's memory: true if taken (with FUTEX_WAITERS if waiters are
  // queued or `force_waiters`); false with FUTEX_WAITERS set if another
  // live task owns it (`owner` says which). A word owned by `dead_owner`
  // counts as free and is taken with FUTEX_OWNER_DIED.
  base::Result<bool> TryTakePi(Task& t, const FutexKey& key, int32_t tid, bool force_waiters, int32_t dead_owner,
                               int32_t* owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks e woken and notifies its task; the caller has unlinked it.
  static void WakeEntry(Entry* e);
  // Unlinks e from its queue if it is still there.
  void Unqueue(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the queue (and its PI owner record) at `key` if it is empty.
  void Tidy(const FutexKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The wake loop of futex_wake and futex_wake_op; adds to *woken.
  base::Result<void> WakeLocked(const FutexKey& key, int n, uint32_t bitset, int* woken)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Blocks until e is woken (ok), its PI owner died and it took the word
  // (ok), or the deadline or a signal ends the wait (ETIMEDOUT, EINTR; e is
  // unqueued then).
  base::Result<void> Sleep(Task& t, Waiter& w, Entry& e, std::optional<absl::Time> deadline);

  absl::Mutex mu_;
  absl::flat_hash_map<FutexKey, Queue> queues_ ABSL_GUARDED_BY(mu_);
  // PI futexes with queued PI waiters: the owner's tid (Linux's pi_state
  // owner), for ExitPiState.
  absl::flat_hash_map<FutexKey, int32_t> pi_owners_ ABSL_GUARDED_BY(mu_);
};

// mm_release()'s futex part for a task leaving its memory (exit, execve),
// kernel/futex/core.c futex_cleanup(): walks the robust list
// (exit_robust_list, handle_futex_death) and hands the PI futexes it owns to
// their waiters. Task thread.
void FutexCleanup(Task& t);
// CLONE_CHILD_CLEARTID: writes 0 to t.clear_child_tid and wakes one waiter
// with a shared key (mm_release: glibc's pthread_join waits shared).
void ClearChildTid(Task& t);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FUTEX_H_
