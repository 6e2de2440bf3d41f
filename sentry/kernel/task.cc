#include "sentry/kernel/task.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"

namespace sentry::kernel {

namespace {
thread_local Task* current_task = nullptr;

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Block's spin window (see SpinForWake). 0 disables spinning.
int64_t SpinWindowNs() {
  static const int64_t ns = [] {
    // A single allowed CPU at startup (before any pinning): the waker can
    // never run while we spin.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < 2) return int64_t{0};
    return int64_t{50000};  // a few ping-pong round trips (sentry/README.md)
  }();
  return ns;
}
[[maybe_unused]] const int64_t kSpinWindowAtStartup = SpinWindowNs();  // before the sentry pins threads

// Task::syscall_serial bases: 2^32 syscalls per task before its serials
// could meet the next task's.
std::atomic<uint64_t> next_task_serial_base{1};

}  // namespace

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid)
    : kernel_(k),
      tg_(std::move(tg)),
      tid_(tid),
      syscall_serial_(next_task_serial_base.fetch_add(1, std::memory_order_relaxed) << 32),
      sighand_(std::make_shared<SignalHandlers>()) {}

Task::~Task() {
  if (current_task == this) current_task = nullptr;
}

Task* Task::Current() { return current_task; }

void Task::BindToCurrentThread() {
  current_task = this;
  clockid_t c;
  if (pthread_getcpuclockid(pthread_self(), &c) == 0) cpu_clock_.store(c, std::memory_order_relaxed);
}

bool Task::SpinForWake(Waiter& w, std::optional<absl::Time> deadline) {
  int64_t window = SpinWindowNs();
  if (deadline.has_value()) {
    const absl::Duration left = *deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    window = std::min(window, absl::ToInt64Nanoseconds(left));
  }
  const int64_t end = MonoNs() + window;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (w.Ready()) return true;
      __builtin_ia32_pause();
    }
    if (MonoNs() >= end) return false;
  }
}

base::Result<void> Task::Block(Waiter& w, std::optional<absl::Time> deadline) {
  // Adaptive spin before sleeping. A host futex sleep and the wakeup of a
  // thread sleeping on another CPU cost tens of microseconds on a VM, more
  // than most ping-pong waits; so poll the waiter (pause loop, no lock) for
  // up to the window first. Each spin that runs out doubles the number of
  // following blocks that sleep at once (1, 2, 4, ... 64); a spin that
  // succeeds resets it. So a task that waits long (idle sandboxes,
  // terminals, sleeps, joins) spins at most once in 64 blocks, while a
  // ping-pong spins every time. Signals and deadlines are noticed by the
  // locked loop below: the spin only delays them by at most the window.
  // A wait counts as a voluntary context switch (ru_nvcsw); the spin's
  // time is not the task's CPU time (rusage.h).
  const bool waits = !w.Ready();
  if (waits) usage.nvcsw.fetch_add(1, std::memory_order_relaxed);
  if (SpinWindowNs() > 0 && waits) {
    if (spin_skip_ > 0) {
      --spin_skip_;
    } else {
      const int64_t spin_start = MonoNs();
      const bool woken = SpinForWake(w, deadline);
      usage.spin_ns.fetch_add(MonoNs() - spin_start, std::memory_order_relaxed);
      if (woken) {
        spin_fails_ = 0;
      } else {
        spin_skip_ = 1u << spin_fails_;
        if (spin_fails_ < 6) ++spin_fails_;
      }
    }
  }
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
