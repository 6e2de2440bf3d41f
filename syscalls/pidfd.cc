// pidfd_open, pidfd_send_signal, pidfd_getfd (kernel/pid.c, kernel/signal.c)
// within the sandbox; the pidfd file is sentry/kernel/pidfd.h.
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/signal.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::Credentials;
using sentry::kernel::ThreadGroup;

// ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) for pidfd_getfd: the
// same process, or all of the target's uids and gids equal to the caller's
// real ones and the target dumpable, or CAP_SYS_PTRACE.
bool MayAccess(Task& t, ThreadGroup& target, const Credentials& tc) {
  return &target == &t.thread_group() || MayPtraceRealCreds(t.creds(), tc, target.dumpable.load() == 1);
}

}  // namespace

Result<uint64_t> PidfdOpen(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const uint32_t flags = args.U32(1);
  if (flags & ~static_cast<uint32_t>(O_NONBLOCK)) return Errno::kEINVAL;  // PIDFD_NONBLOCK
  if (pid <= 0) return Errno::kEINVAL;
  std::shared_ptr<ThreadGroup> tg = t.kernel().FindProcess(pid);
  if (tg == nullptr || tg->exit_state.load() == 2) {
    // A thread that does not lead its group: EINVAL, as Linux without
    // PIDFD_THREAD.
    if (t.kernel().WithTask(pid, [](Task&) {})) return Errno::kEINVAL;
    return Errno::kESRCH;
  }
  auto f = std::make_shared<sentry::kernel::PidFd>(std::move(tg), static_cast<int>(flags));
  const int fd = TRY(t.fds().Install(std::move(f), /*cloexec=*/true));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> PidfdSendSignal(Task& t, const SyscallArgs& args) {
  const int sig = args.I32(1);
  const auto info_ptr = args.Ptr<siginfo_t>(2);
  // PIDFD_SIGNAL_THREAD / _THREAD_GROUP / _PROCESS_GROUP (Linux 6.9), at
  // most one of them.
  constexpr uint32_t kThread = 1, kProcessGroup = 4;
  const uint32_t flags = args.U32(3);
  if ((flags & ~7u) != 0 || __builtin_popcount(flags) > 1) return Errno::kEINVAL;
  auto pidfd = TRY(sentry::kernel::GetPidFd(t, args.I32(0)));
  if (sig < 0 || sig > 64) return Errno::kEINVAL;
  ThreadGroup& target = pidfd->thread_group();
  siginfo_t info{};
  if (!info_ptr.null()) {
    info = TRY(t.mm().CopyIn(info_ptr));
    if (info.si_signo != sig) return Errno::kEINVAL;
    // Only the process itself may forge kernel or kill() codes.
    if (&target != &t.thread_group() && (info.si_code >= 0 || info.si_code == SI_TKILL)) return Errno::kEPERM;
  } else {
    info = sentry::kernel::UserSignalInfo(sig, (flags & kThread) ? SI_TKILL : SI_USER, t);
  }
  if (flags & kProcessGroup) {
    if (target.exit_state.load() != 0) return Errno::kESRCH;
    TRY(t.kernel().Kill(t, -target.pgid.load(), sig));
  } else if (flags & kThread) {
    TRY(t.kernel().SignalThread(t, target.pid, target.pid, info));
  } else {
    TRY(t.kernel().SignalProcess(t, target, info));
  }
  return 0;
}

Result<uint64_t> PidfdGetfd(Task& t, const SyscallArgs& args) {
  if (args.U32(2) != 0) return Errno::kEINVAL;
  auto pidfd = TRY(sentry::kernel::GetPidFd(t, args.I32(0)));
  ThreadGroup& target = pidfd->thread_group();
  std::shared_ptr<sentry::kernel::FdTable> fds = t.kernel().ProcessFds(target.pid);
  std::shared_ptr<const Credentials> tc;
  t.kernel().ForEachTask([&](Task& x) {
    if (tc == nullptr && &x.thread_group() == &target) tc = x.CredsSnapshot();
  });
  if (fds == nullptr || tc == nullptr || target.exit_state.load() != 0) return Errno::kESRCH;
  if (!MayAccess(t, target, *tc)) return Errno::kEPERM;
  std::shared_ptr<fs::FileDescription> f = TRY(fds->Get(args.I32(1)));
  const int fd = TRY(t.fds().Install(std::move(f), /*cloexec=*/true));
  return static_cast<uint64_t>(fd);
}

}  // namespace syscalls
