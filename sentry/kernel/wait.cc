// wait4/waitid (kernel/exit.c do_wait): reaps zombie children, blocking on
// the caller's child_events queue through Task::Block.
#include <signal.h>
#include <sys/wait.h>

#include <optional>

#include "absl/cleanup/cleanup.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kWall = 0x40000000;   // __WALL
constexpr int kWclone = static_cast<int>(0x80000000u);  // __WCLONE

bool Eligible(const ThreadGroup& c, const WaitRequest& req) {
  switch (req.who) {
    case WaitWho::kPid:
      if (c.pid != req.id) return false;
      break;
    case WaitWho::kPgid:
      if (c.pgid != req.id) return false;
      break;
    case WaitWho::kAll:
      break;
  }
  // eligible_child(): "clone" children (exit signal other than SIGCHLD) only
  // with __WCLONE, the others only without it; __WALL takes both.
  if (req.options & kWall) return true;
  return (c.exit_signal != SIGCHLD) == ((req.options & kWclone) != 0);
}

// wait_task_stopped() / wait_task_continued(): a live child's stop not yet
// reported (WSTOPPED, WUNTRACED for wait4) or continue (WCONTINUED). Each is
// reported once unless WNOWAIT. Kernel::mu_ held.
std::optional<WaitResult> JobControlReport(ThreadGroup& c, int options) {
  if (!(options & (WSTOPPED | WCONTINUED))) return std::nullopt;
  int32_t uid = 0;
  absl::MutexLock gl(&c.signal_mu);
  if (!c.tasks.empty()) uid = static_cast<int32_t>(c.tasks.front()->creds().ruid);
  WaitResult r;
  r.pid = c.pid;
  r.uid = uid;
  if ((options & WSTOPPED) && c.stop_report != 0) {
    r.status = (c.stop_report << 8) | 0x7f;
    r.code = CLD_STOPPED;
    r.child_status = c.stop_report;
    if (!(options & WNOWAIT)) c.stop_report = 0;
    return r;
  }
  if ((options & WCONTINUED) && c.continue_report) {
    r.status = 0xffff;
    r.code = CLD_CONTINUED;
    r.child_status = SIGCONT;
    if (!(options & WNOWAIT)) c.continue_report = false;
    return r;
  }
  return std::nullopt;
}

}  // namespace

void Kernel::NotifyParentJobControl(Task& t, int code, int status) {
  ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&mu_);
  ThreadGroup* p = tg.parent;
  if (p == nullptr || p->zombie || tg.zombie) return;
  bool nocldstop = false;
  {
    absl::MutexLock gl(&p->signal_mu);
    if (!p->tasks.empty()) {
      auto& sh = p->tasks.front()->sighand();
      absl::MutexLock sl(&sh.mu);
      nocldstop = sh.actions[SIGCHLD - 1].flags & SA_NOCLDSTOP;
    }
  }
  if (!nocldstop) {
    siginfo_t info{};
    info.si_signo = SIGCHLD;
    info.si_code = code;
    info.si_pid = tg.pid;
    info.si_uid = t.creds().ruid;
    info.si_status = status;
    SendGroupSignalLocked(*p, info);
  }
  p->child_events.Notify();
}

bool Kernel::PgrpOrphanedLocked(int32_t pgid) {
  // will_become_orphaned_pgrp(): no member has a parent in another process
  // group of the same session. Zombies do not count, nor does a parent
  // outside the sandbox (null).
  for (auto& [pid, p] : processes_) {
    if (p->pgid != pgid || p->zombie || p->parent == nullptr) continue;
    if (p->parent->pgid != pgid && p->parent->sid == p->sid) return false;
  }
  return true;
}

bool Kernel::PgrpOrphaned(int32_t pgid) {
  absl::MutexLock l(&mu_);
  return PgrpOrphanedLocked(pgid);
}

void Kernel::KillOrphanedPgrpLocked(int32_t pgid, int32_t sid) {
  if (!PgrpOrphanedLocked(pgid)) return;
  // has_stopped_jobs(): only a group with a stopped member is told.
  bool stopped = false;
  for (auto& [pid, p] : processes_) {
    if (p->pgid != pgid || p->zombie || p->sid != sid) continue;
    absl::MutexLock gl(&p->signal_mu);
    stopped |= p->stopped;
  }
  if (!stopped) return;
  for (auto& [pid, p] : processes_) {
    if (p->pgid != pgid || p->zombie) continue;
    SendGroupSignalLocked(*p, KernelSignalInfo(SIGHUP));
    SendGroupSignalLocked(*p, KernelSignalInfo(SIGCONT));
  }
}

void Kernel::KillOrphanedPgrpsOnExitLocked(ThreadGroup& tg) {
  // exit_notify(): the children's groups (reparent_leader()) and our own
  // (kill_orphaned_pgrp()) may have lost their last link to the session.
  for (auto& c : tg.children) {
    if (c->zombie) continue;
    if (c->pgid != tg.pgid && c->sid == tg.sid) KillOrphanedPgrpLocked(c->pgid, c->sid);
  }
  ThreadGroup* parent = tg.parent;
  if (parent != nullptr && parent->pgid != tg.pgid && parent->sid == tg.sid) {
    KillOrphanedPgrpLocked(tg.pgid, tg.sid);
  }
}

base::Result<WaitResult> Kernel::Wait(Task& t, const WaitRequest& req) {
  ThreadGroup& me = t.thread_group();
  Waiter w(t);
  me.child_events.Add(&w);
  absl::Cleanup remove = [&] { me.child_events.Remove(&w); };
  while (true) {
    {
      absl::MutexLock l(&mu_);
      bool any = false;
      for (auto it = me.children.begin(); it != me.children.end(); ++it) {
        ThreadGroup& c = **it;
        if (!Eligible(c, req)) continue;
        any = true;
        if (!c.zombie) {
          if (auto r = JobControlReport(c, req.options); r.has_value()) return *r;
          continue;
        }
        if (!(req.options & WEXITED)) continue;
        WaitResult r;
        r.pid = c.pid;
        r.status = c.exit_status;
        r.uid = 0;  // TODO(#5): the child's ruid, kept at exit
        if (WIFEXITED(c.exit_status)) {
          r.code = CLD_EXITED;
          r.child_status = WEXITSTATUS(c.exit_status);
        } else {
          r.code = WCOREDUMP(c.exit_status) ? CLD_DUMPED : CLD_KILLED;
          r.child_status = WTERMSIG(c.exit_status);
        }
        // wait_task_zombie(): the child's usage becomes the parent's.
        const CpuTimes u = ReapTimes(me, c, !(req.options & WNOWAIT));
        r.utime_ns = u.utime_ns;
        r.stime_ns = u.stime_ns;
        r.minflt = u.minflt, r.majflt = u.majflt, r.nvcsw = u.nvcsw, r.nivcsw = u.nivcsw;
        r.maxrss_kb = u.maxrss_kb;
        if (!(req.options & WNOWAIT)) {
          const int32_t pid = c.pid;
          c.exit_state = 2;
          c.exit_events.Notify();
          me.children.erase(it);
          processes_.erase(pid);
        }
        return r;
      }
      if (!any) return base::Errno::kECHILD;
      if (req.options & WNOHANG) return WaitResult{};
    }
    TRY(t.Block(w, std::nullopt));
  }
}

}  // namespace sentry::kernel
