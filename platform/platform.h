// The platform interface (invariant 3): the only thing the rest of the
// sandbox knows about how app code runs. Nothing outside platform/ names
// ptrace, seccomp or KVM.
//
// An AddressSpace is the app's view of memory: ranges of a host file (the
// sentry's memory file, or a file the gofer donated) mapped at app addresses.
// A Context runs app code on some AddressSpace from a saved register state
// until the app makes a syscall, faults, receives a host signal, or is
// interrupted by another sentry thread.
//
// Threading: the ptrace platform requires that an AddressSpace and the
// Contexts using it are driven from the sentry thread that created them
// (ptrace requests are per tracer thread). Interrupt() is the exception: any
// thread may call it.
#ifndef PLATFORM_PLATFORM_H_
#define PLATFORM_PLATFORM_H_

#include <signal.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/result.h"

namespace platform {

using base::Errno;
using base::Result;

// Memory protections, as PROT_* bits.
enum Prot : int { kProtNone = 0, kProtRead = 1, kProtWrite = 2, kProtExec = 4 };

// x86-64 register state of one app thread. `regs` is what the app sees on
// syscall entry: orig_rax is the syscall number, rax is -ENOSYS. The sentry
// writes the result into rax before the next Switch.
struct Registers {
  user_regs_struct regs{};
};

// Registers to start app code at `rip` with stack `rsp`: Linux's x86-64 user
// segment selectors (__USER_CS 0x33, __USER_DS 0x2b; the kernel rejects
// selectors with RPL != 3, so zeroed registers cannot be switched to) and
// eflags with only IF (and the reserved bit 1) set, as after execve.
inline Registers InitialRegisters(uint64_t rip, uint64_t rsp) {
  Registers r;
  r.regs.rip = rip;
  r.regs.rsp = rsp;
  r.regs.cs = 0x33;
  r.regs.ss = 0x2b;
  r.regs.eflags = 0x202;
  r.regs.orig_rax = ~0ULL;
  return r;
}

// Full FP/SSE/AVX state in XSAVE layout (as PTRACE_GETREGSET NT_X86_XSTATE).
// ptrace wants the host's whole XSAVE size, dynamic features included: with
// AMX that is 11008 bytes (TILEDATA alone is 8 KiB), so the buffer is 16 KiB.
struct FpState {
  alignas(64) uint8_t bytes[16384];
  size_t size = 0;  // valid bytes
};

enum class StopReason {
  kSyscall,      // the app executed `syscall`; regs.orig_rax is the number
  kFault,        // memory fault: fault_addr, fault_access
  kSignal,       // a host signal other than a fault arrived for the app (signo)
  kInterrupted,  // Interrupt() was called
  kDied,         // the stub died under us (host OOM kill, SIGKILL from outside)
};

// What the app's thread used on the host during one Switch, as far as the
// platform can tell: CPU time in user and kernel mode (the host kernel's
// page faults and stop handling for the app; never the sentry's own time,
// including any spinning while it waited for the app), page faults the host
// resolved itself, involuntary context switches, and the high-water RSS of
// the address space in KiB (0: unknown). All zero if the platform cannot
// measure. The ptrace platform measures per host process while one thread
// runs app code at a time, and asks the host for a thread's own time when
// several did (ptrace/README.md, "App CPU time").
struct AppUsage {
  int64_t user_ns = 0, sys_ns = 0;
  uint64_t minflt = 0, majflt = 0, nivcsw = 0;
  uint64_t maxrss_kb = 0;
  // Wall time the sentry thread was busy (resuming, polling) while the app
  // ran: its CPU time there is not the task's system time (it would count
  // the run twice, and CPU time would outgrow wall time).
  int64_t tracer_spin_ns = 0;
};

struct StopInfo {
  StopReason reason = StopReason::kSyscall;
  uint64_t fault_addr = 0;
  int fault_access = 0;  // exactly one of kProtRead / kProtWrite / kProtExec
  siginfo_t siginfo{};   // for kFault and kSignal
  int signo = 0;
  AppUsage usage;  // since the previous stop
};

class Context;

class AddressSpace {
 public:
  virtual ~AddressSpace() = default;
  // Maps [addr, addr+len) to `host_fd` at `offset` with `prot`, MAP_SHARED,
  // replacing whatever was there. addr, len and offset are page aligned and
  // the range lies below MaxUserAddress() (kEINVAL otherwise). host_fd is
  // borrowed for the call only. The ptrace platform accepts only the memory
  // file for now (kEINVAL for any other fd). Other errors are the host's
  // (kENOMEM, ...) or kESRCH if the address space's host process is gone.
  virtual Result<void> Map(uint64_t addr, uint64_t len, int prot, int host_fd, uint64_t offset) = 0;
  // Removes [addr, addr+len); unmapped parts are fine. Same range rules.
  virtual Result<void> Unmap(uint64_t addr, uint64_t len) = 0;
  // Changes protection of a range (kENOMEM if parts are unmapped, as
  // mprotect(2)). Same range rules.
  virtual Result<void> Protect(uint64_t addr, uint64_t len, int prot) = 0;
  // Highest app address (exclusive) that may be mapped; the stub's own code
  // lives above it.
  virtual uint64_t MaxUserAddress() const = 0;
  // Lets `c` (fresh, never switched) run this address space from another
  // sentry thread: a new app thread. Call on a thread that drives this
  // address space; c's first Switch may then come from any one thread, which
  // drives c from then on (and may then Map/Unmap/Protect too). ptrace: a new
  // stub thread (kEAGAIN when too many). c must outlive nothing: destroying
  // it on its driving thread releases the host thread.
  virtual Result<void> AddContext(Context& c) {
    (void)c;
    return {};
  }
};

class Context {
 public:
  virtual ~Context() = default;
  // Runs the app on `as` from `regs` until it stops; `regs` holds the state
  // at the stop (for kFault: at the faulting instruction, which runs again
  // on the next Switch). The stop's signal is never delivered on the host.
  // kDied is returned once, when the host process is found dead; later calls
  // fail with kESRCH. Other errors: kEPERM (called from a thread that may
  // not drive `as`), kEAGAIN (ptrace: a second Context on one AddressSpace
  // that was not prepared with AddressSpace::AddContext), host failures. The host kernel never restarts a syscall on
  // its own: whatever the sentry leaves in rax is what the app sees.
  virtual Result<StopInfo> Switch(AddressSpace& as, Registers& regs) = 0;
  // Makes a running or about-to-run Switch return kInterrupted soon. Any
  // thread; async-signal-safe is not required.
  virtual void Interrupt() = 0;
  // FP state of the app thread as of the last stop, and setting it for the
  // next Switch (signal frames).
  virtual Result<void> GetFpState(FpState& out) = 0;
  virtual Result<void> SetFpState(const FpState& in) = 0;
  // A kFault stop may report fault_access 0 when the platform did not pay
  // to learn it (ptrace: Options::lazy_fault_access; the caller can often
  // tell from its own mappings). FaultAccess() learns it then: call it
  // right after that Switch, before the address space is changed from this
  // thread (ptrace: an injected syscall discards the pending fault).
  // kEINVAL: no fault is pending, or it was no page fault after all (report
  // StopInfo::siginfo as a signal then).
  virtual Result<int> FaultAccess() { return Errno::kENOSYS; }
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string_view name() const = 0;
  // A fresh empty address space. The calling thread becomes its driver.
  virtual Result<std::unique_ptr<AddressSpace>> NewAddressSpace() = 0;
  // A fresh empty address space that is to replace `old` (execve), on the
  // thread that drives `old`. If `old` is destroyed on this thread before the
  // new one is first switched to, the platform may reuse its host resources
  // (ptrace: the stub process, emptied) instead of making new ones; a
  // failure to get them surfaces from the first Switch then.
  virtual Result<std::unique_ptr<AddressSpace>> NewReplacementAddressSpace(AddressSpace& old) {
    (void)old;
    return NewAddressSpace();
  }
  // A context for the calling sentry thread.
  virtual Result<std::unique_ptr<Context>> NewContext() = 0;
};

// "ptrace" and "systrap" work; "kvm" gives a clear error in `*why`.
// `memory_fd` is the memory file; stubs inherit only it.
Result<std::unique_ptr<Platform>> New(std::string_view name, int memory_fd, std::string* why);

}  // namespace platform

#endif  // PLATFORM_PLATFORM_H_
