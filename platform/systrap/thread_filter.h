// The seccomp filter each app thread installs on itself. Internal to
// platform/systrap/.
#ifndef PLATFORM_SYSTRAP_THREAD_FILTER_H_
#define PLATFORM_SYSTRAP_THREAD_FILTER_H_

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace platform::systrap {

// For the app thread whose futex word is at stub address `state_addr`:
//   - a syscall made from stub code (instruction pointer at or above
//     kStubBase): only what the signal handler needs, x86-64 only, with
//     argument checks: futex(state_addr, FUTEX_WAIT or FUTEX_WAKE, ...),
//     rt_sigreturn, getrusage(RUSAGE_THREAD, ...), exit; anything else
//     kills the stub (SECCOMP_RET_KILL_PROCESS). So app code that jumps
//     into stub code gains nothing (no mmap, munmap, mprotect, clone...).
//   - any other syscall (app code, any architecture or number):
//     SECCOMP_RET_TRAP, i.e. SIGSYS to the handler, i.e. a syscall stop.
std::vector<sock_filter> BuildThreadFilter(uint64_t state_addr);
// Syscalls it lets run (from stub code): futex, rt_sigreturn, exit, getrusage.
inline constexpr int kThreadFilterAllowedCount = 4;

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_THREAD_FILTER_H_
