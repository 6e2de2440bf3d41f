// wait4/waitid (kernel/exit.c do_wait): reaps zombie children, blocking on
// the caller's child_events queue through Task::Block.
#include <signal.h>
#include <sys/wait.h>

#include "absl/cleanup/cleanup.h"
#include "sentry/kernel/kernel.h"
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

}  // namespace

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
        if (!c.zombie || !(req.options & WEXITED)) continue;
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
        r.utime_ns = c.dead_utime_ns.load() + c.child_utime_ns.load();
        r.stime_ns = c.dead_stime_ns.load() + c.child_stime_ns.load();
        if (!(req.options & WNOWAIT)) {
          // wait_task_zombie(): the child's times become the parent's.
          me.child_utime_ns += r.utime_ns;
          me.child_stime_ns += r.stime_ns;
          const int32_t pid = c.pid;
          c.exit_state = 2;
          c.exit_events.Notify();
          me.children.erase(it);
          processes_.erase(pid);
        }
        return r;
      }
      // TODO(#5): WSTOPPED/WCONTINUED once job-control stops exist.
      if (!any) return base::Errno::kECHILD;
      if (req.options & WNOHANG) return WaitResult{};
    }
    TRY(t.Block(w, std::nullopt));
  }
}

}  // namespace sentry::kernel
