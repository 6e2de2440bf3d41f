// The stub's own seccomp filter (defense in depth): a stub runs app code, and
// if that code ever ran untraced (a tracer bug, a kernel bug) it would make
// host syscalls directly. The filter allows only what the stub's start-up,
// the tracer's injected syscalls (Map/Unmap/Protect, thread creation, the
// dumpable toggle, thread exit) and the kernel-emulated [vsyscall] page need;
// anything else kills the whole stub (SECCOMP_RET_KILL_PROCESS).
//
// App syscalls never reach it: under PTRACE_SYSEMU the kernel reports the
// syscall-enter stop and skips the syscall before seccomp runs (Linux >= 4.8,
// commit 93e35efb8de4), so only syscalls the stub really executes are checked.
// Filters stack: the stub also keeps whatever filter the sentry had when it
// forked it. Internal to platform/ptrace/.
#ifndef PLATFORM_PTRACE_STUB_FILTER_H_
#define PLATFORM_PTRACE_STUB_FILTER_H_

#include <linux/filter.h>
#include <sys/types.h>

#include <vector>

namespace platform::ptrace {

// The BPF program for a stub holding `memory_fd`, built before the fork (the
// child may not allocate). The stub's own pid is patched in by
// InstallStubFilter: kill(2) is allowed only as kill(self, SIGSTOP).
struct StubFilter {
  std::vector<sock_filter> insns;
  size_t pid_insn = 0;  // index of the instruction comparing kill's pid
};
//
// Systrap stubs (platform/systrap/, `systrap` true) differ: they also hold
// the sysmsg file (`extra_fd`, mappable like the memory file), may use
// futex (the handlers' handoff with the sentry) and seccomp (each app thread
// installs its own stricter filter), and anything else is
// SECCOMP_RET_TRAP instead of a kill: filters stack and the strictest
// action wins, so a kill here would beat the app thread filter's TRAP for
// every app syscall. (An app thread's own filter decides; a stray syscall
// of the traced main thread still never runs.)
StubFilter BuildStubFilter(int memory_fd, int extra_fd = -1, bool systrap = false);

// In the forked child (raw syscalls only, no allocation): patches `self` into
// the child's copy of the program and loads it. Requires no_new_privs.
// Returns 0 or -errno.
long InstallStubFilter(StubFilter& filter, pid_t self);

// The number of distinct syscalls the filter lets run (for logs and docs).
int StubFilterAllowedCount(bool systrap = false);

// The stub factory's filter (stub.h): a plain allowlist of what the factory,
// a starting stub, and the stub filter need (stubs inherit it). Built before
// the factory forks; installed with InstallFilter (raw syscall; requires
// no_new_privs; returns 0 or -errno).
// `systrap`: also futex, and SECCOMP_RET_TRAP rather than a kill for the
// rest (see BuildStubFilter; the factory resets SIGSYS to its default
// action, so a stray syscall of its own still kills it).
std::vector<sock_filter> BuildFactoryFilter(bool systrap = false);
long InstallFilter(const std::vector<sock_filter>& insns);
int FactoryFilterAllowedCount(bool systrap = false);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_FILTER_H_
