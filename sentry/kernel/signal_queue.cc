#include "sentry/kernel/signal_queue.h"

namespace sentry::kernel {
namespace {

// Synchronous signals (kernel/signal.c SYNCHRONOUS_MASK) are dequeued first
// so that a fault's signal is the one its handler sees.
constexpr uint64_t kSynchronous =
    SigBit(SIGSEGV) | SigBit(SIGBUS) | SigBit(SIGILL) | SigBit(SIGTRAP) | SigBit(SIGFPE) | SigBit(SIGSYS);

}  // namespace

bool PendingSignals::Enqueue(const siginfo_t& info, size_t rt_limit) {
  const int signo = info.si_signo;
  if (signo < 1 || signo > kNumSignals) return false;
  auto& q = queues_[static_cast<size_t>(signo - 1)];
  if (signo < kFirstRtSignal) {
    if (set_ & SigBit(signo)) return false;
  } else if (q.size() >= rt_limit) {
    return false;
  }
  q.push_back(info);
  set_ |= SigBit(signo);
  return true;
}

bool PendingSignals::Dequeue(uint64_t allowed, siginfo_t* out) {
  uint64_t ready = set_ & allowed;
  if (ready == 0) return false;
  if (ready & kSynchronous) ready &= kSynchronous;
  const int bit = __builtin_ctzll(ready);
  auto& q = queues_[static_cast<size_t>(bit)];
  *out = q.front();
  q.pop_front();
  if (q.empty()) set_ &= ~(1ull << bit);
  return true;
}

siginfo_t* PendingSignals::FindTimerSignal(int signo, int timerid) {
  if (signo < 1 || signo > kNumSignals || !(set_ & SigBit(signo))) return nullptr;
  for (siginfo_t& info : queues_[static_cast<size_t>(signo - 1)]) {
    if (info.si_code == SI_TIMER && info.si_timerid == timerid) return &info;
  }
  return nullptr;
}

void PendingSignals::Discard(uint64_t set) {
  uint64_t s = set_ & set;
  while (s != 0) {
    const int bit = __builtin_ctzll(s);
    s &= s - 1;
    queues_[static_cast<size_t>(bit)].clear();
  }
  set_ &= ~set;
}

}  // namespace sentry::kernel
