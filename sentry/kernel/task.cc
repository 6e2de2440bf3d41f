#include "sentry/kernel/task.h"

#include "absl/cleanup/cleanup.h"
#include "sentry/kernel/kernel.h"

namespace sentry::kernel {

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid)
    : kernel_(k), tg_(std::move(tg)), tid_(tid), sighand_(std::make_shared<SignalHandlers>()) {}

Task::~Task() = default;

base::Result<void> Task::Block(WaiterQueue* q, uint64_t mask, std::optional<absl::Time> deadline) {
  {
    absl::MutexLock l(&wake_mu_);
    woken_ = false;
  }
  Waiter w(*this);
  w.mask = mask;
  if (q != nullptr) q->Add(&w);
  absl::Cleanup remove = [&] {
    if (q != nullptr) q->Remove(&w);
  };
  absl::MutexLock l(&wake_mu_);
  while (true) {
    if (pending_signals_ & ~signal_mask_) return base::Errno::kEINTR;
    if (woken_) {
      woken_ = false;
      return {};
    }
    if (deadline.has_value()) {
      if (wake_cv_.WaitWithDeadline(&wake_mu_, *deadline) && !woken_ && !(pending_signals_ & ~signal_mask_)) {
        return base::Errno::kETIMEDOUT;
      }
    } else {
      wake_cv_.Wait(&wake_mu_);
    }
  }
}

void Task::Wake() {
  absl::MutexLock l(&wake_mu_);
  woken_ = true;
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
