// The process tree: registration, exit (zombies, reparenting to pid 1,
// SIGCHLD), signals to other processes, process groups and sessions, and
// what /proc shows of other processes. See process.h for the locking.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

#include "base/logging.h"
#include "fs/devpts.h"
#include "fs/tty.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread.h"

namespace sentry::kernel {

void Kernel::RegisterProcessLocked(std::shared_ptr<ThreadGroup> tg, Task* leader, ThreadGroup* parent) {
  tg->parent = parent;
  tg->ppid = parent != nullptr ? parent->pid : 0;
  RegisterThread(*leader);  // signal_mu, inside mu_
  tasks_[leader->tid()] = leader;
  if (parent != nullptr) parent->children.push_back(tg);
  processes_[tg->pid] = std::move(tg);
}

void Kernel::TaskMain(std::unique_ptr<Task> t) {
  // RunTask ends with ExitThread: the leader returns once all other
  // threads of its group are gone, with the process's wait status.
  const int32_t key = t->tid();  // threads_'s key; de_thread may change the tid
  const int status = RunTask(*t);
  FinishTaskThread(std::move(t), status, key);
}

void Kernel::FinishTaskThread(std::unique_ptr<Task> t, int status, int32_t key) {
  // Leader or not is decided now: de_thread (execve from another thread)
  // swaps the roles of the leader and the exec'ing thread.
  if (t->tid() == t->pid()) {
    ExitTask(*t, status);
    t.reset();  // the platform context goes on this thread
  } else {
    std::shared_ptr<ThreadGroup> tg = t->thread_group_ptr();
    {
      absl::MutexLock l(&mu_);
      tasks_.erase(t->tid());
    }
    ReleaseTask();
    t.reset();  // releases the stub thread (platform) on its own sentry thread
    ThreadFinished(*tg);
  }
  absl::MutexLock l(&mu_);
  --live_threads_;
  finished_threads_.push_back(key);
}

void Kernel::JoinFinishedThreads() {
  std::vector<std::thread> done;
  {
    absl::MutexLock l(&mu_);
    for (int32_t tid : finished_threads_) {
      auto it = threads_.find(tid);
      if (it == threads_.end()) continue;
      done.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_threads_.clear();
  }
  // Each of these has left TaskMain's last lock: joining is immediate.
  for (auto& th : done) th.join();
}

void Kernel::ExitTask(Task& t, int status) {
  ThreadGroup& tg = t.thread_group();
  ReleaseTask();  // reserved by Run (pid 1) or Clone
  (void)tg.real_timer.Set({});  // exit_itimers / hrtimer_cancel(real_timer)
  tg.posix_timers.DeleteAll();
  tg.cpu_timers.DisarmAll();
  // ExitThread (thread.cc) did the rest of mm_release() (clear_child_tid,
  // robust list); the vfork parent goes on here.
  if (t.vfork_done != nullptr) {
    t.vfork_done->Release();
    t.vfork_done.reset();
  }
  // Release memory (the platform address space dies on this, its driving
  // thread), files and fs context before the parent can see the zombie, as
  // Linux's exit_mm/exit_files come before exit_notify: a reader of a pipe
  // sees EOF once the writer is waitable.
  std::shared_ptr<mm::MemoryManager> mm = t.mm_ptr();
  std::shared_ptr<FdTable> fds = t.fds_ptr();
  std::shared_ptr<fs::FsContext> fsctx = t.fs_ptr();
  std::optional<fs::Path> exe;
  {
    absl::MutexLock l(&mu_);
    t.SetMm(nullptr);
    t.SetFds(nullptr);
    t.SetFs(nullptr);
    exe = std::move(tg.exe_file);  // exit_mm drops mm->exe_file
    tg.exe_file.reset();
  }
  mm.reset();
  fds.reset();
  fsctx.reset();
  // do_exit -> disassociate_ctty(1) for a session leader: its controlling
  // terminal's foreground group gets SIGHUP (a pty: no SIGCONT) and the
  // terminal leaves the session.
  if (tg.sid.load() == tg.pid && vfs_ != nullptr) {
    if (std::shared_ptr<fs::Tty> tty = vfs_->devpts().TtyOfSession(tg.pid)) {
      const int32_t fg = tty->ClearSession();
      if (fg > 0) SignalProcessGroup(fg, SIGHUP);
    }
  }

  absl::MutexLock l(&mu_);
  tasks_.erase(t.tid());
  if (init_ == &t) init_ = nullptr;
  ProcessDiedLocked(tg, status);
}

void Kernel::ProcessDiedLocked(ThreadGroup& tg, int status) {
  tg.zombie = true;
  tg.exit_status = status;
  tg.exit_state = 1;
  tg.exit_events.Notify();
  // forget_original_parent(): children go to the nearest live ancestor that
  // is a child subreaper (find_new_reaper), else to pid 1, which reaps them.
  ThreadGroup* reaper = (init_tg_ != nullptr && &tg != init_tg_) ? init_tg_ : nullptr;
  for (ThreadGroup* a = tg.parent; reaper != nullptr && a != nullptr && a != init_tg_; a = a->parent) {
    if (a->child_subreaper && !a->zombie) {
      reaper = a;
      break;
    }
  }
  bool zombie_moved = false;
  for (auto& c : tg.children) {
    if (!c->zombie) SendParentDeathSignalLocked(*c, tg);
    c->parent = reaper;
    c->ppid = reaper != nullptr ? reaper->pid : 0;
    c->parent_tid = c->ppid;
    if (reaper != nullptr) {
      reaper->children.push_back(c);
      zombie_moved |= c->zombie;
    } else if (c->zombie) {
      processes_.erase(c->pid);  // nobody left to reap it
    }
  }
  if (&tg != init_tg_) KillOrphanedPgrpsOnExitLocked(tg);
  tg.children.clear();
  if (zombie_moved) reaper->child_events.Notify();

  if (&tg == init_tg_) {
    // zap_pid_ns_processes(): the sandbox's init is gone; so is everyone.
    init_tg_ = nullptr;
    init_exited_ = true;
    init_status_ = status;
    processes_.erase(tg.pid);
    for (auto& [tid, task] : tasks_) SendToTask(*task, KernelSignalInfo(SIGKILL));
    return;
  }
  ThreadGroup* p = tg.parent;
  if (p == nullptr) {
    started_exits_[tg.pid] = status;  // a `runsc exec` process (spawn_process.cc)
    processes_.erase(tg.pid);
    return;
  }
  // do_notify_parent(): a parent ignoring SIGCHLD (or with SA_NOCLDWAIT)
  // gets no zombie.
  bool autoreap = false;
  if (tg.exit_signal == SIGCHLD) {
    absl::MutexLock gl(&p->signal_mu);
    if (!p->tasks.empty()) {
      auto& sh = p->tasks.front()->sighand();
      absl::MutexLock sl(&sh.mu);
      const KSigaction& act = sh.actions[SIGCHLD - 1];
      autoreap = act.handler == 1 /* SIG_IGN */ || (act.flags & SA_NOCLDWAIT);
    }
  }
  if (tg.exit_signal > 0) {
    siginfo_t info{};
    info.si_signo = tg.exit_signal;
    info.si_code = WIFEXITED(status) ? CLD_EXITED : CLD_KILLED;
    info.si_pid = tg.pid;
    info.si_status = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
    SendGroupSignalLocked(*p, info);
  }
  if (autoreap) {
    tg.exit_state = 2;
    tg.exit_events.Notify();
    std::erase_if(p->children, [&](const auto& c) { return c.get() == &tg; });
    processes_.erase(tg.pid);
  }
  p->child_events.Notify();
}

void Kernel::SendParentDeathSignalLocked(ThreadGroup& child, ThreadGroup& parent) {
  // Each thread's PR_SET_PDEATHSIG goes to its whole process, as
  // group_send_sig_info(t->pdeath_signal, SEND_SIG_NOINFO, ...) from the
  // dying parent.
  std::vector<int> sigs;
  {
    absl::MutexLock gl(&child.signal_mu);
    for (Task* t : child.tasks) {
      if (const int sig = t->pdeath_signal.load(); sig > 0) sigs.push_back(sig);
    }
  }
  for (int sig : sigs) {
    siginfo_t info{};
    info.si_signo = sig;
    info.si_code = SI_USER;
    info.si_pid = parent.pid;
    SendGroupSignalLocked(child, info);
  }
}

void Kernel::ThreadLeftProcess(Task& t) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&mu_);
  int32_t heir = 0;
  {
    absl::MutexLock gl(&tg.signal_mu);
    if (tg.group_exiting || tg.tasks.empty()) return;  // ProcessDiedLocked's turn
    heir = tg.tasks.front()->tid();
  }
  // forget_original_parent() of a thread whose process goes on: its
  // children go to another thread of it (find_alive_thread), and get their
  // parent-death signals.
  for (auto& c : tg.children) {
    if (c->parent_tid != t.tid()) continue;
    c->parent_tid = heir;
    if (!c->zombie) SendParentDeathSignalLocked(*c, tg);
  }
}

void Kernel::SendGroupSignalLocked(ThreadGroup& tg, const siginfo_t& info) {
  if (info.si_signo <= 0 || tg.zombie) return;
  SendToGroup(tg, info);
}

bool Kernel::MaySignalLocked(Task& sender, ThreadGroup& target) {
  const Credentials& s = sender.creds();
  if (s.HasCap(CAP_KILL)) return true;
  absl::MutexLock gl(&target.signal_mu);
  if (target.tasks.empty()) return true;  // a zombie: nothing happens anyway
  const std::shared_ptr<const Credentials> cp = target.tasks.front()->CredsSnapshot();
  const Credentials& c = *cp;
  return s.euid == c.suid || s.euid == c.ruid || s.ruid == c.suid || s.ruid == c.ruid;
}

base::Result<void> Kernel::Kill(Task& sender, int32_t pid, int sig) {
  if (sig < 0 || sig > 64) return base::Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (pid > 0) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return base::Errno::kESRCH;
    if (!MaySignalLocked(sender, *it->second)) return base::Errno::kEPERM;
    if (sig != 0) SendGroupSignalLocked(*it->second, UserSignalInfo(sig, SI_USER, sender));
    return {};
  }
  if (pid == INT32_MIN) return base::Errno::kESRCH;
  const int32_t me = sender.pid();
  const bool all = pid == -1;
  const int32_t pgrp = pid == 0 ? sender.thread_group().pgid.load() : -pid;
  bool found = false, sent = false;
  for (auto& [p, tg] : processes_) {
    if (all ? (p == 1 || p == me) : tg->pgid != pgrp) continue;
    found = true;
    if (!MaySignalLocked(sender, *tg)) continue;
    sent = true;
    if (sig != 0) SendGroupSignalLocked(*tg, UserSignalInfo(sig, SI_USER, sender));
  }
  if (!found) return base::Errno::kESRCH;
  if (!sent) return base::Errno::kEPERM;
  return {};
}

base::Result<void> Kernel::SignalProcess(Task& sender, ThreadGroup& target, const siginfo_t& info) {
  absl::MutexLock l(&mu_);
  if (target.zombie || target.exit_state.load() != 0) return base::Errno::kESRCH;
  if (!MaySignalLocked(sender, target)) return base::Errno::kEPERM;
  if (info.si_signo == 0) return {};
  if (!SendToGroup(target, info)) return base::Errno::kEAGAIN;
  return {};
}

base::Result<void> Kernel::SignalThread(Task& sender, int32_t tgid, int32_t tid, const siginfo_t& info) {
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end() || it->second->pid() != tgid) return base::Errno::kESRCH;
  if (!MaySignalLocked(sender, it->second->thread_group())) return base::Errno::kEPERM;
  if (info.si_signo == 0) return {};
  if (!SendToTask(*it->second, info)) return base::Errno::kEAGAIN;
  return {};
}

base::Result<void> Kernel::KillThread(Task& sender, int32_t tgid, int32_t tid, int sig) {
  if (sig < 0 || sig > 64) return base::Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end() || (tgid != -1 && it->second->pid() != tgid)) return base::Errno::kESRCH;
  if (!MaySignalLocked(sender, it->second->thread_group())) return base::Errno::kEPERM;
  // A task in tasks_ lives while mu_ is held (it leaves before it dies).
  if (sig != 0) SendToTask(*it->second, UserSignalInfo(sig, SI_TKILL, sender));
  return {};
}

base::Result<void> Kernel::Setpgid(Task& t, int32_t pid, int32_t pgid) {
  ThreadGroup& me = t.thread_group();
  if (pid == 0) pid = me.pid;
  if (pgid == 0) pgid = pid;
  if (pgid < 0) return base::Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return base::Errno::kESRCH;
  ThreadGroup& target = *it->second;
  if (target.parent == &me) {
    if (target.sid != me.sid) return base::Errno::kEPERM;
    if (target.exec_done) return base::Errno::kEACCES;
  } else if (&target != &me) {
    return base::Errno::kESRCH;
  }
  if (target.sid == target.pid) return base::Errno::kEPERM;  // a session leader
  if (pgid != pid) {
    bool ok = false;
    for (auto& [p, tg] : processes_) {
      if (tg->pgid == pgid && tg->sid == me.sid.load()) {
        ok = true;
        break;
      }
    }
    if (!ok) return base::Errno::kEPERM;
  }
  target.pgid = pgid;
  return {};
}

base::Result<int32_t> Kernel::Setsid(Task& t) {
  ThreadGroup& me = t.thread_group();
  absl::MutexLock l(&mu_);
  // Fails if a process group with our pid exists (we lead one already).
  for (auto& [p, tg] : processes_) {
    if (tg->pgid == me.pid) return base::Errno::kEPERM;
  }
  me.sid = me.pid;
  me.pgid = me.pid;
  me.no_ctty = false;  // a new session has no terminal to be detached from
  return me.pid;
}

base::Result<int32_t> Kernel::Getpgid(Task& t, int32_t pid) {
  if (pid == 0) return t.thread_group().pgid.load();
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return base::Errno::kESRCH;
  return it->second->pgid.load();
}

base::Result<int32_t> Kernel::Getsid(Task& t, int32_t pid) {
  if (pid == 0) return t.thread_group().sid.load();
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return base::Errno::kESRCH;
  return it->second->sid.load();
}

void Kernel::ExecDone(Task& t) {
  {
    absl::MutexLock l(&mu_);
    t.thread_group().exec_done = true;
  }
  if (t.vfork_done != nullptr) {
    t.vfork_done->Release();
    t.vfork_done.reset();
  }
}

std::vector<int32_t> Kernel::Pids() {
  std::vector<int32_t> out;
  absl::MutexLock l(&mu_);
  for (auto& [p, tg] : processes_) out.push_back(p);
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<ThreadGroup> Kernel::FindProcess(int32_t pid) {
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : it->second;
}

std::optional<ProcessInfo> Kernel::GetProcessInfo(int32_t pid) {
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return std::nullopt;
  const ThreadGroup& tg = *it->second;
  ProcessInfo info;
  info.pid = tg.pid;
  info.ppid = tg.ppid;
  info.pgid = tg.pgid;
  info.sid = tg.sid;
  info.exe_path = tg.exe_path;
  info.exe_file = tg.exe_file;
  info.cmdline = tg.cmdline;
  info.container = tg.container;
  info.state = tg.zombie ? 'Z' : 'S';
  absl::MutexLock gl(&it->second->signal_mu);
  info.threads = static_cast<int>(tg.tasks.size());
  if (!tg.tasks.empty()) {
    Task& leader = *tg.tasks.front();
    info.creds = *leader.CredsSnapshot();
    const Credentials& c = info.creds;
    info.no_new_privs = leader.no_new_privs;
    info.seccomp_mode = leader.seccomp_mode.load(std::memory_order_acquire);
    if (std::shared_ptr<const SeccompFilter> f = leader.SeccompFilterSnapshot()) info.seccomp_filters = f->depth();
    info.ruid = c.ruid, info.euid = c.euid, info.suid = c.suid, info.fsuid = c.fsuid;
    info.rgid = c.rgid, info.egid = c.egid, info.sgid = c.sgid, info.fsgid = c.fsgid;
    info.comm = leader.Comm();
    info.mm = leader.mm_ptr();  // TODO(#5): like fds_ptr(), read off the task thread
    info.nice = leader.GetSched().nice;
    info.sig_blocked = leader.signal_mask();
    absl::MutexLock hl(&leader.sighand().mu);
    for (size_t i = 0; i < leader.sighand().actions.size(); ++i) {
      const uint64_t h = leader.sighand().actions[i].handler;
      if (h == 1) info.sig_ignored |= 1ull << i;
      if (h > 1) info.sig_caught |= 1ull << i;
    }
  }
  info.environ = tg.environ;
  info.start_ns = absl::ToInt64Nanoseconds(tg.start_time - boot_time_);
  info.sig_pending = tg.shared_pending_set.load();
  for (Task* t : tg.tasks) {
    info.tids.push_back(t->tid());
    info.thread_comms.push_back(t->Comm());
    ProcessInfo::ThreadUsage tu;
    if (!t->times_folded.load()) {
      const CpuTimes x = TaskTimes(*t);
      tu = {x.utime_ns, x.stime_ns, x.minflt, x.majflt, x.nvcsw, x.nivcsw};
    }
    info.thread_usage.push_back(tu);
    info.utime_ns += tu.utime_ns;
    info.stime_ns += tu.stime_ns;
    info.minflt += tu.minflt;
    info.majflt += tu.majflt;
  }
  info.utime_ns += tg.dead_utime_ns.load();
  info.stime_ns += tg.dead_stime_ns.load();
  info.minflt += tg.dead_counts.minflt.load();
  info.majflt += tg.dead_counts.majflt.load();
  info.cutime_ns = tg.child_utime_ns.load();
  info.cstime_ns = tg.child_stime_ns.load();
  info.cminflt = tg.child_counts.minflt.load();
  info.cmajflt = tg.child_counts.majflt.load();
  info.maxrss_kb = tg.maxrss_kb.load();
  absl::MutexLock ml(&it->second->mu);
  for (const RLimit& r : it->second->rlimits) info.rlimits.emplace_back(r.cur, r.max);
  return info;
}

std::shared_ptr<FdTable> Kernel::ProcessFds(int32_t pid) {
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return nullptr;
  absl::MutexLock gl(&it->second->signal_mu);
  if (it->second->tasks.empty()) return nullptr;
  return it->second->tasks.front()->fds_ptr();
}

std::shared_ptr<fs::FsContext> Kernel::ProcessFs(int32_t pid) {
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return nullptr;
  absl::MutexLock gl(&it->second->signal_mu);
  if (it->second->tasks.empty()) return nullptr;
  return it->second->tasks.front()->fs_ptr();
}

int Kernel::TaskCount() {
  absl::MutexLock l(&mu_);
  return static_cast<int>(tasks_.size());
}

std::shared_ptr<const Credentials> Kernel::TaskCreds(int32_t tid) {
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return nullptr;
  return it->second->CredsSnapshot();
}

bool Kernel::WithTask(int32_t tid, absl::FunctionRef<void(Task&)> fn) {
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return false;
  fn(*it->second);
  return true;
}

void Kernel::ForEachTask(absl::FunctionRef<void(Task&)> fn) {
  absl::MutexLock l(&mu_);
  for (auto& [tid, task] : tasks_) fn(*task);
}


}  // namespace sentry::kernel
