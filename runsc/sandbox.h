// Confinement of the sentry (`runsc boot`) and the gofer (`runsc gofer`):
// namespaces, a pivoted root, capabilities, no_new_privs. One kernel
// mechanism per function, called in order by Boot() and GoferMain(); seccomp
// lives in runsc/seccomp_filter.h. Threat model and layers: docs/security.md.
//
// Every function here must run while the process is still single-threaded:
// capabilities are per thread, and a thread created earlier would keep them.
#ifndef RUNSC_SANDBOX_H_
#define RUNSC_SANDBOX_H_

#include <sched.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/unique_fd.h"

namespace runsc::sandbox {

// Namespaces `runsc do` creates for each role (clone flags for SpawnSelf).
// The sentry gets an empty network namespace (only a loopback it does not
// use), its own pid namespace (it and its stubs see no host pid) and its own
// mount namespace (for PivotToEmptyRoot). The gofer the same, so that its
// mount namespace holds only the rootfs.
constexpr int kSentryNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
constexpr int kGoferNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;

// Whether this process may create the namespaces above (root, or
// CAP_SYS_ADMIN). Without it `runsc do` refuses to start unless the operator
// passed --sandbox=false (see docs/security.md).
bool CanCreateNamespaces();

// Whether this process runs in the namespaces runsc do made for it (it is
// pid 1 of its pid namespace, made in the same clone as its mount
// namespace). The pivots below refuse to run otherwise: in the host's mount
// namespace they would change every host process's root.
bool InOwnMountNamespace();

// The sentry's root: an empty read-only tmpfs, pivoted to, with the old root
// unmounted. After it the process can open no host path at all. Requires a
// private mount namespace (kSentryNamespaces).
absl::Status PivotToEmptyRoot();

// The gofer's root: a recursive read-only (if `read_only`) bind of
// `root_path`, pivoted to, with the old root unmounted and the host's /proc
// under it detached (the gofer needs only `proc_self_fd`, opened before).
// Requires a private mount namespace (kGoferNamespaces).
absl::Status PivotToRootfs(const std::string& root_path, bool read_only);

// Drops every capability (effective, permitted, inheritable, ambient and
// the bounding set) except `keep`, and locks the securebits so that uid 0
// cannot regain them by execve. Call before SetNoNewPrivs.
absl::Status DropCapabilities(const std::vector<int>& keep);

// PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid bits,
// file capabilities), and seccomp may be installed without CAP_SYS_ADMIN.
absl::Status SetNoNewPrivs();

// Resource bounds when the operator set none (--max-tasks, --total-memory):
// a fork bomb or a memory bomb must stop inside the sandbox (EAGAIN, ENOMEM)
// before it exhausts the host's pids or memory, not only when a flag says
// so. Each app task costs host tasks (a sentry thread, a stub thread), and
// the memory file is host shmem.
struct ResourceDefaults {
  uint64_t max_tasks;     // pid_max / 8, within [256, 16384]
  uint64_t total_memory;  // half the host's RAM, within [256 MiB, 64 GiB]
};
ResourceDefaults ResourceDefaultsFor(uint64_t host_pid_max, uint64_t host_ram);
// From the host's /proc/sys/kernel/pid_max and sysinfo(2): call before the
// pivot (it reads /proc).
ResourceDefaults HostResourceDefaults();

}  // namespace runsc::sandbox

#endif  // RUNSC_SANDBOX_H_
