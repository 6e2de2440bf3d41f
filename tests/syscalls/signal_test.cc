// Signal delivery to handlers: siginfo, masks during the handler,
// SA_RESETHAND, SA_NODEFER, the alternate stack, and rt_sigreturn restoring
// registers and FP state.
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "util.h"

namespace syscall_test {
namespace {

volatile sig_atomic_t g_count = 0;
volatile int g_signo = 0;
volatile int g_code = 0;
volatile pid_t g_pid = 0;
volatile uid_t g_uid = 0;
volatile uint64_t g_mask_in_handler = 0;
volatile uintptr_t g_handler_sp = 0;
volatile int g_nested = 0;

uint64_t CurrentMask() {
  uint64_t m = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &m, 8);
  return m;
}

uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

void InfoHandler(int sig, siginfo_t* info, void* uc) {
  g_count = g_count + 1;
  g_signo = sig;
  g_code = info->si_code;
  g_pid = info->si_pid;
  g_uid = info->si_uid;
  g_mask_in_handler = CurrentMask();
  int local;
  g_handler_sp = reinterpret_cast<uintptr_t>(&local);
  (void)uc;
}

class SavedAction {
 public:
  SavedAction(int sig, void (*fn)(int, siginfo_t*, void*), int flags, uint64_t mask_bits = 0) : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < 32; ++s) {
      if (mask_bits & Bit(s)) sigaddset(&sa.sa_mask, s);
    }
    sigaction(sig_, &sa, &old_);
    g_count = 0;
  }
  ~SavedAction() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ = {};
};

TEST(SignalDelivery, KillToSelfRunsHandlerWithSiginfo) {
  SavedAction a(SIGUSR1, InfoHandler, 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_signo, SIGUSR1);
  EXPECT_EQ(g_code, SI_USER);
  EXPECT_EQ(g_pid, getpid());
  EXPECT_EQ(g_uid, getuid());
}

TEST(SignalDelivery, HandlerRunsWithSignalAndSaMaskBlockedThenMaskRestored) {
  SavedAction a(SIGUSR1, InfoHandler, 0, Bit(SIGUSR2));
  const uint64_t before = CurrentMask();
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_TRUE(g_mask_in_handler & Bit(SIGUSR1));
  EXPECT_TRUE(g_mask_in_handler & Bit(SIGUSR2));
  EXPECT_EQ(CurrentMask(), before);
}

TEST(SignalDelivery, NodeferLeavesSignalUnblockedInHandler) {
  SavedAction a(SIGUSR1, InfoHandler, SA_NODEFER);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_FALSE(g_mask_in_handler & Bit(SIGUSR1));
}

TEST(SignalDelivery, ResethandRestoresDefaultAfterOneDelivery) {
  SavedAction a(SIGUSR1, InfoHandler, SA_RESETHAND);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  struct sigaction now = {};
  sigaction(SIGUSR1, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(SignalDelivery, BlockedSignalIsDeliveredOnUnblock) {
  SavedAction a(SIGUSR2, InfoHandler, 0);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(g_count, 0);
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_TRUE(sigismember(&pending, SIGUSR2));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_EQ(g_count, 1);
}

TEST(SignalDelivery, StandardSignalsCoalesceRealtimeSignalsQueue) {
  SavedAction a(SIGUSR1, InfoHandler, 0);
  SavedAction b(SIGRTMIN + 1, InfoHandler, 0);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGRTMIN + 1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  raise(SIGUSR1);
  raise(SIGUSR1);
  raise(SIGRTMIN + 1);
  raise(SIGRTMIN + 1);
  raise(SIGRTMIN + 1);
  g_count = 0;
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_EQ(g_count, 4);
}

TEST(SignalDelivery, SigqueueinfoCarriesValue) {
  SavedAction a(SIGRTMIN + 2, InfoHandler, 0);
  union sigval v;
  v.sival_int = 1234;
  ASSERT_EQ(sigqueue(getpid(), SIGRTMIN + 2, v), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_code, SI_QUEUE);
}

alignas(16) char g_altstack[64 * 1024];

TEST(SignalDelivery, OnstackHandlerRunsOnAlternateStack) {
  stack_t ss = {};
  ss.ss_sp = g_altstack;
  ss.ss_size = sizeof(g_altstack);
  stack_t old = {};
  ASSERT_EQ(sigaltstack(&ss, &old), 0);
  SavedAction a(SIGUSR1, InfoHandler, SA_ONSTACK);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(g_altstack);
  EXPECT_GE(g_handler_sp, lo);
  EXPECT_LT(g_handler_sp, lo + sizeof(g_altstack));
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

volatile int g_altstack_flags_in_handler = -1;
volatile uintptr_t g_uc_stack_sp = 0;
volatile int g_uc_stack_flags = 0;

void AutodisarmHandler(int, siginfo_t*, void* uc) {
  stack_t cur = {};
  sigaltstack(nullptr, &cur);
  g_altstack_flags_in_handler = cur.ss_flags;
  const auto* u = static_cast<ucontext_t*>(uc);
  g_uc_stack_sp = reinterpret_cast<uintptr_t>(u->uc_stack.ss_sp);
  g_uc_stack_flags = u->uc_stack.ss_flags;
  int local;
  g_handler_sp = reinterpret_cast<uintptr_t>(&local);
  g_count = g_count + 1;
}

// SS_AUTODISARM: the handler runs on the alternate stack, which is disarmed
// while it runs (SS_DISABLE, so a nested signal could not reuse it) and
// saved in uc_stack; rt_sigreturn puts it back.
TEST(SignalDelivery, AutodisarmAltstackIsOffInTheHandlerAndBackAfterIt) {
  stack_t ss = {};
  ss.ss_sp = g_altstack;
  ss.ss_size = sizeof(g_altstack);
  ss.ss_flags = static_cast<int>(SS_AUTODISARM);
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  stack_t cur = {};
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(static_cast<unsigned>(cur.ss_flags), SS_AUTODISARM);
  {
    SavedAction a(SIGUSR1, AutodisarmHandler, SA_ONSTACK);
    ASSERT_EQ(raise(SIGUSR1), 0);
  }
  EXPECT_EQ(g_count, 1);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(g_altstack);
  EXPECT_GE(g_handler_sp, lo);
  EXPECT_LT(g_handler_sp, lo + sizeof(g_altstack));
  EXPECT_EQ(g_altstack_flags_in_handler, SS_DISABLE);
  EXPECT_EQ(g_uc_stack_sp, lo);
  EXPECT_EQ(static_cast<unsigned>(g_uc_stack_flags), SS_AUTODISARM);  // the flags as set
  ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(cur.ss_sp), lo);
  EXPECT_EQ(cur.ss_size, sizeof(g_altstack));
  EXPECT_EQ(static_cast<unsigned>(cur.ss_flags), SS_AUTODISARM);
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

void AltstackEpermHandler(int, siginfo_t*, void*) {
  stack_t ss = {};
  ss.ss_flags = SS_DISABLE;
  g_code = sigaltstack(&ss, nullptr) == 0 ? 0 : errno;
  stack_t cur = {};
  sigaltstack(nullptr, &cur);
  g_nested = cur.ss_flags;
}

TEST(SignalDelivery, SigaltstackOnTheStackFailsWithEperm) {
  stack_t ss = {};
  ss.ss_sp = g_altstack;
  ss.ss_size = sizeof(g_altstack);
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  SavedAction a(SIGUSR1, AltstackEpermHandler, SA_ONSTACK);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_code, EPERM);
  EXPECT_EQ(g_nested, SS_ONSTACK);
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
}

void ClobberHandler(int, siginfo_t*, void*) {
  // Clobber xmm0-xmm1 and callee-saved registers; sigreturn must undo it.
  asm volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm1, %%xmm1\n\tmov $0x1234, %%rbx\n\tmov $0x5678, %%r12"
               :
               :
               : "xmm0", "xmm1", "rbx", "r12");
  g_count = g_count + 1;
}

TEST(SignalDelivery, SigreturnRestoresGeneralAndFpRegisters) {
  SavedAction a(SIGUSR1, ClobberHandler, 0);
  uint64_t xmm_out[2] = {0, 0};
  uint64_t rbx_out = 0, r12_out = 0;
  const pid_t pid = getpid();
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  // Load known values, tgkill ourselves (the handler runs on the way back
  // from the syscall), then read the registers.
  asm volatile(
      "movq $0x1122334455667788, %%rax\n\t"
      "movq %%rax, %%xmm0\n\t"
      "movq $0x0abcdef012345678, %%rbx\n\t"
      "movq $0x0f0e0d0c0b0a0908, %%r12\n\t"
      "movl %[pid], %%edi\n\t"
      "movl %[tid], %%esi\n\t"
      "movl %[sig], %%edx\n\t"
      "movl $234, %%eax\n\t"
      "syscall\n\t"
      "movq %%xmm0, %[x0]\n\t"
      "movq %%rbx, %[b]\n\t"
      "movq %%r12, %[r12]\n\t"
      : [x0] "=m"(xmm_out[0]), [b] "=m"(rbx_out), [r12] "=m"(r12_out)
      : [pid] "r"(pid), [tid] "r"(tid), [sig] "i"(SIGUSR1)
      : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r11", "r12", "xmm0", "memory");
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(xmm_out[0], 0x1122334455667788ull);
  EXPECT_EQ(rbx_out, 0x0abcdef012345678ull);
  EXPECT_EQ(r12_out, 0x0f0e0d0c0b0a0908ull);
}

TEST(SignalDelivery, HandlerGetsUcontextWithSavedMask) {
  struct Capture {
    static void Handler(int, siginfo_t*, void* uc) {
      auto* u = static_cast<ucontext_t*>(uc);
      g_mask_in_handler = *reinterpret_cast<uint64_t*>(&u->uc_sigmask);
      g_count = g_count + 1;
      g_nested = u->uc_mcontext.fpregs != nullptr;
    }
  };
  SavedAction a(SIGUSR1, Capture::Handler, 0);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  raise(SIGUSR1);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(g_count, 1);
  EXPECT_TRUE(g_mask_in_handler & Bit(SIGUSR2));
  EXPECT_FALSE(g_mask_in_handler & Bit(SIGUSR1));
  EXPECT_EQ(g_nested, 1);
}

// The frame's XSAVE area has Linux's default size: every feature XCR0
// enables except the ones the kernel hands out on request (XFD-capable:
// AMX TILEDATA), in the standard layout, with matching software bytes.
TEST(SignalDelivery, FrameXsaveAreaHasTheDefaultFeaturesAndSize) {
  static volatile uint32_t magic1, xstate_size, extended_size, magic2;
  static volatile uint64_t xfeatures;
  struct Capture {
    static void Handler(int, siginfo_t*, void* uc) {
      const auto* fp = reinterpret_cast<const uint8_t*>(static_cast<ucontext_t*>(uc)->uc_mcontext.fpregs);
      // struct _fpx_sw_bytes at offset 464 of the FXSAVE area.
      uint32_t m1, ext, xs;
      uint64_t xf;
      std::memcpy(&m1, fp + 464, 4);
      std::memcpy(&ext, fp + 468, 4);
      std::memcpy(&xf, fp + 472, 8);
      std::memcpy(&xs, fp + 480, 4);
      magic1 = m1;
      extended_size = ext;
      xfeatures = xf;
      xstate_size = xs;
      uint32_t m2 = 0;
      if (m1 == 0x46505853) std::memcpy(&m2, fp + xs, 4);
      magic2 = m2;
      g_count = g_count + 1;
    }
  };
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const uint64_t xcr0 = (uint64_t{hi} << 32) | lo;
  uint64_t want_features = xcr0;
  uint32_t want_size = 576;  // FXSAVE + header
  for (unsigned i = 2; i < 64; ++i) {
    if (!(xcr0 & (uint64_t{1} << i))) continue;
    uint32_t size, offset, flags, edx;
    asm volatile("cpuid" : "=a"(size), "=b"(offset), "=c"(flags), "=d"(edx) : "a"(0xd), "c"(i));
    if (flags & 4) {
      want_features &= ~(uint64_t{1} << i);
    } else if (offset + size > want_size) {
      want_size = offset + size;
    }
  }
  SavedAction a(SIGUSR1, Capture::Handler, 0);
  raise(SIGUSR1);
  ASSERT_EQ(g_count, 1);
  EXPECT_EQ(magic1, 0x46505853u);  // FP_XSTATE_MAGIC1
  EXPECT_EQ(xfeatures, want_features);
  EXPECT_EQ(xstate_size, want_size);
  EXPECT_EQ(extended_size, want_size + 4);
  EXPECT_EQ(magic2, 0x46505845u);  // FP_XSTATE_MAGIC2 right after the area
}

TEST(SignalDelivery, IgnoredSignalIsDiscarded) {
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ign, &old);
  sigset_t set, oldset;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  raise(SIGUSR1);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
  sigaction(SIGUSR1, &old, nullptr);
  (void)oldset;
}

}  // namespace
}  // namespace syscall_test
