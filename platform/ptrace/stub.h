// The stub process: a clean, empty host process that runs app code under
// ptrace. Internal to platform/ptrace/.
//
// Layout of a stub's address space once it has stopped for its tracer:
//
//   [0, kStubBase)                         app mappings (MaxUserAddress())
//   [kStubBase, kStubBase + code size)     stub code, r-x (moved here by mremap
//                                          from the .text.ptrace_stub section)
//   [code end, code end + kStubDataSize)   rw- data: the sigaltstack on which
//                                          the fault probe handler runs
//   everything else                        unmapped (no sentry memory, no
//                                          vdso/vvar; the fixed [vsyscall] page
//                                          cannot be removed by munmap)
#ifndef PLATFORM_PTRACE_STUB_H_
#define PLATFORM_PTRACE_STUB_H_

#include <sys/types.h>
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"

#include "base/result.h"

namespace platform::ptrace {

using base::Errno;
using base::Result;

// Where the stub's code lands, near the top of the 47-bit user space. App
// mappings must stay below it.
inline constexpr uint64_t kStubBase = 0x7fffff000000;
// Linux's TASK_SIZE_MAX for 4-level paging: the end of user space.
inline constexpr uint64_t kUserTop = 0x7ffffffff000;
inline constexpr uint64_t kStubDataSize = 64 * 1024;

// Addresses inside the stub, valid in every stub process.
uint64_t StubSyscallAddr();     // `syscall; int3` used for injection
uint64_t StubProbeTrapAddr();   // rip after the probe handler's int3
uint64_t StubEnd();             // end of stub code + data (exclusive)
// `syscall`, then the 4 words at rsi into rbx, rdx, r8, r9, then int3 (rip =
// StubSyscallLoadTrapAddr()): a syscall's output without reading stub memory.
uint64_t StubSyscallLoadAddr();
uint64_t StubSyscallLoadTrapAddr();
// `syscall` of an injected clone: the child (rax 0) makes [r12, r12+r13)
// its sigaltstack and pause()s until seized; the parent hits an int3 and
// stops with rip = StubCloneTrapAddr().
uint64_t StubCloneAddr();
uint64_t StubCloneTrapAddr();
// Batched syscalls (StubProcess::InjectBatch): the sentry writes up to
// kBatchMax entries at StubBatchBuffer() (the bottom 8 KiB of the main
// thread's sigaltstack, far below any probe frame) with process_vm_writev;
// the code at StubBatchAddr() runs them in order until one fails and traps
// at StubBatchTrapAddr() with r14 = entries that succeeded, rax = the last
// result.
struct BatchEntry {
  uint64_t nr = 0;
  uint64_t args[6] = {};
  uint64_t unused = 0;
};
inline constexpr size_t kBatchMax = 128;
uint64_t StubBatchAddr();
uint64_t StubBatchTrapAddr();
uint64_t StubBatchBuffer();
// systrap (platform/systrap/): the app thread start run by an injected
// clone (child: r12 = its slot; stops first at the ud2 at
// SystrapReadyAddr(); the parent traps at SystrapCloneTrapAddr()), the
// signal handler, and the rt_sigreturn restorer (SA_RESTORER).
uint64_t SystrapCloneAddr();
uint64_t SystrapCloneTrapAddr();
uint64_t SystrapReadyAddr();
uint64_t SystrapHandlerAddr();
uint64_t StubRestorerAddr();
// Per-thread sigaltstacks of later stub threads, above StubEnd().
inline constexpr uint64_t kThreadAltstackSize = 32 * 1024;

// Fault details gathered by the probe handler (from the signal frame's
// uc_mcontext: err, trapno, cr2), left in rax, rbx, rcx at the probe's int3.
inline constexpr uint64_t kPfWrite = 1 << 1;  // x86 page-fault error code W
inline constexpr uint64_t kPfInstr = 1 << 4;  // I/D: instruction fetch

// A new stub's pid, seized by the calling thread, and its register state at
// that stop (a template with valid segment selectors).
struct NewStub {
  pid_t pid = -1;
  user_regs_struct init_regs{};
};

// The stub factory: a small process forked from the sentry when the platform
// is created (in runsc boot: before the sentry's seccomp filter and before
// any app data exist), which forks stubs on request over a socket pair and
// keeps `pool` of them ready. So creating an address space does not fork the
// (big, multithreaded) sentry, and stubs do not inherit the sentry's filter
// (which therefore refuses executable mappings). The factory holds only the
// memory file and its socket, dies with the thread that started it
// (PR_SET_PDEATHSIG), and its ready stubs die with it.
class StubFactory {
 public:
  // `extra_fd` >= 0: stubs also keep this fd (systrap's sysmsg file), and
  // `systrap` selects the systrap stubs' filters (stub_filter.h).
  static Result<std::unique_ptr<StubFactory>> Start(int memory_fd, int pool, int extra_fd = -1,
                                                    bool systrap = false);
  ~StubFactory();
  StubFactory(const StubFactory&) = delete;
  StubFactory& operator=(const StubFactory&) = delete;

  // A new stub, seized by the calling thread (its tracer from now on) with
  // PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD and stopped in a
  // PTRACE_EVENT_STOP inside its pause() loop. It inherited only the memory
  // file (same number) and is still dumpable: the caller makes it
  // non-dumpable. `pin`: give it the calling thread's CPU affinity first.
  // Any thread; requests are serialized.
  Result<NewStub> Take(bool pin);
  pid_t pid() const { return pid_; }

 private:
  StubFactory(pid_t pid, base::UniqueFd sock) : pid_(pid), sock_(std::move(sock)) {}
  static Result<NewStub> Seize(pid_t pid);

  const pid_t pid_;
  absl::Mutex mu_;
  base::UniqueFd sock_ ABSL_GUARDED_BY(mu_);
};

// The calling thread's tid, cached (a ptrace request must come from the
// tracer thread, and we check that cheaply).
pid_t CurrentTid();

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_H_
