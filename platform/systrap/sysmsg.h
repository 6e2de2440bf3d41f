// The memory an app thread shares with the sentry (README.md, "Slots").
// Internal to platform/systrap/.
//
// Every app thread owns one 64 KiB slot of the sysmsg file (a memfd of the
// platform, mapped whole in the sentry and slot by slot in the stubs, above
// MaxUserAddress()):
//   [0, 4 KiB)      read-only in the stub: the thread's seccomp program
//                   (a sock_fprog at 0, the instructions at 64)
//   [4, 8 KiB)      the Sysmsg below (read-write: the app can write it, so
//                   the sentry treats it as untrusted input)
//   [8, 64 KiB)     the thread's sigaltstack: its signal frames, whose
//                   XSAVE area is the thread's FP state at a stop
// The handler finds its slot from its stack pointer (slots are 64 KiB
// aligned in the stub). Slot 0 of the file is the control page (the
// handlers' kernel sigaction), mapped read-only at kRegionBase in every
// stub; a stub's thread slots follow it.
#ifndef PLATFORM_SYSTRAP_SYSMSG_H_
#define PLATFORM_SYSTRAP_SYSMSG_H_

#include <sys/resource.h>
#include <signal.h>

#include <cstddef>
#include <cstdint>

#include "platform/ptrace/stub.h"

namespace platform::systrap {

inline constexpr uint64_t kSlotSize = 64 * 1024;
inline constexpr uint64_t kProgOffset = 0;
inline constexpr uint64_t kSysmsgOffset = 4096;
inline constexpr uint64_t kAltstackOffset = 8192;
// Where a stub's slots start (above the stub's code and data).
inline constexpr uint64_t kRegionBase = ptrace::kStubBase + 0x200000;
// Local slots per stub (local slot 0 is the control page).
inline constexpr uint64_t kLocalSlots = (ptrace::kUserTop - kRegionBase) / kSlotSize;
// Slots of the sysmsg file (file slot 0 is the control page): a sparse
// file (4 GiB of offsets), pages exist only where touched. Each address
// space takes two (its syscall thread, its first app thread) when made, so
// that running out fails fork/exec with EAGAIN; each further app thread
// one. Enough for runsc's largest --max-tasks default (16384) twice over.
inline constexpr uint64_t kFileSlots = 65536;

// Sysmsg::state.
inline constexpr uint32_t kStateRunning = 0;  // in app code (or about to be)
inline constexpr uint32_t kStateStopped = 1;  // the handler published a stop and waits
inline constexpr uint32_t kStateGo = 2;       // the sentry wrote the registers: resume

struct Sysmsg {
  uint32_t state;      // 0: the futex word (FUTEX_WAIT/WAKE, not private)
  uint32_t exit;       // 4: nonzero with kStateGo: the thread exits
  uint64_t signo;      // 8
  uint64_t fs_base;    // 16
  uint64_t gs_base;    // 24
  uint64_t ucontext;   // 32: the stop's ucontext (stub address)
  uint64_t unused[3];  // 40
  uint64_t gregs[23];  // 64: uc_mcontext.gregs (REG_R8 .. REG_CR2)
  uint64_t unused2;    // 248
  uint8_t siginfo[128];  // 256
  struct rusage ru;    // 384: getrusage(RUSAGE_THREAD) at the stop
};
// The handler (platform/ptrace/stub.cc) hard-codes these.
static_assert(offsetof(Sysmsg, signo) == 8 && offsetof(Sysmsg, fs_base) == 16 && offsetof(Sysmsg, gs_base) == 24);
static_assert(offsetof(Sysmsg, ucontext) == 32 && offsetof(Sysmsg, gregs) == 64);
static_assert(offsetof(Sysmsg, siginfo) == 256 && offsetof(Sysmsg, ru) == 384);
static_assert(sizeof(Sysmsg) <= 1024);  // the clone entry keeps its stack_t at +1024
static_assert(kSlotSize == 65536 && kSysmsgOffset == 4096 && kAltstackOffset == 8192);

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_SYSMSG_H_
