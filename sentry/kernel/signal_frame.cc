#include "sentry/kernel/signal_frame.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "base/logging.h"
#include "sentry/kernel/signal.h"

namespace sentry::kernel {
namespace {

constexpr uint64_t kRedZone = 128;
constexpr size_t kMinSigstkSz = 2048;  // the kernel's MINSIGSTKSZ
// restore_sigcontext's FIX_EFLAGS: the flags the app may set.
constexpr uint64_t kFixEflags = 0x40000 /*AC*/ | 0x800 /*OF*/ | 0x400 /*DF*/ | 0x100 /*TF*/ | 0x80 /*SF*/ |
                                0x40 /*ZF*/ | 0x10 /*AF*/ | 0x4 /*PF*/ | 0x1 /*CF*/ | 0x10000 /*RF*/;
constexpr uint64_t kUserCs = 0x33, kUserDs = 0x2b;
constexpr size_t kFxsaveSize = 512;
constexpr size_t kXsaveHeaderSize = 64;

struct FxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FxSwBytes) == 48);

uint64_t RoundDown(uint64_t v, uint64_t a) { return v & ~(a - 1); }

// XCR0: the feature bits the kernel saves for user space.
uint64_t Xcr0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// XSAVE components the kernel enables only on request (XFD: AMX TILEDATA;
// CPUID.(EAX=0xD,ECX=i):ECX bit 2). Linux leaves them out of a task's
// signal frame until it asks for them (arch_prctl ARCH_REQ_XCOMP_PERM,
// which the sentry does not offer), so the frame has the default size.
struct XsaveLayout {
  uint64_t user_xfeatures = 0;  // XCR0 minus the dynamic components
  size_t user_size = 0;         // standard-format size of those (fpu_user_cfg.default_size)
};

const XsaveLayout& UserXsave() {
  static const XsaveLayout layout = [] {
    XsaveLayout l;
    const uint64_t xcr0 = Xcr0();
    l.user_xfeatures = xcr0;
    l.user_size = kFxsaveSize + kXsaveHeaderSize;
    for (unsigned i = 2; i < 64; ++i) {
      if (!(xcr0 & (uint64_t{1} << i))) continue;
      uint32_t size, offset, flags, edx;
      asm volatile("cpuid" : "=a"(size), "=b"(offset), "=c"(flags), "=d"(edx) : "a"(0xd), "c"(i));
      if (flags & 4) {
        l.user_xfeatures &= ~(uint64_t{1} << i);
        continue;
      }
      l.user_size = std::max<size_t>(l.user_size, size_t{offset} + size);
    }
    return l;
  }();
  return layout;
}

// How many bytes of the host's XSAVE image (`host_size`, all features) a
// signal frame holds: the non-dynamic components, which come first in the
// standard format.
size_t FrameXsaveSize(size_t host_size) { return std::min(host_size, UserXsave().user_size); }

// The FPU as execve leaves it (fpu__clear_user_states): x87 control word
// 0x37f, MXCSR 0x1f80, every XSAVE component in its init state. `like`
// gives the size the host wants.
void InitFpState(platform::FpState& fp, size_t size) {
  std::memset(fp.bytes, 0, std::min(size, sizeof(fp.bytes)));
  fp.size = size;
  const uint16_t fcw = 0x37f;
  const uint32_t mxcsr = 0x1f80;
  std::memcpy(fp.bytes + 0, &fcw, sizeof(fcw));
  std::memcpy(fp.bytes + 24, &mxcsr, sizeof(mxcsr));
}

bool OnAltStack(const Task& t, uint64_t sp) {
  if (t.altstack_flags & kSsAutodisarm) return false;  // on_sig_stack()
  return sp > t.altstack_sp && sp - t.altstack_sp <= t.altstack_size;
}

}  // namespace

int AltStackFlags(const Task& t, uint64_t sp) {
  if (t.altstack_size == 0) return SS_DISABLE;
  return OnAltStack(t, sp) ? SS_ONSTACK : 0;
}

base::Result<void> SetAltStack(Task& t, const KStackT& ss, uint64_t sp) {
  // kernel/signal.c do_sigaltstack.
  if (t.altstack_size != 0 && OnAltStack(t, sp)) return base::Errno::kEPERM;
  const int mode = ss.ss_flags & ~kSsAutodisarm;
  if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) return base::Errno::kEINVAL;
  if (mode == SS_DISABLE) {
    t.altstack_sp = 0;
    t.altstack_size = 0;
    t.altstack_flags = SS_DISABLE;
    return {};
  }
  if (ss.ss_size < kMinSigstkSz) return base::Errno::kENOMEM;
  t.altstack_sp = ss.ss_sp;
  t.altstack_size = ss.ss_size;
  t.altstack_flags = ss.ss_flags & kSsAutodisarm;
  return {};
}

base::Result<void> SetupFrame(Task& t, const siginfo_t& info, const KSigaction& act, uint64_t saved_mask,
                              const FaultContext& fault) {
  // x86-64 requires SA_RESTORER: there is no vdso trampoline (setup_rt_frame).
  if (!(act.flags & kSaRestorer)) return base::Errno::kEFAULT;
  user_regs_struct& r = t.regs().regs;
  auto fp = std::make_unique<platform::FpState>();
  const bool have_fp = t.context().GetFpState(*fp).ok() && fp->size >= kFxsaveSize + kXsaveHeaderSize;

  // get_sigframe(): red zone, alternate stack, FP area aligned to 64, the
  // frame, then sp - 8 = 0 mod 16 at handler entry (as if `call`ed).
  uint64_t sp = r.rsp - kRedZone;
  const bool entering_altstack = (act.flags & SA_ONSTACK) && AltStackFlags(t, sp) == 0;
  const bool nested_altstack = t.altstack_size != 0 && OnAltStack(t, r.rsp);
  if (entering_altstack) sp = t.altstack_sp + t.altstack_size;
  uint64_t fp_addr = 0;
  const size_t fp_size = have_fp ? FrameXsaveSize(fp->size) : 0;
  if (have_fp) {
    sp = RoundDown(sp - (fp_size + 4), 64);
    fp_addr = sp;
  }
  sp = RoundDown(sp - sizeof(KRtSigframe), 16) - 8;
  if ((entering_altstack || nested_altstack) &&
      !(sp > t.altstack_sp && sp - t.altstack_sp <= t.altstack_size)) {
    return base::Errno::kEFAULT;  // the frame would overflow the alternate stack
  }

  KRtSigframe f{};
  f.pretcode = act.restorer;
  f.uc.uc_flags = kUcSigcontextSs | kUcStrictRestoreSs | (have_fp ? kUcFpXstate : 0);
  f.uc.uc_stack.ss_sp = t.altstack_sp;
  f.uc.uc_stack.ss_flags = AltStackFlags(t, r.rsp) | (t.altstack_flags & kSsAutodisarm);
  f.uc.uc_stack.ss_size = t.altstack_size;
  KSigcontext& sc = f.uc.uc_mcontext;
  sc.r8 = r.r8, sc.r9 = r.r9, sc.r10 = r.r10, sc.r11 = r.r11;
  sc.r12 = r.r12, sc.r13 = r.r13, sc.r14 = r.r14, sc.r15 = r.r15;
  sc.rdi = r.rdi, sc.rsi = r.rsi, sc.rbp = r.rbp, sc.rbx = r.rbx;
  sc.rdx = r.rdx, sc.rax = r.rax, sc.rcx = r.rcx, sc.rsp = r.rsp;
  sc.rip = r.rip, sc.eflags = r.eflags;
  sc.cs = static_cast<uint16_t>(r.cs);
  sc.ss = static_cast<uint16_t>(r.ss);
  sc.err = fault.err;
  sc.trapno = fault.trapno;
  sc.cr2 = fault.cr2;
  sc.oldmask = saved_mask;
  sc.fpstate = fp_addr;
  f.uc.uc_sigmask = saved_mask;
  f.info = info;

  if (have_fp) {
    // copy_fpstate_to_sigframe(): the XSAVE image, the software bytes that
    // tell glibc and rt_sigreturn it is a full XSAVE area, and MAGIC2 after.
    FxSwBytes sw{};
    sw.magic1 = kFpXstateMagic1;
    sw.extended_size = static_cast<uint32_t>(fp_size + 4);
    sw.xfeatures = UserXsave().user_xfeatures;
    sw.xstate_size = static_cast<uint32_t>(fp_size);
    std::memcpy(fp->bytes + kFxSwBytesOffset, &sw, sizeof(sw));
    TRY(t.mm().CopyOutBytes(fp_addr, {fp->bytes, fp_size}));
    TRY(t.mm().CopyOut(sentry::mm::UserPtr<uint32_t>(fp_addr + fp_size), kFpXstateMagic2));
  }
  TRY(t.mm().CopyOut(sentry::mm::UserPtr<KRtSigframe>(sp), f));

  // The handler starts with a clean FPU, like Linux.
  if (have_fp) {
    const size_t size = fp->size;
    InitFpState(*fp, size);
    TRY(t.context().SetFpState(*fp));
  }
  if (t.altstack_flags & kSsAutodisarm) {  // sas_ss_reset() after saving it
    t.altstack_sp = 0;
    t.altstack_size = 0;
    t.altstack_flags = SS_DISABLE;
  }
  r.rdi = static_cast<uint64_t>(info.si_signo);
  r.rsi = sp + offsetof(KRtSigframe, info);
  r.rdx = sp + offsetof(KRtSigframe, uc);
  r.rax = 0;
  r.rsp = sp;
  r.rip = act.handler;
  r.eflags &= ~(0x400ull /*DF*/ | 0x10000ull /*RF*/ | 0x100ull /*TF*/);
  r.cs = kUserCs;
  r.ss = kUserDs;
  return {};
}

base::Result<uint64_t> RestoreFrame(Task& t) {
  user_regs_struct& r = t.regs().regs;
  // The handler's `ret` into sa_restorer popped pretcode.
  const uint64_t frame = r.rsp - 8;
  const KRtSigframe f = TRY(t.mm().CopyIn(sentry::mm::UserPtr<KRtSigframe>(frame)));
  const KSigcontext& sc = f.uc.uc_mcontext;

  // FP state first: it is the part that can be refused (a hostile XSAVE
  // header or MXCSR), and then nothing else has changed.
  auto fp = std::make_unique<platform::FpState>();
  if (t.context().GetFpState(*fp).ok()) {
    const size_t size = fp->size;
    if (sc.fpstate == 0) {
      InitFpState(*fp, size);
    } else {
      // The frame holds the non-dynamic components (FrameXsaveSize); the
      // rest of the host's image goes back to its init state.
      const size_t user = FrameXsaveSize(size);
      auto in = std::make_unique<platform::FpState>();
      in->size = user;
      TRY(t.mm().CopyInBytes(sc.fpstate, {in->bytes, user}));
      FxSwBytes sw;
      std::memcpy(&sw, in->bytes + kFxSwBytesOffset, sizeof(sw));
      uint32_t magic2 = 0;
      const bool xstate = (f.uc.uc_flags & kUcFpXstate) && sw.magic1 == kFpXstateMagic1 &&
                          sw.xstate_size == user && sw.extended_size == user + 4 &&
                          t.mm().CopyInBytes(sc.fpstate + user, {reinterpret_cast<uint8_t*>(&magic2), 4}).ok() &&
                          magic2 == kFpXstateMagic2;
      if (xstate) {
        std::memcpy(fp->bytes, in->bytes, user);
        std::memset(fp->bytes + user, 0, size - user);
      } else {
        // Legacy FXSAVE only (Linux's fx_only): x87/SSE from the frame,
        // every other component back to its init state.
        std::memcpy(fp->bytes, in->bytes, kFxsaveSize);
        std::memset(fp->bytes + kFxsaveSize, 0, size - kFxsaveSize);
        const uint64_t xstate_bv = 0x3;  // XFEATURE_MASK_FPSSE
        std::memcpy(fp->bytes + kFxsaveSize, &xstate_bv, sizeof(xstate_bv));
      }
      std::memset(fp->bytes + kFxSwBytesOffset, 0, sizeof(FxSwBytes));
    }
    // The host validates the XSAVE header and MXCSR: a bad one is EINVAL,
    // which the caller turns into SIGSEGV like Linux's badframe.
    TRY(t.context().SetFpState(*fp));
  }

  // restore_sigcontext(): every GPR, only the user-changeable flags, and
  // the 64-bit user selectors (the sentry runs only 64-bit code).
  r.r8 = sc.r8, r.r9 = sc.r9, r.r10 = sc.r10, r.r11 = sc.r11;
  r.r12 = sc.r12, r.r13 = sc.r13, r.r14 = sc.r14, r.r15 = sc.r15;
  r.rdi = sc.rdi, r.rsi = sc.rsi, r.rbp = sc.rbp, r.rbx = sc.rbx;
  r.rdx = sc.rdx, r.rax = sc.rax, r.rcx = sc.rcx, r.rsp = sc.rsp;
  r.rip = sc.rip;
  r.eflags = (r.eflags & ~kFixEflags) | (sc.eflags & kFixEflags);
  r.cs = kUserCs;
  r.ss = kUserDs;
  r.orig_rax = ~0ull;  // no syscall restart after sigreturn
  t.set_signal_mask(f.uc.uc_sigmask);
  // restore_altstack(): only a fault fails the sigreturn.
  (void)SetAltStack(t, f.uc.uc_stack, r.rsp);
  return sc.rax;
}

}  // namespace sentry::kernel
