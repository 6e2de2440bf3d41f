// OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): each runs with
// the container state on stdin; a failure or timeout is an error.
#ifndef RUNSC_OCI_HOOKS_H_
#define RUNSC_OCI_HOOKS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runsc/oci/spec.h"

namespace runsc::oci {

absl::Status RunHooks(const std::vector<Hook>& hooks, const std::string& state_json);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_HOOKS_H_
