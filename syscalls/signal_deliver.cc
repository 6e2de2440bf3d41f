// Signal syscalls beyond state keeping: rt_sigreturn, waiting for signals
// (pause, rt_sigsuspend, rt_sigtimedwait), pending sets, queueing with
// siginfo, restart_syscall; and the thread-only clone until the processes
// code's clone(2) takes over (it calls Kernel::CloneThread the same way).
#include <linux/sched.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::kUnblockable;
using sentry::kernel::SigBit;

}  // namespace

Result<uint64_t> RtSigreturn(Task& t, const SyscallArgs&) { return sentry::kernel::SigReturn(t); }

Result<uint64_t> RtSigpending(Task& t, const SyscallArgs& args) {
  // kernel/signal.c do_sigpending: pending (thread | group) and blocked.
  if (args.U64(1) > kSigsetSize) return Errno::kEINVAL;
  const uint64_t set = t.PendingSet() & t.signal_mask();
  TRY(t.mm().CopyOutBytes(args.U64(0), {reinterpret_cast<const uint8_t*>(&set), args.U64(1)}));
  return 0;
}

Result<uint64_t> Pause(Task& t, const SyscallArgs&) {
  sentry::kernel::Waiter w(t);
  while (!t.HasPendingSignal()) (void)t.Block(w, std::nullopt);
  return Errno::kERESTARTNOHAND;
}

Result<uint64_t> RtSigsuspend(Task& t, const SyscallArgs& args) {
  if (args.U64(1) != kSigsetSize) return Errno::kEINVAL;
  const uint64_t mask = TRY(t.mm().CopyIn(args.Ptr<uint64_t>(0)));
  // The handler's frame saves the old mask; delivery puts it back if no
  // handler runs (set_restore_sigmask).
  t.saved_signal_mask = t.signal_mask();
  t.set_signal_mask(mask);
  sentry::kernel::Waiter w(t);
  while (!t.HasPendingSignal()) (void)t.Block(w, std::nullopt);
  return Errno::kERESTARTNOHAND;
}

Result<uint64_t> RtSigtimedwait(Task& t, const SyscallArgs& args) {
  if (args.U64(3) != kSigsetSize) return Errno::kEINVAL;
  const uint64_t set = TRY(t.mm().CopyIn(args.Ptr<uint64_t>(0))) & ~kUnblockable;
  const auto info_ptr = args.Ptr<siginfo_t>(1);
  std::optional<absl::Time> deadline;
  if (args.U64(2) != 0) {
    const timespec ts = TRY(t.mm().CopyIn(args.Ptr<timespec>(2)));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  // do_sigtimedwait(): the waited-for signals are unblocked while waiting,
  // so that their arrival wakes us (and group senders may pick us).
  siginfo_t info{};
  bool got = t.DequeueSignal(set, &info);
  if (!got && deadline != absl::Now() - absl::InfiniteDuration()) {
    const uint64_t old = t.signal_mask();
    // real_blocked: a signal blocked before the wait is still not ignored
    // at generation (sig_ignored()), so a default-ignored SIGCHLD arrives.
    t.real_blocked.store(old);
    t.set_signal_mask(old & ~set);
    sentry::kernel::Waiter w(t);
    while (!(got = t.DequeueSignal(set, &info))) {
      auto r = t.Block(w, deadline);
      if (!r.ok() && r.error() == Errno::kETIMEDOUT) break;
      if (!r.ok() && (t.PendingSet() & ~t.signal_mask() & ~set) != 0) break;  // another signal: EINTR
    }
    t.set_signal_mask(old);
    t.real_blocked.store(0);
    if (!got) {
      const bool timed_out = deadline.has_value() && absl::Now() >= *deadline;
      return timed_out ? Errno::kEAGAIN : Errno::kEINTR;
    }
  }
  if (!got) return Errno::kEAGAIN;
  if (!info_ptr.null()) TRY(t.mm().CopyOut(info_ptr, info));
  return static_cast<uint64_t>(info.si_signo);
}

namespace {

// kernel/signal.c do_rt_sigqueueinfo: a process may forge only negative
// si_codes (SI_QUEUE & co) when signalling someone else; SI_TKILL never.
Result<siginfo_t> QueueInfo(Task& t, int sig, UserPtr<siginfo_t> p, int32_t target_pid) {
  if (sig < 1 || sig > 64) return Errno::kEINVAL;
  siginfo_t info = TRY(t.mm().CopyIn(p));
  if ((info.si_code >= 0 || info.si_code == SI_TKILL) && target_pid != t.pid()) return Errno::kEPERM;
  info.si_signo = sig;
  return info;
}

}  // namespace

Result<uint64_t> RtSigqueueinfo(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const siginfo_t info = TRY(QueueInfo(t, args.I32(1), args.Ptr<siginfo_t>(2), pid));
  if (pid == t.pid()) {
    if (!sentry::kernel::SendToGroup(t.thread_group(), info)) return Errno::kEAGAIN;
    return 0;
  }
  if (pid <= 0) return Errno::kESRCH;  // kill_proc_info(): one process only
  auto target = t.kernel().FindProcess(pid);
  if (target == nullptr) return Errno::kESRCH;
  TRY(t.kernel().SignalProcess(t, *target, info));
  return 0;
}

Result<uint64_t> RtTgsigqueueinfo(Task& t, const SyscallArgs& args) {
  const int32_t tgid = args.I32(0);
  const int32_t tid = args.I32(1);
  if (tgid <= 0 || tid <= 0) return Errno::kEINVAL;
  const siginfo_t info = TRY(QueueInfo(t, args.I32(2), args.Ptr<siginfo_t>(3), tgid));
  if (tgid == t.pid()) {
    TRY(sentry::kernel::SendToTid(t.thread_group(), tid, info));
    return 0;
  }
  TRY(t.kernel().SignalThread(t, tgid, tid, info));
  return 0;
}

Result<uint64_t> RestartSyscall(Task& t, const SyscallArgs&) {
  auto fn = std::exchange(t.restart_block, nullptr);
  if (fn == nullptr) return Errno::kEINTR;  // do_no_restart_syscall
  return fn(t);
}

}  // namespace syscalls
