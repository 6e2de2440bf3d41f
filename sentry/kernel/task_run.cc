// The task loop: run app code on the platform, dispatch its syscalls, page
// in its faults, deliver signals. One sentry thread per task.
#include <signal.h>

#include "base/logging.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread.h"
#include "syscalls/syscall.h"

namespace sentry::kernel {
namespace {

// x86 page-fault error code bits (arch/x86/include/asm/trap_pf.h).
constexpr uint64_t kPfProt = 1, kPfWrite = 2, kPfUser = 4, kPfInstr = 0x10;
constexpr uint64_t kTrapPageFault = 14;

// A fault the memory manager could not resolve: SIGSEGV with SEGV_MAPERR
// (no mapping) or SEGV_ACCERR (wrong protection), or SIGBUS (the file
// behind the mapping failed), as Linux's do_user_addr_fault.
void SignalFault(Task& t, const platform::StopInfo& s, base::Errno err) {
  siginfo_t info{};
  info.si_addr = reinterpret_cast<void*>(s.fault_addr);
  bool mapped = false;
  for (const auto& v : t.mm().Vmas()) {
    if (s.fault_addr >= v.start && s.fault_addr < v.end) mapped = true;
  }
  if (err == base::Errno::kEFAULT) {
    info.si_signo = SIGSEGV;
    info.si_code = mapped ? SEGV_ACCERR : SEGV_MAPERR;
  } else {
    info.si_signo = SIGBUS;
    info.si_code = BUS_ADRERR;
  }
  logging::Info("task {}: {} at {:#x} (access {}) rip {:#x}", t.tid(), info.si_signo == SIGSEGV ? "SIGSEGV" : "SIGBUS",
                s.fault_addr, s.fault_access, t.regs().regs.rip);
  t.last_fault.signo = info.si_signo;
  t.last_fault.trapno = kTrapPageFault;
  t.last_fault.cr2 = s.fault_addr;
  t.last_fault.err = kPfUser | (mapped ? kPfProt : 0) | (s.fault_access == platform::kProtWrite ? kPfWrite : 0) |
                     (s.fault_access == platform::kProtExec ? kPfInstr : 0);
  ForceSignal(t, info);
}

// A synchronous signal from the app's own instruction, with the host's
// siginfo (si_code, si_addr are the app's: FPE_INTDIV, ILL_ILLOPN,
// TRAP_BRKPT with rip after the int3, ...).
void SignalTrap(Task& t, const platform::StopInfo& s) {
  logging::Info("task {}: signal {} (code {}) at rip {:#x}", t.tid(), s.signo, s.siginfo.si_code,
                t.regs().regs.rip);
  siginfo_t info = s.siginfo;
  info.si_signo = s.signo;
  t.last_fault.signo = s.signo;
  t.last_fault.err = 0;
  t.last_fault.cr2 = 0;
  switch (s.signo) {
    case SIGFPE: t.last_fault.trapno = 0; break;   // X86_TRAP_DE
    case SIGTRAP: t.last_fault.trapno = 3; break;  // X86_TRAP_BP
    case SIGILL: t.last_fault.trapno = 6; break;   // X86_TRAP_UD
    default: t.last_fault.trapno = 13; break;      // X86_TRAP_GP
  }
  ForceSignal(t, info);
}

}  // namespace

int Kernel::RunTask(Task& t) {
  t.BindToCurrentThread();
  RegisterThread(t);
  while (DeliverSignals(t)) {
    // Shared file pages a file gave up leave this address space before app
    // code runs again (sentry/mm/file_pages.h).
    t.mm().ProcessInvalidations();
    platform::AddressSpace* as = t.mm().address_space();
    BeginApp(t);
    auto stop = t.context().Switch(*as, t.regs());
    EndApp(t, stop.ok() ? stop.value().usage : platform::AppUsage{});
    if (t.retired_mm != nullptr) [[unlikely]] t.retired_mm.reset();  // see Kernel::Exec
    if (!stop.ok()) {
      logging::Warn("task {}: platform switch failed: {}; killing it", t.tid(), base::ErrnoName(stop.error()));
      StartGroupExit(t, KilledStatus(SIGKILL));
      t.RequestExit(KilledStatus(SIGKILL), true);
      break;
    }
    platform::StopInfo& s = stop.value();
    switch (s.reason) {
      case platform::StopReason::kSyscall:
        syscalls::Dispatch(t);
        break;
      case platform::StopReason::kFault: {
        if (s.fault_access == 0) {
          // The platform left the access type to us: the VMAs tell it in
          // the common cases; otherwise ask (the ptrace fault probe).
          s.fault_access = t.mm().InferFaultAccess(s.fault_addr, t.regs().regs.rip, s.siginfo.si_signo,
                                                   s.siginfo.si_code);
          if (s.fault_access == 0) {
            auto a = t.context().FaultAccess();
            if (!a.ok() && a.error() == base::Errno::kEINVAL) {
              s.reason = platform::StopReason::kSignal;  // no page fault after all
              SignalTrap(t, s);
              break;
            }
            s.fault_access = a.ok() ? a.value() : platform::kProtRead;
          }
        }
        auto r = t.mm().HandleFault(s.fault_addr, s.fault_access);
        if (!r.ok() && r.error() == base::Errno::kENOMEM) {
          // Touching lazily committed memory past --total-memory: killed,
          // as by Linux's OOM killer (a memory cgroup's limit).
          logging::Warn("task {}: out of memory (--total-memory) at {:#x}: killed", t.tid(), s.fault_addr);
          StartGroupExit(t, KilledStatus(SIGKILL));
          t.RequestExit(KilledStatus(SIGKILL), true);
          break;
        }
        if (!r.ok()) SignalFault(t, s, r.error());
        // A fault the sentry served counts as a minor one (ru_minflt).
        if (r.ok()) t.usage.minflt.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case platform::StopReason::kSignal:
        // A synchronous signal raised by the app's own instruction; other
        // host signals (nothing on the host may signal the stub) are dropped.
        if (s.signo == SIGILL || s.signo == SIGFPE || s.signo == SIGTRAP || s.signo == SIGBUS ||
            s.signo == SIGSEGV) {
          SignalTrap(t, s);
        }
        break;
      case platform::StopReason::kInterrupted:
        break;
      case platform::StopReason::kDied:
        logging::Warn("task {}: the platform lost the app (killed from outside?)", t.tid());
        StartGroupExit(t, KilledStatus(SIGKILL));
        t.RequestExit(KilledStatus(SIGKILL), true);
        break;
    }
  }
  FoldTaskTimes(t);
  return ExitThread(t);
}

}  // namespace sentry::kernel
