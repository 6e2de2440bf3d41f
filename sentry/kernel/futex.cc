#include "sentry/kernel/futex.h"

#include <linux/futex.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

base::Result<void> FutexTable::Wait(Task& t, FutexKey key, uint32_t val, uint32_t bitset,
                                    std::optional<absl::Time> deadline) {
  if (bitset == 0) return base::Errno::kEINVAL;
  if (key.uaddr % 4 != 0) return base::Errno::kEINVAL;
  Waiter w(t);
  Entry e{&w, bitset, false, key};
  {
    // The value check and the enqueue are one step under mu_, and wakers
    // take mu_: a wake between them cannot be lost (futex_wait_setup()).
    absl::MutexLock l(&mu_);
    const uint32_t cur = TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(key.uaddr)));
    if (cur != val) return base::Errno::kEAGAIN;
    queues_[key].push_back(&e);
  }
  while (true) {
    auto r = t.Block(w, deadline);
    absl::MutexLock l(&mu_);
    if (e.woken) return {};
    if (!r.ok()) {
      // Still queued (maybe under a requeued key): take it out.
      auto it = queues_.find(e.key);
      if (it != queues_.end()) {
        it->second.remove(&e);
        if (it->second.empty()) queues_.erase(it);
      }
      return r.error();
    }
  }
}

int FutexTable::Wake(FutexKey key, int n, uint32_t bitset) {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return 0;
  int woken = 0;
  auto& q = it->second;
  for (auto e = q.begin(); e != q.end() && woken < n;) {
    if ((*e)->tid != 0 || ((*e)->bitset & bitset) == 0) {  // PI waiters wait for UnlockPi
      ++e;
      continue;
    }
    (*e)->woken = true;
    (*e)->waiter->Notify();
    e = q.erase(e);
    ++woken;
  }
  if (q.empty()) queues_.erase(it);
  return woken;
}

base::Result<int> FutexTable::WakeOp(FutexKey k1, FutexKey k2, int n1, int n2,
                                     absl::FunctionRef<base::Result<bool>()> op) {
  absl::MutexLock l(&mu_);
  const bool cond = TRY(op());
  int woken = 0;
  auto wake = [&](const FutexKey& key, int n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    auto& q = it->second;
    for (auto e = q.begin(); e != q.end() && n > 0;) {
      if ((*e)->tid != 0) {  // PI waiters wait for UnlockPi
        ++e;
        continue;
      }
      (*e)->woken = true;
      (*e)->waiter->Notify();
      e = q.erase(e);
      ++woken;
      --n;
    }
    if (q.empty()) queues_.erase(it);
  };
  wake(k1, n1);
  if (cond) wake(k2, n2);
  return woken;
}

base::Result<bool> FutexTable::TryTakePi(Task& t, const FutexKey& key, bool set_waiters) {
  const uint32_t me = static_cast<uint32_t>(t.tid());
  // Waiters already queued keep FUTEX_WAITERS set on a free word (the
  // owner died with waiters, FUTEX_OWNER_DIED).
  const bool queued = queues_.contains(key);
  bool taken = false, self = false;
  uint32_t owner = 0;
  TRY(t.mm().AtomicUpdate32(key.uaddr, [&](uint32_t cur) -> std::optional<uint32_t> {
    owner = cur & FUTEX_TID_MASK;
    taken = owner == 0;
    self = owner == me;
    if (self) return std::nullopt;
    if (taken) return me | (cur & FUTEX_OWNER_DIED) | (queued ? FUTEX_WAITERS : 0);
    if (!set_waiters || (cur & FUTEX_WAITERS)) return std::nullopt;
    return cur | FUTEX_WAITERS;
  }));
  if (self) return base::Errno::kEDEADLK;
  if (taken) return true;
  // attach_to_pi_owner(): the owner must be a live task.
  if (t.kernel().TaskCreds(static_cast<int32_t>(owner)) == nullptr) return base::Errno::kESRCH;
  return false;
}

base::Result<void> FutexTable::TrylockPi(Task& t, FutexKey key) {
  absl::MutexLock l(&mu_);
  if (TRY(TryTakePi(t, key, /*set_waiters=*/false))) return {};
  return base::Errno::kEAGAIN;
}

base::Result<void> FutexTable::LockPi(Task& t, FutexKey key, std::optional<absl::Time> deadline) {
  if (key.uaddr % 4 != 0) return base::Errno::kEINVAL;
  Waiter w(t);
  Entry e{&w, FUTEX_BITSET_MATCH_ANY, false, key, t.tid()};
  {
    absl::MutexLock l(&mu_);
    if (TRY(TryTakePi(t, key, /*set_waiters=*/true))) return {};
    queues_[key].push_back(&e);
  }
  while (true) {
    auto r = t.Block(w, deadline);
    absl::MutexLock l(&mu_);
    if (e.woken) return {};  // UnlockPi made us the owner
    if (e.retry) {
      e.retry = false;
      auto taken = TryTakePi(t, key, /*set_waiters=*/true);
      if (!taken.ok()) return taken.error();
      if (taken.value()) return {};
      queues_[key].push_back(&e);
      continue;
    }
    if (!r.ok()) {
      auto it = queues_.find(e.key);
      if (it != queues_.end()) {
        it->second.remove(&e);
        if (it->second.empty()) queues_.erase(it);
      }
      return r.error();
    }
  }
}

base::Result<void> FutexTable::UnlockPi(Task& t, FutexKey key) {
  if (key.uaddr % 4 != 0) return base::Errno::kEINVAL;
  const uint32_t me = static_cast<uint32_t>(t.tid());
  absl::MutexLock l(&mu_);
  auto it = queues_.find(key);
  Entry* next = nullptr;
  if (it != queues_.end()) {
    // The first waiter that is a PI waiter (plain FUTEX_WAIT on a PI word
    // is the app's own business; Linux would refuse the mix with EINVAL).
    for (Entry* e : it->second) {
      if (e->tid != 0) {
        next = e;
        break;
      }
    }
  }
  bool mine = false;
  TRY(t.mm().AtomicUpdate32(key.uaddr, [&](uint32_t cur) -> std::optional<uint32_t> {
    mine = (cur & FUTEX_TID_MASK) == me;
    if (!mine) return std::nullopt;
    if (next == nullptr) return 0u;
    return static_cast<uint32_t>(next->tid) | FUTEX_WAITERS;
  }));
  if (!mine) return base::Errno::kEPERM;
  if (next != nullptr) {
    it->second.remove(next);
    if (it->second.empty()) queues_.erase(it);
    next->woken = true;
    next->waiter->Notify();
  }
  return {};
}

void FutexTable::WakeForOwnerDeath(FutexKey key) {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  Entry* e = it->second.front();
  it->second.pop_front();
  if (it->second.empty()) queues_.erase(it);
  if (e->tid != 0) {
    e->retry = true;
  } else {
    e->woken = true;
  }
  e->waiter->Notify();
}

int FutexTable::Requeue(FutexKey from, FutexKey to, int n_wake, int n_requeue) {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(from);
  if (it == queues_.end()) return 0;
  int done = 0;
  std::list<Entry*> moved;
  auto& q = it->second;
  while (!q.empty() && done < n_wake) {
    q.front()->woken = true;
    q.front()->waiter->Notify();
    q.pop_front();
    ++done;
  }
  int requeued = 0;
  while (!q.empty() && requeued < n_requeue) {
    q.front()->key = to;
    moved.push_back(q.front());
    q.pop_front();
    ++requeued;
  }
  if (q.empty()) queues_.erase(from);
  if (!moved.empty()) queues_[to].splice(queues_[to].end(), moved);
  return done + requeued;
}

}  // namespace sentry::kernel
