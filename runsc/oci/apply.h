// config.json -> what `runsc do` runs: the process, its credentials and
// limits, and the sandbox's mounts. Everything the sandbox cannot honour yet
// is either an error naming the field or a logged, documented skip
// (docs/kubernetes.md "What works").
#ifndef RUNSC_OCI_APPLY_H_
#define RUNSC_OCI_APPLY_H_

#include "absl/status/statusor.h"
#include "runsc/commands.h"
#include "runsc/config.h"
#include "runsc/oci/spec.h"

namespace runsc::oci {

// The DoOptions for the container's first process. May tighten `c`
// (linux.resources: memory limit -> --total-memory, pids limit ->
// --max-tasks; RLIMIT_NOFILE -> --max-fds).
absl::StatusOr<DoOptions> ToDoOptions(const Spec& spec, Config& c);

// process.capabilities -> bit sets; nullopt when the spec has none (then
// runc leaves root with every capability). Unknown names are skipped with a
// warning, as runc does (a newer engine may know newer capabilities).
std::optional<CapsSpec> CapsOf(const Spec& spec);
// Every capability name this runtime knows, in number order.
std::vector<std::string> CapabilityNames();
// "CAP_CHOWN" -> 0; -1 if unknown.
int CapabilityByName(const std::string& name);

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 if unknown.
int RlimitByName(const std::string& name);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_APPLY_H_
