#include "sentry/kernel/namespaces.h"

#include <linux/capability.h>
#include <linux/sched.h>

#include <memory>
#include <string>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

namespace {

constexpr uint64_t kNewTime = 0x80;  // CLONE_NEWTIME
constexpr uint64_t kOffered = CLONE_NEWIPC | CLONE_NEWUTS;
constexpr uint64_t kNotOffered = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWCGROUP | kNewTime;

// A new UTS namespace with the names `t` sees now (copy_utsname()).
std::shared_ptr<UtsNamespace> CopyUts(Task& t) {
  auto ns = std::make_shared<UtsNamespace>();
  std::string host, domain;
  if (t.uts_ns != nullptr) {
    absl::MutexLock l(&t.uts_ns->mu);
    host = t.uts_ns->hostname;
    domain = t.uts_ns->domainname;
  } else {
    host = t.kernel().hostname();  // the current task is t, or one in the sandbox's namespace
    domain = t.kernel().domainname();
  }
  absl::MutexLock l(&ns->mu);
  ns->hostname = std::move(host);
  ns->domainname = std::move(domain);
  return ns;
}

}  // namespace

void InheritNamespaces(Task& parent, Task& child, uint64_t flags) {
  child.ipc_ns = (flags & CLONE_NEWIPC) ? parent.kernel().NewIpcNamespace() : parent.ipc_ns;
  child.uts_ns = (flags & CLONE_NEWUTS) ? CopyUts(parent) : parent.uts_ns;
}

base::Result<void> Unshare(Task& t, uint64_t flags) {
  constexpr uint64_t kKnown = CLONE_THREAD | CLONE_FS | CLONE_SIGHAND | CLONE_VM | CLONE_FILES | CLONE_SYSVSEM |
                              kOffered | kNotOffered;
  // ksys_unshare(): a new user namespace implies THREAD and FS, a new
  // mount namespace FS; then check_unshare_flags().
  if (flags & CLONE_NEWUSER) flags |= CLONE_THREAD | CLONE_FS;
  if (flags & CLONE_NEWNS) flags |= CLONE_FS;
  if (flags & ~kKnown) return base::Errno::kEINVAL;
  if (flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) {
    ThreadGroup& tg = t.thread_group();
    int threads;
    {
      absl::MutexLock l(&tg.signal_mu);
      threads = tg.live_threads;
    }
    if (threads > 1) return base::Errno::kEINVAL;
    if ((flags & CLONE_VM) && t.mm_ptr().use_count() > 2) return base::Errno::kEINVAL;  // vfork child, CLONE_VM process
  }
  if (flags & (kOffered | kNotOffered)) {
    // unshare_nsproxy_namespaces(): ns_capable(CAP_SYS_ADMIN).
    if (!t.creds().HasCap(CAP_SYS_ADMIN)) return base::Errno::kEPERM;
    // TODO(#5): mount, pid, network, user, cgroup and time namespaces.
    if (flags & kNotOffered) return base::Errno::kEPERM;
  }
  if ((flags & CLONE_FS) && t.fs_ptr().use_count() > 1) t.SetFs(t.fs().Fork());
  if ((flags & CLONE_FILES) && t.fds_ptr().use_count() > 1) t.SetFds(std::shared_ptr<FdTable>(t.fds().Fork()));
  // CLONE_NEWIPC implies leaving the SEM_UNDO list (exit_sem()), whose
  // semaphores belong to the old namespace.
  if ((flags & (CLONE_SYSVSEM | CLONE_NEWIPC)) && t.sem_undo != nullptr) {
    t.sem_undo->set_pid(t.pid());
    t.sem_undo.reset();
  }
  if (flags & CLONE_NEWIPC) t.ipc_ns = t.kernel().NewIpcNamespace();
  if (flags & CLONE_NEWUTS) t.uts_ns = CopyUts(t);
  return base::Ok();
}

}  // namespace sentry::kernel
