// Kernel::StartProcess: processes started from outside the sandbox (`runsc
// exec`), beside pid 1, with no parent inside it.
#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

base::Result<int32_t> Kernel::StartProcess(const ExecSpec& spec, std::string* why) {
  {
    // A request may arrive while pid 1 is still being exec'd (runsc exec
    // right after runsc start): wait for it, briefly.
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Kernel* k) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return k->init_tg_ != nullptr || k->init_exited_;
                             },
                             this),
                         absl::Seconds(30));
    if (init_tg_ == nullptr) return base::Errno::kESRCH;  // the sandbox is gone (or never started)
  }
  TRY(ReserveTask());
  const int32_t pid = AllocateTid();
  struct StartState {
    absl::Notification done;
    base::Result<void> result = base::Errno::kENOSYS;
    std::string why;
  };
  auto st = std::make_shared<StartState>();
  {
    absl::MutexLock l(&mu_);
    ++live_threads_;
    // The task's own thread builds its address space (platform threading rule).
    threads_.emplace(pid, std::thread([this, st, spec, pid] {
      auto task = NewProcessTask(spec, pid, &st->why);
      if (!task.ok()) {
        ReleaseTask();
        st->result = task.error();
        st->done.Notify();
        absl::MutexLock l(&mu_);
        --live_threads_;
        finished_threads_.push_back(pid);
        return;
      }
      {
        absl::MutexLock l(&mu_);
        if (init_tg_ == nullptr) {
          st->result = base::Errno::kESRCH;
        } else {
          RegisterProcessLocked(task.value()->thread_group_ptr(), task.value().get(), nullptr);
          st->result = base::Result<void>();
        }
      }
      st->done.Notify();
      if (!st->result.ok()) {
        ReleaseTask();
        task.value().reset();
        absl::MutexLock l(&mu_);
        --live_threads_;
        finished_threads_.push_back(pid);
        return;
      }
      if (spec.before_run) spec.before_run(pid);
      TaskMain(std::move(task).value());
    }));
  }
  st->done.WaitForNotification();
  JoinFinishedThreads();
  if (!st->result.ok()) {
    *why = st->why;
    return st->result.error();
  }
  return pid;
}

int Kernel::WaitStartedProcess(int32_t pid) {
  absl::MutexLock l(&mu_);
  struct Args {
    Kernel* k;
    int32_t pid;
  } args{this, pid};
  mu_.Await(absl::Condition(
      +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return a->k->started_exits_.contains(a->pid) || a->k->init_exited_;
      },
      &args));
  auto it = started_exits_.find(pid);
  if (it == started_exits_.end()) return 9;  // the sandbox's init died: SIGKILL, like every task
  const int status = it->second;
  started_exits_.erase(it);
  return status;
}

void Kernel::SignalProcess(int32_t pid, int signo) {
  absl::MutexLock l(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end() || it->second->zombie) return;
  SendGroupSignalLocked(*it->second, KernelSignalInfo(signo));
}

}  // namespace sentry::kernel
