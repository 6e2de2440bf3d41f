#include "platform/ptrace/stub.h"

#include <linux/prctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstddef>

#include "base/logging.h"
#include "platform/ptrace/stub_filter.h"

// The stub's code: position independent, in its own page-aligned section so
// that it owns whole pages of the binary. The forked child moves these pages
// to kStubBase with mremap and jumps to the start, which:
//   1. munmaps [0, kStubBase) and [code end, kUserTop): everything of the
//      sentry (heap, stacks, libraries, vdso, vvar) is gone;
//   2. maps kStubDataSize of anonymous memory right after its code and makes
//      it the sigaltstack;
//   3. installs the fault probe handler for SIGSEGV and SIGBUS (used only
//      when the tracer asks for it; see ptrace.cc);
//   4. stops itself with kill(getpid(), SIGSTOP) for the tracer.
// Then come `syscall; int3` (syscall injection: the tracer sets rip to the
// `syscall` and continues until the int3) and the probe handler, which loads
// the page-fault error code, trap number and cr2 from its signal frame into
// rax, rbx, rcx and traps.
//
// Constants are literal here (top-level asm takes no operands): 0x7ffffffff000
// is kUserTop, 0x10000 kStubDataSize, 192/200/216 the offsets of
// uc_mcontext.gregs[REG_ERR/REG_TRAPNO/REG_CR2] (checked below), 0x4C000004
// SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER.
asm(R"(
  .pushsection .text.ptrace_stub, "ax", @progbits
  .balign 4096
  .globl platform_ptrace_stub_start
  .hidden platform_ptrace_stub_start
platform_ptrace_stub_start:
  lea platform_ptrace_stub_start(%rip), %r12
  lea platform_ptrace_stub_end(%rip), %r13
  xor %edi, %edi                  # munmap(0, start)
  mov %r12, %rsi
  mov $11, %eax
  syscall
  test %rax, %rax
  jnz 9f
  mov %r13, %rdi                  # munmap(end, kUserTop - end)
  movabs $0x7ffffffff000, %rsi
  sub %r13, %rsi
  mov $11, %eax
  syscall
  test %rax, %rax
  jnz 9f
  mov %r13, %rdi                  # mmap(end, data, RW, PRIVATE|FIXED|ANON, -1, 0)
  mov $0x10000, %esi
  mov $3, %edx
  mov $0x32, %r10d
  mov $-1, %r8
  xor %r9d, %r9d
  mov $9, %eax
  syscall
  cmp %r13, %rax
  jne 9f
  mov %r13, (%r13)                # stack_t{ss_sp = end, ss_flags = 0, ss_size}
  movq $0, 8(%r13)
  movq $0x10000, 16(%r13)
  mov %r13, %rdi                  # sigaltstack(&ss, NULL)
  xor %esi, %esi
  mov $131, %eax
  syscall
  test %rax, %rax
  jnz 9f
  lea platform_ptrace_stub_probe(%rip), %rax   # kernel sigaction at end+64
  mov %rax, 64(%r13)
  movq $0x4C000004, 72(%r13)
  lea 8f(%rip), %rax
  mov %rax, 80(%r13)
  movq $0, 88(%r13)
  mov $11, %edi                   # rt_sigaction(SIGSEGV, &sa, NULL, 8)
  lea 64(%r13), %rsi
  xor %edx, %edx
  mov $8, %r10d
  mov $13, %eax
  syscall
  test %rax, %rax
  jnz 9f
  mov $7, %edi                    # rt_sigaction(SIGBUS, &sa, NULL, 8)
  lea 64(%r13), %rsi
  xor %edx, %edx
  mov $8, %r10d
  mov $13, %eax
  syscall
  test %rax, %rax
  jnz 9f
  mov $39, %eax                   # kill(getpid(), SIGSTOP)
  syscall
  mov %eax, %edi
  mov $19, %esi
  mov $62, %eax
  syscall
  int3                            # never continued from here
  ud2
  .globl platform_ptrace_stub_syscall
  .hidden platform_ptrace_stub_syscall
platform_ptrace_stub_syscall:
  syscall
  int3
  ud2
  .globl platform_ptrace_stub_clone
  .hidden platform_ptrace_stub_clone
platform_ptrace_stub_clone:
  syscall                         # clone(CLONE_VM|CLONE_THREAD|..., 0)
  test %rax, %rax
  jnz 7f
  mov %r12, (%r12)                # child: stack_t{r12, 0, r13} at r12
  movq $0, 8(%r12)
  mov %r13, 16(%r12)
  mov %r12, %rdi                  # sigaltstack(&ss, NULL) for the probe
  xor %esi, %esi
  mov $131, %eax
  syscall
6:
  mov $34, %eax                   # pause() until a tracer seizes us
  syscall
  jmp 6b
7:
  int3                            # the injecting thread stops here
  .globl platform_ptrace_stub_clone_trap
  .hidden platform_ptrace_stub_clone_trap
platform_ptrace_stub_clone_trap:
  ud2
  .globl platform_ptrace_stub_probe
  .hidden platform_ptrace_stub_probe
platform_ptrace_stub_probe:
  mov 192(%rdx), %rax
  mov 200(%rdx), %rbx
  mov 216(%rdx), %rcx
  int3
  .globl platform_ptrace_stub_probe_trap
  .hidden platform_ptrace_stub_probe_trap
platform_ptrace_stub_probe_trap:
  ud2
8:
  mov $15, %eax                   # rt_sigreturn; a required SA_RESTORER, unused
  syscall
  ud2
9:
  mov $20, %edi                   # exit_group(20): setup failed
  mov $231, %eax
  syscall
  ud2
  .balign 4096
  .globl platform_ptrace_stub_end
  .hidden platform_ptrace_stub_end
platform_ptrace_stub_end:
  .popsection
)");

extern "C" {
extern const char platform_ptrace_stub_start[];
extern const char platform_ptrace_stub_syscall[];
extern const char platform_ptrace_stub_probe[];
extern const char platform_ptrace_stub_clone[];
extern const char platform_ptrace_stub_clone_trap[];
extern const char platform_ptrace_stub_probe_trap[];
extern const char platform_ptrace_stub_end[];
}

namespace platform::ptrace {
namespace {

static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_ERR * 8 == 192);
static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_TRAPNO * 8 == 200);
static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_CR2 * 8 == 216);
constexpr int kSaRestorer = 0x04000000;  // SA_RESTORER: kernel-only, not in glibc headers
static_assert((SA_SIGINFO | SA_ONSTACK | kSaRestorer | SA_NODEFER) == 0x4C000004);
static_assert(kUserTop == 0x7ffffffff000 && kStubDataSize == 0x10000);

uint64_t StubOffset(const char* sym) {
  return static_cast<uint64_t>(sym - platform_ptrace_stub_start);
}
uint64_t StubCodeSize() { return StubOffset(platform_ptrace_stub_end); }

// The child after fork may only make raw syscalls: it is a copy of one thread
// of a multithreaded process, so libc locks may be held by threads that do
// not exist in it.
inline long RawSyscall(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                       long a6 = 0) {
  long ret;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

[[noreturn]] void RawExit(int code) {
  for (;;) RawSyscall(SYS_exit_group, code);
}

// Kernel layout of struct sigaction for rt_sigaction(2) on x86-64.
struct KernelSigaction {
  uint64_t handler;
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};

// Runs in the forked child. Exit codes say which step failed (the parent logs
// them): 10+ here, 20 in the assembly stub.
[[noreturn]] __attribute__((noinline)) void StubChild(int memory_fd, pid_t parent, StubFilter& filter) {
  // Die with the tracer thread; if it is already gone, getppid() changed.
  if (RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL) != 0) RawExit(10);
  if (RawSyscall(SYS_getppid) != parent) RawExit(11);
  if (RawSyscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0) RawExit(12);
  // Keep only the memory file: the stub must hold none of the sentry's fds.
  if (memory_fd > 0 && RawSyscall(SYS_close_range, 0, memory_fd - 1, 0) != 0) RawExit(13);
  if (RawSyscall(SYS_close_range, memory_fd + 1, ~0U, 0) != 0) RawExit(14);
  if (RawSyscall(SYS_prctl, PR_SET_DUMPABLE, 0) != 0) RawExit(15);
  if (RawSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) RawExit(16);
  // Default dispositions and an empty mask: a blocked signal would never
  // produce a signal-delivery-stop, and handlers point into sentry memory.
  KernelSigaction dfl{};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    RawSyscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
  }
  uint64_t empty_mask = 0;
  if (RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&empty_mask), 0, 8) != 0) {
    RawExit(17);
  }
  stack_t no_altstack{};
  no_altstack.ss_flags = SS_DISABLE;
  RawSyscall(SYS_sigaltstack, reinterpret_cast<long>(&no_altstack), 0);
  // glibc registered an rseq area in sentry memory for this thread; once that
  // memory is unmapped the kernel would SIGSEGV the stub on its next
  // preemption. glibc 2.35+ exports where it is.
  if (__rseq_size != 0) {
    const long area = reinterpret_cast<long>(__builtin_thread_pointer()) + __rseq_offset;
    constexpr long kRseqSig = 0x53053053;  // RSEQ_SIG on x86
    if (RawSyscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, kRseqSig) != 0 &&
        RawSyscall(SYS_rseq, area, 32, RSEQ_FLAG_UNREGISTER, kRseqSig) != 0) {
      RawExit(18);
    }
  }
  // From here on only the stub's own allowlist (stub_filter.h) holds.
  if (InstallStubFilter(filter, static_cast<pid_t>(RawSyscall(SYS_getpid))) != 0) RawExit(21);
  // Move the stub's pages to kStubBase and jump there. Nothing after the
  // mremap may touch memory: the destination may have been this stack.
  register long r10 asm("r10") = MREMAP_MAYMOVE | MREMAP_FIXED;
  register long r8 asm("r8") = static_cast<long>(kStubBase);
  asm volatile(
      "syscall\n\t"
      "cmp %%r8, %%rax\n\t"
      "jne 1f\n\t"
      "jmp *%%r8\n\t"
      "1:\n\t"
      "mov $19, %%edi\n\t"
      "mov $231, %%eax\n\t"
      "syscall\n\t"
      "ud2\n\t"
      :
      : "a"(SYS_mremap), "D"(platform_ptrace_stub_start), "S"(StubCodeSize()), "d"(StubCodeSize()),
        "r"(r10), "r"(r8)
      : "rcx", "r11", "memory");
  __builtin_unreachable();
}

}  // namespace

uint64_t StubSyscallAddr() { return kStubBase + StubOffset(platform_ptrace_stub_syscall); }
uint64_t StubProbeTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_probe_trap); }
uint64_t StubCloneAddr() { return kStubBase + StubOffset(platform_ptrace_stub_clone); }
uint64_t StubCloneTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_clone_trap); }
uint64_t StubEnd() { return kStubBase + StubCodeSize() + kStubDataSize; }

pid_t CurrentTid() {
  thread_local pid_t tid = 0;
  if (tid == 0) tid = static_cast<pid_t>(syscall(SYS_gettid));
  return tid;
}

Result<NewStub> ForkStub(int memory_fd) {
  const pid_t parent = getpid();
  // Built here: the child may not allocate.
  StubFilter filter = BuildStubFilter(memory_fd);
  // A raw clone, not fork(3): no atfork handlers, and the child runs only
  // StubChild. The calling thread is the child's parent, hence its tracer.
  const long pid = RawSyscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    logging::Warn("ptrace: clone(SIGCHLD) for a stub failed: {}", base::ErrnoName(base::FromHost(-pid)));
    return base::FromHost(static_cast<int>(-pid));
  }
  if (pid == 0) StubChild(memory_fd, parent, filter);

  NewStub stub;
  stub.pid = static_cast<pid_t>(pid);
  auto kill_and_reap = [&] {
    ::kill(stub.pid, SIGKILL);
    int st;
    while (waitpid(stub.pid, &st, __WALL) < 0 && errno == EINTR) {
    }
  };
  int status = 0;
  pid_t r;
  do {
    r = waitpid(stub.pid, &status, __WALL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: waitpid({}) for a new stub failed: {}", stub.pid, base::ErrnoName(e));
    kill_and_reap();
    return e;
  }
  if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
    if (WIFEXITED(status)) {
      logging::Warn("ptrace: stub {} failed to start: exit status {}", stub.pid, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      logging::Warn("ptrace: stub {} failed to start: killed by signal {}", stub.pid, WTERMSIG(status));
    } else {
      logging::Warn("ptrace: stub {} failed to start: unexpected stop {:#x}", stub.pid, status);
      kill_and_reap();
    }
    return Errno::kECHILD;
  }
  if (::ptrace(PTRACE_SETOPTIONS, stub.pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0 ||
      ::ptrace(PTRACE_GETREGS, stub.pid, 0, &stub.init_regs) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: setting up stub {} failed: {}", stub.pid, base::ErrnoName(e));
    kill_and_reap();
    return e;
  }
  if (stub.init_regs.rip < kStubBase || stub.init_regs.rip >= StubEnd()) {
    logging::Warn("ptrace: stub {} stopped outside the stub at {:#x}", stub.pid, stub.init_regs.rip);
    kill_and_reap();
    return Errno::kECHILD;
  }
  return stub;
}

}  // namespace platform::ptrace
