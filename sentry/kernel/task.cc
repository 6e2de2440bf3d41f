#include "sentry/kernel/task.h"

#include <pthread.h>

#include "sentry/kernel/kernel.h"

namespace sentry::kernel {

namespace {
thread_local Task* current_task = nullptr;
}  // namespace

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid)
    : kernel_(k), tg_(std::move(tg)), tid_(tid), sighand_(std::make_shared<SignalHandlers>()) {}

Task::~Task() {
  if (current_task == this) current_task = nullptr;
}

Task* Task::Current() { return current_task; }

void Task::BindToCurrentThread() {
  current_task = this;
  clockid_t c;
  if (pthread_getcpuclockid(pthread_self(), &c) == 0) cpu_clock_.store(c, std::memory_order_relaxed);
}

base::Result<void> Task::Block(Waiter& w, std::optional<absl::Time> deadline) {
  absl::MutexLock l(&wake_mu_);
  // Shared (group) signals are read through their lock-free mirror: a sender
  // updates it before taking wake_mu_ to wake us (ThreadGroup lock order).
  auto interrupted = [&] {
    return ((pending_.set() | tg_->shared_pending_set.load()) & ~signal_mask()) != 0;
  };
  while (true) {
    if (w.TakeReady()) return {};
    if (interrupted()) return base::Errno::kEINTR;
    if (deadline.has_value()) {
      if (wake_cv_.WaitWithDeadline(&wake_mu_, *deadline)) {
        // Timed out: a notification or signal that raced with it wins.
        if (w.TakeReady()) return {};
        if (interrupted()) return base::Errno::kEINTR;
        return base::Errno::kETIMEDOUT;
      }
    } else {
      wake_cv_.Wait(&wake_mu_);
    }
  }
}

base::Result<void> Task::Sleep(absl::Time deadline) {
  Waiter w(*this);
  while (absl::Now() < deadline) {
    auto r = Block(w, deadline);
    if (!r.ok()) return r.error() == base::Errno::kETIMEDOUT ? base::Result<void>() : r;
  }
  return {};
}

void Task::Wake() {
  absl::MutexLock l(&wake_mu_);
  wake_cv_.Signal();
}

void Task::CommitCreds(Credentials c) {
  const Credentials& old = creds();
  if (old.euid != c.euid || old.egid != c.egid || old.fsuid != c.fsuid || old.fsgid != c.fsgid ||
      (c.cap_permitted & ~old.cap_permitted) != 0) {
    thread_group().dumpable = 0;  // suid_dumpable is 0
    pdeath_signal = 0;
  }
  SetCreds(std::move(c));
}

}  // namespace sentry::kernel
