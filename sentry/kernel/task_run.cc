// The task loop: run app code on the platform, dispatch its syscalls, page
// in its faults, act on signals. One sentry thread per task.
#include <signal.h>

#include "base/logging.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "syscalls/syscall.h"

namespace sentry::kernel {
namespace {

enum class DefaultAction { kTerminate, kCore, kIgnore, kStop, kContinue };

// signal(7), "Standard signals".
DefaultAction DefaultActionOf(int signo) {
  switch (signo) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGCONT:
      return DefaultAction::kContinue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return DefaultAction::kStop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return DefaultAction::kCore;
    default:
      return DefaultAction::kTerminate;
  }
}

// Wait status of a death by `signo` (include/uapi/linux/wait.h). The core
// bit (0x80) is set only when a core file was written; the sandbox never
// writes one (RLIMIT_CORE is 0), so it stays clear.
int KilledStatus(int signo) { return signo & 0x7f; }

// Acts on one signal with no handler delivery yet (TODO(#5)): returns true
// if the task must die.
bool ActOnSignal(Task& t, int signo) {
  KSigaction act;
  {
    auto& sh = t.sighand();
    absl::MutexLock l(&sh.mu);
    act = sh.actions[static_cast<size_t>(signo - 1)];
  }
  if (signo != SIGKILL && act.handler == 1 /* SIG_IGN */) return false;
  if (signo != SIGKILL && act.handler != 0 /* SIG_DFL */) {
    logging::Warn("signal {} has a handler; delivery to handlers is not implemented yet (#5): dropped", signo);
    return false;
  }
  switch (DefaultActionOf(signo)) {
    case DefaultAction::kTerminate:
    case DefaultAction::kCore:
      t.RequestExit(KilledStatus(signo), /*group=*/true);
      return true;
    default:
      return false;  // TODO(#5): job control stops.
  }
}

}  // namespace

int Kernel::RunTask(Task& t) {
  while (!t.exiting()) {
    if (int signo = t.DequeueSignal(); signo != 0) {
      if (ActOnSignal(t, signo)) break;
      continue;
    }
    platform::AddressSpace* as = t.mm().address_space();
    auto stop = t.context().Switch(*as, t.regs());
    if (!stop.ok()) {
      logging::Warn("task {}: platform switch failed: {}; killing it", t.tid(), base::ErrnoName(stop.error()));
      t.RequestExit(KilledStatus(SIGKILL), true);
      break;
    }
    const platform::StopInfo& s = stop.value();
    switch (s.reason) {
      case platform::StopReason::kSyscall:
        syscalls::Dispatch(t);
        break;
      case platform::StopReason::kFault: {
        auto r = t.mm().HandleFault(s.fault_addr, s.fault_access);
        if (!r.ok()) {
          logging::Info("task {}: SIGSEGV at {:#x} (access {}) rip {:#x}", t.tid(), s.fault_addr, s.fault_access,
                        t.regs().regs.rip);
          // TODO(#5): deliver SIGSEGV to a handler with siginfo.
          ActOnSignal(t, SIGSEGV);
        }
        break;
      }
      case platform::StopReason::kSignal:
        // A synchronous signal raised by the app's own instruction (SIGILL,
        // SIGFPE, SIGTRAP, SIGBUS) or an asynchronous host signal.
        if (s.signo == SIGILL || s.signo == SIGFPE || s.signo == SIGTRAP || s.signo == SIGBUS ||
            s.signo == SIGSEGV) {
          logging::Info("task {}: signal {} at rip {:#x}", t.tid(), s.signo, t.regs().regs.rip);
          ActOnSignal(t, s.signo);
        }
        break;
      case platform::StopReason::kInterrupted:
        break;
      case platform::StopReason::kDied:
        logging::Warn("task {}: the platform lost the app (killed from outside?)", t.tid());
        t.RequestExit(KilledStatus(SIGKILL), true);
        break;
    }
  }
  return t.exit_status();
}

}  // namespace sentry::kernel
