// Handler declarations, one block per family file (syscalls/<family>.cc).
#ifndef SYSCALLS_HANDLERS_H_
#define SYSCALLS_HANDLERS_H_

#include "syscalls/syscall.h"

namespace syscalls {

// syscalls/file.cc
Result<uint64_t> Read(Task& t, const SyscallArgs& args);
Result<uint64_t> Write(Task& t, const SyscallArgs& args);
Result<uint64_t> Open(Task& t, const SyscallArgs& args);
Result<uint64_t> Close(Task& t, const SyscallArgs& args);
Result<uint64_t> Lseek(Task& t, const SyscallArgs& args);
Result<uint64_t> Ioctl(Task& t, const SyscallArgs& args);
Result<uint64_t> Pread64(Task& t, const SyscallArgs& args);
Result<uint64_t> Pwrite64(Task& t, const SyscallArgs& args);
Result<uint64_t> Readv(Task& t, const SyscallArgs& args);
Result<uint64_t> Writev(Task& t, const SyscallArgs& args);
Result<uint64_t> Dup(Task& t, const SyscallArgs& args);
Result<uint64_t> Dup2(Task& t, const SyscallArgs& args);
Result<uint64_t> Fcntl(Task& t, const SyscallArgs& args);
Result<uint64_t> Flock(Task& t, const SyscallArgs& args);
Result<uint64_t> Getdents64(Task& t, const SyscallArgs& args);
Result<uint64_t> Openat(Task& t, const SyscallArgs& args);
Result<uint64_t> Dup3(Task& t, const SyscallArgs& args);

// syscalls/socket.cc (AF_UNIX; fs/unix_socket.h)
Result<uint64_t> Socket(Task& t, const SyscallArgs& args);
Result<uint64_t> Connect(Task& t, const SyscallArgs& args);
Result<uint64_t> Accept(Task& t, const SyscallArgs& args);
Result<uint64_t> Sendto(Task& t, const SyscallArgs& args);
Result<uint64_t> Recvfrom(Task& t, const SyscallArgs& args);
Result<uint64_t> Sendmsg(Task& t, const SyscallArgs& args);
Result<uint64_t> Recvmsg(Task& t, const SyscallArgs& args);
Result<uint64_t> Shutdown(Task& t, const SyscallArgs& args);
Result<uint64_t> Bind(Task& t, const SyscallArgs& args);
Result<uint64_t> Listen(Task& t, const SyscallArgs& args);
Result<uint64_t> Getsockname(Task& t, const SyscallArgs& args);
Result<uint64_t> Getpeername(Task& t, const SyscallArgs& args);
Result<uint64_t> Socketpair(Task& t, const SyscallArgs& args);
Result<uint64_t> Setsockopt(Task& t, const SyscallArgs& args);
Result<uint64_t> Getsockopt(Task& t, const SyscallArgs& args);
Result<uint64_t> Accept4(Task& t, const SyscallArgs& args);
Result<uint64_t> Recvmmsg(Task& t, const SyscallArgs& args);
Result<uint64_t> Sendmmsg(Task& t, const SyscallArgs& args);

// syscalls/stat.cc
Result<uint64_t> Stat(Task& t, const SyscallArgs& args);
Result<uint64_t> Fstat(Task& t, const SyscallArgs& args);
Result<uint64_t> Lstat(Task& t, const SyscallArgs& args);
Result<uint64_t> Access(Task& t, const SyscallArgs& args);
Result<uint64_t> Getcwd(Task& t, const SyscallArgs& args);
Result<uint64_t> Chdir(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchdir(Task& t, const SyscallArgs& args);
Result<uint64_t> Readlink(Task& t, const SyscallArgs& args);
Result<uint64_t> Newfstatat(Task& t, const SyscallArgs& args);
Result<uint64_t> Readlinkat(Task& t, const SyscallArgs& args);
Result<uint64_t> Faccessat(Task& t, const SyscallArgs& args);
Result<uint64_t> Statx(Task& t, const SyscallArgs& args);
Result<uint64_t> Faccessat2(Task& t, const SyscallArgs& args);

// syscalls/mm.cc
Result<uint64_t> Mmap(Task& t, const SyscallArgs& args);
Result<uint64_t> Mprotect(Task& t, const SyscallArgs& args);
Result<uint64_t> Munmap(Task& t, const SyscallArgs& args);
Result<uint64_t> Brk(Task& t, const SyscallArgs& args);
Result<uint64_t> Mremap(Task& t, const SyscallArgs& args);
Result<uint64_t> Madvise(Task& t, const SyscallArgs& args);
Result<uint64_t> Msync(Task& t, const SyscallArgs& args);
Result<uint64_t> Mincore(Task& t, const SyscallArgs& args);

// syscalls/signal.cc
Result<uint64_t> RtSigaction(Task& t, const SyscallArgs& args);
Result<uint64_t> RtSigprocmask(Task& t, const SyscallArgs& args);
Result<uint64_t> Sigaltstack(Task& t, const SyscallArgs& args);

// syscalls/process.cc
Result<uint64_t> SchedYield(Task& t, const SyscallArgs& args);
Result<uint64_t> Getpid(Task& t, const SyscallArgs& args);
Result<uint64_t> Exit(Task& t, const SyscallArgs& args);
Result<uint64_t> Uname(Task& t, const SyscallArgs& args);
Result<uint64_t> Sethostname(Task& t, const SyscallArgs& args);
Result<uint64_t> Setdomainname(Task& t, const SyscallArgs& args);
Result<uint64_t> Umask(Task& t, const SyscallArgs& args);
Result<uint64_t> Getrlimit(Task& t, const SyscallArgs& args);
Result<uint64_t> Sysinfo(Task& t, const SyscallArgs& args);
Result<uint64_t> Getuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Geteuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getegid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getppid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getpgrp(Task& t, const SyscallArgs& args);
Result<uint64_t> Getgroups(Task& t, const SyscallArgs& args);
Result<uint64_t> Getresuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getresgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getpgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getsid(Task& t, const SyscallArgs& args);
Result<uint64_t> Prctl(Task& t, const SyscallArgs& args);
// seccomp(2) (syscalls/seccomp.cc); prctl(PR_SET_SECCOMP) is its `op`.
Result<uint64_t> Seccomp(Task& t, const SyscallArgs& args);
Result<uint64_t> SetSeccompMode(Task& t, uint32_t op, uint32_t flags, uint64_t uargs);
// Dispatch, before a handler: runs the task's seccomp filters on syscall
// `nr`. False: the syscall must not run (rax holds its result, or the task
// was killed or got SIGSYS).
bool SeccompEnter(Task& t, uint64_t nr, const SyscallArgs& args);
Result<uint64_t> ArchPrctl(Task& t, const SyscallArgs& args);
Result<uint64_t> Setrlimit(Task& t, const SyscallArgs& args);
Result<uint64_t> Gettid(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetaffinity(Task& t, const SyscallArgs& args);
Result<uint64_t> SetTidAddress(Task& t, const SyscallArgs& args);
Result<uint64_t> ExitGroup(Task& t, const SyscallArgs& args);
Result<uint64_t> SetRobustList(Task& t, const SyscallArgs& args);
Result<uint64_t> GetRobustList(Task& t, const SyscallArgs& args);
Result<uint64_t> Prlimit64(Task& t, const SyscallArgs& args);
Result<uint64_t> Getrandom(Task& t, const SyscallArgs& args);

// syscalls/time.cc
Result<uint64_t> Nanosleep(Task& t, const SyscallArgs& args);
Result<uint64_t> Gettimeofday(Task& t, const SyscallArgs& args);
Result<uint64_t> Time(Task& t, const SyscallArgs& args);
Result<uint64_t> ClockGettime(Task& t, const SyscallArgs& args);
Result<uint64_t> ClockGetres(Task& t, const SyscallArgs& args);
Result<uint64_t> ClockSettime(Task& t, const SyscallArgs& args);
Result<uint64_t> Settimeofday(Task& t, const SyscallArgs& args);
Result<uint64_t> ClockNanosleep(Task& t, const SyscallArgs& args);
Result<uint64_t> Getcpu(Task& t, const SyscallArgs& args);

// syscalls/timer.cc
Result<uint64_t> TimerCreate(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerSettime(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerGettime(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerGetoverrun(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerDelete(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerfdCreate(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerfdSettime(Task& t, const SyscallArgs& args);
Result<uint64_t> TimerfdGettime(Task& t, const SyscallArgs& args);

// syscalls/signalfd.cc
Result<uint64_t> Signalfd(Task& t, const SyscallArgs& args);
Result<uint64_t> Signalfd4(Task& t, const SyscallArgs& args);

// syscalls/futex.cc
Result<uint64_t> Futex(Task& t, const SyscallArgs& args);
Result<uint64_t> FutexWaitv(Task& t, const SyscallArgs& args);
Result<uint64_t> FutexWake(Task& t, const SyscallArgs& args);
Result<uint64_t> FutexWait(Task& t, const SyscallArgs& args);
Result<uint64_t> FutexRequeue(Task& t, const SyscallArgs& args);

// syscalls/signal.cc (sending)
Result<uint64_t> Kill(Task& t, const SyscallArgs& args);
Result<uint64_t> Tkill(Task& t, const SyscallArgs& args);
Result<uint64_t> Tgkill(Task& t, const SyscallArgs& args);

// ---- Families added later: each owner inserts its declarations under its
// ---- own marker line (keeps parallel edits from touching the same lines).

// syscalls/fs_write.cc, syscalls/xattr.cc (tmpfs, overlay, mutations)
Result<uint64_t> Fsync(Task& t, const SyscallArgs& args);
Result<uint64_t> Fdatasync(Task& t, const SyscallArgs& args);
Result<uint64_t> Truncate(Task& t, const SyscallArgs& args);
Result<uint64_t> Ftruncate(Task& t, const SyscallArgs& args);
Result<uint64_t> Rename(Task& t, const SyscallArgs& args);
Result<uint64_t> Mkdir(Task& t, const SyscallArgs& args);
Result<uint64_t> Rmdir(Task& t, const SyscallArgs& args);
Result<uint64_t> Creat(Task& t, const SyscallArgs& args);
Result<uint64_t> Link(Task& t, const SyscallArgs& args);
Result<uint64_t> Unlink(Task& t, const SyscallArgs& args);
Result<uint64_t> Symlink(Task& t, const SyscallArgs& args);
Result<uint64_t> Chmod(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchmod(Task& t, const SyscallArgs& args);
Result<uint64_t> Chown(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchown(Task& t, const SyscallArgs& args);
Result<uint64_t> Lchown(Task& t, const SyscallArgs& args);
Result<uint64_t> Utime(Task& t, const SyscallArgs& args);
Result<uint64_t> Mknod(Task& t, const SyscallArgs& args);
Result<uint64_t> Statfs(Task& t, const SyscallArgs& args);
Result<uint64_t> Fstatfs(Task& t, const SyscallArgs& args);
Result<uint64_t> Sync(Task& t, const SyscallArgs& args);
Result<uint64_t> Setxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Lsetxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Fsetxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Getxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Lgetxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Fgetxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Listxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Llistxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Flistxattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Removexattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Lremovexattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Fremovexattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Utimes(Task& t, const SyscallArgs& args);
Result<uint64_t> Mkdirat(Task& t, const SyscallArgs& args);
Result<uint64_t> Mknodat(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchownat(Task& t, const SyscallArgs& args);
Result<uint64_t> Futimesat(Task& t, const SyscallArgs& args);
Result<uint64_t> Unlinkat(Task& t, const SyscallArgs& args);
Result<uint64_t> Renameat(Task& t, const SyscallArgs& args);
Result<uint64_t> Linkat(Task& t, const SyscallArgs& args);
Result<uint64_t> Symlinkat(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchmodat(Task& t, const SyscallArgs& args);
Result<uint64_t> Utimensat(Task& t, const SyscallArgs& args);
Result<uint64_t> Fallocate(Task& t, const SyscallArgs& args);
Result<uint64_t> Syncfs(Task& t, const SyscallArgs& args);
Result<uint64_t> Renameat2(Task& t, const SyscallArgs& args);
Result<uint64_t> MemfdCreate(Task& t, const SyscallArgs& args);
Result<uint64_t> Fchmodat2(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/file.cc, syscalls/fs_write.cc, syscalls/splice.cc, syscalls/fs_root.cc (#4 fsops)
Result<uint64_t> Preadv(Task& t, const SyscallArgs& args);
Result<uint64_t> Pwritev(Task& t, const SyscallArgs& args);
Result<uint64_t> Preadv2(Task& t, const SyscallArgs& args);
Result<uint64_t> Pwritev2(Task& t, const SyscallArgs& args);
Result<uint64_t> Getdents(Task& t, const SyscallArgs& args);
Result<uint64_t> CloseRange(Task& t, const SyscallArgs& args);
Result<uint64_t> Openat2(Task& t, const SyscallArgs& args);

Result<uint64_t> Sendfile(Task& t, const SyscallArgs& args);
Result<uint64_t> Splice(Task& t, const SyscallArgs& args);
Result<uint64_t> Tee(Task& t, const SyscallArgs& args);
Result<uint64_t> Vmsplice(Task& t, const SyscallArgs& args);
Result<uint64_t> CopyFileRange(Task& t, const SyscallArgs& args);
Result<uint64_t> Fadvise64(Task& t, const SyscallArgs& args);
Result<uint64_t> Readahead(Task& t, const SyscallArgs& args);
Result<uint64_t> SyncFileRange(Task& t, const SyscallArgs& args);
Result<uint64_t> Chroot(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/pipe.cc, syscalls/poll.cc, syscalls/epoll.cc, syscalls/eventfd.cc
Result<uint64_t> Pipe(Task& t, const SyscallArgs& args);
Result<uint64_t> Pipe2(Task& t, const SyscallArgs& args);
Result<uint64_t> Poll(Task& t, const SyscallArgs& args);
Result<uint64_t> Ppoll(Task& t, const SyscallArgs& args);
Result<uint64_t> Select(Task& t, const SyscallArgs& args);
Result<uint64_t> Pselect6(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollCreate(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollCreate1(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollCtl(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollWait(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollPwait(Task& t, const SyscallArgs& args);
Result<uint64_t> EpollPwait2(Task& t, const SyscallArgs& args);
Result<uint64_t> Eventfd(Task& t, const SyscallArgs& args);
Result<uint64_t> Eventfd2(Task& t, const SyscallArgs& args);
// syscalls/inotify.cc
Result<uint64_t> InotifyInit(Task& t, const SyscallArgs& args);
Result<uint64_t> InotifyInit1(Task& t, const SyscallArgs& args);
Result<uint64_t> InotifyAddWatch(Task& t, const SyscallArgs& args);
Result<uint64_t> InotifyRmWatch(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/clone.cc, syscalls/wait.cc, syscalls/exec.cc (processes)
Result<uint64_t> Clone(Task& t, const SyscallArgs& args);
Result<uint64_t> Fork(Task& t, const SyscallArgs& args);
Result<uint64_t> Vfork(Task& t, const SyscallArgs& args);
Result<uint64_t> Clone3(Task& t, const SyscallArgs& args);
Result<uint64_t> Unshare(Task& t, const SyscallArgs& args);
Result<uint64_t> Execve(Task& t, const SyscallArgs& args);
Result<uint64_t> Execveat(Task& t, const SyscallArgs& args);
Result<uint64_t> Wait4(Task& t, const SyscallArgs& args);
Result<uint64_t> Waitid(Task& t, const SyscallArgs& args);
Result<uint64_t> Getrusage(Task& t, const SyscallArgs& args);
Result<uint64_t> Times(Task& t, const SyscallArgs& args);
Result<uint64_t> Setpgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setsid(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/signal_deliver.cc and thread syscalls (signals, threads)
Result<uint64_t> RtSigreturn(Task& t, const SyscallArgs& args);
Result<uint64_t> RtSigpending(Task& t, const SyscallArgs& args);
Result<uint64_t> RtSigsuspend(Task& t, const SyscallArgs& args);
Result<uint64_t> RtSigtimedwait(Task& t, const SyscallArgs& args);
Result<uint64_t> RtSigqueueinfo(Task& t, const SyscallArgs& args);
Result<uint64_t> RtTgsigqueueinfo(Task& t, const SyscallArgs& args);
Result<uint64_t> Pause(Task& t, const SyscallArgs& args);
Result<uint64_t> RestartSyscall(Task& t, const SyscallArgs& args);
// syscalls/itimer.cc (ITIMER_REAL; added at the signals/proc merge)
Result<uint64_t> Alarm(Task& t, const SyscallArgs& args);
Result<uint64_t> Getitimer(Task& t, const SyscallArgs& args);
Result<uint64_t> Setitimer(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/security.cc (isolation: mount/unshare/bpf/... refusals)

// (spacer)

// syscalls/creds.cc, sched.cc, prctl.cc, pidfd.cc, rusage.cc (procs)
Result<uint64_t> Setuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setreuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setregid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setresuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setresgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setfsuid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setfsgid(Task& t, const SyscallArgs& args);
Result<uint64_t> Setgroups(Task& t, const SyscallArgs& args);
Result<uint64_t> Capget(Task& t, const SyscallArgs& args);
Result<uint64_t> Capset(Task& t, const SyscallArgs& args);
Result<uint64_t> Personality(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedSetaffinity(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetscheduler(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedSetscheduler(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetparam(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedSetparam(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetPriorityMax(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetPriorityMin(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedRrGetInterval(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedGetattr(Task& t, const SyscallArgs& args);
Result<uint64_t> SchedSetattr(Task& t, const SyscallArgs& args);
Result<uint64_t> Getpriority(Task& t, const SyscallArgs& args);
Result<uint64_t> Setpriority(Task& t, const SyscallArgs& args);
Result<uint64_t> IoprioGet(Task& t, const SyscallArgs& args);
Result<uint64_t> IoprioSet(Task& t, const SyscallArgs& args);
Result<uint64_t> PidfdOpen(Task& t, const SyscallArgs& args);
Result<uint64_t> PidfdSendSignal(Task& t, const SyscallArgs& args);
Result<uint64_t> PidfdGetfd(Task& t, const SyscallArgs& args);

// (spacer)

// syscalls/sysv_ipc.cc (System V IPC, sentry/ipc/)
Result<uint64_t> Shmget(Task& t, const SyscallArgs& args);
Result<uint64_t> Shmat(Task& t, const SyscallArgs& args);
Result<uint64_t> Shmdt(Task& t, const SyscallArgs& args);
Result<uint64_t> Shmctl(Task& t, const SyscallArgs& args);
Result<uint64_t> Semget(Task& t, const SyscallArgs& args);
Result<uint64_t> Semop(Task& t, const SyscallArgs& args);
Result<uint64_t> Semtimedop(Task& t, const SyscallArgs& args);
Result<uint64_t> Semctl(Task& t, const SyscallArgs& args);
Result<uint64_t> Msgget(Task& t, const SyscallArgs& args);
Result<uint64_t> Msgsnd(Task& t, const SyscallArgs& args);
Result<uint64_t> Msgrcv(Task& t, const SyscallArgs& args);
Result<uint64_t> Msgctl(Task& t, const SyscallArgs& args);

}  // namespace syscalls

#endif  // SYSCALLS_HANDLERS_H_
