// The sentry's host syscall allowlist. The sentry runs hostile code's
// requests; if that code found a bug and runs its own code in the sentry,
// these are all the host syscalls it gets. Keep each line's reason true.
//
// The ptrace stubs are not forked from the filtered sentry: the platform's
// stub factory (platform/ptrace/stub.h) is forked when the platform is
// created, before this filter is installed, and forks every stub. So nothing
// here is for the stubs (they run under their own, much smaller filter,
// platform/ptrace/stub_filter.cc), and the sentry itself never makes an
// executable mapping: mmap and mprotect with PROT_EXEC are refused (issue
// #7). App syscalls never reach either filter: PTRACE_SYSEMU stops them
// before seccomp runs.
#include <linux/futex.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <termios.h>

#include <cerrno>
#include <initializer_list>

#include "runsc/seccomp_filter.h"

namespace runsc::seccomp {
namespace {

// clone(2) flags that create namespaces. Threads need none of them.
constexpr uint64_t kCloneNewMask = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                   CLONE_NEWPID | CLONE_NEWNET;
constexpr uint64_t kPtraceOSuspendSeccomp = 1 << 21;  // PTRACE_O_SUSPEND_SECCOMP

}  // namespace

Policy SentryPolicy(const SentryPolicyOptions& o) {
  Policy p{.name = "sentry", .rules = {}};
  auto allow = [&p](int nr, std::string_view why, std::vector<scmp_arg_cmp> args = {}) {
    p.rules.push_back(Rule{.nr = nr, .args = std::move(args), .why = why, .fail_errno = 0});
  };
  auto refuse = [&p](int nr, int e, std::string_view why) {
    p.rules.push_back(Rule{.nr = nr, .args = {}, .why = why, .fail_errno = e});
  };

  // I/O on fds the sentry holds: stdio host files, gofer-donated files, the
  // memfd, its log file, eventfds/pipes of a poller thread.
  allow(SYS_read, "host files (stdio, gofer-donated), eventfd");
  allow(SYS_write, "host files, logging, eventfd");
  allow(SYS_pread64, "gofer-donated regular files");
  allow(SYS_pwrite64, "gofer-donated regular files");
  allow(SYS_readv, "host files");
  allow(SYS_writev, "host files, logging");
  allow(SYS_preadv, "gofer-donated files");
  allow(SYS_pwritev, "gofer-donated files");
  allow(SYS_lseek, "gofer-donated files, directories");
  allow(SYS_getdents64, "directories donated by the gofer");
  allow(SYS_fstat, "host files (type, size, /proc/self/fd names)");
  allow(SYS_newfstatat, "fstat via AT_EMPTY_PATH (glibc); no path exists in the empty root");
  allow(SYS_statx, "attributes of donated fds (gofer::HostAttr), glibc's fstat; no path exists in the empty root");
  allow(SYS_fstatfs, "statfs of donated files");
  allow(SYS_fsync, "fsync of donated files");
  allow(SYS_fdatasync, "fdatasync of donated files");
  allow(SYS_ftruncate, "memory file sizing, donated files");
  allow(SYS_fallocate, "memory file: punch holes to free app memory");
  allow(SYS_close, "every fd");
  allow(SYS_close_range, "closing fd ranges (glibc closefrom)");
  allow(SYS_dup, "stdio set-up");
  allow(SYS_dup3, "fd shuffling");
  allow(SYS_fcntl, "F_GETFL/F_SETFL/F_DUPFD_CLOEXEC on host fds");
  allow(SYS_poll, "readiness of host stdio (O_NONBLOCK emulation)");
  allow(SYS_ppoll, "readiness of host fds");
  allow(SYS_epoll_create1, "host fd poller thread");
  allow(SYS_epoll_ctl, "host fd poller thread");
  allow(SYS_epoll_wait, "host fd poller thread");
  allow(SYS_epoll_pwait, "host fd poller thread");
  allow(SYS_eventfd2, "waking the poller thread");
  allow(SYS_pipe2, "internal wake-up pipes");
  for (uint64_t req : std::initializer_list<uint64_t>{TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ,
                                                     TIOCGPGRP, TIOCSPGRP, FIONREAD, FIONBIO}) {
    allow(SYS_ioctl, "terminal ioctls on host stdio (fs/host_file.cc)", {ArgEq(1, req)});
  }
  // The gofer connection (a socketpair made by runsc do). No socket(2).
  allow(SYS_sendmsg, "gofer requests");
  allow(SYS_recvmsg, "gofer replies and donated fds");
  allow(SYS_accept4, "control socket (runsc exec/ps), bound by runsc do before the pivot (runsc/control.h)");

  // Memory: the sentry's heap and stacks and the memfd mapping; never
  // executable (only stubs map app code, and they are not under this filter).
  (void)o.memory_fd;
  allow(SYS_mmap, "malloc, thread stacks, the memfd: never executable", {ArgMaskedEq(2, PROT_EXEC, 0)});
  allow(SYS_mprotect, "malloc guard pages: never executable", {ArgMaskedEq(2, PROT_EXEC, 0)});
  allow(SYS_munmap, "malloc, thread stacks");
  allow(SYS_mremap, "malloc (realloc of large blocks); cannot add PROT_EXEC");
  allow(SYS_madvise, "malloc, MADV_DONTNEED of thread stacks");
  allow(SYS_brk, "malloc");
  allow(SYS_memfd_create, "a further memory file (no path)");

  // Threads, stubs and their lifecycle.
  // Threads only: CLONE_VM|CLONE_THREAD set, no namespace flags (stubs come
  // from the factory, so the sentry never forks a process).
  allow(SYS_clone, "sentry threads (task threads, pollers); never a new process or namespace",
        {ArgMaskedEq(0, kCloneNewMask | CLONE_VM | CLONE_THREAD, CLONE_VM | CLONE_THREAD)});
  refuse(SYS_clone3, ENOSYS, "its flags are in memory, so unfilterable: glibc falls back to clone");
  allow(SYS_futex, "mutexes, condition variables, thread joins");
  allow(SYS_set_robust_list, "glibc thread start");
  allow(SYS_rseq, "glibc thread start");
  allow(SYS_exit, "thread exit");
  allow(SYS_exit_group, "sentry exit");
  allow(SYS_wait4, "ptrace stops of stubs, reaping stubs and the factory");
  allow(SYS_waitid, "reaping stubs");
  allow(SYS_kill, "killing stubs and the stub factory");
  allow(SYS_tgkill, "interrupting stub threads; signal forwarding; abort()");
  allow(SYS_tkill, "interrupting threads");
  allow(SYS_getpid, "logging");
  allow(SYS_gettid, "ptrace tracer thread checks");
  allow(SYS_sched_yield, "spinning");
  allow(SYS_sched_getaffinity, "CPU pinning of tracer threads");
  allow(SYS_sched_setaffinity, "CPU pinning of tracer threads and their stubs");
  // glibc's pthread_create reads the creating thread's policy the first time
  // that thread creates one (a forked task's thread starting its child).
  allow(SYS_sched_getparam, "glibc pthread_create: the creating thread's parameters (by its tid; the sentry sees only its own pid namespace)");
  allow(SYS_sched_getscheduler, "glibc pthread_create: the creating thread's policy");
  allow(SYS_getcpu, "CPU pinning; the app's vsyscall getcpu");
  allow(SYS_getrlimit, "glibc");
  allow(SYS_prlimit64, "glibc (getrlimit)");
  allow(SYS_getrusage, "app getrusage/times accounting");
  allow(SYS_getuid, "credentials of the first process");
  allow(SYS_geteuid, "credentials");
  allow(SYS_getgid, "credentials");
  allow(SYS_getegid, "credentials");
  for (int option : std::initializer_list<int>{PR_SET_NAME, PR_GET_NAME}) {
    allow(SYS_prctl, "thread names", {ArgEq(0, static_cast<uint64_t>(option))});
  }
  allow(SYS_arch_prctl, "glibc TLS");

  // ptrace of the sentry's own stubs (the factory's children, seized; the
  // sandbox's pid namespace holds nothing else). Requests that read or
  // weaken seccomp are left out.
  for (long req : std::initializer_list<long>{PTRACE_PEEKTEXT, PTRACE_PEEKDATA, PTRACE_PEEKUSER, PTRACE_POKETEXT,
                   PTRACE_POKEDATA, PTRACE_POKEUSER, PTRACE_CONT, PTRACE_KILL, PTRACE_SINGLESTEP, PTRACE_GETREGS,
                   PTRACE_SETREGS, PTRACE_GETFPREGS, PTRACE_SETFPREGS, PTRACE_ATTACH, PTRACE_DETACH,
                   PTRACE_SYSCALL, PTRACE_SYSEMU, PTRACE_SYSEMU_SINGLESTEP, PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO,
                   PTRACE_SETSIGINFO, PTRACE_GETREGSET, PTRACE_SETREGSET, PTRACE_INTERRUPT, PTRACE_LISTEN,
                   PTRACE_PEEKSIGINFO, PTRACE_GETSIGMASK, PTRACE_SETSIGMASK, PTRACE_GET_SYSCALL_INFO}) {
    allow(SYS_ptrace, "driving stubs (platform/ptrace)", {ArgEq(0, static_cast<uint64_t>(req))});
  }
  allow(SYS_process_vm_writev,
        "syscall batches into a stub's own buffer (platform/ptrace); reaches only what PTRACE_POKEDATA does");
  for (long req : std::initializer_list<long>{PTRACE_SETOPTIONS, PTRACE_SEIZE}) {
    allow(SYS_ptrace, "stub options (EXITKILL, TRACESYSGOOD, TRACECLONE); never SUSPEND_SECCOMP",
          {ArgEq(0, static_cast<uint64_t>(req)), ArgMaskedEq(3, kPtraceOSuspendSeccomp, 0)});
  }

  // Signals.
  allow(SYS_rt_sigaction, "SIGSYS/forwarded signal set-up");
  allow(SYS_rt_sigprocmask, "signal masks of threads");
  allow(SYS_sigaltstack, "the sanitizers' abort path (the --debug seccomp trap handler aborts); only the caller's own stack");
  allow(SYS_rt_sigreturn, "return from the sentry's signal handlers");
  allow(SYS_rt_sigtimedwait, "the signal forwarder thread (sigwait)");
  allow(SYS_restart_syscall, "host restarts of interrupted sleeps");

  // Time and randomness.
  allow(SYS_clock_gettime, "time (vdso fallback)");
  allow(SYS_clock_getres, "clock_getres");
  allow(SYS_gettimeofday, "vdso fallback; the app's vsyscall page");
  allow(SYS_time, "the app's vsyscall page");
  allow(SYS_nanosleep, "sleeps");
  allow(SYS_clock_nanosleep, "sleeps, timed waits");
  allow(SYS_getrandom, "AT_RANDOM, app getrandom");
  allow(SYS_timerfd_create, "timers of a poller thread");
  allow(SYS_timerfd_settime, "timers of a poller thread");

  // Path-based calls answer like the empty root would, rather than killing:
  // a library that probes a path (locale, tunables) must not take the sandbox
  // down, and nothing is opened either way.
  refuse(SYS_openat, ENOENT, "the sentry opens no host path (empty root)");
  refuse(SYS_open, ENOENT, "the sentry opens no host path (empty root)");
  refuse(SYS_access, ENOENT, "the sentry opens no host path (empty root)");
  refuse(SYS_readlink, ENOENT, "the sentry opens no host path (empty root)");
  return p;
}

}  // namespace runsc::seccomp
