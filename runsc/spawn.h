// Re-executing runsc in its other roles (DEVELOPERS.md invariant 2).
#ifndef RUNSC_SPAWN_H_
#define RUNSC_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace runsc {

// Starts /proc/self/exe with `args` (args[0] is the role's display name).
// `fds` maps fds of this process to fd numbers in the child; fds 0-2 are
// inherited unless remapped; every other fd is closed in the child.
// `namespaces` (CLONE_NEW* flags, see runsc/sandbox.h) are created for the
// child by clone(2) itself, so with CLONE_NEWPID the child is pid 1 of its
// own pid namespace and everything it forks stays inside it. With `detach`,
// the child starts a new session and outlives this process (an OCI
// container's supervisor); otherwise it dies with it. The child starts
// with no signal blocked, unless `keep_signal_mask`: then it keeps this
// thread's mask across its exec, so signals sent to it before it set up
// its own handling stay pending rather than being lost (a pid namespace's
// init drops a signal it neither handles nor blocks).
absl::StatusOr<pid_t> SpawnSelf(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& fds,
                                int namespaces = 0, bool detach = false, bool keep_signal_mask = false);

// Waits for `pid`; returns the wait status. Retries EINTR.
absl::StatusOr<int> Wait(pid_t pid);

// The exit code runsc reports for a wait status: the code, or 128+signal.
int ExitCodeOf(int wait_status);

}  // namespace runsc

#endif  // RUNSC_SPAWN_H_
