// The one way to block (invariant 5). A task waits on a WaiterQueue with an
// optional deadline; a notification, the deadline, or a signal for the task
// ends the wait. Syscall code calls Task::Block and never sleeps otherwise,
// so the thread-per-task model can later become fibers without touching it.
#ifndef SENTRY_KERNEL_WAITER_H_
#define SENTRY_KERNEL_WAITER_H_

#include <cstdint>
#include <list>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sentry::kernel {

class Task;

// An entry registered on a queue while its task waits. Notify() marks it
// ready and wakes its task.
class Waiter {
 public:
  explicit Waiter(Task& t) : task_(t) {}
  Task& task() { return task_; }
  uint64_t mask = ~0ull;  // events this waiter cares about (EPOLLIN, ...)

 private:
  Task& task_;
};

class WaiterQueue {
 public:
  void Add(Waiter* w);
  void Remove(Waiter* w);
  // Wakes every waiter whose mask intersects `events`.
  void Notify(uint64_t events = ~0ull);

 private:
  absl::Mutex mu_;
  std::list<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_WAITER_H_
