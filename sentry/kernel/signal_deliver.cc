// Signal generation and delivery (kernel/signal.c, arch/x86/kernel/signal.c).
#include <signal.h>

#include <algorithm>
#include <climits>

#include "base/logging.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/signal_frame.h"

namespace sentry::kernel {

namespace {

constexpr uint64_t kStopSignals = SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
constexpr int kRestartSyscallNr = 219;
constexpr size_t kSyscallInsnLen = 2;

KSigaction ActionOf(Task& t, int signo) {
  auto& sh = t.sighand();
  absl::MutexLock l(&sh.mu);
  return sh.actions[static_cast<size_t>(signo - 1)];
}

}  // namespace

DefaultAction DefaultActionOf(int signo) {
  switch (signo) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGCONT:
      return DefaultAction::kContinue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return DefaultAction::kStop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return DefaultAction::kCore;
    default:
      return DefaultAction::kTerminate;
  }
}

siginfo_t UserSignalInfo(int signo, int code, const Task& sender) {
  siginfo_t info{};
  info.si_signo = signo;
  info.si_code = code;
  info.si_pid = sender.pid();
  info.si_uid = const_cast<Task&>(sender).creds().ruid;
  return info;
}

siginfo_t KernelSignalInfo(int signo) {
  siginfo_t info{};
  info.si_signo = signo;
  info.si_code = SI_KERNEL;
  return info;
}

// Friend of Task: the pending sets are private to it.
class SignalDelivery {
 public:
  // sig_ignored(): discarded at generation unless `t` blocks it (the
  // handler may change before it is unblocked).
  static bool IgnoredLocked(ThreadGroup& tg, int signo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg.signal_mu) {
    if (signo == SIGKILL || signo == SIGSTOP || tg.tasks.empty()) return false;
    Task& t = *tg.tasks.front();
    if ((t.signal_mask() | t.real_blocked.load()) & SigBit(signo)) return false;
    const KSigaction act = ActionOf(t, signo);
    if (act.handler == 1 /* SIG_IGN */) return true;
    if (act.handler != 0) return false;
    const DefaultAction d = DefaultActionOf(signo);
    return d == DefaultAction::kIgnore || d == DefaultAction::kContinue;
  }

  // sig_task_ignored()'s SIGNAL_UNKILLABLE rule: the pid namespace's init
  // with SIG_DFL discards the signal unless it is SIGKILL or SIGSTOP and
  // forced (from an ancestor namespace or the kernel: SI_KERNEL here; a
  // process cannot send SI_KERNEL to another, see rt_sigqueueinfo).
  static bool UnkillableIgnoresLocked(ThreadGroup& tg, const siginfo_t& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg.signal_mu) {
    const int signo = info.si_signo;
    if (!tg.unkillable.load(std::memory_order_relaxed) || tg.tasks.empty()) return false;
    Task& t = *tg.tasks.front();
    if ((t.signal_mask() | t.real_blocked.load()) & SigBit(signo)) return false;
    if (ActionOf(t, signo).handler != 0 /* SIG_DFL */) return false;
    const bool force = info.si_code == SI_KERNEL;
    return !(force && (signo == SIGKILL || signo == SIGSTOP));
  }

  // prepare_signal(): SIGCONT resumes a stopped group and discards pending
  // stop signals; a stop signal discards pending SIGCONTs.
  static void PrepareLocked(ThreadGroup& tg, int signo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg.signal_mu) {
    uint64_t discard = 0;
    if (signo == SIGCONT) discard = kStopSignals;
    if (SigBit(signo) & kStopSignals) discard = SigBit(SIGCONT);
    if (discard == 0) return;
    tg.shared_pending.Discard(discard);
    tg.shared_pending_set.store(tg.shared_pending.set());
    for (Task* t : tg.tasks) {
      absl::MutexLock l(&t->wake_mu_);
      t->pending_.Discard(discard);
    }
    if (signo == SIGCONT && tg.stopped) {
      tg.stopped = false;
      // SIGNAL_STOP_CONTINUED | SIGNAL_CLD_CONTINUED: wait(WCONTINUED) sees
      // it, and a thread of the group sends the parent's SIGCHLD once it
      // runs (the sender may hold Kernel::mu_, which that needs).
      tg.stop_report = 0;
      tg.continue_report = true;
      tg.notify_parent.store(CLD_CONTINUED);
      tg.state_queue.Notify();
      if (!tg.tasks.empty()) tg.tasks.front()->Kick();
    }
  }

  static bool Send(ThreadGroup& tg, Task* target, const siginfo_t& info) {
    absl::MutexLock l(&tg.signal_mu);
    return SendLocked(tg, target, info);
  }

  static base::Result<void> SendToTid(ThreadGroup& tg, int32_t tid, const siginfo_t& info) {
    absl::MutexLock l(&tg.signal_mu);
    for (Task* t : tg.tasks) {
      if (t->tid() == tid) return SendLocked(tg, t, info) ? base::Result<void>() : base::Errno::kEAGAIN;
    }
    return base::Errno::kESRCH;
  }

  static bool SendLocked(ThreadGroup& tg, Task* target, const siginfo_t& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg.signal_mu) {
    const int signo = info.si_signo;
    if (signo < 1 || signo > kNumSignals) return false;
    if (tg.group_exiting) return true;  // the group is dying anyway
    PrepareLocked(tg, signo);
    if (IgnoredLocked(tg, signo) || UnkillableIgnoresLocked(tg, info)) return true;
    Task* wake = target;
    if (target != nullptr) {
      absl::MutexLock w(&target->wake_mu_);
      if (!target->pending_.Enqueue(info)) return signo < kFirstRtSignal;
    } else {
      if (!tg.shared_pending.Enqueue(info)) return signo < kFirstRtSignal;
      tg.shared_pending_set.store(tg.shared_pending.set());
      // complete_signal(): prefer a thread that does not block it.
      for (Task* t : tg.tasks) {
        if (!(t->signal_mask() & SigBit(signo))) {
          wake = t;
          break;
        }
      }
    }
    if (signo == SIGKILL) {
      for (Task* t : tg.tasks) t->Kick();
    } else if (wake != nullptr) {
      wake->Kick();
    }
    tg.signalfd_events.Notify();  // signalfd_notify()
    return true;
  }

  static bool Dequeue(Task& t, uint64_t allowed, siginfo_t* out) {
    ThreadGroup& tg = t.thread_group();
    absl::MutexLock l(&tg.signal_mu);
    absl::MutexLock w(&t.wake_mu_);
    if (t.pending_.Dequeue(allowed, out)) return true;
    if (tg.shared_pending.Dequeue(allowed, out)) {
      tg.shared_pending_set.store(tg.shared_pending.set());
      return true;
    }
    return false;
  }

  static uint64_t Pending(const Task& t) {
    absl::MutexLock w(&t.wake_mu_);
    return t.pending_.set() | t.tg_->shared_pending_set.load();
  }

  static int SendTimer(ThreadGroup& tg, int32_t tid, const siginfo_t& info, uint64_t expirations) {
    absl::MutexLock l(&tg.signal_mu);
    Task* target = nullptr;
    if (tid != 0) {
      for (Task* t : tg.tasks) {
        if (t->tid() == tid) target = t;
      }
      if (target == nullptr) return -1;  // the thread is gone
    }
    siginfo_t* queued;
    if (target != nullptr) {
      absl::MutexLock w(&target->wake_mu_);
      queued = target->pending_.FindTimerSignal(info.si_signo, info.si_timerid);
      if (queued != nullptr) return AddOverrun(*queued, expirations);
    } else {
      queued = tg.shared_pending.FindTimerSignal(info.si_signo, info.si_timerid);
      if (queued != nullptr) return AddOverrun(*queued, expirations);
    }
    SendLocked(tg, target, info);
    return -1;
  }

  static int AddOverrun(siginfo_t& info, uint64_t n) {
    const uint64_t total = std::min<uint64_t>(static_cast<uint64_t>(info.si_overrun) + n, INT_MAX);
    info.si_overrun = static_cast<int>(total);
    return info.si_overrun;
  }

  static void EnqueuePrivate(Task& t, const siginfo_t& info) {
    absl::MutexLock w(&t.wake_mu_);
    t.pending_.Enqueue(info);
  }

  static bool HasSigkill(const Task& t) {
    absl::MutexLock w(&t.wake_mu_);
    // kill(2) queues SIGKILL on the group's shared set.
    return ((t.pending_.set() | t.tg_->shared_pending_set.load()) & SigBit(SIGKILL)) != 0;
  }
};

bool SendToTask(Task& t, const siginfo_t& info) { return SignalDelivery::Send(t.thread_group(), &t, info); }

bool SendToGroup(ThreadGroup& tg, const siginfo_t& info) { return SignalDelivery::Send(tg, nullptr, info); }

base::Result<void> SendToTid(ThreadGroup& tg, int32_t tid, const siginfo_t& info) {
  return SignalDelivery::SendToTid(tg, tid, info);
}

int SendTimerSignal(ThreadGroup& tg, int32_t tid, const siginfo_t& info, uint64_t expirations) {
  return SignalDelivery::SendTimer(tg, tid, info, expirations);
}

void Task::SendSignal(int signo) {
  // From outside the sandbox (runsc forwarding SIGINT/SIGTERM): SI_USER from
  // pid 0, like a signal from an ancestor pid namespace.
  siginfo_t info{};
  info.si_signo = signo;
  info.si_code = SI_USER;
  SendToGroup(*tg_, info);
}

bool Task::SendSignalInfo(const siginfo_t& info) { return SendToTask(*this, info); }

bool Task::HasPendingSignal() const { return (PendingSet() & ~signal_mask()) != 0; }

uint64_t Task::PendingSet() const { return SignalDelivery::Pending(*this); }

bool Task::DequeueSignal(uint64_t allowed, siginfo_t* out) { return SignalDelivery::Dequeue(*this, allowed, out); }

void Task::Kick() {
  {
    absl::MutexLock l(&wake_mu_);
    wake_cv_.Signal();
  }
  if (context_ != nullptr) context_->Interrupt();
}

void ForceSignal(Task& t, const siginfo_t& info) {
  const int signo = info.si_signo;
  {
    auto& sh = t.sighand();
    absl::MutexLock l(&sh.mu);
    KSigaction& act = sh.actions[static_cast<size_t>(signo - 1)];
    const bool blocked = t.signal_mask() & SigBit(signo);
    if (blocked || act.handler == 1 /* SIG_IGN */) act.handler = 0;
    if (blocked) t.set_signal_mask(t.signal_mask() & ~SigBit(signo));
    // force_sig_info_to_task(): a fatal forced signal kills even the init.
    if (act.handler == 0) t.thread_group().unkillable.store(false);
  }
  SendToTask(t, info);
}

bool StartGroupExit(Task& t, int status) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&tg.signal_mu);
  if (tg.group_exiting) return false;
  tg.group_exiting = true;
  tg.group_exit_status = status;
  tg.stopped = false;
  const siginfo_t kill = KernelSignalInfo(SIGKILL);
  for (Task* other : tg.tasks) {
    if (other == &t) continue;
    SignalDelivery::EnqueuePrivate(*other, kill);
    other->Kick();
  }
  tg.state_queue.Notify();
  return true;
}

bool NeedsDeThread(Task& t) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&tg.signal_mu);
  // Also a non-leader alone in the list: the leader has exited (it waits,
  // a zombie, for the last thread) and its tid is still to take over.
  return tg.tasks.size() > 1 || tg.live_threads > 1 || t.tid() != t.pid();
}

bool StartDeThread(Task& t) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&tg.signal_mu);
  if (tg.group_exiting || tg.exec_task != nullptr) return false;
  tg.exec_task = &t;
  tg.stopped = false;
  const siginfo_t kill = KernelSignalInfo(SIGKILL);
  for (Task* other : tg.tasks) {
    if (other == &t) continue;
    SignalDelivery::EnqueuePrivate(*other, kill);
    other->Kick();
  }
  tg.state_queue.Notify();
  return true;
}

bool WaitDeThread(Task& t) {
  ThreadGroup& tg = t.thread_group();
  const bool was_leader = t.tid() == t.pid();
  // Done when every other thread has finished (its sentry thread let go of
  // the memory and of its stub thread: live_threads), not just left the
  // list, so that the old address space dies on this thread once it is no
  // longer bound to it (Task::RetireMm).
  auto done = [&] {
    absl::MutexLock l(&tg.signal_mu);
    return tg.tasks.size() <= 1 && t.tid() == t.pid() && tg.live_threads <= 1;
  };
  // Killable only (TASK_KILLABLE): other signals stay pending. Once the
  // leader handed its tid over there is no way back (this is the process
  // now), and what is left is threads that are already exiting: the wait
  // goes on and a SIGKILL acts once the exec is done.
  const uint64_t mask = t.signal_mask();
  t.set_signal_mask(~0ull);
  Waiter w(t);
  tg.state_queue.Add(&w);
  bool ok;
  while (!(ok = done())) {
    const bool handed_over = !was_leader && t.tid() == t.pid();
    if (!handed_over && SignalDelivery::HasSigkill(t)) break;
    (void)t.Block(w, std::nullopt);
  }
  tg.state_queue.Remove(&w);
  t.set_signal_mask(mask);
  absl::MutexLock l(&tg.signal_mu);
  if (tg.exec_task == &t) tg.exec_task = nullptr;
  return ok;
}

namespace {

// Ends the task for a fatal signal or a group exit started elsewhere.
void ExitForGroup(Task& t, int status_if_first) {
  StartGroupExit(t, status_if_first);
  ThreadGroup& tg = t.thread_group();
  int status;
  {
    absl::MutexLock l(&tg.signal_mu);
    status = tg.group_exit_status;
  }
  t.RequestExit(status, /*group=*/true);
}

// A restart errno from the last syscall: with a handler about to run
// (`act`), or with none (null). arch/x86/kernel/signal.c handle_signal and
// arch_do_signal_or_restart.
void ResolveRestart(Task& t, const KSigaction* act) {
  const int e = std::exchange(t.pending_restart, 0);
  if (e == 0) return;
  user_regs_struct& r = t.regs().regs;
  bool restart = false;
  switch (static_cast<base::Errno>(e)) {
    case base::Errno::kERESTARTNOHAND: restart = act == nullptr; break;
    case base::Errno::kERESTARTSYS: restart = act == nullptr || (act->flags & SA_RESTART); break;
    case base::Errno::kERESTARTNOINTR: restart = true; break;
    case base::Errno::kERESTART_RESTARTBLOCK:
      if (act == nullptr) {
        r.rax = kRestartSyscallNr;
        r.rip -= kSyscallInsnLen;
        return;
      }
      break;
    default: break;
  }
  if (restart) {
    r.rax = r.orig_rax;
    r.rip -= kSyscallInsnLen;
  } else {
    r.rax = static_cast<uint64_t>(-static_cast<int64_t>(EINTR));
  }
}

// do_signal_stop(): the group is stopped; wait (with every signal but
// SIGKILL blocked, so only SIGKILL or SIGCONT ends it).
void WaitWhileStopped(Task& t) {
  ThreadGroup& tg = t.thread_group();
  auto stopped = [&] {
    absl::MutexLock l(&tg.signal_mu);
    return tg.stopped && !tg.group_exiting;
  };
  if (!stopped()) return;
  const uint64_t mask = t.signal_mask();
  t.set_signal_mask(~0ull);
  Waiter w(t);
  tg.state_queue.Add(&w);
  while (stopped() && !SignalDelivery::HasSigkill(t)) (void)t.Block(w, std::nullopt);
  tg.state_queue.Remove(&w);
  t.set_signal_mask(mask);
}

}  // namespace

bool DeliverSignals(Task& t) {
  bool handled = false;
  while (!t.exiting()) {
    WaitWhileStopped(t);
    ThreadGroup& tg = t.thread_group();
    if (tg.notify_parent.load(std::memory_order_relaxed) != 0) {
      const int code = tg.notify_parent.exchange(0);
      if (code != 0) t.kernel().NotifyParentJobControl(t, code, SIGCONT);
    }
    siginfo_t info;
    if (!t.DequeueSignal(~t.signal_mask(), &info)) break;
    const int signo = info.si_signo;
    if (signo == SIGKILL) {
      bool exec_victim;
      {
        absl::MutexLock l(&tg.signal_mu);
        exec_victim = tg.exec_task != nullptr && tg.exec_task != &t && !tg.group_exiting;
      }
      // de_thread(): another thread execs; only this thread goes.
      if (exec_victim) {
        t.RequestExit(KilledStatus(SIGKILL), /*group=*/false);
      } else {
        ExitForGroup(t, KilledStatus(SIGKILL));
      }
      break;
    }
    const KSigaction act = ActionOf(t, signo);
    if (act.handler == 1 /* SIG_IGN */) continue;
    if (act.handler == 0 /* SIG_DFL */) {
      // get_signal(): the namespace's init gets no default action but a
      // forced SIGSTOP's (SIGKILL was handled above); a signal queued while
      // blocked ends here.
      if (tg.unkillable.load(std::memory_order_relaxed) && signo != SIGSTOP) continue;
      switch (DefaultActionOf(signo)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:
          continue;
        case DefaultAction::kStop: {
          // get_signal(): the tty stop signals are discarded in an orphaned
          // process group (nobody could continue it).
          if (signo != SIGSTOP && t.kernel().PgrpOrphaned(tg.pgid)) continue;
          bool report = false;
          {
            absl::MutexLock l(&tg.signal_mu);
            if (!tg.group_exiting && tg.exec_task == nullptr && !tg.stopped) {
              tg.stopped = true;
              tg.stop_signal = signo;
              // do_signal_stop(): SIGNAL_STOP_STOPPED with group_exit_code
              // for wait(WUNTRACED); a continue not yet reaped is forgotten.
              tg.stop_report = signo;
              tg.continue_report = false;
              tg.notify_parent.store(0);
              report = true;
              for (Task* other : tg.tasks) {
                if (other != &t) other->Kick();
              }
            }
          }
          // do_notify_parent_cldstop(CLD_STOPPED), with no lock held.
          if (report) t.kernel().NotifyParentJobControl(t, CLD_STOPPED, signo);
          continue;
        }
        case DefaultAction::kTerminate:
        case DefaultAction::kCore:
          logging::Info("task {}: killed by signal {}", t.tid(), signo);
          ExitForGroup(t, KilledStatus(signo));
          return false;
      }
    }
    // A handler: restart rules first, so the frame saves the final rax.
    ResolveRestart(t, &act);
    const uint64_t saved = t.saved_signal_mask.value_or(t.signal_mask());
    FaultContext fault;
    if (t.last_fault.signo == signo) fault = {t.last_fault.err, t.last_fault.trapno, t.last_fault.cr2};
    t.last_fault.signo = 0;
    auto r = SetupFrame(t, info, act, saved, fault);
    if (!r.ok()) {
      // force_sigsegv(): a frame that cannot be written kills, unless a
      // SIGSEGV handler can still run (not for SIGSEGV itself).
      logging::Info("task {}: cannot set up the frame for signal {}: {}", t.tid(), signo,
                    base::ErrnoName(r.error()));
      if (signo == SIGSEGV) {
        ExitForGroup(t, KilledStatus(SIGSEGV));
        return false;
      }
      ForceSignal(t, KernelSignalInfo(SIGSEGV));
      continue;
    }
    t.saved_signal_mask.reset();
    handled = true;
    uint64_t blocked = t.signal_mask() | act.mask;
    if (!(act.flags & SA_NODEFER)) blocked |= SigBit(signo);
    t.set_signal_mask(blocked);
    if (act.flags & SA_RESETHAND) {
      auto& sh = t.sighand();
      absl::MutexLock l(&sh.mu);
      sh.actions[static_cast<size_t>(signo - 1)] = KSigaction{};
    }
  }
  if (t.exiting()) return false;
  if (!handled) {
    ResolveRestart(t, nullptr);
    if (t.saved_signal_mask.has_value()) {  // restore_saved_sigmask()
      t.set_signal_mask(*t.saved_signal_mask);
      t.saved_signal_mask.reset();
    }
  }
  return true;
}

base::Result<uint64_t> SigReturn(Task& t) {
  auto r = RestoreFrame(t);
  if (!r.ok()) {
    logging::Info("task {}: bad rt_sigreturn frame at {:#x}: {}", t.tid(), t.regs().regs.rsp,
                  base::ErrnoName(r.error()));
    ForceSignal(t, KernelSignalInfo(SIGSEGV));
  }
  return r;
}

}  // namespace sentry::kernel
