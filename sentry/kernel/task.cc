#include "sentry/kernel/task.h"

#include "sentry/kernel/kernel.h"

namespace sentry::kernel {

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid)
    : kernel_(k), tg_(std::move(tg)), tid_(tid), sighand_(std::make_shared<SignalHandlers>()) {}

Task::~Task() = default;

base::Result<void> Task::Block(Waiter& w, std::optional<absl::Time> deadline) {
  absl::MutexLock l(&wake_mu_);
  while (true) {
    if (w.TakeReady()) return {};
    if (pending_signals_ & ~signal_mask_) return base::Errno::kEINTR;
    if (deadline.has_value()) {
      if (wake_cv_.WaitWithDeadline(&wake_mu_, *deadline)) {
        // Timed out: a notification or signal that raced with it wins.
        if (w.TakeReady()) return {};
        if (pending_signals_ & ~signal_mask_) return base::Errno::kEINTR;
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

void Task::SendSignal(int signo) {
  if (signo < 1 || signo > 64) return;
  {
    absl::MutexLock l(&wake_mu_);
    pending_signals_ |= 1ull << (signo - 1);
    wake_cv_.Signal();
  }
  if (context_ != nullptr) context_->Interrupt();
}

bool Task::HasPendingSignal() const {
  absl::MutexLock l(&wake_mu_);
  return (pending_signals_ & ~signal_mask_) != 0;
}

int Task::DequeueSignal() {
  absl::MutexLock l(&wake_mu_);
  const uint64_t ready = pending_signals_ & ~signal_mask_;
  if (ready == 0) return 0;
  const int bit = __builtin_ctzll(ready);
  pending_signals_ &= ~(1ull << bit);
  return bit + 1;
}

}  // namespace sentry::kernel
