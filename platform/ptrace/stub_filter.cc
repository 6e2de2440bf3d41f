#include "platform/ptrace/stub_filter.h"

#include <linux/audit.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "platform/ptrace/stub.h"

namespace platform::ptrace {
namespace {

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kKillProcess = SECCOMP_RET_KILL_PROCESS;
constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

// The clone flags of StubProcess::CreateThread, and nothing else.
constexpr uint32_t kThreadCloneFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

constexpr uint32_t ArgLo(unsigned i) { return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i); }
constexpr uint32_t ArgHi(unsigned i) { return ArgLo(i) + 4; }

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(code, k, jt, jf); }
sock_filter Load(uint32_t off) { return Stmt(BPF_LD | BPF_W | BPF_ABS, off); }

// One syscall's rule: its body runs only when the number matches, and always
// ends in a return. Conditions that fail kill.
class Builder {
 public:
  std::vector<sock_filter> insns;

  void Rule(int nr, const std::vector<sock_filter>& body) {
    insns.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, static_cast<uint8_t>(body.size())));
    insns.insert(insns.end(), body.begin(), body.end());
  }
  void Allow(int nr) { Rule(nr, {Stmt(BPF_RET | BPF_K, kAllow)}); }
};

// `load off; if (A != v) kill;` appended to body.
// `deny`: what a refused syscall gets (a kill; TRAP for systrap stubs).
void RequireEq(std::vector<sock_filter>& body, uint32_t off, uint32_t v, uint32_t deny) {
  body.push_back(Load(off));
  body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, v, 1, 0));
  body.push_back(Stmt(BPF_RET | BPF_K, deny));
}
void Require64(std::vector<sock_filter>& body, unsigned arg, uint64_t v, uint32_t deny) {
  RequireEq(body, ArgLo(arg), static_cast<uint32_t>(v), deny);
  RequireEq(body, ArgHi(arg), static_cast<uint32_t>(v >> 32), deny);
}

// Syscalls allowed with any arguments, and who needs them.
constexpr int kPlain[] = {
    SYS_munmap,          // Unmap; start-up drops the sentry's mappings
    SYS_sigaltstack,     // start-up and new threads: the fault probe's stack
    SYS_rt_sigaction,    // start-up: the fault probe's SIGSEGV/SIGBUS handler
    SYS_rt_sigreturn,    // the probe's (unused) restorer
    SYS_getpid,          // start-up: kill(getpid(), SIGSTOP)
    SYS_pause,           // new threads wait to be seized
    SYS_restart_syscall, // pause() interrupted by a stop
    SYS_exit,            // ReleaseThread
    SYS_exit_group,      // start-up failure
    SYS_gettimeofday,    // the kernel-emulated [vsyscall] page (seccomp sees it)
    SYS_time,            // [vsyscall]
    SYS_getcpu,          // [vsyscall]
};

// The factory's own filter (no argument checks): what the factory does, what
// a new stub does before its own filter, and everything the stub filter
// allows (filters stack: stubs inherit this one).
constexpr int kFactoryPlain[] = {
    // The factory.
    SYS_read, SYS_write, SYS_wait4, SYS_clone, SYS_kill, SYS_getpid, SYS_exit_group,
    // A new stub before its own filter.
    SYS_prctl, SYS_getppid, SYS_close_range, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_sigaltstack, SYS_rseq,
    SYS_seccomp,
    // The stub filter's syscalls.
    SYS_munmap, SYS_rt_sigreturn, SYS_pause, SYS_restart_syscall, SYS_exit, SYS_gettimeofday, SYS_time,
    SYS_getcpu, SYS_mmap, SYS_mprotect, SYS_mremap, SYS_getrusage};

}  // namespace

StubFilter BuildStubFilter(int memory_fd, int extra_fd, bool systrap) {
  const uint32_t kKill = systrap ? SECCOMP_RET_TRAP : kKillProcess;
  Builder b;
  // x86-64 only (int 0x80 from untraced code is i386), and no x32 numbers.
  b.insns.push_back(Load(offsetof(seccomp_data, arch)));
  b.insns.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));
  b.insns.push_back(Load(offsetof(seccomp_data, nr)));
  b.insns.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));

  for (int nr : kPlain) b.Allow(nr);

  // mmap: Map (the memory file, MAP_SHARED|MAP_FIXED, any protection) or a
  // thread's altstack (anonymous, private, fixed, never executable).
  {
    const uint32_t shared = MAP_SHARED | MAP_FIXED;
    const uint32_t anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    std::vector<sock_filter> body;
    RequireEq(body, ArgHi(3), 0, kKill);
    body.push_back(Load(ArgLo(3)));
    body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, shared, 0, 5));  // -> anonymous
    body.push_back(Load(ArgLo(4)));
    body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(memory_fd), 1, 0));
    // The sysmsg file (systrap), else the memory fd again.
    body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(extra_fd >= 0 ? extra_fd : memory_fd), 0, 1));
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    body.push_back(Stmt(BPF_RET | BPF_K, kKill));
    body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, anon, 1, 0));  // anonymous:
    body.push_back(Stmt(BPF_RET | BPF_K, kKill));
    body.push_back(Load(ArgLo(2)));
    body.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1));
    body.push_back(Stmt(BPF_RET | BPF_K, kKill));
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_mmap, body);
  }
  // mprotect: Protect, read/write/exec bits only (app code is executable).
  {
    std::vector<sock_filter> body;
    body.push_back(Load(ArgLo(2)));
    body.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, ~static_cast<uint32_t>(PROT_READ | PROT_WRITE | PROT_EXEC), 0, 1));
    body.push_back(Stmt(BPF_RET | BPF_K, kKill));
    RequireEq(body, ArgHi(2), 0, kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_mprotect, body);
  }
  // mremap: only start-up's move of the stub code to kStubBase.
  {
    std::vector<sock_filter> body;
    Require64(body, 3, MREMAP_MAYMOVE | MREMAP_FIXED, kKill);
    Require64(body, 4, kStubBase, kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_mremap, body);
  }
  // clone: only the injected thread clone (CreateThread).
  {
    std::vector<sock_filter> body;
    Require64(body, 0, kThreadCloneFlags, kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_clone, body);
  }
  // getrusage: only RUSAGE_THREAD (MeasureCpu: a thread's own CPU time).
  {
    std::vector<sock_filter> body;
    Require64(body, 0, static_cast<uint64_t>(RUSAGE_THREAD), kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_getrusage, body);
  }
  // prctl: only the dumpable toggle (SyncDumpable).
  {
    std::vector<sock_filter> body;
    Require64(body, 0, PR_SET_DUMPABLE, kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_prctl, body);
  }
  // kill: only start-up's kill(self, SIGSTOP); the pid is patched in.
  StubFilter f;
  {
    std::vector<sock_filter> body;
    Require64(body, 1, SIGSTOP, kKill);
    RequireEq(body, ArgHi(0), 0, kKill);
    body.push_back(Load(ArgLo(0)));
    f.pid_insn = b.insns.size() + 1 + body.size();  // +1: the rule's number test
    body.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, 0 /* patched */, 1, 0));
    body.push_back(Stmt(BPF_RET | BPF_K, kKill));
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_kill, body);
  }
  if (systrap) {
    // The signal handlers' handoff with the sentry, and each app thread's
    // own filter (stub.h, SystrapThreadEntry). The app thread's filter is
    // the strict one: these are reachable only from stub code there.
    b.Allow(SYS_futex);
    std::vector<sock_filter> body;
    Require64(body, 0, SECCOMP_SET_MODE_FILTER, kKill);
    body.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    b.Rule(SYS_seccomp, body);
  }
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));
  f.insns = std::move(b.insns);
  return f;
}

std::vector<sock_filter> BuildFactoryFilter(bool systrap) {
  const uint32_t kKill = systrap ? SECCOMP_RET_TRAP : kKillProcess;
  Builder b;
  b.insns.push_back(Load(offsetof(seccomp_data, arch)));
  b.insns.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));
  b.insns.push_back(Load(offsetof(seccomp_data, nr)));
  b.insns.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));
  for (int nr : kFactoryPlain) b.Allow(nr);
  if (systrap) b.Allow(SYS_futex);
  b.insns.push_back(Stmt(BPF_RET | BPF_K, kKill));
  return std::move(b.insns);
}

long InstallFilter(const std::vector<sock_filter>& insns) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(insns.size());
  prog.filter = const_cast<sock_filter*>(insns.data());
  long ret;
  register long r10 asm("r10") = 0;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(SYS_seccomp), "D"(SECCOMP_SET_MODE_FILTER), "S"(0), "d"(&prog), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}

int FactoryFilterAllowedCount(bool systrap) { return static_cast<int>(std::size(kFactoryPlain)) + (systrap ? 1 : 0); }

long InstallStubFilter(StubFilter& filter, pid_t self) {
  filter.insns[filter.pid_insn].k = static_cast<uint32_t>(self);
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.insns.size());
  prog.filter = filter.insns.data();
  long ret;
  // A raw syscall: the caller is a freshly forked child of a multithreaded
  // process (no libc).
  register long r10 asm("r10") = 0;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(SYS_seccomp), "D"(SECCOMP_SET_MODE_FILTER), "S"(0), "d"(&prog), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}

int StubFilterAllowedCount(bool systrap) {
  // kPlain plus mmap, mprotect, mremap, clone, getrusage, prctl, kill
  // (systrap: and futex, seccomp).
  return static_cast<int>(std::size(kPlain)) + 7 + (systrap ? 2 : 0);
}

}  // namespace platform::ptrace
