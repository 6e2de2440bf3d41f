#include "sentry/kernel/waiter.h"

#include "sentry/kernel/task.h"

namespace sentry::kernel {

void Waiter::Notify() {
  if (callback_) {
    callback_();
    return;
  }
  // Read before publishing: once ready_ is set, the blocked task may return
  // (Task::Block's lock-free spin sees it) and its Waiter be gone.
  Task* const t = task_;
  ready_.store(true, std::memory_order_release);
  t->Wake();
}

void WaiterQueue::Add(Waiter* w) {
  absl::MutexLock l(&mu_);
  waiters_.push_back(w);
}

void WaiterQueue::Remove(Waiter* w) {
  absl::MutexLock l(&mu_);
  waiters_.remove(w);
}

void WaiterQueue::Notify(uint64_t events) {
  absl::MutexLock l(&mu_);
  for (Waiter* w : waiters_) {
    if (w->mask() & events) w->Notify();
  }
}

}  // namespace sentry::kernel
