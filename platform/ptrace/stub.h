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

#include <cstdint>

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
// `syscall` of an injected clone: the child (rax 0) makes [r12, r12+r13)
// its sigaltstack and pause()s until seized; the parent hits an int3 and
// stops with rip = StubCloneTrapAddr().
uint64_t StubCloneAddr();
uint64_t StubCloneTrapAddr();
// Per-thread sigaltstacks of later stub threads, above StubEnd().
inline constexpr uint64_t kThreadAltstackSize = 32 * 1024;

// Fault details gathered by the probe handler (from the signal frame's
// uc_mcontext: err, trapno, cr2), left in rax, rbx, rcx at the probe's int3.
inline constexpr uint64_t kPfWrite = 1 << 1;  // x86 page-fault error code W
inline constexpr uint64_t kPfInstr = 1 << 4;  // I/D: instruction fetch

// Forks a stub from the calling thread, which becomes its tracer, and waits
// for its first stop. The child inherits only `memory_fd` (same number).
// On success the stub is stopped (SIGSTOP signal-delivery-stop) with
// PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD set; `init_regs` is its register
// state there (a template with valid segment selectors).
struct NewStub {
  pid_t pid = -1;
  user_regs_struct init_regs{};
};
Result<NewStub> ForkStub(int memory_fd);

// The calling thread's tid, cached (a ptrace request must come from the
// tracer thread, and we check that cheaply).
pid_t CurrentTid();

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_H_
