// Kernel: the sandbox's one kernel instance. Owns the memory file, the
// platform, the VFS and the task registry. Passed explicitly (no globals).
#ifndef SENTRY_KERNEL_KERNEL_H_
#define SENTRY_KERNEL_KERNEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"
#include "fs/fs_context.h"
#include "platform/platform.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/process.h"
#include "sentry/mm/memory_file.h"

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
struct Credentials;
struct ThreadGroup;

struct ExecSpec {  // the first process
  std::string path;  // as given; resolved through $PATH like execvp
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::shared_ptr<FdTable> fds;  // stdio, donated by the CLI
};

class Kernel {
 public:
  Kernel(KernelConfig config, std::unique_ptr<mm::MemoryFile> mf, std::unique_ptr<platform::Platform> p,
         std::shared_ptr<fs::Vfs> vfs);
  ~Kernel();

  const KernelConfig& config() const { return config_; }
  mm::MemoryFile& memory_file() { return *mf_; }
  platform::Platform& platform() { return *platform_; }
  fs::Vfs& vfs() { return *vfs_; }
  absl::Time boot_time() const { return boot_time_; }
  FutexTable& futexes() { return futexes_; }

  // Starts pid 1 and runs until the last task exits. Returns the Linux wait
  // status of pid 1 (exit code << 8, or the terminating signal). An exec
  // failure of pid 1 is returned as an error with a message in *why.
  base::Result<int> Run(const ExecSpec& spec, std::string* why);

  int32_t AllocateTid();

  // Task accounting for --max-tasks: fork/clone call ReserveTask() before
  // creating a task (EAGAIN at the limit, as Linux at RLIMIT_NPROC or
  // pids.max) and ReleaseTask() once the task is gone or was never made.
  base::Result<void> ReserveTask();
  void ReleaseTask();

  // execve(2) for `t`: loads `path` into a fresh address space and, once
  // nothing can fail any more, replaces t's memory, registers and
  // close-on-exec fds. On error `t` is unchanged; *why says what was wrong.
  base::Result<void> Exec(Task& t, const std::string& path, std::vector<std::string> argv,
                          std::vector<std::string> envp, std::string* why);

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

  // kill(2): pid > 0 one process, 0 the caller's group, -1 every process
  // but pid 1 and the caller, < -1 process group -pid. sig 0 checks only.
  base::Result<void> Kill(Task& sender, int32_t pid, int sig);
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
  void SignalProcess(int32_t pid, int sig);
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
  // Number of live tasks (sysinfo procs).
  int TaskCount();

 private:
  // The body of every task thread once the task is registered: runs it,
  // then ExitTask, then records the thread as finished.
  void TaskMain(std::unique_ptr<Task> t);
  // Registers a new process (parent's child, or pid 1 when parent is null).
  void RegisterProcessLocked(std::shared_ptr<ThreadGroup> tg, Task* leader, ThreadGroup* parent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The last task of `tg` is gone: zombie, reparenting, SIGCHLD.
  void ProcessDiedLocked(ThreadGroup& tg, int status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kill(2) permission (kernel/signal.c kill_ok_by_cred).
  bool MaySignalLocked(Task& sender, ThreadGroup& target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The exit path of a process's leader task, on its own thread, after
  // ExitThread saw every other thread go (process.cc): releases the vfork
  // parent, its memory, fds and context, leaves the registry, makes the
  // process a zombie with wait status `status`.
  void ExitTask(Task& t, int status);
  void JoinFinishedThreads();

 private:
  // The task thread's loop: runs app code and dispatches its syscalls until
  // the task exits. Returns the Linux wait status.
  int RunTask(Task& t);

 private:
  KernelConfig config_;
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
  std::shared_ptr<fs::Vfs> vfs_;
  absl::Time boot_time_;
  FutexTable futexes_;
  absl::Mutex mu_;
  int32_t next_tid_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t live_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  Task* init_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The registry: live tasks by tid; processes (live and zombie) by pid.
  absl::flat_hash_map<int32_t, Task*> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int32_t, std::shared_ptr<ThreadGroup>> processes_ ABSL_GUARDED_BY(mu_);
  ThreadGroup* init_tg_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool init_exited_ ABSL_GUARDED_BY(mu_) = false;
  int init_status_ ABSL_GUARDED_BY(mu_) = 0;
  // Task threads: running count, and finished ones not yet joined.
  int live_threads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<int32_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> finished_threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_KERNEL_H_
