// Signal state: actions, masks, the alternate stack. Delivery to handlers
// comes with the task issue (#5); until then a pending signal with a
// terminating default action ends the process (sentry/kernel/task_run.cc).
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr uint64_t kUnblockable = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));
constexpr uint64_t kSigsetSize = 8;
constexpr int kSsAutodisarm = static_cast<int>(1u << 31);  // include/uapi/linux/signal.h
constexpr size_t kMinSigstkSz = 2048;                       // the kernel's MINSIGSTKSZ

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
  const auto ss_ptr = args.Ptr<stack_t>(0);
  const auto old_ptr = args.Ptr<stack_t>(1);
  stack_t old{};
  old.ss_sp = reinterpret_cast<void*>(t.altstack_sp);
  old.ss_size = t.altstack_size;
  old.ss_flags = t.altstack_flags;
  if (!ss_ptr.null()) {
    const stack_t ss = TRY(t.mm().CopyIn(ss_ptr));
    // kernel/signal.c do_sigaltstack: only SS_DISABLE and kSsAutodisarm.
    const int mode = ss.ss_flags & ~kSsAutodisarm;
    if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) return Errno::kEINVAL;
    if (mode == SS_DISABLE) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    } else {
      if (ss.ss_size < kMinSigstkSz) return Errno::kENOMEM;
      t.altstack_sp = reinterpret_cast<uint64_t>(ss.ss_sp);
      t.altstack_size = ss.ss_size;
      t.altstack_flags = ss.ss_flags & kSsAutodisarm;
    }
  }
  if (!old_ptr.null()) TRY(t.mm().CopyOut(old_ptr, old));
  return 0;
}

}  // namespace syscalls

namespace syscalls {

// Sending goes through the task registry (sentry/kernel/process.cc).
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
