// IPC and UTS namespaces made by clone(2)/unshare(2) (kernel/nsproxy.c):
// a task's Task::ipc_ns and Task::uts_ns. Mount, pid, network, user,
// cgroup and time namespaces are not offered (EPERM): the sandbox is one
// of each.
#ifndef SENTRY_KERNEL_NAMESPACES_H_
#define SENTRY_KERNEL_NAMESPACES_H_

#include <cstdint>

#include "base/result.h"

namespace sentry::kernel {

class Task;

// copy_namespaces(): `child` (not running yet) shares `parent`'s
// namespaces, or gets fresh ones for CLONE_NEWIPC / CLONE_NEWUTS (a new UTS
// namespace starts with the parent's names; a new IPC one empty). Call on
// the parent's thread.
void InheritNamespaces(Task& parent, Task& child, uint64_t flags);

// ksys_unshare() for the calling task `t`: CLONE_NEWIPC, CLONE_NEWUTS,
// CLONE_FILES, CLONE_FS, CLONE_SYSVSEM, and CLONE_THREAD/SIGHAND/VM when
// single-threaded. EINVAL for unknown flags or a multi-threaded unshare of
// shared state; EPERM for new namespaces without CAP_SYS_ADMIN or of a kind
// not offered.
base::Result<void> Unshare(Task& t, uint64_t flags);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_NAMESPACES_H_
