// Process groups and sessions as terminals see them (fs/tty*.cc): signals
// the line discipline generates (kill_pgrp(pgrp, sig, 1) in Linux), the
// foreground-group checks of TIOCSPGRP, and orphaned process groups for
// job control (kernel/exit.c will_become_orphaned_pgrp).
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

void Kernel::SignalProcessGroup(int32_t pgid, int sig) {
  if (pgid <= 0 || sig <= 0) return;
  absl::MutexLock l(&mu_);
  for (auto& [p, tg] : processes_) {
    if (tg->pgid == pgid) SendGroupSignalLocked(*tg, KernelSignalInfo(sig));
  }
}

base::Result<void> Kernel::CheckProcessGroupInSession(int32_t pgid, int32_t sid) {
  absl::MutexLock l(&mu_);
  bool found = false;
  for (auto& [p, tg] : processes_) {
    if (tg->zombie || tg->pgid != pgid) continue;
    found = true;
    if (tg->sid == sid) return {};
  }
  return found ? base::Errno::kEPERM : base::Errno::kESRCH;
}

bool Kernel::IsProcessGroupOrphaned(int32_t pgid) {
  absl::MutexLock l(&mu_);
  for (auto& [p, tg] : processes_) {
    if (tg->zombie || tg->pgid != pgid) continue;
    const ThreadGroup* parent = tg->parent;
    if (parent != nullptr && !parent->zombie && parent->pgid != pgid && parent->sid == tg->sid) return false;
  }
  return true;
}

}  // namespace sentry::kernel
