// The x86-64 signal frame (arch/x86/kernel/signal_64.c, struct rt_sigframe):
// what a handler finds on its stack and what rt_sigreturn reads back.
#ifndef SENTRY_KERNEL_SIGNAL_FRAME_H_
#define SENTRY_KERNEL_SIGNAL_FRAME_H_

#include <signal.h>

#include <cstdint>

#include "base/result.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

// Kernel-ABI structures (arch/x86/include/uapi/asm/sigcontext.h,
// ucontext.h). glibc's ucontext_t agrees up to uc_sigmask.
struct KSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // app address of the XSAVE area, or 0
  uint64_t reserved1[8];
};
static_assert(sizeof(KSigcontext) == 256);

struct KStackT {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};

struct KUcontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KStackT uc_stack;
  KSigcontext uc_mcontext;
  uint64_t uc_sigmask;
};
static_assert(sizeof(KUcontext) == 304);

struct KRtSigframe {
  uint64_t pretcode;  // sa_restorer: the handler's return address
  KUcontext uc;
  siginfo_t info;
};
static_assert(sizeof(KRtSigframe) == 440);

// uc_flags (arch/x86/include/uapi/asm/ucontext.h).
inline constexpr uint64_t kUcFpXstate = 0x1;
inline constexpr uint64_t kUcSigcontextSs = 0x2;
inline constexpr uint64_t kUcStrictRestoreSs = 0x4;
// The software-reserved bytes of the FXSAVE area (struct _fpx_sw_bytes).
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
inline constexpr size_t kFxSwBytesOffset = 464;

// Hardware fault details for the frame's err/trapno/cr2 (0 for others).
struct FaultContext {
  uint64_t err = 0, trapno = 0, cr2 = 0;
};

// Builds a frame for `info` with handler `act` on the app stack (or the
// alternate stack) and points the registers at the handler. `saved_mask` is
// the mask to restore on sigreturn. kEFAULT: the frame could not be written
// (the caller forces SIGSEGV, as Linux's signal_setup_done).
base::Result<void> SetupFrame(Task& t, const siginfo_t& info, const KSigaction& act, uint64_t saved_mask,
                              const FaultContext& fault);

// rt_sigreturn's work: registers, FP state, mask, alternate stack from the
// frame at rsp - 8. Ok: the restored rax. kEFAULT/kEINVAL: a bad frame.
base::Result<uint64_t> RestoreFrame(Task& t);

// sigaltstack(2)'s checks and update (kernel/signal.c do_sigaltstack) with
// the app's current sp: EPERM while on the stack, EINVAL, ENOMEM.
base::Result<void> SetAltStack(Task& t, const KStackT& ss, uint64_t sp);
// SS_ONSTACK if sp is on the task's alternate stack, SS_DISABLE if none, else 0.
int AltStackFlags(const Task& t, uint64_t sp);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SIGNAL_FRAME_H_
