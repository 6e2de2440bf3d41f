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

 private:
  struct Entry {
    Waiter* waiter;
    uint32_t bitset;
    bool woken = false;
    FutexKey key;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<FutexKey, std::list<Entry*>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FUTEX_H_
