#include "sentry/kernel/futex.h"

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
    if (((*e)->bitset & bitset) == 0) {
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
