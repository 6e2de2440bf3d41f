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
// With `detach`, the child starts a new session and outlives this process
// (an OCI container's supervisor); otherwise it dies with it.
absl::StatusOr<pid_t> SpawnSelf(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& fds,
                                bool detach = false);

// Waits for `pid`; returns the wait status. Retries EINTR.
absl::StatusOr<int> Wait(pid_t pid);

// The exit code runsc reports for a wait status: the code, or 128+signal.
int ExitCodeOf(int wait_status);

}  // namespace runsc

#endif  // RUNSC_SPAWN_H_
