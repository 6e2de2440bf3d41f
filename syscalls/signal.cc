// Signal state: actions, masks, the alternate stack. Delivery is in
// sentry/kernel/signal_deliver.cc; waiting and sigreturn in
// syscalls/signal_deliver.cc.
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/signal_frame.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr uint64_t kUnblockable = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));

}  // namespace

Result<uint64_t> RtSigaction(Task& t, const SyscallArgs& args) {
  const int32_t sig = args.I32(0);
  const auto act_ptr = args.Ptr<sentry::kernel::KSigaction>(1);
  const auto old_ptr = args.Ptr<sentry::kernel::KSigaction>(2);
  if (args.U64(3) != kSigsetSize) return Errno::kEINVAL;
  if (sig < 1 || sig > 64) return Errno::kEINVAL;
  // kernel/signal.c do_sigaction: SIGKILL/SIGSTOP actions cannot change.
  if (!act_ptr.null() && (sig == SIGKILL || sig == SIGSTOP)) return Errno::kEINVAL;
  sentry::kernel::KSigaction act{};
  if (!act_ptr.null()) {
    act = TRY(t.mm().CopyIn(act_ptr));
    act.mask &= ~kUnblockable;
  }
  sentry::kernel::KSigaction old{};
  {
    auto& sh = t.sighand();
    absl::MutexLock l(&sh.mu);
    old = sh.actions[static_cast<size_t>(sig - 1)];
    if (!act_ptr.null()) sh.actions[static_cast<size_t>(sig - 1)] = act;
  }
  if (!old_ptr.null()) TRY(t.mm().CopyOut(old_ptr, old));
  return 0;
}

Result<uint64_t> RtSigprocmask(Task& t, const SyscallArgs& args) {
  const int how = args.I32(0);
  const auto set_ptr = args.Ptr<uint64_t>(1);
  const auto old_ptr = args.Ptr<uint64_t>(2);
  if (args.U64(3) != kSigsetSize) return Errno::kEINVAL;
  const uint64_t old = t.signal_mask();
  if (!set_ptr.null()) {
    const uint64_t set = TRY(t.mm().CopyIn(set_ptr));
    switch (how) {
      case SIG_BLOCK: t.set_signal_mask(old | set); break;
      case SIG_UNBLOCK: t.set_signal_mask(old & ~set); break;
      case SIG_SETMASK: t.set_signal_mask(set); break;
      default: return Errno::kEINVAL;
    }
  }
  if (!old_ptr.null()) TRY(t.mm().CopyOut(old_ptr, old));
  return 0;
}

Result<uint64_t> Sigaltstack(Task& t, const SyscallArgs& args) {
  const auto ss_ptr = args.Ptr<sentry::kernel::KStackT>(0);
  const auto old_ptr = args.Ptr<sentry::kernel::KStackT>(1);
  const uint64_t sp = t.regs().regs.rsp;
  sentry::kernel::KStackT old{};
  old.ss_sp = t.altstack_sp;
  old.ss_size = t.altstack_size;
  old.ss_flags = sentry::kernel::AltStackFlags(t, sp) | (t.altstack_flags & sentry::kernel::kSsAutodisarm);
  if (!ss_ptr.null()) {
    const sentry::kernel::KStackT ss = TRY(t.mm().CopyIn(ss_ptr));
    TRY(sentry::kernel::SetAltStack(t, ss, sp));
  }
  if (!old_ptr.null()) TRY(t.mm().CopyOut(old_ptr, old));
  return 0;
}

}  // namespace syscalls

namespace syscalls {

// Sending: the task registry (sentry/kernel/process.cc) finds the targets,
// the signals code (sentry/kernel/signal.h) queues on them.
Result<uint64_t> Kill(Task& t, const SyscallArgs& args) {
  TRY(t.kernel().Kill(t, args.I32(0), args.I32(1)));
  return 0;
}

Result<uint64_t> Tkill(Task& t, const SyscallArgs& args) {
  const int32_t tid = args.I32(0);
  if (tid <= 0) return Errno::kEINVAL;
  TRY(t.kernel().KillThread(t, -1, tid, args.I32(1)));
  return 0;
}

Result<uint64_t> Tgkill(Task& t, const SyscallArgs& args) {
  const int32_t tgid = args.I32(0);
  const int32_t tid = args.I32(1);
  if (tgid <= 0 || tid <= 0) return Errno::kEINVAL;
  TRY(t.kernel().KillThread(t, tgid, tid, args.I32(2)));
  return 0;
}

}  // namespace syscalls
