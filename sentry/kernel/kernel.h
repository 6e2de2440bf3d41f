// Kernel: the sandbox's one kernel instance. Owns the memory file, the
// platform, the VFS and the task registry. Passed explicitly (no globals).
#ifndef SENTRY_KERNEL_KERNEL_H_
#define SENTRY_KERNEL_KERNEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"
#include "fs/fs_context.h"
#include "platform/platform.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/process.h"
#include "sentry/mm/memory_file.h"
#include "sentry/vdso/vdso.h"

namespace sentry::ipc {
class IpcNamespace;  // sentry/ipc/ipc_namespace.h
}

namespace sentry::kernel {

class Task;

struct KernelConfig {
  bool strace = false;
  std::string hostname = "runsc";
  uint64_t memory_file_capacity = 64ull << 30;
  uint64_t max_tasks = 0;  // tasks alive at once (runsc --max-tasks); 0: no limit
  uint64_t max_fds = 0;    // RLIMIT_NOFILE of the first process (runsc --max-fds); 0: Linux's default
};

class FdTable;
struct ThreadGroup;

struct ExecSpec {  // the first process, or one started by `runsc exec`
  std::string path;  // as given; resolved through $PATH like execvp
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  // If set, the first process's credentials instead of ForUser(uid, gid)
  // (OCI: user, additionalGids, capabilities). Kernel::Exec then applies
  // execve's capability rules (Credentials::AfterExec), as runc's execve.
  std::optional<Credentials> creds;
  std::vector<uint32_t> groups;   // supplementary groups (unless creds is set)
  bool no_new_privs = false;      // OCI process.noNewPrivileges (prctl PR_SET_NO_NEW_PRIVS)
  // OCI process.oomScoreAdj: the process's oom_score_adj and its min (as
  // runc's privileged write leaves them).
  std::optional<int> oom_score_adj;
  // Called with the new process's pid (its sid and pgid too) before it
  // runs: `runsc exec -t` makes its console that session's terminal.
  std::function<void(int32_t pid)> on_start;
  std::optional<uint32_t> umask;  // default 022
  struct Rlimit {
    int resource = 0;
    uint64_t soft = 0, hard = 0;
  };
  std::vector<Rlimit> rlimits;    // over Linux's defaults
  std::shared_ptr<FdTable> fds;  // stdio, donated by the CLI
  // A pod's further container: its own root (fs::Vfs::NewContainerRoot);
  // unset: the sandbox's "/".
  std::optional<fs::Path> root;
  // The OCI container it belongs to (ThreadGroup::container); "" for the
  // sandbox's first.
  std::string container;
  // If set, called on the new process's own thread once it is registered
  // (its pid exists: ps lists it, signals queue for it) and exec'd, before
  // its first instruction; the process runs when it returns. OCI `create`
  // holds the container's process here until `start` (runc's exec fifo).
  std::function<void(int32_t pid)> before_run;
};

class Kernel {
 public:
  Kernel(KernelConfig config, std::unique_ptr<mm::MemoryFile> mf, std::unique_ptr<platform::Platform> p,
         std::shared_ptr<fs::Vfs> vfs);
  ~Kernel();

  const KernelConfig& config() const { return config_; }
  // Values written to /proc/sys (fs/proc_sys.cc) and the UTS names
  // (sethostname, setdomainname), by sysctl path ("kernel/hostname"): the
  // sandbox's own, never the host's. Unset keys read as `dflt`.
  std::string Sysctl(std::string_view key, std::string_view dflt) const;
  void SetSysctl(std::string_view key, std::string value);
  std::string hostname() const { return Sysctl("kernel/hostname", config_.hostname); }
  std::string domainname() const { return Sysctl("kernel/domainname", "(none)"); }
  mm::MemoryFile& memory_file() { return *mf_; }
  platform::Platform& platform() { return *platform_; }
  fs::Vfs& vfs() { return *vfs_; }
  absl::Time boot_time() const { return boot_time_; }
  FutexTable& futexes() { return futexes_; }
  // The sandbox's System V IPC objects (sentry/ipc/).
  // The current task's (Task::Current(): CLONE_NEWIPC), else the sandbox's.
  ipc::IpcNamespace& ipc();
  // A fresh IPC namespace (CLONE_NEWIPC), holding shm in memory_file().
  std::shared_ptr<ipc::IpcNamespace> NewIpcNamespace();
  // The vDSO mapped at exec, null if it could not be set up (no vDSO then).
  vdso::Vdso* vdso() { return vdso_.get(); }

  // Starts pid 1 and runs until the last task exits. Returns the Linux wait
  // status of pid 1 (exit code << 8, or the terminating signal). An exec
  // failure of pid 1 is returned as an error with a message in *why.
  base::Result<int> Run(const ExecSpec& spec, std::string* why);

  int32_t AllocateTid();

  // `runsc exec`: a new process with no parent in the sandbox (like
  // gVisor's), running while pid 1 lives. Returns its pid once it has
  // exec'd; errors like Run's. Any thread but a task's. (spawn_process.cc)
  base::Result<int32_t> StartProcess(const ExecSpec& spec, std::string* why);
  // Blocks (host thread, not a task) until the process `pid` started by
  // StartProcess exits; returns its wait status. Each pid is waited once.
  int WaitStartedProcess(int32_t pid);
  // A signal from outside the sandbox (runsc kill of a pod's container) to
  // a live process. Any thread.
  void SignalProcess(int32_t pid, int signo);

  // Task accounting for --max-tasks: fork/clone call ReserveTask() before
  // creating a task (EAGAIN at the limit, as Linux at RLIMIT_NPROC or
  // pids.max) and ReleaseTask() once the task is gone or was never made.
  base::Result<void> ReserveTask();
  void ReleaseTask();
  // RLIMIT_NPROC (copy_process()): EAGAIN when the parent's real uid
  // already runs that many tasks in the sandbox, unless it is root or has
  // CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
  base::Result<void> CheckNproc(Task& parent);

  // execve(2) for `t`: loads `path` into a fresh address space and, once
  // nothing can fail any more, replaces t's memory, registers and
  // close-on-exec fds. On error `t` is unchanged; *why says what was wrong.
  // `file`: run this file already opened for exec (execveat with a dirfd
  // or AT_EMPTY_PATH; Vfs::OpenFileForExec) instead of opening `path`,
  // which then is only the name the new image sees ("/dev/fd/3", as
  // AT_EXECFN and a script's argument); `comm` overrides the command name.
  struct PreOpened {
    std::shared_ptr<mm::MappableFile> file;
    std::string abs_path;  // /proc/self/exe
    std::string comm;
    // `path` is /dev/fd/N[/...] of a close-on-exec fd (BINPRM_FLAGS_PATH_INACCESSIBLE).
    bool path_inaccessible = false;
  };
  base::Result<void> Exec(Task& t, const std::string& path, std::vector<std::string> argv,
                          std::vector<std::string> envp, std::string* why, const PreOpened* file = nullptr);

  // Forwards a host signal (SIGINT/SIGTERM sent to runsc) to pid 1. Any thread.
  void SignalInit(int signo);

  // ---- Processes (process.h; process.cc, fork.cc, wait.cc) ----

  // fork/vfork/clone without CLONE_THREAD: a new process whose task runs on
  // a new sentry thread with a copy-on-write copy of the caller's memory.
  // Returns the child's pid. With CLONE_VFORK, returns once the child has
  // exec'd or exited (or the parent got a signal).
  base::Result<int32_t> Clone(Task& parent, const CloneArgs& args);
  // clone(CLONE_THREAD): a new thread in parent's group sharing its memory,
  // signal handlers, and (per flags) fds and fs; it starts on its own sentry
  // thread with parent's registers, rax = 0, rsp = args.stack, fs_base =
  // args.tls (CLONE_SETTLS). Returns the new tid. Parent's task thread.
  // (sentry/kernel/thread.cc)
  base::Result<int32_t> CloneThread(Task& parent, const CloneArgs& args);
  // After a successful execve: marks the process as exec'd (setpgid) and
  // releases a vfork parent.
  void ExecDone(Task& t);
  // wait4/waitid for `t`'s children; blocks through Task::Block on the
  // caller's child_events queue. ECHILD, EINTR (a signal arrived).
  base::Result<WaitResult> Wait(Task& t, const WaitRequest& req);
  // do_notify_parent_cldstop(): t's process stopped (CLD_STOPPED, status =
  // the stop signal) or continued (CLD_CONTINUED, SIGCONT): SIGCHLD to the
  // parent unless its handler has SA_NOCLDSTOP, and its waiters woken.
  // No lock held (takes mu_). (wait.cc)
  void NotifyParentJobControl(Task& t, int code, int status);
  // is_current_pgrp_orphaned(): SIGTSTP/SIGTTIN/SIGTTOU do not stop a
  // process of an orphaned process group. (wait.cc)
  bool PgrpOrphaned(int32_t pgid);

  // kill(2): pid > 0 one process, 0 the caller's group, -1 every process
  // but pid 1 and the caller, < -1 process group -pid. sig 0 checks only.
  base::Result<void> Kill(Task& sender, int32_t pid, int sig);
  // rt_sigqueueinfo / pidfd_send_signal: `info` to process `target` with
  // kill(2)'s permission check. ESRCH once it has exited; EAGAIN if a
  // real-time queue is full; sig 0 only checks.
  base::Result<void> SignalProcess(Task& sender, ThreadGroup& target, const siginfo_t& info);
  // rt_tgsigqueueinfo to any thread: `info` to thread tid of tgid.
  base::Result<void> SignalThread(Task& sender, int32_t tgid, int32_t tid, const siginfo_t& info);
  // tgkill/tkill (tgid -1): one task.
  base::Result<void> KillThread(Task& sender, int32_t tgid, int32_t tid, int sig);
  // Process-directed signal to `tg` (its shared pending set, signal.h
  // SendToGroup). Kernel::mu_ held.
  void SendGroupSignalLocked(ThreadGroup& tg, const siginfo_t& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // setpgid/setsid/getpgid/getsid with Linux's rules (kernel/sys.c).
  base::Result<void> Setpgid(Task& t, int32_t pid, int32_t pgid);
  base::Result<int32_t> Setsid(Task& t);
  base::Result<int32_t> Getpgid(Task& t, int32_t pid);
  base::Result<int32_t> Getsid(Task& t, int32_t pid);

  // ---- Terminals (pgrp.cc; used by fs/tty*.cc) ----
  // A signal the kernel generates (SI_KERNEL, no permission check) for
  // every process of group `pgid` / for process `pid`: ^C, SIGWINCH, hangup.
  void SignalProcessGroup(int32_t pgid, int sig);
  // TIOCSPGRP: ok if a live process of group `pgid` is in session `sid`;
  // EPERM if the group is in another session, ESRCH if there is none.
  base::Result<void> CheckProcessGroupInSession(int32_t pgid, int32_t sid);
  // No member of `pgid` has a parent in another group of the same session
  // (job-control stops and terminal reads/writes give EIO instead).
  bool IsProcessGroupOrphaned(int32_t pgid);

  // For /proc: live and zombie pids, ascending, and one process's state.
  std::vector<int32_t> Pids();
  std::optional<ProcessInfo> GetProcessInfo(int32_t pid);
  // The fd table and fs context of a live process's first task (/proc/<pid>/fd, cwd).
  std::shared_ptr<FdTable> ProcessFds(int32_t pid);
  std::shared_ptr<fs::FsContext> ProcessFs(int32_t pid);
  // A live or zombie process by pid (clock ids made from pids), or null.
  std::shared_ptr<ThreadGroup> FindProcess(int32_t pid);
  // Number of live tasks (sysinfo procs).
  int TaskCount();
  // A live task's credentials (capget of another thread); null if none.
  std::shared_ptr<const Credentials> TaskCreds(int32_t tid);
  // Runs `fn` on live task `tid` (false if there is none) or on every live
  // task, with Kernel::mu_ held: `fn` may take locks below it only and must
  // not block (sched_setaffinity, setpriority of other tasks).
  bool WithTask(int32_t tid, absl::FunctionRef<void(Task&)> fn);
  void ForEachTask(absl::FunctionRef<void(Task&)> fn);

 private:
  // The body of every task thread once the task is registered: runs it,
  // then ExitTask, then records the thread as finished.
  void TaskMain(std::unique_ptr<Task> t);
  // The end of every task thread: the process exit for the group leader,
  // leaving the registry for other threads; `key` is the thread's key in
  // threads_ (its tid at creation). (process.cc)
  void FinishTaskThread(std::unique_ptr<Task> t, int status, int32_t key);
 public:
  // de_thread: the exiting leader `leader` hands its tid to the group's
  // exec task (thread.cc). False if there is no exec task any more (it was
  // killed first). No lock held.
  bool TransferLeadership(Task& leader);
 private:
  // Registers a new process (parent's child, or pid 1 when parent is null).
  void RegisterProcessLocked(std::shared_ptr<ThreadGroup> tg, Task* leader, ThreadGroup* parent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The last task of `tg` is gone: zombie, reparenting, SIGCHLD.
  void ProcessDiedLocked(ThreadGroup& tg, int status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
 public:
  // Thread t left its process's task list while others remain (thread.cc
  // ExitThread): the children it forked get their PR_SET_PDEATHSIG signals.
  // Takes mu_.
  void ThreadLeftProcess(Task& t);

 private:
  // PR_SET_PDEATHSIG: `parent` died; signal `child` for each of its
  // threads that asked.
  void SendParentDeathSignalLocked(ThreadGroup& child, ThreadGroup& parent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Orphaned process groups with stopped members get SIGHUP and SIGCONT
  // (kernel/exit.c kill_orphaned_pgrp); tg is dying, its children already
  // reparented but still listed. (wait.cc)
  void KillOrphanedPgrpsOnExitLocked(ThreadGroup& tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void KillOrphanedPgrpLocked(int32_t pgid, int32_t sid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PgrpOrphanedLocked(int32_t pgid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kill(2) permission (kernel/signal.c kill_ok_by_cred).
  bool MaySignalLocked(Task& sender, ThreadGroup& target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The exit path of a process's leader task, on its own thread, after
  // ExitThread saw every other thread go (process.cc): releases the vfork
  // parent, its memory, fds and context, leaves the registry, makes the
  // process a zombie with wait status `status`.
  void ExitTask(Task& t, int status);
  void JoinFinishedThreads();
  // Builds a process's leader task with pid `pid` (credentials, limits, fds,
  // fs, platform context) and execs spec.path. On the task's own thread.
  base::Result<std::unique_ptr<Task>> NewProcessTask(const ExecSpec& spec, int32_t pid, std::string* why);

 private:
  // The task thread's loop: runs app code and dispatches its syscalls until
  // the task exits. Returns the Linux wait status.
  int RunTask(Task& t);

 private:
  KernelConfig config_;
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<vdso::Vdso> vdso_;  // after mf_: its page lives there
  std::unique_ptr<ipc::IpcNamespace> ipc_;  // after mf_: shm data lives there
  std::unique_ptr<platform::Platform> platform_;
  std::shared_ptr<fs::Vfs> vfs_;
  absl::Time boot_time_;
  FutexTable futexes_;
  mutable absl::Mutex sysctl_mu_;  // a leaf
  absl::flat_hash_map<std::string, std::string> sysctls_ ABSL_GUARDED_BY(sysctl_mu_);
  absl::Mutex mu_;
  int32_t next_tid_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t live_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  Task* init_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The registry: live tasks by tid; processes (live and zombie) by pid.
  absl::flat_hash_map<int32_t, Task*> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int32_t, std::shared_ptr<ThreadGroup>> processes_ ABSL_GUARDED_BY(mu_);
  ThreadGroup* init_tg_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool init_exited_ ABSL_GUARDED_BY(mu_) = false;
  // Wait statuses of exited parentless processes (StartProcess), until
  // WaitStartedProcess takes them.
  absl::flat_hash_map<int32_t, int> started_exits_ ABSL_GUARDED_BY(mu_);
  int init_status_ ABSL_GUARDED_BY(mu_) = 0;
  // Task threads: running count, and finished ones not yet joined.
  int live_threads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<int32_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> finished_threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_KERNEL_H_
