// The one way to block (invariant 5). A task registers a Waiter on the
// WaiterQueue of what it waits for, checks its condition, and then calls
// Task::Block(waiter, deadline) until the condition holds. A notification,
// the deadline, or a signal for the task ends each Block. Registering before
// checking is what makes wakeups impossible to lose.
//
//   Waiter w(t, EPOLLIN);
//   q.Add(&w);
//   absl::Cleanup done = [&] { q.Remove(&w); };
//   while (!ready()) TRY(t.Block(w, deadline));  // EINTR / ETIMEDOUT
//
// Syscall code never sleeps otherwise, so the thread-per-task model can
// later become fibers without touching it.
#ifndef SENTRY_KERNEL_WAITER_H_
#define SENTRY_KERNEL_WAITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>

#include "absl/synchronization/mutex.h"

namespace sentry::kernel {

class Task;

class Waiter {
 public:
  explicit Waiter(Task& t, uint64_t mask = ~0ull) : task_(&t), mask_(mask) {}
  // A waiter with no task (epoll interest items): Notify() runs `callback`
  // on the notifying thread with the queue's lock held, so the callback must
  // not block, nor add or remove waiters on that queue. Never Block() on it.
  Waiter(std::function<void()> callback, uint64_t mask) : mask_(mask), callback_(std::move(callback)) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  Task& task() { return *task_; }  // task waiters only
  uint64_t mask() const { return mask_; }
  // Marks the waiter ready and wakes its task. Any thread.
  void Notify();
  // Consumes a pending notification (Task::Block uses it).
  bool TakeReady() { return ready_.exchange(false, std::memory_order_acq_rel); }
  // A notification is pending (lock-free peek; Task::Block's spin uses it).
  bool Ready() const { return ready_.load(std::memory_order_acquire); }

 private:
  Task* task_ = nullptr;
  const uint64_t mask_;  // events this waiter cares about (EPOLLIN, ...)
  std::atomic<bool> ready_{false};
  std::function<void()> callback_;  // set for task-less waiters
};

class WaiterQueue {
 public:
  void Add(Waiter* w);
  void Remove(Waiter* w);
  // Notifies every waiter whose mask intersects `events`.
  void Notify(uint64_t events = ~0ull);

 private:
  absl::Mutex mu_;
  std::list<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_WAITER_H_
