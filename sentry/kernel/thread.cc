// Threads: clone(CLONE_THREAD), thread exit (robust futexes: futex_exit.cc).
#include "sentry/kernel/thread.h"

#include <linux/futex.h>
#include <linux/sched.h>

#include <algorithm>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "base/logging.h"
#include "sentry/kernel/clone_args.h"
#include "sentry/ipc/sem.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/signal.h"

namespace sentry::kernel {

void ExecReleaseMm(Task& t) {
  FutexCleanup(t);
  t.robust_list_head.store(0);
  t.robust_list_len = 0;
  if (t.clear_child_tid != 0) {
    if (t.mm_ptr().use_count() > 2) ClearChildTid(t);
    t.clear_child_tid = 0;
  }
}

bool RegisterThread(Task& t) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&tg.signal_mu);
  if (std::find(tg.tasks.begin(), tg.tasks.end(), &t) != tg.tasks.end()) return true;
  if (tg.group_exiting) return false;
  if (t.tid() == t.pid()) {
    tg.tasks.insert(tg.tasks.begin(), &t);
  } else {
    tg.tasks.push_back(&t);
  }
  ++tg.live_threads;
  return true;
}

int ExitThread(Task& t) {
  ThreadGroup& tg = t.thread_group();
  if (t.exit_group_requested()) StartGroupExit(t, t.exit_status());
  bool group_exit;
  {
    absl::MutexLock l(&tg.signal_mu);
    group_exit = tg.group_exiting;
  }
  // mm_release(): clear_child_tid is written and woken even on a group
  // exit (another process may share the memory).
  // From here on this thread cannot become a PI futex's owner (set before
  // ExitPiState's table lock: a FUTEX_LOCK_PI that attached to it first is
  // handed the lock there, a later one sees the flag: ESRCH).
  t.futex_exited.store(true);
  FutexCleanup(t);  // robust list, PI futexes still owned
  if (t.clear_child_tid != 0) ClearChildTid(t);
  // exit_sem(): the last task sharing the SEM_UNDO list applies it, before
  // the exit is visible to wait(2).
  if (t.sem_undo != nullptr) {
    t.sem_undo->set_pid(t.pid());
    t.sem_undo.reset();
  }
  {
    absl::MutexLock l(&tg.signal_mu);
    tg.tasks.erase(std::remove(tg.tasks.begin(), tg.tasks.end(), &t), tg.tasks.end());
  }
  t.kernel().ThreadLeftProcess(t);
  tg.state_queue.Notify();
  if (t.tid() != t.pid()) return t.exit_status();
  // The leader stays (a zombie in Linux) until every thread is gone; its
  // sentry thread also owns the stub process (platform threading rule).
  // If another thread execs meanwhile (de_thread), it takes over the
  // leader's tid and this one ends as an ordinary thread.
  // The exec task was killed before the hand-over: this is the leader again
  // and waits as such.
  while (true) {
    {
      absl::MutexLock l(&tg.signal_mu);
      struct Arg {
        ThreadGroup* g;
        Task* me;
      } arg{&tg, &t};
      tg.signal_mu.Await(absl::Condition(
          +[](Arg* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return a->g->live_threads <= 1 || (a->g->exec_task != nullptr && a->g->exec_task != a->me);
          },
          &arg));
      if (tg.exec_task == nullptr || tg.exec_task == &t) {
        --tg.live_threads;
        return (group_exit || tg.group_exiting) ? tg.group_exit_status : t.exit_status();
      }
    }
    if (t.kernel().TransferLeadership(t)) return t.exit_status();
  }
}

bool Kernel::TransferLeadership(Task& leader) {
  ThreadGroup& tg = leader.thread_group();
  {
    absl::MutexLock l(&mu_);
    absl::MutexLock gl(&tg.signal_mu);
    Task* e = tg.exec_task;
    if (e == nullptr || e == &leader || leader.tid() != leader.pid()) return false;
    // de_thread(): exchange_tids(); the exec'ing thread becomes the leader.
    const int32_t old = e->tid();
    e->set_tid(leader.tid());
    leader.set_tid(old);
    tasks_[e->tid()] = e;
    tasks_[old] = &leader;
    if (init_ == &leader) init_ = e;
    auto it = std::find(tg.tasks.begin(), tg.tasks.end(), e);
    if (it != tg.tasks.end()) std::rotate(tg.tasks.begin(), it, it + 1);
  }
  tg.state_queue.Notify();
  return true;
}

void ThreadFinished(ThreadGroup& tg) {
  {
    absl::MutexLock l(&tg.signal_mu);
    --tg.live_threads;
  }
  tg.state_queue.Notify();  // de_thread waits for every other thread to finish
}

base::Result<int32_t> Kernel::CloneThread(Task& parent, const CloneArgs& args) {
  const uint64_t f = args.flags;
  // copy_process(): threads share signal handlers, which needs a shared mm.
  if (!(f & CLONE_THREAD) || !(f & CLONE_SIGHAND) || !(f & CLONE_VM)) return base::Errno::kEINVAL;
  JoinFinishedThreads();
  TRY(CheckNproc(parent));
  // --max-tasks counts threads too (pids.max does).
  TRY(ReserveTask());
  absl::Cleanup release = [this] { ReleaseTask(); };
  const int32_t tid = AllocateTid();
  auto task = std::make_unique<Task>(*this, parent.thread_group_ptr(), tid);
  task->SetMm(parent.mm_ptr());
  task->SetSighand(parent.sighand_ptr());
  task->SetFds(f & CLONE_FILES ? parent.fds_ptr() : std::shared_ptr<FdTable>(parent.fds().Fork()));
  task->SetFs(f & CLONE_FS ? parent.fs_ptr() : parent.fs().Fork());
  if (f & CLONE_SYSVSEM) task->sem_undo = ipc::SemUndoFor(parent);  // copy_semundo
  InheritNamespaces(parent, *task, f);
  task->SetCreds(parent.creds());
  task->SetComm(parent.Comm());
  {
    const SchedState ps = parent.GetSched();
    absl::MutexLock l(&task->sched_mu);
    task->sched = ps.ForChild();
  }
  task->no_new_privs = parent.no_new_privs;
  task->SetSeccomp(parent.seccomp_mode.load(), parent.SeccompFilterSnapshot());  // copy_seccomp
  task->set_signal_mask(parent.signal_mask());
  // The child resumes after `syscall` with the parent's registers, rax = 0.
  user_regs_struct& r = task->regs().regs;
  r = parent.regs().regs;
  r.rax = 0;
  if (args.stack != 0) r.rsp = args.stack;
  if (f & CLONE_SETTLS) r.fs_base = args.tls;
  if (f & CLONE_CHILD_CLEARTID) task->clear_child_tid = args.child_tid;
  const uint32_t tid_value = static_cast<uint32_t>(tid);
  if (f & CLONE_PARENT_SETTID) TRY(parent.mm().CopyOut(mm::UserPtr<uint32_t>(args.parent_tid), tid_value));
  if (f & CLONE_CHILD_SETTID) TRY(parent.mm().CopyOut(mm::UserPtr<uint32_t>(args.child_tid), tid_value));

  // The platform context: prepared here, on a thread that drives the
  // address space; the new sentry thread then switches to it.
  std::unique_ptr<platform::Context> ctx = TRY(platform_->NewContext());
  TRY(parent.mm().address_space()->AddContext(*ctx));
  task->SetContext(std::move(ctx));

  // Registration: the group's thread list (refused once a group exit is
  // under way, so no thread escapes it) and the kernel's task registry
  // (tkill/tgkill from other processes), then the sentry thread, which the
  // kernel joins like a process's (process.cc).
  std::shared_ptr<ThreadGroup> tg_ref = parent.thread_group_ptr();
  Task* raw = task.get();
  absl::MutexLock l(&mu_);
  if (init_exited_ || !RegisterThread(*raw)) return base::Errno::kEAGAIN;
  tasks_[tid] = raw;
  ++live_threads_;
  std::move(release).Cancel();  // released when the thread ends
  threads_.emplace(tid, std::thread([this, tg_ref, tid, t = std::move(task)]() mutable {
    // threads_ keeps the creation tid as its key: de_thread may change
    // this task's tid.
    const int status = RunTask(*t);  // ends with ExitThread: out of the group's list
    FinishTaskThread(std::move(t), status, tid);
  }));
  return tid;
}

}  // namespace sentry::kernel
