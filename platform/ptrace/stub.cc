#include "platform/ptrace/stub.h"

#include <linux/prctl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
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
//   4. stops itself with kill(getpid(), SIGSTOP) for the factory, which
//      sees it ready, continues it with SIGCONT and hands it out; it waits
//      in pause() until its tracer seizes it.
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
5:
  mov $34, %eax                   # the factory's SIGCONT: pause() until
  syscall                         # a tracer seizes us
  jmp 5b
  .globl platform_ptrace_stub_syscall
  .hidden platform_ptrace_stub_syscall
platform_ptrace_stub_syscall:
  syscall
  int3
  ud2
  .globl platform_ptrace_stub_batch
  .hidden platform_ptrace_stub_batch
platform_ptrace_stub_batch:
  xor %r14d, %r14d                # r14: entries done of r13 at r12
4:
  cmp %r13, %r14
  jae 3f
  mov %r14, %r15
  shl $6, %r15                    # 64 bytes per entry
  add %r12, %r15
  mov 0(%r15), %rax
  mov 8(%r15), %rdi
  mov 16(%r15), %rsi
  mov 24(%r15), %rdx
  mov 32(%r15), %r10
  mov 40(%r15), %r8
  mov 48(%r15), %r9
  syscall
  cmp $-4095, %rax                # a failure stops the batch
  jae 3f
  inc %r14
  jmp 4b
3:
  int3
  .globl platform_ptrace_stub_batch_trap
  .hidden platform_ptrace_stub_batch_trap
platform_ptrace_stub_batch_trap:
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
  .globl platform_ptrace_stub_syscall_load
  .hidden platform_ptrace_stub_syscall_load
platform_ptrace_stub_syscall_load:
  syscall                         # then the 4 words at rsi (kept by syscall)
  mov 0(%rsi), %rbx               # into rbx, rdx, r8, r9: the tracer reads
  mov 8(%rsi), %rdx               # them with its GETREGS (a non-dumpable
  mov 16(%rsi), %r8               # stub's memory is closed to PEEKDATA)
  mov 24(%rsi), %r9
  int3
  .globl platform_ptrace_stub_syscall_load_trap
  .hidden platform_ptrace_stub_syscall_load_trap
platform_ptrace_stub_syscall_load_trap:
  ud2
  # --- systrap (platform/systrap/README.md): never run under ptrace. ---
  # An app thread's start: cloned by an injected clone(2) in the traced main
  # thread with r12 = the thread's slot (systrap/sysmsg.h). The child sets
  # up its sigaltstack (the slot's stack) and its own seccomp filter (the
  # fprog the sentry wrote at the slot's read-only first page), then stops
  # at a ud2 (SIGILL): its first stop, where the sentry finds it waiting in
  # the handler. It touches no memory but the slot's.
  .globl platform_systrap_clone
  .hidden platform_systrap_clone
platform_systrap_clone:
  syscall
  test %rax, %rax
  jnz 17f
  test %r13, %r13                 # r13 != 0: the syscall thread
  jnz platform_systrap_syscall_thread
  .globl platform_systrap_child
  .hidden platform_systrap_child
platform_systrap_child:           # an app thread (r12: its slot)
  lea 5120(%r12), %rdi            # stack_t{slot+8192, 0, 57344} in the sysmsg page
  lea 8192(%r12), %rax
  mov %rax, (%rdi)
  movq $0, 8(%rdi)
  movq $57344, 16(%rdi)
  xor %esi, %esi                  # sigaltstack(&ss, NULL)
  mov $131, %eax
  syscall
  test %rax, %rax
  jnz 18f
  mov $1, %edi                    # seccomp(SECCOMP_SET_MODE_FILTER, 0, slot)
  xor %esi, %esi
  mov %r12, %rdx
  mov $317, %eax
  syscall
  test %rax, %rax
  jnz 18f
  .globl platform_systrap_ready
  .hidden platform_systrap_ready
platform_systrap_ready:
  ud2                             # the first stop (SIGILL here)
  jmp platform_systrap_ready
18:
  mov %eax, %edi                  # exit(-errno) of this thread: set-up failed
  neg %edi
  mov $60, %eax
  syscall
  ud2
17:
  int3                            # the injecting (traced) thread stops here
  .globl platform_systrap_clone_trap
  .hidden platform_systrap_clone_trap
platform_systrap_clone_trap:
  ud2
  # The handler of every signal an app thread stops on (SIGSYS from its
  # filter, faults, the interrupt signal, the first ud2), on the thread's
  # sigaltstack with all signals blocked: rdi = signo, rsi = siginfo, rdx =
  # ucontext (= rsp + 8). The sysmsg is the page above the stack's slot
  # base. Copies the state out, wakes the sentry, sleeps until it sets the
  # state to 2 (run), copies the registers back and returns through the
  # restorer (rt_sigreturn). Offsets: systrap/sysmsg.h (checked there).
  # The syscall thread (one per stub, untraced, never runs app code): runs
  # the requests the sentry writes into its slot's first page, which is
  # read-only in the stub (u32 seq at 0, u32 done at 4, nr at 8, args at
  # 16..63, a clone's child slot at 64), writes the result at slot+4096+8,
  # then wakes the sentry on `done`, repeating until a waiter was woken (so
  # a wake is never lost, and only this thread can wake that word: app
  # threads may use futex only on their own sysmsg). A failure other than
  # clone's ends the stub: the result word is writable by the app, so the
  # sentry must never be told of a failed munmap or mprotect as a success.
  .globl platform_systrap_syscall_thread
  .hidden platform_systrap_syscall_thread
platform_systrap_syscall_thread:
  mov %r12, %r15                  # r15: own slot
  xor %r13d, %r13d                # r13: last request handled
20:
  mov (%r15), %eax
  cmp %eax, %r13d
  jne 21f
  mov $202, %eax                  # futex(&seq, FUTEX_WAIT, r13, NULL)
  mov %r15, %rdi
  xor %esi, %esi
  mov %r13d, %edx
  xor %r10d, %r10d
  syscall
  jmp 20b
21:
  mov %eax, %r13d
  mov 8(%r15), %rax
  mov 16(%r15), %rdi
  mov 24(%r15), %rsi
  mov 32(%r15), %rdx
  mov 40(%r15), %r10
  mov 48(%r15), %r8
  mov 56(%r15), %r9
  cmp $56, %rax
  je 25f
  syscall
  cmp $-4095, %rax
  jae 24f
22:
  mov %rax, 4104(%r15)            # the result
23:
  mov $202, %eax                  # futex(&done, FUTEX_WAKE, 1)
  lea 4(%r15), %rdi
  mov $1, %esi
  mov $1, %edx
  syscall
  test %rax, %rax
  jg 20b
  mov $202, %eax                  # nobody waits yet: futex(&seq, FUTEX_WAIT, r13, 20 us)
  mov %r15, %rdi
  xor %esi, %esi
  mov %r13d, %edx
  lea 4112(%r15), %r10            # timespec{0, 20000} at slot+4096+16
  movq $0, (%r10)
  movq $20000, 8(%r10)
  syscall
  jmp 23b
25:
  mov 64(%r15), %r12              # clone: the child's slot
  syscall
  test %rax, %rax
  jz platform_systrap_child
  jmp 22b
24:
  mov $21, %edi                   # exit_group(21)
  mov $231, %eax
  syscall
  ud2
  .globl platform_systrap_handler
  .hidden platform_systrap_handler
platform_systrap_handler:
  cld
  mov %rsp, %r15
  and $-65536, %r15
  add $4096, %r15                 # r15: sysmsg
  mov %rdx, %r14                  # r14: ucontext (syscalls keep it)
  mov %rsi, %r13
  mov %rdi, 8(%r15)               # signo
  mov %rdx, 32(%r15)              # ucontext address
  rdfsbase %rax
  mov %rax, 16(%r15)
  rdgsbase %rax
  mov %rax, 24(%r15)
  lea 40(%r14), %rsi              # uc_mcontext.gregs[0..22]
  lea 64(%r15), %rdi
  mov $23, %ecx
  rep movsq
  mov %r13, %rsi                  # siginfo
  lea 256(%r15), %rdi
  mov $16, %ecx
  rep movsq
  mov $98, %eax                   # getrusage(RUSAGE_THREAD, &sysmsg->ru)
  mov $1, %edi
  lea 384(%r15), %rsi
  syscall
  movl $1, (%r15)                 # state = stopped
  mov $202, %eax                  # futex(&state, FUTEX_WAKE, 1)
  mov %r15, %rdi
  mov $1, %esi
  mov $1, %edx
  syscall
11:
  cmpl $2, (%r15)
  je 12f
  mov $202, %eax                  # futex(&state, FUTEX_WAIT, 1, NULL)
  mov %r15, %rdi
  xor %esi, %esi
  mov $1, %edx
  xor %r10d, %r10d
  syscall
  jmp 11b
12:
  cmpl $0, 4(%r15)                # asked to exit
  jne 13f
  movl $0, (%r15)                 # state = running
  mov 16(%r15), %rax
  wrfsbase %rax
  mov 24(%r15), %rax
  wrgsbase %rax
  lea 64(%r15), %rsi
  lea 40(%r14), %rdi
  mov $23, %ecx
  rep movsq
  ret                             # to the restorer below
13:
  xor %edi, %edi                  # exit(0) of this thread
  mov $60, %eax
  syscall
  ud2
  .globl platform_stub_restorer
  .hidden platform_stub_restorer
platform_stub_restorer:
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
extern const char platform_ptrace_stub_syscall_load[];
extern const char platform_ptrace_stub_syscall_load_trap[];
extern const char platform_ptrace_stub_probe[];
extern const char platform_ptrace_stub_clone[];
extern const char platform_ptrace_stub_batch[];
extern const char platform_ptrace_stub_batch_trap[];
extern const char platform_ptrace_stub_clone_trap[];
extern const char platform_ptrace_stub_probe_trap[];
extern const char platform_ptrace_stub_end[];
extern const char platform_systrap_clone[];
extern const char platform_systrap_clone_trap[];
extern const char platform_systrap_ready[];
extern const char platform_systrap_handler[];
extern const char platform_stub_restorer[];
}

namespace platform::ptrace {
namespace {

static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_ERR * 8 == 192);
static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_TRAPNO * 8 == 200);
static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_CR2 * 8 == 216);
constexpr int kSaRestorer = 0x04000000;  // SA_RESTORER: kernel-only, not in glibc headers
static_assert((SA_SIGINFO | SA_ONSTACK | kSaRestorer | SA_NODEFER) == 0x4C000004);
static_assert(kUserTop == 0x7ffffffff000 && kStubDataSize == 0x10000);
static_assert(sizeof(BatchEntry) == 64 && kBatchMax * sizeof(BatchEntry) <= kStubDataSize / 8);

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

// Closes every fd but a, b and c (-1: none); raw syscalls, no allocation.
// Returns 0 or the first failure's -errno.
long CloseAllBut(int a, int b, int c) {
  int keep[3] = {a, b, c};
  for (int i = 0; i < 3; ++i) {  // sort the three
    for (int j = i + 1; j < 3; ++j) {
      if (keep[j] < keep[i]) {
        const int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
    }
  }
  long next = 0;  // lowest fd not yet handled
  for (int fd : keep) {
    if (fd < 0) continue;
    if (fd > next) {
      const long r = RawSyscall(SYS_close_range, next, fd - 1, 0);
      if (r != 0) return r;
    }
    next = fd + 1;
  }
  return RawSyscall(SYS_close_range, next, ~0U, 0);
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
[[noreturn]] __attribute__((noinline)) void StubChild(int memory_fd, int extra_fd, pid_t parent,
                                                       StubFilter& filter) {
  // Die with the factory; if it is already gone, getppid() changed. (Once
  // seized, PTRACE_O_EXITKILL also kills the stub with its tracer thread.)
  if (RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL) != 0) RawExit(10);
  if (RawSyscall(SYS_getppid) != parent) RawExit(11);
  // Keep only the memory file: the stub must hold none of the sentry's fds
  // (nor the factory's socket).
  // (A systrap stub also keeps the sysmsg file, `extra_fd`.)
  if (CloseAllBut(memory_fd, extra_fd, -1) != 0) RawExit(13);
  // The stub stays dumpable until its tracer has seized it (seizing a
  // non-dumpable process takes CAP_SYS_PTRACE); the tracer then makes it
  // non-dumpable with an injected prctl (StubProcess::Create).
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
uint64_t StubSyscallLoadAddr() { return kStubBase + StubOffset(platform_ptrace_stub_syscall_load); }
uint64_t StubSyscallLoadTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_syscall_load_trap); }
uint64_t StubProbeTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_probe_trap); }
uint64_t StubCloneAddr() { return kStubBase + StubOffset(platform_ptrace_stub_clone); }
uint64_t StubCloneTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_clone_trap); }
uint64_t StubBatchAddr() { return kStubBase + StubOffset(platform_ptrace_stub_batch); }
uint64_t StubBatchTrapAddr() { return kStubBase + StubOffset(platform_ptrace_stub_batch_trap); }
uint64_t StubBatchBuffer() { return kStubBase + StubCodeSize(); }
uint64_t SystrapCloneAddr() { return kStubBase + StubOffset(platform_systrap_clone); }
uint64_t SystrapCloneTrapAddr() { return kStubBase + StubOffset(platform_systrap_clone_trap); }
uint64_t SystrapReadyAddr() { return kStubBase + StubOffset(platform_systrap_ready); }
uint64_t SystrapHandlerAddr() { return kStubBase + StubOffset(platform_systrap_handler); }
uint64_t StubRestorerAddr() { return kStubBase + StubOffset(platform_stub_restorer); }
uint64_t StubEnd() { return kStubBase + StubCodeSize() + kStubDataSize; }

pid_t CurrentTid() {
  thread_local pid_t tid = 0;
  if (tid == 0) tid = static_cast<pid_t>(syscall(SYS_gettid));
  return tid;
}

namespace {

// What the factory answers a request with: a stub's pid, or why it has none.
struct FactoryReply {
  int32_t pid = -1;
  int32_t err = 0;     // errno of a failed clone/wait4, if pid <= 0
  int32_t status = 0;  // wait status of a stub that failed to start
};

// In the factory: forks one stub and waits for its SIGSTOP (start-up done),
// then lets it go on into its pause() loop with SIGCONT, which also ends the
// job-control stop (a group-stopped process would make the stub threads it
// later clones join the stop).
FactoryReply FactoryNewStub(int memory_fd, int extra_fd, pid_t self, StubFilter& filter) {
  FactoryReply r;
  const long pid = RawSyscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    r.err = static_cast<int32_t>(-pid);
    return r;
  }
  if (pid == 0) StubChild(memory_fd, extra_fd, self, filter);
  int status = 0;
  long w;
  do {
    w = RawSyscall(SYS_wait4, pid, reinterpret_cast<long>(&status), WUNTRACED | __WALL, 0);
  } while (w == -EINTR);
  if (w != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
    RawSyscall(SYS_kill, pid, SIGKILL);
    r.err = w < 0 ? static_cast<int32_t>(-w) : ECHILD;
    r.status = status;
    return r;
  }
  RawSyscall(SYS_kill, pid, SIGCONT);
  r.pid = static_cast<int32_t>(pid);
  return r;
}

// The factory process: forked from the sentry before its seccomp filter is
// installed; only raw syscalls (a copy of one thread of a possibly
// multithreaded process). It keeps `pool` replies written ahead on its
// socket, so that taking a ready stub never waits for the factory to be
// scheduled: the sentry reads one and acknowledges it with a byte, and the
// factory then makes the next.
[[noreturn]] __attribute__((noinline)) void FactoryMain(int memory_fd, int extra_fd, int sock, pid_t parent,
                                                        int pool, StubFilter& filter,
                                                        const std::vector<sock_filter>& factory_filter) {
  if (RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL) != 0) RawExit(30);
  if (RawSyscall(SYS_getppid) != parent) RawExit(31);
  CloseAllBut(memory_fd, sock, extra_fd);
  // A systrap factory's filter traps rather than kills (stub_filter.h): with
  // SIGSYS at its default action a stray syscall still ends the factory.
  KernelSigaction dfl{};
  RawSyscall(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(&dfl), 0, 8);
  if (RawSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) RawExit(32);
  if (InstallFilter(factory_filter) != 0) RawExit(33);
  const auto self = static_cast<pid_t>(RawSyscall(SYS_getpid));
  if (pool < 1) pool = 1;
  int outstanding = 0;  // replies written and not yet acknowledged
  for (;;) {
    // Stubs whose tracers are done with them end up here as zombies (a
    // traced zombie is visible only to its tracer until that reaps it).
    int st;
    while (RawSyscall(SYS_wait4, -1, reinterpret_cast<long>(&st), WNOHANG | __WALL, 0) > 0) {
    }
    while (outstanding < pool) {
      const FactoryReply r = FactoryNewStub(memory_fd, extra_fd, self, filter);
      if (RawSyscall(SYS_write, sock, reinterpret_cast<long>(&r), sizeof(r)) != sizeof(r)) RawExit(0);
      ++outstanding;
      if (r.pid <= 0) break;  // no retry loop: the next acknowledgement retries
    }
    char ack;
    const long got = RawSyscall(SYS_read, sock, reinterpret_cast<long>(&ack), 1);
    if (got == -EINTR) continue;
    if (got <= 0) RawExit(0);  // the sentry closed its end
    --outstanding;
  }
}

}  // namespace

Result<std::unique_ptr<StubFactory>> StubFactory::Start(int memory_fd, int pool, int extra_fd, bool systrap) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return base::FromHost(errno);
  base::UniqueFd mine(sv[0]), theirs(sv[1]);
  const pid_t parent = getpid();
  // Built here: the factory may not allocate.
  StubFilter filter = BuildStubFilter(memory_fd, extra_fd, systrap);
  const std::vector<sock_filter> factory_filter = BuildFactoryFilter(systrap);
  const long pid = RawSyscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    logging::Warn("ptrace: clone(SIGCHLD) for the stub factory failed: {}",
                  base::ErrnoName(base::FromHost(static_cast<int>(-pid))));
    return base::FromHost(static_cast<int>(-pid));
  }
  if (pid == 0) FactoryMain(memory_fd, extra_fd, theirs.get(), parent, pool, filter, factory_filter);
  logging::Debug("ptrace: stub factory {} started (pool of {})", pid, pool);
  return std::unique_ptr<StubFactory>(new StubFactory(static_cast<pid_t>(pid), std::move(mine)));
}

StubFactory::~StubFactory() {
  {
    absl::MutexLock l(&mu_);
    sock_.Reset();  // the factory exits; its ready stubs die with it (PDEATHSIG)
  }
  ::kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
  }
}

Result<NewStub> StubFactory::Take(bool pin) {
  for (int attempt = 0;; ++attempt) {
    FactoryReply r;
    {
      absl::MutexLock l(&mu_);
      ssize_t n;
      do {
        n = ::read(sock_.get(), &r, sizeof(r));
      } while (n < 0 && errno == EINTR);
      if (n == sizeof(r)) {
        // The factory makes the next one while we seize this one.
        char ack = 1;
        iovec iov{.iov_base = &ack, .iov_len = 1};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        do {
          n = sendmsg(sock_.get(), &m, MSG_NOSIGNAL) == 1 ? sizeof(r) : -1;
        } while (n < 0 && errno == EINTR);
      }
      if (n != sizeof(r)) {
        logging::Warn("ptrace: the stub factory {} is gone", pid_);
        return Errno::kEAGAIN;
      }
    }
    if (r.pid <= 0) {
      logging::Warn("ptrace: the stub factory could not make a stub: {} (status {:#x})",
                    base::ErrnoName(base::FromHost(r.err)), r.status);
      return r.err == ENOMEM ? Errno::kENOMEM : Errno::kEAGAIN;
    }
    if (pin) {
      // Before the seize: the stub's first stop then happens on the
      // tracer's CPU.
      cpu_set_t set;
      if (sched_getaffinity(0, sizeof(set), &set) == 0 && sched_setaffinity(r.pid, sizeof(set), &set) != 0) {
        logging::Debug("ptrace: pinning stub {}: {}", r.pid, base::ErrnoName(base::FromHost(errno)));
      }
    }
    auto s = Seize(r.pid);
    // A ready stub may have been killed from outside: take the next one.
    if (s.ok() || attempt >= 2) return s;
  }
}

Result<NewStub> StubFactory::Seize(pid_t pid) {
  NewStub stub;
  stub.pid = pid;
  auto fail = [&](const char* what) -> Errno {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: {} of new stub {} failed: {}", what, pid, base::ErrnoName(e));
    ::kill(pid, SIGKILL);
    return e;
  };
  // EXITKILL: if this thread dies, the stub dies with it rather than
  // running app code untraced.
  if (::ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0) return fail("PTRACE_SEIZE");
  auto kill_and_reap = [&] {
    ::kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR) {
    }
  };
  if (::ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) {
    const Errno e = fail("PTRACE_INTERRUPT");
    kill_and_reap();
    return e;
  }
  for (;;) {
    int st = 0;
    pid_t w;
    do {
      w = waitpid(pid, &st, __WALL);
    } while (w < 0 && errno == EINTR);
    if (w != pid) {
      const Errno e = fail("waitpid");
      kill_and_reap();
      return e;
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      logging::Warn("ptrace: new stub {} ended before it was seized (status {:#x})", pid, st);
      return Errno::kECHILD;
    }
    if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP) break;
    if (::ptrace(PTRACE_CONT, pid, 0, 0) != 0) {
      const Errno e = fail("PTRACE_CONT");
      kill_and_reap();
      return e;
    }
  }
  if (::ptrace(PTRACE_GETREGS, pid, 0, &stub.init_regs) != 0) {
    const Errno e = fail("PTRACE_GETREGS");
    kill_and_reap();
    return e;
  }
  if (stub.init_regs.rip < kStubBase || stub.init_regs.rip >= StubEnd()) {
    logging::Warn("ptrace: stub {} stopped outside the stub at {:#x}", pid, stub.init_regs.rip);
    kill_and_reap();
    return Errno::kECHILD;
  }
  return stub;
}

}  // namespace platform::ptrace
