#include "sentry/kernel/waiter.h"

#include "sentry/kernel/task.h"

namespace sentry::kernel {

void Waiter::Notify() {
  if (callback_) {
    callback_();
    return;
  }
  ready_.store(true, std::memory_order_release);
  task_->Wake();
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
