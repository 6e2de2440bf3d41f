// Futex keys and the futex part of a task leaving its memory: robust lists
// (kernel/futex/core.c exit_robust_list, handle_futex_death), PI futexes
// still owned (exit_pi_state_list), and CLONE_CHILD_CLEARTID (mm_release).
#include <linux/futex.h>

#include "sentry/kernel/futex.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kRobustListLimit = 2048;  // ROBUST_LIST_LIMIT

// handle_futex_death(): false stops the walk (a misaligned or unreadable
// word, as Linux's -1).
bool FutexDeath(Task& t, uint64_t addr, bool pi, bool pending_op) {
  if (addr % 4 != 0) return false;
  auto cur = t.mm().CopyIn(mm::UserPtr<uint32_t>(addr));
  if (!cur.ok()) return false;
  auto wake = [&] {
    auto key = MakeFutexKey(t, addr, /*is_private=*/false);
    if (key.ok()) (void)t.kernel().futexes().Wake(key.value(), 1, FUTEX_BITSET_MATCH_ANY);
  };
  // A lock op the task was in the middle of (list_op_pending) on a free
  // non-PI word: the unlocker died before its wake, or a woken waiter
  // died before taking it. Wake the next one; the word stays as is.
  if (pending_op && !pi && (cur.value() & FUTEX_TID_MASK) == 0) {
    wake();
    return true;
  }
  // A compare-and-exchange: app threads may race on the word.
  bool mine = false;
  auto old = t.mm().AtomicUpdate32(addr, [&](uint32_t v) -> std::optional<uint32_t> {
    mine = (v & FUTEX_TID_MASK) == static_cast<uint32_t>(t.tid());
    if (!mine) return std::nullopt;
    return (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
  });
  if (!old.ok()) return false;
  // PI futexes go to their waiters in ExitPiState.
  if (mine && !pi && (old.value() & FUTEX_WAITERS)) wake();
  return true;
}

// exit_robust_list(). Bit 0 of each pointer marks a PI futex
// (fetch_robust_entry()).
void ExitRobustList(Task& t) {
  // Like Linux (futex_cleanup), the list is gone afterwards: get_robust_list
  // of the exited task reads a null head.
  const uint64_t list = t.robust_list_head.exchange(0);
  if (list == 0) return;
  struct Head {
    uint64_t next;
    int64_t futex_offset;
    uint64_t list_op_pending;
  };
  auto head = t.mm().CopyIn(mm::UserPtr<Head>(list));
  if (!head.ok()) return;
  const Head h = head.value();
  const uint64_t off = static_cast<uint64_t>(h.futex_offset);
  const uint64_t pending = h.list_op_pending & ~1ull;
  const bool pending_pi = h.list_op_pending & 1;
  uint64_t entry = h.next & ~1ull;
  bool pi = h.next & 1;
  for (int limit = kRobustListLimit; entry != list;) {
    // The next pointer first: handling this entry may free it.
    auto next = t.mm().CopyIn(mm::UserPtr<uint64_t>(entry));
    if (entry != pending && !FutexDeath(t, entry + off, pi, /*pending_op=*/false)) return;
    if (!next.ok()) return;
    entry = next.value() & ~1ull;
    pi = next.value() & 1;
    if (--limit == 0) break;  // too long or circular
  }
  if (pending != 0) (void)FutexDeath(t, pending + off, pending_pi, /*pending_op=*/true);
}

}  // namespace

base::Result<FutexKey> MakeFutexKey(Task& t, uint64_t addr, bool is_private) {
  if (addr % 4 != 0) return base::Errno::kEINVAL;
  if (addr > mm::kDefaultMaxUserAddress - 4) return base::Errno::kEFAULT;  // access_ok()
  auto [space, key] = TRY(t.mm().FutexKey(addr, is_private));
  return FutexKey{space, key, addr, !is_private};
}

void FutexCleanup(Task& t) {
  ExitRobustList(t);
  t.kernel().futexes().ExitPiState(t.tid());
}

void ClearChildTid(Task& t) {
  // Linux ignores a failed write and wakes anyway.
  (void)t.mm().CopyOut(mm::UserPtr<uint32_t>(t.clear_child_tid), 0u);
  auto key = MakeFutexKey(t, t.clear_child_tid, /*is_private=*/false);
  if (key.ok()) (void)t.kernel().futexes().Wake(key.value(), 1, FUTEX_BITSET_MATCH_ANY);
}

}  // namespace sentry::kernel
