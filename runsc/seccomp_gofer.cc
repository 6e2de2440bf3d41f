// The gofer's host syscall allowlist: what gofer::ServeFds needs after
// start-up (gofer/README.md), plus glibc's malloc and exit. The gofer's root
// is the rootfs alone (runsc/sandbox.h), so even these path calls stay in it.
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>

#include "runsc/seccomp_filter.h"

namespace runsc::seccomp {

Policy GoferPolicy() {
  Policy p{.name = "gofer", .rules = {}};
  auto allow = [&p](int nr, std::string_view why, std::vector<scmp_arg_cmp> args = {}) {
    p.rules.push_back(Rule{.nr = nr, .args = std::move(args), .why = why, .fail_errno = 0});
  };
  auto refuse = [&p](int nr, int e, std::string_view why) {
    p.rules.push_back(Rule{.nr = nr, .args = {}, .why = why, .fail_errno = e});
  };
  // The protocol.
  allow(SYS_recvmsg, "requests from the sentry");
  allow(SYS_sendmsg, "replies and donated fds");
  // File serving (gofer/server.cc), each relative to an fd the gofer holds.
  allow(SYS_openat, "Walk (O_PATH|O_NOFOLLOW), Open (re-open via /proc/self/fd), Create");
  allow(SYS_newfstatat, "attributes of walked nodes");
  allow(SYS_fstat, "attributes, dev/ino checks on re-open");
  allow(SYS_statx, "attributes with the birth time (gofer::HostAttr); glibc fstatat on some versions");
  allow(SYS_fstatfs, "Statfs");
  allow(SYS_readlinkat, "Readlink");
  allow(SYS_mkdirat, "Mkdir");
  allow(SYS_symlinkat, "Symlink");
  allow(SYS_mknodat, "Mknod (FIFOs and sockets only)");
  allow(SYS_unlinkat, "Unlink");
  allow(SYS_renameat, "Rename");
  allow(SYS_renameat2, "Rename (glibc may use renameat2)");
  allow(SYS_fchownat, "owner of created nodes");
  allow(SYS_fchown, "owner of created files");
  // Writable mounts (SetAttr, Link, xattrs), each on an fd the gofer holds:
  // an O_PATH node fd or its re-opened data fd, never a path string.
  allow(SYS_fchmod, "SetAttr mode, on a re-opened data fd");
  allow(SYS_ftruncate, "SetAttr size, on a re-opened O_WRONLY fd");
  allow(SYS_utimensat, "SetAttr times: futimens on a data fd, AT_EMPTY_PATH on a symlink's O_PATH fd");
  allow(SYS_linkat, "Link: AT_EMPTY_PATH of the target's O_PATH fd, or its /proc/self/fd link");
  allow(SYS_fgetxattr, "GetXattr (user.* only)");
  allow(SYS_flistxattr, "ListXattr (filtered to user.*)");
  allow(SYS_fsetxattr, "SetXattr (user.* only)");
  allow(SYS_fremovexattr, "RemoveXattr (user.* only)");
  allow(SYS_close, "Release, temporary fds");
  allow(SYS_umask, "ServeFds sets umask 0 (the sentry applies the app's)");
  allow(SYS_fcntl, "fd flags");
  allow(SYS_write, "logging");
  allow(SYS_read, "glibc reads the rootfs's /etc/localtime for log timestamps");
  allow(SYS_writev, "logging (stdio)");
  allow(SYS_lseek, "stdio");
  // glibc.
  allow(SYS_mmap, "malloc: never executable", {ArgMaskedEq(2, PROT_EXEC, 0)});
  allow(SYS_mprotect, "malloc: never executable", {ArgMaskedEq(2, PROT_EXEC, 0)});
  allow(SYS_munmap, "malloc");
  allow(SYS_mremap, "malloc");
  allow(SYS_madvise, "malloc");
  allow(SYS_brk, "malloc");
  allow(SYS_futex, "glibc locks");
  allow(SYS_clock_gettime, "log timestamps (vdso fallback)");
  allow(SYS_gettimeofday, "log timestamps (vdso fallback)");
  allow(SYS_getpid, "logging, abort()");
  allow(SYS_gettid, "abort()");
  allow(SYS_tgkill, "abort()");
  allow(SYS_rt_sigprocmask, "abort()");
  allow(SYS_rt_sigaction, "abort()");
  allow(SYS_rt_sigreturn, "signal handlers (SIGSYS report in --debug)");
  allow(SYS_restart_syscall, "host restarts");
  allow(SYS_exit_group, "exit");
  allow(SYS_exit, "exit");
  refuse(SYS_clone3, ENOSYS, "no threads");
  return p;
}

}  // namespace runsc::seccomp
