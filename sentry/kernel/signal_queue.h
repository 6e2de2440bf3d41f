// PendingSignals: a set of pending signals with their siginfo, as Linux's
// struct sigpending (kernel/signal.c). Standard signals (1-31) coalesce: a
// second one while the first is pending is dropped. Real-time signals
// (SIGRTMIN-64) queue every instance with its own siginfo, up to a limit.
// Not thread-safe: the owner (Task or ThreadGroup) guards it.
#ifndef SENTRY_KERNEL_SIGNAL_QUEUE_H_
#define SENTRY_KERNEL_SIGNAL_QUEUE_H_

#include <signal.h>

#include <array>
#include <cstdint>
#include <deque>

namespace sentry::kernel {

inline constexpr int kNumSignals = 64;
inline constexpr int kFirstRtSignal = 32;  // the kernel's SIGRTMIN (glibc reserves 32-33)

constexpr uint64_t SigBit(int signo) { return 1ull << (signo - 1); }

class PendingSignals {
 public:
  // Queues `info` (info.si_signo in 1..64). Returns false if it was dropped:
  // a standard signal already pending, or the real-time queue is full
  // (`rt_limit`, RLIMIT_SIGPENDING in Linux: EAGAIN for sigqueue).
  bool Enqueue(const siginfo_t& info, size_t rt_limit = 1024);
  // Removes the lowest pending signal in `allowed` (synchronous fault
  // signals first, as Linux's next_signal) and returns it, or false.
  bool Dequeue(uint64_t allowed, siginfo_t* out);
  // Drops every instance of the signals in `set` (SIGCONT discards pending
  // stop signals and vice versa; SIG_IGN discards pending ones).
  void Discard(uint64_t set);
  // The queued SI_TIMER siginfo of POSIX timer `timerid` for `signo`, or
  // null: a timer's expirations while it is pending become its overruns.
  siginfo_t* FindTimerSignal(int signo, int timerid);
  uint64_t set() const { return set_; }
  bool empty() const { return set_ == 0; }

 private:
  uint64_t set_ = 0;
  std::array<std::deque<siginfo_t>, kNumSignals> queues_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SIGNAL_QUEUE_H_
