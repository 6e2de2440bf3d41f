// fork/vfork/clone of a new process (kernel/fork.c copy_process); threads
// (CLONE_THREAD) are Kernel::CloneThread in thread.cc. The child
// task gets its own sentry thread, which must create the child's platform
// context and address space itself (platform/platform.h threading rule): the
// parent builds everything else, including the copy-on-write MemoryManager,
// then hands over and waits until the child thread is ready.
#include <linux/sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <linux/capability.h>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "base/logging.h"
#include "sentry/ipc/sem.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// The parent/child handshake. The parent waits on `ready` only while the
// child thread creates its platform objects (no app-visible wait), and the
// child waits on `go` until the parent has registered it (or gives up).
struct StartState {
  absl::Notification ready;
  base::Errno error = base::Errno::kEAGAIN;
  bool ok = false;
  absl::Notification go;
  bool abort = false;
};

}  // namespace

base::Result<void> Kernel::CheckNproc(Task& parent) {
  const std::shared_ptr<const Credentials> cr = parent.CredsSnapshot();
  if (cr->ruid == 0 || cr->HasCap(CAP_SYS_RESOURCE) || cr->HasCap(CAP_SYS_ADMIN)) return {};
  uint64_t limit;
  {
    ThreadGroup& tg = parent.thread_group();
    absl::MutexLock l(&tg.mu);
    limit = tg.rlimits[RLIMIT_NPROC].cur;
  }
  if (limit == RLIM_INFINITY) return {};
  // Linux counts the tasks of the uid's ucounts (threads and zombies
  // until reaped); here the sandbox's registered tasks.
  absl::MutexLock l(&mu_);
  uint64_t n = 0;
  for (auto& [tid, t] : tasks_) {
    if (t->CredsSnapshot()->ruid == cr->ruid) ++n;
  }
  if (n >= limit) return base::Errno::kEAGAIN;
  return {};
}

base::Result<int32_t> Kernel::Clone(Task& parent, const CloneArgs& a) {
  if (a.flags & CLONE_THREAD) return CloneThread(parent, a);
  ThreadGroup& ptg = parent.thread_group();
  JoinFinishedThreads();
  TRY(CheckNproc(parent));
  // --max-tasks: a fork bomb gets EAGAIN (like RLIMIT_NPROC / pids.max).
  TRY(ReserveTask());
  absl::Cleanup release = [this] { ReleaseTask(); };

  // Memory first: the likeliest failure, and it must run on the parent's
  // thread (it write-protects the parent's private memory).
  std::unique_ptr<mm::MemoryManager> child_mm = TRY(parent.mm().Fork());

  auto tg = std::make_shared<ThreadGroup>();
  tg->pid = AllocateTid();
  {
    absl::MutexLock l(&ptg.mu);
    absl::MutexLock cl(&tg->mu);
    tg->rlimits = ptg.rlimits;
  }
  tg->exit_signal = a.exit_signal;
  tg->personality = ptg.personality.load();
  tg->oom_score_adj = ptg.oom_score_adj.load();  // copy_signal()
  tg->oom_score_adj_min = ptg.oom_score_adj_min.load();
  tg->no_ctty = ptg.no_ctty.load();  // copy_signal: signal->tty is inherited
  tg->container = ptg.container;
  auto child = std::make_unique<Task>(*this, tg, tg->pid);
  child->SetCreds(parent.creds());
  child->SetFds((a.flags & CLONE_FILES) ? parent.fds_ptr() : std::shared_ptr<FdTable>(parent.fds().Fork()));
  child->SetFs((a.flags & CLONE_FS) ? parent.fs_ptr() : parent.fs().Fork());
  if (a.flags & CLONE_SYSVSEM) child->sem_undo = ipc::SemUndoFor(parent);  // copy_semundo
  InheritNamespaces(parent, *child, a.flags);
  if (a.flags & CLONE_SIGHAND) {
    child->SetSighand(parent.sighand_ptr());
  } else {
    auto sh = std::make_shared<SignalHandlers>();
    {
      auto& psh = parent.sighand();
      absl::MutexLock l(&psh.mu);
      absl::MutexLock cl(&sh->mu);
      sh->actions = psh.actions;
      if (a.flags & CLONE_CLEAR_SIGHAND) {
        for (auto& act : sh->actions) {
          if (act.handler != 1 /* SIG_IGN */) act = KSigaction{};
        }
      }
    }
    child->SetSighand(std::move(sh));
  }
  child->set_signal_mask(parent.signal_mask());
  child->SetComm(parent.Comm());
  {
    const SchedState ps = parent.GetSched();
    absl::MutexLock l(&child->sched_mu);
    child->sched = ps.ForChild();
  }
  child->no_new_privs = parent.no_new_privs;
  child->altstack_sp = parent.altstack_sp;
  child->altstack_size = parent.altstack_size;
  child->altstack_flags = parent.altstack_flags;
  if ((a.flags & CLONE_VM) && !(a.flags & CLONE_VFORK)) {
    child->altstack_sp = 0, child->altstack_size = 0, child->altstack_flags = SS_DISABLE;
  }
  // Registers: the parent's at the syscall, returning 0 (ret_from_fork).
  user_regs_struct& r = child->regs().regs;
  r = parent.regs().regs;
  r.rax = 0;
  if (a.stack != 0) r.rsp = a.stack;
  if (a.flags & CLONE_SETTLS) r.fs_base = a.tls;
  const int32_t pid = tg->pid;
  if (a.flags & CLONE_CHILD_SETTID) {
    // schedule_tail(): a bad address is ignored.
    (void)child_mm->CopyOut(mm::UserPtr<int32_t>(a.child_tid), pid);
  }
  if (a.flags & CLONE_CHILD_CLEARTID) child->clear_child_tid = a.child_tid;
  std::shared_ptr<VforkDone> vfork;
  if (a.flags & CLONE_VFORK) {
    vfork = std::make_shared<VforkDone>();
    child->vfork_done = vfork;
  }

  auto st = std::make_shared<StartState>();
  Task* raw = child.get();
  {
    absl::MutexLock l(&mu_);
    ++live_threads_;
    threads_.emplace(pid, std::thread([this, st, t = std::move(child), m = std::move(child_mm)]() mutable {
      auto ctx = platform_->NewContext();
      auto as = ctx.ok() ? platform_->NewAddressSpace() : base::Result<std::unique_ptr<platform::AddressSpace>>(ctx.error());
      base::Result<void> attached = as.ok() ? m->AttachAddressSpace(std::move(as).value()) : as.error();
      if (attached.ok()) {
        t->SetMm(std::shared_ptr<mm::MemoryManager>(std::move(m)));
        t->SetContext(std::move(ctx).value());
        st->ok = true;
      } else {
        st->error = attached.error() == base::Errno::kENOMEM ? base::Errno::kENOMEM : base::Errno::kEAGAIN;
      }
      st->ready.Notify();
      st->go.WaitForNotification();
      if (st->abort) {
        const int32_t tid = t->tid();
        m.reset();
        t.reset();
        absl::MutexLock l(&mu_);
        --live_threads_;
        finished_threads_.push_back(tid);
        return;
      }
      TaskMain(std::move(t));
    }));
  }
  st->ready.WaitForNotification();
  {
    absl::MutexLock l(&mu_);
    ThreadGroup* real_parent = &ptg;
    if (a.flags & CLONE_PARENT) {
      real_parent = ptg.parent;
      tg->exit_signal = ptg.exit_signal;
    }
    // A dying parent (or sandbox) makes no children (copy_process checks
    // fatal_signal_pending and restarts the call, which then never returns).
    bool dying = init_exited_ || real_parent == nullptr;
    {
      absl::MutexLock gl(&ptg.signal_mu);
      dying = dying || ptg.group_exiting || ptg.tasks.empty();
    }
    if (!st->ok || dying) {
      st->abort = true;
      st->go.Notify();
      return st->ok ? base::Errno::kERESTARTNOINTR : st->error;
    }
    tg->pgid = ptg.pgid.load();
    tg->sid = ptg.sid.load();
    tg->exe_path = ptg.exe_path;
    tg->exe_file = ptg.exe_file;
    tg->cmdline = ptg.cmdline;
    tg->environ = ptg.environ;
    if (a.new_process != nullptr) *a.new_process = tg;
    RegisterProcessLocked(tg, raw, real_parent);
    tg->parent_tid = (a.flags & CLONE_PARENT) ? ptg.parent_tid : parent.tid();
  }
  st->go.Notify();
  if (a.flags & CLONE_PARENT_SETTID) (void)parent.mm().CopyOut(mm::UserPtr<int32_t>(a.parent_tid), pid);
  if (vfork != nullptr) {
    // wait_for_vfork_done(). With our copy-on-write "vfork" the parent may
    // safely run early, so a signal simply ends the wait.
    Waiter w(parent);
    vfork->queue.Add(&w);
    while (!vfork->done.load(std::memory_order_acquire)) {
      if (!parent.Block(w, std::nullopt).ok()) break;
    }
    vfork->queue.Remove(&w);
  }
  std::move(release).Cancel();  // the task now counts until ExitTask
  return pid;
}

}  // namespace sentry::kernel
