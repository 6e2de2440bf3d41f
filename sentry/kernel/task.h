// Task: one app thread, run by one sentry thread (thread per task for now;
// invariant 5 keeps fibers possible). Fields are touched only by the task's
// own thread unless marked otherwise.
#ifndef SENTRY_KERNEL_TASK_H_
#define SENTRY_KERNEL_TASK_H_

#include <signal.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"
#include "fs/fs_context.h"
#include "platform/platform.h"
#include "sentry/kernel/cpu_timers.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/itimer.h"
#include "sentry/kernel/timer_posix.h"
#include "sentry/kernel/signal_queue.h"
#include "sentry/kernel/waiter.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {

class Kernel;
class Task;
class SeccompFilter;  // sentry/kernel/seccomp.h
struct VforkDone;  // sentry/kernel/process.h
}  // namespace sentry::kernel
namespace sentry::ipc {
class SemUndoList;  // sentry/ipc/sem.h
class IpcNamespace;  // sentry/ipc/ipc_namespace.h
}  // namespace sentry::ipc
namespace sentry::kernel {

// Kernel-ABI sigaction (struct k_sigaction in arch/x86/include/asm/signal.h).
// A UTS namespace made by clone/unshare(CLONE_NEWUTS) (the sandbox's own
// names are Kernel::Sysctl's "kernel/hostname" and "kernel/domainname").
struct UtsNamespace {
  absl::Mutex mu;
  std::string hostname ABSL_GUARDED_BY(mu);
  std::string domainname ABSL_GUARDED_BY(mu);
};

struct KSigaction {
  uint64_t handler = 0;  // SIG_DFL = 0, SIG_IGN = 1
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

// Shared by CLONE_SIGHAND.
struct SignalHandlers {
  absl::Mutex mu;
  std::array<KSigaction, 64> actions ABSL_GUARDED_BY(mu);
};

// Scheduling attributes (sched_setattr & co, setpriority, ioprio_set,
// sched_setaffinity). Recorded and reported; the host schedules the
// sentry's threads as it likes.
struct SchedState {
  int policy = 0;                // SCHED_OTHER
  int priority = 0;              // sched_priority: 1..99 for FIFO/RR
  int nice = 0;                  // -20..19
  bool reset_on_fork = false;    // SCHED_RESET_ON_FORK
  uint64_t affinity = ~0ull;     // virtual CPUs; ANDed with the CPU count
  int ioprio = 0;                // IOPRIO_PRIO_VALUE(class, data)
  // What a child gets at fork/clone (sched_fork()).
  SchedState ForChild() const {
    SchedState c = *this;
    if (reset_on_fork) {
      if (c.policy == 1 || c.policy == 2 /* FIFO, RR */) c.policy = 0, c.priority = 0;
      if (c.nice < 0) c.nice = 0;
      c.reset_on_fork = false;
    }
    return c;
  }
};

struct RLimit {
  uint64_t cur, max;
};

// Process-wide state (one per thread group).
struct ThreadGroup {
  int32_t pid = 0;   // tgid, in the sandbox's pid namespace
  // Change under Kernel::mu_ (reparenting, setpgid, setsid); any thread may
  // read them without it.
  std::atomic<int32_t> ppid = 0;  // 0 for the sandbox's pid 1
  std::atomic<int32_t> pgid = 0, sid = 0;
  absl::Mutex mu;
  std::array<RLimit, 16> rlimits ABSL_GUARDED_BY(mu);
  std::string exe_path;  // for /proc/self/exe; set at exec
  // The file exec'd (fs::ExecTarget), which /proc/<pid>/exe opens; like
  // exe_path, written under Kernel::mu_.
  std::optional<fs::Path> exe_file;
  std::string cmdline;   // argv, NUL-separated, at exec; under Kernel::mu_
  std::string environ;   // envp, likewise (/proc/<pid>/environ)
  const absl::Time start_time = absl::Now();  // /proc/<pid>/stat starttime

  // ---- The process tree (sentry/kernel/process.cc). Guarded by Kernel::mu_.
  ThreadGroup* parent = nullptr;  // null for pid 1 and for orphans after pid 1 died
  // The thread of `parent` that forked it (Linux's real_parent is a task):
  // its exit sends PR_SET_PDEATHSIG signals even if the process lives on.
  int32_t parent_tid = 0;
  std::vector<std::shared_ptr<ThreadGroup>> children;  // live and zombie
  int exit_signal = SIGCHLD;       // sent to the parent at exit (0: none)
  bool zombie = false;             // all threads exited, not yet reaped
  int exit_status = 0;             // Linux wait status, once zombie
  bool exec_done = false;          // has called execve since fork (setpgid EACCES)
  // Notified when a child changes state (exit); wait4/waitid block on it.
  WaiterQueue child_events;
  // PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here
  // rather than to pid 1. Written by the process itself, read under mu_.
  std::atomic<bool> child_subreaper{false};
  // PR_SET_DUMPABLE (mm->flags in Linux): 1 at exec, 0 after a credential
  // change that Linux's commit_creds() marks non-dumpable.
  std::atomic<int> dumpable{1};
  std::atomic<uint32_t> personality{0};  // personality(2); PER_LINUX = 0
  // /proc/<pid>/oom_score_adj (signal_struct's oom_score_adj and
  // oom_score_adj_min): copied at fork; going below the min needs
  // CAP_SYS_RESOURCE, and a write with it sets the min (fs/proc.cc).
  std::atomic<int> oom_score_adj{0}, oom_score_adj_min{0};
  // TIOCNOTTY by a process that does not lead its session: it (and the
  // children it forks) has no controlling terminal although its session
  // keeps one (Linux clears that process's signal->tty only). setsid
  // clears it (fs/tty_file.cc).
  std::atomic<bool> no_ctty{false};
  // The OCI container the process belongs to (a pod's sandbox runs several;
  // "" for the sandbox's first): set at creation from ExecSpec::container,
  // inherited at fork, never changed, so read without a lock (as gVisor's
  // ThreadGroup container id). `runsc kill --all` and `ps` of a container.
  std::string container;
  // SIGNAL_UNKILLABLE (kernel/signal.c sig_task_ignored, get_signal): set
  // for the sandbox's pid 1, the init of its pid namespace. A signal whose
  // action is SIG_DFL is discarded, except SIGKILL and SIGSTOP sent from
  // outside the sandbox (SI_KERNEL: runsc kill, the kernel itself); a
  // forced fatal signal (fault, seccomp) with SIG_DFL clears it.
  std::atomic<bool> unkillable{false};
  // 0 live, 1 zombie (all threads exited), 2 reaped: pidfd readiness.
  // Written under Kernel::mu_; exit_events is notified on each change.
  std::atomic<int> exit_state{0};
  WaiterQueue exit_events;
  // CPU time (sentry/kernel/rusage.h): of threads that have finished, and
  // of reaped children (with their own children's), in ns.
  std::atomic<int64_t> dead_utime_ns{0}, dead_stime_ns{0};
  std::atomic<int64_t> child_utime_ns{0}, child_stime_ns{0};
  // Fault and context-switch counts, likewise; the peak RSS in KiB seen on
  // the platform (Linux's signal->maxrss with the mm's hiwater) and the
  // largest of reaped children's (cmaxrss).
  struct Counts {
    std::atomic<uint64_t> minflt{0}, majflt{0}, nvcsw{0}, nivcsw{0};
  } dead_counts, child_counts;
  std::atomic<uint64_t> maxrss_kb{0}, child_maxrss_kb{0};
  // Threads in app code now (BeginApp..EndApp): a running thread's clock
  // moves at most at the rate the CPUs allow them all.
  std::atomic<int> in_app{0};

  // ---- Signals and threads (sentry/kernel/signal_deliver.cc, thread.cc).
  // Lock order (sentry/README.md): Kernel::mu_ > signal_mu >
  // SignalHandlers::mu > Task::wake_mu_. Senders wake tasks while holding
  // signal_mu; a task in `tasks` stays alive while signal_mu is held.
  absl::Mutex signal_mu;
  PendingSignals shared_pending ABSL_GUARDED_BY(signal_mu);
  // Mirror of shared_pending.set(), read without the lock by Task::Block.
  std::atomic<uint64_t> shared_pending_set{0};
  std::vector<Task*> tasks ABSL_GUARDED_BY(signal_mu);  // live threads, leader first
  int live_threads ABSL_GUARDED_BY(signal_mu) = 0;      // threads not yet finished
  // exit_group or a fatal signal: every thread dies, the process's status
  // is group_exit_status.
  bool group_exiting ABSL_GUARDED_BY(signal_mu) = false;
  int group_exit_status ABSL_GUARDED_BY(signal_mu) = 0;
  // Job control (SIGSTOP & co): the whole group stops until SIGCONT.
  bool stopped ABSL_GUARDED_BY(signal_mu) = false;
  int stop_signal ABSL_GUARDED_BY(signal_mu) = 0;
  WaiterQueue state_queue;  // notified on continue, group exit, thread exit
  // Notified (under signal_mu) whenever a signal is queued for the group or
  // one of its threads: signalfd's wakeups (fs/signalfd.h).
  WaiterQueue signalfd_events;
  // Job-control reports to the parent (kernel/signal.c): the stop signal not
  // yet collected by wait(WUNTRACED) (Linux's group_exit_code), a continue
  // not yet collected by wait(WCONTINUED) (SIGNAL_STOP_CONTINUED).
  int stop_report ABSL_GUARDED_BY(signal_mu) = 0;
  bool continue_report ABSL_GUARDED_BY(signal_mu) = false;
  // A CLD_CONTINUED SIGCHLD still to send (SIGNAL_CLD_CONTINUED): set by a
  // SIGCONT sender under signal_mu (which may hold Kernel::mu_), sent by a
  // thread of the group from DeliverSignals with no lock held.
  std::atomic<int> notify_parent{0};
  // execve from a non-leader thread (de_thread, sentry/kernel/exec.cc): the
  // thread that survives; the others are being killed.
  Task* exec_task ABSL_GUARDED_BY(signal_mu) = nullptr;

  // ITIMER_REAL (alarm, setitimer). Last: destroyed (its thread joined)
  // before the fields it signals through.
  RealTimer real_timer{*this};
  // timer_create(2) timers (timer_posix.h); destroyed first, like real_timer.
  PosixTimers posix_timers;
  // ITIMER_VIRTUAL, ITIMER_PROF and the CPU-clock POSIX timers' ticker
  // (cpu_timers.h); its thread is joined first of all.
  CpuTimers cpu_timers{*this};
};

class Task {
 public:
  Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid);
  ~Task();

  Kernel& kernel() { return kernel_; }
  mm::MemoryManager& mm() { return *mm_; }
  std::shared_ptr<mm::MemoryManager> mm_ptr() { return mm_; }
  FdTable& fds() { return *fds_; }
  std::shared_ptr<FdTable> fds_ptr() { return fds_; }
  std::shared_ptr<SignalHandlers> sighand_ptr() { return sighand_; }
  std::shared_ptr<ThreadGroup> thread_group_ptr() { return tg_; }
  fs::FsContext& fs() { return *fs_; }
  std::shared_ptr<fs::FsContext> fs_ptr() { return fs_; }
  ThreadGroup& thread_group() { return *tg_; }
  // The task's credentials (credentials.h). The task thread reads them
  // freely and replaces them with SetCreds (also before the task starts);
  // any other thread takes a CredsSnapshot.
  const Credentials& creds() const { return *creds_; }
  std::shared_ptr<const Credentials> CredsSnapshot() const {
    absl::MutexLock l(&creds_mu_);
    return creds_;
  }
  void SetCreds(Credentials c) {
    auto n = std::make_shared<const Credentials>(std::move(c));
    absl::MutexLock l(&creds_mu_);
    creds_ = std::move(n);
  }
  // A credential change by the task itself (commit_creds): like SetCreds,
  // and a change of euid/egid/fsuid/fsgid or a gain of permitted
  // capabilities makes the process non-dumpable and clears pdeath_signal.
  void CommitCreds(Credentials c);
  SignalHandlers& sighand() { return *sighand_; }
  platform::Registers& regs() { return regs_; }
  platform::Context& context() { return *context_; }

  // The task run by the calling sentry thread (Linux's `current`), or null
  // on other threads. For files whose answers depend on the caller, as
  // signalfd's do. Set by BindToCurrentThread when the task starts running.
  static Task* Current();
  void BindToCurrentThread();
  // The host CPU-time clock of the sentry thread running this task: the
  // stand-in for the task's CPU time (TODO(#5): the app's own time on the
  // platform). Valid once the task runs; 0 before.
  clockid_t cpu_clock() const { return cpu_clock_.load(std::memory_order_relaxed); }
  int32_t tid() const { return tid_.load(std::memory_order_relaxed); }
  // de_thread (sentry/kernel/exec.cc) swaps the exec'ing thread's tid with
  // the leader's, under Kernel::mu_ and the group's signal_mu.
  void set_tid(int32_t tid) { tid_.store(tid, std::memory_order_relaxed); }
  int32_t pid() const { return tg_->pid; }
  // A number for the syscall this task is in, unique across tasks (a
  // per-task base from a kernel-wide counter, plus one per syscall;
  // Dispatch calls BeginSyscall). Lets a filesystem reuse, within one
  // syscall, what it fetched earlier in the same syscall (fs::Caller).
  uint64_t syscall_serial() const { return syscall_serial_; }
  void BeginSyscall() { ++syscall_serial_; }

  // The blocked set. Written by the task thread only; read by senders
  // choosing a thread of the group.
  uint64_t signal_mask() const { return signal_mask_.load(std::memory_order_relaxed); }
  void set_signal_mask(uint64_t m) {
    signal_mask_.store(m & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1))), std::memory_order_relaxed);
  }
  // sigsuspend/pselect: the mask to put back (and save in a signal frame)
  // once the syscall is done; set_restore_sigmask in Linux.
  std::optional<uint64_t> saved_signal_mask;
  // rt_sigtimedwait: the mask before the wait unblocked the waited-for set
  // (Linux's real_blocked); senders read it. 0 otherwise.
  std::atomic<uint64_t> real_blocked{0};
  // A restart errno left by the last syscall (ERESTARTSYS & co, as a
  // positive number), resolved by signal delivery before the next Switch.
  int pending_restart = 0;
  // restart_syscall(2) after ERESTART_RESTARTBLOCK (nanosleep's remaining
  // time): Linux's current->restart_block.
  std::function<base::Result<uint64_t>(Task&)> restart_block;
  uint64_t clear_child_tid = 0;
  // set_robust_list; cleared once the list was handled at exit or exec.
  // Atomic: get_robust_list reads it from other threads.
  std::atomic<uint64_t> robust_list_head{0};
  uint64_t robust_list_len = 0;
  // Set by ExitThread before its futex cleanup (Linux's FUTEX_STATE_DEAD):
  // FUTEX_LOCK_PI on a word this thread owns is ESRCH from then on, even
  // while the thread is still in the task table (its clear_child_tid
  // wake-up lets a joiner run before the thread is gone).
  std::atomic<bool> futex_exited{false};
  // prctl(PR_SET_NAME), /proc/<pid>/task/<tid>/comm: this thread's name.
  // /proc readers on other threads read it, so it is behind a leaf lock.
  std::string Comm() const {
    absl::MutexLock l(&comm_mu_);
    return comm_;
  }
  void SetComm(std::string_view name) {
    absl::MutexLock l(&comm_mu_);
    comm_.assign(name.substr(0, 15));
  }
  // Guards `sched`; a leaf lock (taken under Kernel::mu_ by setpriority).
  mutable absl::Mutex sched_mu;
  SchedState sched ABSL_GUARDED_BY(sched_mu);
  SchedState GetSched() const {
    absl::MutexLock l(&sched_mu);
    return sched;
  }
  bool no_new_privs = false;
  // seccomp(2) (sentry/kernel/seccomp.h): the mode (kSeccompMode*) and the
  // filter chain, inherited at fork and clone and kept across execve. The
  // task thread writes them, and another thread of the group with
  // SECCOMP_FILTER_FLAG_TSYNC, under seccomp_mu (a leaf); the task thread
  // reads the mode without it on every syscall.
  std::atomic<int> seccomp_mode{0};
  mutable absl::Mutex seccomp_mu;
  std::shared_ptr<const SeccompFilter> seccomp_filter ABSL_GUARDED_BY(seccomp_mu);
  std::shared_ptr<const SeccompFilter> SeccompFilterSnapshot() const {
    absl::MutexLock l(&seccomp_mu);
    return seccomp_filter;
  }
  // Sets both (a child before it runs, TSYNC, seccomp(2) itself).
  void SetSeccomp(int mode, std::shared_ptr<const SeccompFilter> f) {
    absl::MutexLock l(&seccomp_mu);
    seccomp_filter = std::move(f);
    seccomp_mode.store(mode, std::memory_order_release);
  }
  // Resource accounting (sentry/kernel/rusage.h). Written by the task
  // thread (atomics: any thread reads them).
  struct Usage {
    // The app's own CPU time as the platform measured it (AppUsage).
    std::atomic<int64_t> app_user_ns{0}, app_sys_ns{0};
    // Sentry-thread CPU time that is not the task's (Block's spin, by the
    // wall clock): subtracted from the thread's CPU clock.
    std::atomic<int64_t> spin_ns{0};
    // The Switch in progress: its start on the monotonic clock (0: none),
    // under a sequence count (odd while the task thread updates), so that a
    // reader never counts a finished Switch twice.
    std::atomic<uint32_t> seq{0};
    std::atomic<int64_t> switch_start_ns{0};
    std::atomic<uint64_t> minflt{0}, majflt{0}, nvcsw{0}, nivcsw{0};
    // Highest times reported (clock reads stay monotonic).
    std::atomic<int64_t> seen_user_ns{0}, seen_sys_ns{0};
  } usage;
  std::atomic<bool> times_folded{false};  // added to the group's dead_* times
  // Scratch space for copying file data to and from app memory (read/write
  // bounce buffer): reused so a large read does not pay for fresh pages
  // every call. Task thread only; never used by two calls at once.
  std::span<uint8_t> BounceBuffer(size_t n) {
    if (bounce_.size() < n) bounce_.resize(n);
    return {bounce_.data(), n};
  }
  // PR_SET_PDEATHSIG: sent to this task's process when its parent process
  // dies (Kernel::ProcessDiedLocked reads it from the parent's thread).
  std::atomic<int32_t> pdeath_signal{0};
  uint64_t altstack_sp = 0, altstack_size = 0;
  int altstack_flags = 2;  // SS_DISABLE

  // The blocking primitive (invariant 5; see waiter.h for the pattern).
  // Returns when `w` has been notified since the last Block (ok), when
  // `deadline` passes (ETIMEDOUT), or when a signal is pending for the task
  // (EINTR; callers return ERESTARTSYS or EINTR as Linux does for them).
  base::Result<void> Block(Waiter& w, std::optional<absl::Time> deadline);
  // A sleep with nothing to wait for but the deadline or a signal.
  base::Result<void> Sleep(absl::Time deadline);
  // Wakes a Block()ed task (Waiter notifications call this). Any thread.
  void Wake();
  // Signals (sentry/kernel/signal_deliver.cc; the full API is in signal.h).
  // SendSignal queues `signo` for this thread with SI_KERNEL-free SI_USER
  // info from the task itself. Any thread.
  void SendSignal(int signo);
  // Queues `info` on this thread's private set, unless ignored (then it is
  // discarded, as Linux at generation). False if an RT queue is full.
  // Any thread; takes the group's signal_mu.
  bool SendSignalInfo(const siginfo_t& info);
  // A signal in the private or shared set that the task does not block.
  bool HasPendingSignal() const;
  // Private and shared pending sets combined.
  uint64_t PendingSet() const;
  // Removes the lowest pending signal in `allowed`, private set first.
  bool DequeueSignal(uint64_t allowed, siginfo_t* out);
  // Wakes a blocked task and interrupts its app code so that it notices a
  // signal or a group exit. Any thread.
  void Kick();

  // Replaces the address space (execve, first start); `mm` is new.
  void SetMm(std::shared_ptr<mm::MemoryManager> mm) { mm_ = std::move(mm); }
  void SetFds(std::shared_ptr<FdTable> f) { fds_ = std::move(f); }
  void SetFs(std::shared_ptr<fs::FsContext> f) { fs_ = std::move(f); }
  void SetContext(std::unique_ptr<platform::Context> c) { context_ = std::move(c); }
  void SetSighand(std::shared_ptr<SignalHandlers> sh) { sighand_ = std::move(sh); }
  // execve from a non-leader thread (Kernel::Exec): the old memory, released
  // by the run loop after the first Switch on the new one (the context is
  // then bound to the new address space). Declared before context_, so
  // that a task that dies first releases its context before this.
  std::shared_ptr<mm::MemoryManager> retired_mm;
  // CLONE_VFORK: set in the child; released at its execve or exit
  // (sentry/kernel/process.h).
  std::shared_ptr<VforkDone> vfork_done;
  // SEM_UNDO adjustments (sentry/ipc/sem.h), shared by CLONE_SYSVSEM;
  // null until the first SEM_UNDO semop. Dropped at exit (ExitThread), so
  // the last holder applies them. Task thread only (and the parent before
  // the child runs).
  std::shared_ptr<ipc::SemUndoList> sem_undo;
  // This task's IPC and UTS namespaces when clone/unshare made new ones
  // (CLONE_NEWIPC, CLONE_NEWUTS); null: the sandbox's (Kernel's). Set
  // before the task runs or by the task itself (unshare); children inherit
  // them (InheritNamespaces). Kernel::ipc() and the UTS names follow the
  // current task's.
  std::shared_ptr<ipc::IpcNamespace> ipc_ns;
  std::shared_ptr<UtsNamespace> uts_ns;

  // Exit requests from syscalls (exit, exit_group); the run loop acts on them.
  void RequestExit(int status, bool group) {
    exit_status_ = status;
    exit_group_ = group;
    exiting_ = true;
  }
  bool exiting() const { return exiting_; }
  bool exit_group_requested() const { return exit_group_; }
  // Hardware details of the last fault for the signal frame's err, trapno
  // and cr2 (valid while `signo` matches the signal being delivered).
  struct {
    int signo = 0;
    uint64_t err = 0, trapno = 0, cr2 = 0;
  } last_fault;
  // Linux wait status (status << 8, or the signal number).
  int exit_status() const { return exit_status_; }

 private:
  mutable absl::Mutex comm_mu_;  // a leaf lock
  std::string comm_ ABSL_GUARDED_BY(comm_mu_);
  Kernel& kernel_;
  std::shared_ptr<ThreadGroup> tg_;
  std::atomic<int32_t> tid_;
  uint64_t syscall_serial_;  // the task thread's own
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<FdTable> fds_;
  std::shared_ptr<fs::FsContext> fs_;
  std::shared_ptr<SignalHandlers> sighand_;
  std::unique_ptr<platform::Context> context_;
  platform::Registers regs_;
  std::vector<uint8_t> bounce_;
  mutable absl::Mutex creds_mu_;  // a leaf; guards the pointer, not the snapshot
  std::shared_ptr<const Credentials> creds_ = std::make_shared<const Credentials>();
  bool exiting_ = false;
  bool exit_group_ = false;
  int exit_status_ = 0;

  std::atomic<uint64_t> signal_mask_{0};
  std::atomic<clockid_t> cpu_clock_{0};

  // Block's adaptive pre-sleep spin (task thread only; task.cc).
  bool SpinForWake(Waiter& w, std::optional<absl::Time> deadline);
  uint32_t spin_skip_ = 0;  // blocks left that sleep without spinning
  uint32_t spin_fails_ = 0;  // spins in a row that ran out (capped at 6)

  // Guarded by wake_mu_: cross-thread wakeups and pending signals.
  mutable absl::Mutex wake_mu_;
  PendingSignals pending_ ABSL_GUARDED_BY(wake_mu_);
  absl::CondVar wake_cv_;
  friend class SignalDelivery;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TASK_H_
