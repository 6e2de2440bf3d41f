#include "sentry/kernel/futex.h"

#include <linux/futex.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

void FutexTable::WakeEntry(Entry* e) {
  e->woken = true;
  e->waiter->Notify();
}

void FutexTable::Enqueue(Entry* e) { queues_[e->key].push_back(e); }

void FutexTable::Unqueue(Entry* e) {
  auto it = queues_.find(e->key);
  if (it == queues_.end()) return;
  it->second.remove(e);
  Tidy(e->key);
}

void FutexTable::Tidy(const FutexKey& key) {
  auto it = queues_.find(key);
  if (it != queues_.end() && !it->second.empty()) return;
  if (it != queues_.end()) queues_.erase(it);
  pi_owners_.erase(key);
}

base::Result<void> FutexTable::Sleep(Task& t, Waiter& w, Entry& e, std::optional<absl::Time> deadline) {
  while (true) {
    auto r = t.Block(w, deadline);
    absl::MutexLock l(&mu_);
    if (e.woken) return {};
    if (e.retry) {
      // ExitPiState unlinked us: the owner died holding the lock, which is
      // ours now unless someone took the free word first.
      e.retry = false;
      int32_t owner = 0;
      if (TRY(TryTakePi(t, e.key, e.tid, /*force_waiters=*/true, e.dead_owner, &owner))) return {};
      Enqueue(&e);
      pi_owners_[e.key] = owner;
      continue;
    }
    if (!r.ok()) {
      // Still queued (maybe under a requeued key): take it out.
      Unqueue(&e);
      return r.error();
    }
    // A notification that was not ours (spurious): wait on.
  }
}

base::Result<void> FutexTable::Wait(Task& t, FutexKey key, uint32_t val, uint32_t bitset,
                                    std::optional<absl::Time> deadline) {
  if (bitset == 0) return base::Errno::kEINVAL;
  Waiter w(t);
  Entry e{&w, key, t.tid(), Kind::kPlain, bitset};
  {
    // The value check and the enqueue are one step under mu_, and wakers
    // take mu_: a wake between them cannot be lost (futex_wait_setup()).
    absl::MutexLock l(&mu_);
    const uint32_t cur = TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(key.uaddr)));
    if (cur != val) return base::Errno::kEAGAIN;
    Enqueue(&e);
  }
  return Sleep(t, w, e, deadline);
}

base::Result<int> FutexTable::WaitMultiple(Task& t, std::span<const WaitvItem> items,
                                           std::optional<absl::Time> deadline) {
  Waiter w(t);
  std::vector<Entry> es;
  es.reserve(items.size());  // no reallocation: the queues point into it
  for (const WaitvItem& item : items) es.push_back(Entry{&w, item.key, t.tid(), Kind::kPlain});
  {
    // futex_wait_multiple_setup(), without its fault retry: the whole setup
    // holds mu_, so no wake interleaves and none can be lost.
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < items.size(); ++i) {
      auto cur = t.mm().CopyIn(mm::UserPtr<uint32_t>(items[i].key.uaddr));
      if (!cur.ok() || cur.value() != items[i].val) {
        for (size_t j = 0; j < i; ++j) Unqueue(&es[j]);
        if (!cur.ok()) return cur.error();
        return base::Errno::kEAGAIN;
      }
      Enqueue(&es[i]);
    }
  }
  while (true) {
    auto r = t.Block(w, deadline);
    absl::MutexLock l(&mu_);
    // futex_unqueue_multiple(): the last woken index wins.
    int woken = -1;
    for (size_t i = 0; i < es.size(); ++i) {
      if (es[i].woken) woken = static_cast<int>(i);
    }
    if (woken < 0 && r.ok()) continue;  // spurious
    for (Entry& e : es) {
      if (!e.woken) Unqueue(&e);
    }
    if (woken >= 0) return woken;
    return r.error();
  }
}

base::Result<void> FutexTable::WakeLocked(const FutexKey& key, int n, uint32_t bitset, int* woken) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return {};
  Queue& q = it->second;
  base::Result<void> ret;
  int count = 0;
  for (auto i = q.begin(); i != q.end();) {
    Entry* e = *i;
    // futex_wake(): a waiter with pi_state or an rt_waiter.
    if (e->kind != Kind::kPlain) {
      ret = base::Errno::kEINVAL;
      break;
    }
    if ((e->bitset & bitset) == 0) {
      ++i;
      continue;
    }
    i = q.erase(i);
    WakeEntry(e);
    ++*woken;
    if (++count >= n) break;  // after the wake: n <= 0 wakes one, as Linux
  }
  Tidy(key);
  return ret;
}

base::Result<int> FutexTable::Wake(FutexKey key, int n, uint32_t bitset) {
  if (bitset == 0) return base::Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  int woken = 0;
  TRY(WakeLocked(key, n, bitset, &woken));
  return woken;
}

base::Result<int> FutexTable::WakeOp(FutexKey k1, FutexKey k2, int n1, int n2,
                                     absl::FunctionRef<base::Result<bool>()> op) {
  absl::MutexLock l(&mu_);
  const bool cond = TRY(op());
  int woken = 0;
  TRY(WakeLocked(k1, n1, FUTEX_BITSET_MATCH_ANY, &woken));
  if (cond) TRY(WakeLocked(k2, n2, FUTEX_BITSET_MATCH_ANY, &woken));
  return woken;
}

base::Result<int> FutexTable::Requeue(Task& t, FutexKey from, FutexKey to, int n_wake, int n_requeue,
                                      std::optional<uint32_t> cmp) {
  absl::MutexLock l(&mu_);
  if (cmp.has_value()) {
    const uint32_t cur = TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(from.uaddr)));
    if (cur != *cmp) return base::Errno::kEAGAIN;
  }
  auto it = queues_.find(from);
  if (it == queues_.end()) return 0;
  Queue& q = it->second;
  Queue moved;
  base::Result<void> ret;
  int count = 0;
  for (auto i = q.begin(); i != q.end();) {
    if (count - n_wake >= n_requeue) break;
    Entry* e = *i;
    if (e->kind != Kind::kPlain) {  // a PI or requeue-PI waiter
      ret = base::Errno::kEINVAL;
      break;
    }
    if (++count <= n_wake) {
      i = q.erase(i);
      WakeEntry(e);
    } else if (from == to) {
      ++i;  // requeue_futex() within one queue: it keeps its place
    } else {
      i = q.erase(i);
      e->key = to;
      moved.push_back(e);
    }
  }
  if (!moved.empty()) {
    Queue& dst = queues_[to];  // may rehash: `q` is not used after this
    dst.splice(dst.end(), moved);
  }
  Tidy(from);
  if (!ret.ok()) return ret.error();
  return count;
}

base::Result<bool> FutexTable::TryTakePi(Task& t, const FutexKey& key, int32_t tid, bool force_waiters,
                                         int32_t dead_owner, int32_t* owner_out) {
  const uint32_t me = static_cast<uint32_t>(tid);
  // Waiters already queued keep FUTEX_WAITERS set on a word taken over.
  const bool waiters = force_waiters || queues_.contains(key);
  bool taken = false, self = false;
  uint32_t owner = 0;
  TRY(t.mm().AtomicUpdate32(key.uaddr, [&](uint32_t cur) -> std::optional<uint32_t> {
    owner = cur & FUTEX_TID_MASK;
    self = owner == me;
    const bool dead = dead_owner != 0 && owner == static_cast<uint32_t>(dead_owner);
    taken = owner == 0 || dead;
    if (self) return std::nullopt;
    if (taken) return me | (cur & FUTEX_OWNER_DIED) | (dead ? FUTEX_OWNER_DIED : 0) | (waiters ? FUTEX_WAITERS : 0);
    // futex_lock_pi_atomic(): the first waiter sets FUTEX_WAITERS before it
    // attaches to the owner (trylock too), so the owner's unlock enters the
    // kernel.
    if (cur & FUTEX_WAITERS) return std::nullopt;
    return cur | FUTEX_WAITERS;
  }));
  if (self) return base::Errno::kEDEADLK;
  if (taken) return true;
  // attach_to_pi_owner(): the owner must be a live task. One past its
  // futex cleanup (exiting, still in the task table) is as good as gone
  // (handle_exit_race(): ESRCH): ExitPiState already ran, nobody would
  // ever hand this waiter the lock.
  bool live = false;
  t.kernel().WithTask(static_cast<int32_t>(owner), [&](Task& o) { live = !o.futex_exited.load(); });
  if (!live) return base::Errno::kESRCH;
  *owner_out = static_cast<int32_t>(owner);
  return false;
}

base::Result<void> FutexTable::TrylockPi(Task& t, FutexKey key) {
  absl::MutexLock l(&mu_);
  int32_t owner = 0;
  if (TRY(TryTakePi(t, key, t.tid(), /*force_waiters=*/false, 0, &owner))) return {};
  return base::Errno::kEAGAIN;
}

base::Result<void> FutexTable::LockPi(Task& t, FutexKey key, std::optional<absl::Time> deadline) {
  Waiter w(t);
  Entry e{&w, key, t.tid(), Kind::kPi};
  {
    absl::MutexLock l(&mu_);
    int32_t owner = 0;
    if (TRY(TryTakePi(t, key, t.tid(), /*force_waiters=*/false, 0, &owner))) return {};
    Enqueue(&e);
    pi_owners_[key] = owner;
  }
  return Sleep(t, w, e, deadline);  // woken: UnlockPi made us the owner
}

base::Result<void> FutexTable::UnlockPi(Task& t, FutexKey key) {
  const uint32_t me = static_cast<uint32_t>(t.tid());
  absl::MutexLock l(&mu_);
  Entry* next = nullptr;
  auto it = queues_.find(key);
  if (it != queues_.end() && !it->second.empty()) {
    // futex_unlock_pi(): the top waiter must be a PI waiter.
    next = it->second.front();
    if (next->kind != Kind::kPi) return base::Errno::kEINVAL;
  }
  bool mine = false;
  TRY(t.mm().AtomicUpdate32(key.uaddr, [&](uint32_t cur) -> std::optional<uint32_t> {
    mine = (cur & FUTEX_TID_MASK) == me;
    if (!mine) return std::nullopt;
    if (next == nullptr) return 0u;
    return static_cast<uint32_t>(next->tid) | FUTEX_WAITERS;  // wake_futex_pi()
  }));
  if (!mine) return base::Errno::kEPERM;
  if (next != nullptr) {
    it->second.pop_front();
    pi_owners_[key] = next->tid;
    Tidy(key);
    WakeEntry(next);
  }
  return {};
}

base::Result<void> FutexTable::WaitRequeuePi(Task& t, FutexKey key, uint32_t val, FutexKey pi_key,
                                             std::optional<absl::Time> deadline) {
  Waiter w(t);
  Entry e{&w, key, t.tid(), Kind::kRequeuePi};
  e.requeue_to = pi_key;
  {
    absl::MutexLock l(&mu_);
    const uint32_t cur = TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(key.uaddr)));
    if (cur != val) return base::Errno::kEAGAIN;
    if (key == pi_key) return base::Errno::kEINVAL;  // futex_wait_setup(): shared keys can still meet
    Enqueue(&e);
  }
  auto r = Sleep(t, w, e, deadline);
  if (r.ok()) return {};
  if (e.kind == Kind::kRequeuePi) {
    // handle_early_requeue_pi_wakeup(): not requeued yet; a signal restarts
    // the whole call.
    return r.error() == base::Errno::kEINTR ? base::Errno::kERESTARTNOINTR : r.error();
  }
  // Requeued and waiting for the PI lock: a signal cannot restart a wait
  // whose first half is done, so it is EWOULDBLOCK (the cond var's value
  // has changed anyway).
  return r.error() == base::Errno::kEINTR ? base::Errno::kEAGAIN : r.error();
}

base::Result<int> FutexTable::CmpRequeuePi(Task& t, FutexKey from, FutexKey to, int n_requeue, uint32_t cmp) {
  absl::MutexLock l(&mu_);
  const uint32_t cur = TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(from.uaddr)));
  if (cur != cmp) return base::Errno::kEAGAIN;
  // futex_proxy_trylock_atomic() reads the PI word first, waiters or not.
  TRY(t.mm().CopyIn(mm::UserPtr<uint32_t>(to.uaddr)));
  auto it = queues_.find(from);
  if (it == queues_.end()) return 0;
  Queue& q = it->second;
  Entry* top = q.front();
  if (top->kind != Kind::kRequeuePi || !(top->requeue_to == to)) return base::Errno::kEINVAL;
  // Take the PI futex for the top waiter if it is free; FUTEX_WAITERS if
  // more are to follow it.
  int32_t owner = 0;
  int count = 0;
  if (TRY(TryTakePi(t, to, top->tid, /*force_waiters=*/n_requeue > 0, 0, &owner))) {
    q.pop_front();
    top->key = top->requeue_to;
    WakeEntry(top);
    owner = top->tid;
    count = 1;
  }
  // The rest (with the top waiter if it did not get the lock: nr_wake is 1,
  // so one more than n_requeue) wait on the PI futex as lock waiters.
  Queue moved;
  base::Result<void> ret;
  for (auto i = q.begin(); i != q.end();) {
    if (count - 1 >= n_requeue) break;
    Entry* e = *i;
    if (e->kind != Kind::kRequeuePi || !(e->requeue_to == to)) {
      ret = base::Errno::kEINVAL;
      break;
    }
    if (e->tid == owner) {  // rt_mutex_start_proxy_lock()'s deadlock check
      ret = base::Errno::kEDEADLK;
      break;
    }
    i = q.erase(i);
    e->key = e->requeue_to;  // `to`, with the waiter's own address of the word
    e->kind = Kind::kPi;
    moved.push_back(e);
    ++count;
  }
  if (!moved.empty()) {
    Queue& dst = queues_[to];  // may rehash: `q` is not used after this
    dst.splice(dst.end(), moved);
    pi_owners_[to] = owner;
  }
  Tidy(from);
  if (!ret.ok()) return ret.error();
  return count;
}

void FutexTable::ExitPiState(int32_t tid) {
  absl::MutexLock l(&mu_);
  std::vector<FutexKey> done;
  for (auto& [key, owner] : pi_owners_) {
    if (owner != tid) continue;
    auto it = queues_.find(key);
    if (it == queues_.end()) continue;
    Queue& q = it->second;
    auto e = std::find_if(q.begin(), q.end(), [](Entry* x) { return x->kind == Kind::kPi; });
    if (e == q.end()) continue;
    Entry* next = *e;
    q.erase(e);
    next->retry = true;
    next->dead_owner = tid;
    owner = next->tid;
    next->waiter->Notify();
    done.push_back(key);
  }
  for (const FutexKey& key : done) Tidy(key);
}

}  // namespace sentry::kernel
